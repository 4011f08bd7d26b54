package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/reprise-dev/reprise/guest/build"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/seal"
)

func newCatalogCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Build, seal, inspect, push, list, shadow-replay and activate catalog modules",
	}
	cmd.AddCommand(newCatalogBuildCmd(), newCatalogSealCmd(), newCatalogInspectCmd(v))
	addCatalogStoreCommands(cmd, v)
	return cmd
}

func newCatalogBuildCmd() *cobra.Command {
	var out, toolchain string
	cmd := &cobra.Command{
		Use:   "build DIR -o FILE.wasm",
		Short: "Compile a catalog package with the Go toolchain and seal it",
		Long: `Compiles the catalog package in DIR for wasip1 (-trimpath, no VCS stamp,
pinned build environment) and seals the result into a module with no
imports. The same source and toolchain give byte-identical output; pass
--toolchain to pin the Go version (it is fetched through the module proxy
if it is not the local one).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("missing -o FILE.wasm")
			}
			res, err := build.Build(cmd.Context(), args[0], build.Options{Toolchain: toolchain})
			if err != nil {
				return err
			}
			if err := writeFileAtomic(out, res.Wasm); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "built %s: %d bytes, sha256 %x, %d WASI imports sealed\n",
				out, len(res.Wasm), host.Hash(res.Wasm), len(res.Seal.Virtualised))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "output file")
	cmd.Flags().StringVar(&toolchain, "toolchain", "", "Go toolchain to build with, e.g. go1.26.8 (default: the local go)")
	return cmd
}

func newCatalogSealCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "seal IN.wasm -o OUT.wasm",
		Short: "Replace every WASI preview1 import of a module with a deterministic internal function",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("missing -o OUT.wasm")
			}
			in, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			sealed, rep, err := seal.Seal(in)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if err := writeFileAtomic(out, sealed); err != nil {
				return err
			}
			if rep.AlreadySealed {
				fmt.Fprintf(cmd.OutOrStdout(), "%s has no imports; written unchanged to %s\n", args[0], out)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sealed %s: %d WASI imports replaced, sha256 %x\n", out, len(rep.Virtualised), host.Hash(sealed))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "output file")
	return cmd
}

// inspection is what `catalog inspect` reports, also as JSON.
type inspection struct {
	File        string            `json:"file"`
	Hash        string            `json:"hash"`
	Size        int               `json:"size"`
	Accepted    bool              `json:"accepted"`
	Problems    []string          `json:"problems,omitempty"`
	ABIVersion  uint32            `json:"abi_version,omitempty"`
	Name        string            `json:"name,omitempty"`
	Version     string            `json:"version,omitempty"`
	Doc         string            `json:"doc,omitempty"`
	Sealed      string            `json:"sealed,omitempty"`
	Imports     []string          `json:"imports"`
	Exports     []string          `json:"exports"`
	Transitions []transitionBrief `json:"transitions,omitempty"`
	Fields      []string          `json:"fields,omitempty"`
}

type transitionBrief struct {
	Name   string `json:"name"`
	Inputs string `json:"inputs"`
	Doc    string `json:"doc,omitempty"`
}

func newCatalogInspectCmd(v *viper.Viper) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect FILE.wasm",
		Short: "Print a module's identity, exports and transitions, or every reason the host would refuse it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			wasm, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			ins := inspect(cmd, v, args[0], wasm)
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(ins); err != nil {
					return err
				}
			} else {
				printInspection(cmd.OutOrStdout(), ins)
			}
			if !ins.Accepted {
				return &exitError{code: 2, err: fmt.Errorf("%s would be refused (%d problems)", args[0], len(ins.Problems))}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func inspect(cmd *cobra.Command, v *viper.Viper, file string, wasm []byte) inspection {
	ins := inspection{File: file, Hash: fmt.Sprintf("sha256:%x", host.Hash(wasm)), Size: len(wasm), Imports: []string{}, Exports: []string{}}
	cfg := engineConfig(v)
	parsed, problems := host.Validate(wasm, cfg.Limits)
	if parsed != nil {
		for _, im := range parsed.Imports {
			ins.Imports = append(ins.Imports, im.Module+"."+im.Name)
		}
		for _, ex := range parsed.Exports {
			ins.Exports = append(ins.Exports, ex.Name)
		}
		if c, ok := parsed.Custom(seal.RecordSection); ok {
			ins.Sealed = strings.TrimSpace(string(c.Data))
		}
	}
	if len(problems) == 0 {
		eng, err := host.NewEngine(cmd.Context(), cfg)
		if err != nil {
			problems = append(problems, err.Error())
		} else {
			defer eng.Close(cmd.Context())
			m, err := eng.Load(cmd.Context(), wasm)
			var refused *host.RefusedError
			switch {
			case errors.As(err, &refused):
				problems = append(problems, refused.Problems...)
			case err != nil:
				problems = append(problems, err.Error())
			default:
				d := m.Descriptor
				ins.ABIVersion, ins.Name, ins.Version, ins.Doc = m.ABIVersion, d.Name, d.Version, d.Doc
				for _, t := range d.Transitions {
					var in []string
					for _, i := range t.Inputs {
						in = append(in, i.Name+": "+i.Type)
					}
					ins.Transitions = append(ins.Transitions, transitionBrief{Name: t.Name, Inputs: "{" + strings.Join(in, ", ") + "}", Doc: t.Doc})
				}
				for _, f := range d.Fields {
					ins.Fields = append(ins.Fields, fmt.Sprintf("%s (%s)", f.Name, f.Kind))
				}
			}
		}
	}
	ins.Problems = problems
	ins.Accepted = len(problems) == 0
	return ins
}

func printInspection(w io.Writer, ins inspection) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "file:\t%s\n", ins.File)
	fmt.Fprintf(tw, "hash:\t%s\n", ins.Hash)
	fmt.Fprintf(tw, "size:\t%d bytes\n", ins.Size)
	if ins.Accepted {
		fmt.Fprintf(tw, "catalog:\t%s %s\n", ins.Name, ins.Version)
		fmt.Fprintf(tw, "abi version:\t%d\n", ins.ABIVersion)
	}
	if ins.Sealed != "" {
		fmt.Fprintf(tw, "sealed:\t%s\n", strings.ReplaceAll(ins.Sealed, "\n", "; "))
	}
	fmt.Fprintf(tw, "imports:\t%d\n", len(ins.Imports))
	fmt.Fprintf(tw, "exports:\t%s\n", strings.Join(ins.Exports, ", "))
	tw.Flush()
	if len(ins.Transitions) > 0 {
		fmt.Fprintln(w, "transitions:")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, t := range ins.Transitions {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", t.Name, t.Inputs, t.Doc)
		}
		tw.Flush()
	}
	if len(ins.Fields) > 0 {
		fmt.Fprintf(w, "state fields: %s\n", strings.Join(ins.Fields, ", "))
	}
	if !ins.Accepted {
		fmt.Fprintln(w, "REFUSED:")
		for _, p := range ins.Problems {
			fmt.Fprintf(w, "  - %s\n", p)
		}
	}
}

// writeFileAtomic writes to a temp file beside path and renames it over.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
