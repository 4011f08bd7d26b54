package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

// exitError carries a process exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "reprise:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	v := viper.New()
	root := &cobra.Command{
		Use:   "reprise",
		Short: "Reprise: a WebAssembly-pluggable reducer host",
		Long: `Reprise runs orchestration logic (a transition catalog compiled to a sealed,
import-free WebAssembly module) as a deterministic reducer, and owns the
write-ahead log, snapshots, replication and the HTTP API around it.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return loadConfig(v, cmd)
		},
	}
	root.PersistentFlags().String("config", "", "configuration file (YAML); REPRISE_* environment variables and flags override it")
	root.AddCommand(newCatalogCmd(v), newServeCmd(v), newReplayCmd(), newVersionCmd())
	return root
}

// loadConfig reads the configuration: defaults, then the YAML file, then
// REPRISE_* environment variables, then flags (highest precedence).
func loadConfig(v *viper.Viper, cmd *cobra.Command) error {
	setDefaults(v)
	v.SetEnvPrefix("REPRISE")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	if path, _ := cmd.Flags().GetString("config"); path != "" {
		v.SetConfigFile(path)
		if err := v.ReadInConfig(); err != nil {
			return fmt.Errorf("config %s: %w", path, err)
		}
	}
	return bindFlags(v, cmd)
}

// bindFlags binds every flag that names a configuration key (flags carry
// the key in their "config" annotation).
func bindFlags(v *viper.Viper, cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflagFlag) {
		if keys, ok := f.Annotations[configKey]; ok && err == nil {
			err = v.BindPFlag(keys[0], f)
		}
	})
	return err
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, ABI version and engine fingerprint",
		RunE: func(cmd *cobra.Command, _ []string) error {
			printVersion(cmd.OutOrStdout())
			return nil
		},
	}
}
