package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/catalogstore"
)

// addCatalogStoreCommands adds the catalog store's commands (push, list) to
// the catalog command.
func addCatalogStoreCommands(catalog *cobra.Command, v *viper.Viper) {
	catalog.AddCommand(newCatalogPushCmd(v), newCatalogListCmd(v), newCatalogActivateCmd(v), newCatalogShadowCmd(v))
}

// catalogDataDirFlag adds --data-dir, bound to the same configuration key as
// `serve --data-dir`.
func catalogDataDirFlag(cmd *cobra.Command) {
	cmd.Flags().String("data-dir", "data", "data directory whose catalog store (DIR/"+catalogstore.DirName+") to use")
	configFlag(cmd, "data-dir", keyDataDir)
}

func newCatalogPushCmd(v *viper.Viper) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "push FILE.wasm",
		Short: "Validate a sealed module and store it in the data directory's catalog store",
		Long: `Admits FILE.wasm exactly as the server would (zero imports, the ABI exports
and version, limits, a valid descriptor) and stores it in the data
directory's catalog store under the SHA-256 of its bytes, with its name,
version, transitions and upload time. A refused module is not stored and
every problem is listed (exit code 2). Pushing stored bytes again changes
nothing. The module is compiled into the data directory's compilation
cache, so the server does not compile it again.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			ecfg := engineConfig(v)
			wasm, err := readModuleForPush(file, ecfg.Limits.MaxModuleBytes)
			if err != nil {
				return err
			}
			dataDir := v.GetString(keyDataDir)
			if ecfg.CacheDir == "" {
				ecfg.CacheDir = filepath.Join(dataDir, "cache")
			}
			store, closeEngine, err := openCatalogStore(cmd, ecfg, dataDir)
			if err != nil {
				return err
			}
			defer closeEngine()
			info, added, err := store.Put(cmd.Context(), wasm)
			var refused *host.RefusedError
			if errors.As(err, &refused) {
				if !asJSON {
					printPushRefusal(cmd.OutOrStdout(), refused.Problems)
				}
				return &exitError{code: 2, err: fmt.Errorf("%s refused, nothing stored: %w", file, err)}
			}
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			reply := catalogstore.PushReply{Added: added, Catalog: info.Summary()}
			if asJSON {
				return writeCatalogJSON(cmd.OutOrStdout(), reply)
			}
			printPushReply(cmd.OutOrStdout(), reply, store.Dir())
			return nil
		},
	}
	catalogDataDirFlag(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newCatalogListCmd(v *viper.Viper) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the catalogs in the data directory's catalog store",
		Long: `Lists the catalogs stored in the data directory, oldest upload first: hash,
name, version, upload time, size and number of transitions (--json gives
every transition name and the versions each catalog migrates from). A
catalog whose files are found corrupt is named on stderr and makes the
command fail after listing the others.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dataDir := v.GetString(keyDataDir)
			infos, listErr, err := listCatalogStore(cmd, v, dataDir)
			if err != nil {
				return err
			}
			reply := catalogstore.NewListReply(infos)
			if asJSON {
				if err := writeCatalogJSON(cmd.OutOrStdout(), reply); err != nil {
					return err
				}
			} else {
				printCatalogList(cmd.OutOrStdout(), reply.Catalogs, filepath.Join(dataDir, catalogstore.DirName))
			}
			return listErr
		},
	}
	catalogDataDirFlag(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// listCatalogStore lists the store of dataDir without creating anything: a
// data directory without a store has no catalogs, a missing data directory
// is an error. listErr names corrupt catalogs left out of infos.
func listCatalogStore(cmd *cobra.Command, v *viper.Viper, dataDir string) (infos []catalogstore.Info, listErr, err error) {
	if st, err := os.Stat(dataDir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("data directory %s does not exist", dataDir)
		}
		return nil, nil, err
	} else if !st.IsDir() {
		return nil, nil, fmt.Errorf("data directory %s is not a directory", dataDir)
	}
	if _, err := os.Stat(filepath.Join(dataDir, catalogstore.DirName)); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	// Listing compiles nothing, so the engine needs no cache.
	ecfg := engineConfig(v)
	ecfg.CacheDir = ""
	store, closeEngine, err := openCatalogStore(cmd, ecfg, dataDir)
	if err != nil {
		return nil, nil, err
	}
	defer closeEngine()
	infos, listErr = store.List()
	return infos, listErr, nil
}

// openCatalogStore starts an engine and opens dataDir's catalog store with
// it; the returned func closes the engine.
func openCatalogStore(cmd *cobra.Command, ecfg host.EngineConfig, dataDir string) (*catalogstore.Store, func(), error) {
	engine, err := host.NewEngine(cmd.Context(), ecfg)
	if err != nil {
		return nil, nil, err
	}
	closeEngine := func() { engine.Close(cmd.Context()) }
	store, err := catalogstore.Open(filepath.Join(dataDir, catalogstore.DirName), catalogstore.Options{
		Engine: engine,
		Logger: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)),
	})
	if err != nil {
		closeEngine()
		return nil, nil, err
	}
	return store, closeEngine, nil
}

// readModuleForPush reads a module, refusing (exit code 2, as a refused
// module) one larger than the module size limit without reading it all.
func readModuleForPush(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if limit > 0 {
		r = io.LimitReader(f, int64(limit)+1)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if limit > 0 && len(b) > limit {
		return nil, &exitError{code: 2, err: fmt.Errorf("%s refused, nothing stored: it is larger than the module size limit of %d bytes (limits.max_module_bytes)", path, limit)}
	}
	return b, nil
}

func writeCatalogJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printPushRefusal(w io.Writer, problems []string) {
	fmt.Fprintln(w, "REFUSED:")
	for _, p := range problems {
		fmt.Fprintf(w, "  - %s\n", p)
	}
}

// printPushReply prints the answer to a push into store (a directory, or a
// server's address for an online push).
func printPushReply(w io.Writer, r catalogstore.PushReply, store string) {
	c := r.Catalog
	if r.Added {
		fmt.Fprintf(w, "added %s %s to %s\n", c.Name, c.Version, store)
	} else {
		fmt.Fprintf(w, "%s %s is already in %s\n", c.Name, c.Version, store)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "hash:\t%s\n", c.Hash)
	fmt.Fprintf(tw, "size:\t%d bytes\n", c.Size)
	fmt.Fprintf(tw, "uploaded:\t%s\n", c.Uploaded)
	fmt.Fprintf(tw, "transitions:\t%s\n", strings.Join(c.Transitions, ", "))
	for i, m := range c.MigratesFrom {
		label := ""
		if i == 0 {
			label = "migrates from:"
		}
		line := m.Catalog + " " + m.Versions
		if m.Doc != "" {
			line += " (" + m.Doc + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, line)
	}
	if c.Active != nil {
		fmt.Fprintf(tw, "active:\t%v\n", *c.Active)
	}
	tw.Flush()
}

// listHashDigits is how much of a hash the list table shows; any prefix of
// at least catalogstore.MinPrefixLen digits names a catalog where one is
// expected.
const listHashDigits = 16

// printCatalogList prints catalogs as a table, with an ACTIVE column when
// the source knows which catalog is active.
func printCatalogList(w io.Writer, catalogs []catalogstore.Summary, store string) {
	if len(catalogs) == 0 {
		fmt.Fprintf(w, "no catalogs in %s\n", store)
		return
	}
	withActive := false
	for _, c := range catalogs {
		withActive = withActive || c.Active != nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := "HASH\tNAME\tVERSION\tUPLOADED\tSIZE\tTRANSITIONS"
	if withActive {
		header += "\tACTIVE"
	}
	fmt.Fprintln(tw, header)
	for _, c := range catalogs {
		uploaded := c.Uploaded
		if t, err := time.Parse(time.RFC3339Nano, c.Uploaded); err == nil {
			uploaded = t.UTC().Format(time.RFC3339)
		}
		row := fmt.Sprintf("%s\t%s\t%s\t%s\t%d\t%d", c.Hash[:min(len(c.Hash), listHashDigits)], c.Name, c.Version, uploaded, c.Size, len(c.Transitions))
		if withActive {
			active := ""
			if c.Active != nil && *c.Active {
				active = "yes"
			}
			row += "\t" + active
		}
		fmt.Fprintln(tw, row)
	}
	tw.Flush()
}
