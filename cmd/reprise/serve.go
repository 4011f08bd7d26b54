package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/reprise-dev/reprise/catalogs/builtin"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/api"
	"github.com/reprise-dev/reprise/host/executor"
)

// Server configuration keys.
const (
	keyDataDir       = "data_dir"
	keyListen        = "listen"
	keyCatalog       = "catalog"
	keySnapshotEvery = "snapshot.every"
	keySnapshotKeep  = "snapshot.keep"
	keyMaxBatch      = "executor.max_batch"
	keyMaxBodyBytes  = "http.max_body_bytes"
	keySubmitTimeout = "http.submit_timeout"
	keyLogLevel      = "log.level"
	keyLogFormat     = "log.format"
)

func setServeDefaults(v *viper.Viper) {
	v.SetDefault(keyDataDir, "data")
	v.SetDefault(keyListen, "127.0.0.1:8080")
	v.SetDefault(keyCatalog, "counter")
	v.SetDefault(keySnapshotEvery, 10_000)
	v.SetDefault(keySnapshotKeep, 3)
	v.SetDefault(keyMaxBatch, 1024)
	v.SetDefault(keyMaxBodyBytes, 1<<20)
	v.SetDefault(keySubmitTimeout, "30s")
	v.SetDefault(keyLogLevel, "info")
	v.SetDefault(keyLogFormat, "text")
}

func newServeCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a Reprise node: recover state, then serve the HTTP API",
		Long: `Recovers the node's state from its data directory (newest valid snapshot plus
the WAL after it, verifying every recorded state hash), then serves the HTTP
API. Every accepted transition is durable (fsynced) before it is answered.
SIGINT or SIGTERM drains in-flight requests and takes a final snapshot.

Every flag can also be set in the YAML file given by --config, or as an
environment variable: REPRISE_ plus the key in capitals with "." as "_"
(e.g. REPRISE_SNAPSHOT_EVERY). Flags win over the environment, which wins
over the file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return serve(cmd.Context(), v, cmd) },
	}
	f := cmd.Flags()
	f.String("data-dir", "data", "data directory (WAL, snapshots, compilation cache)")
	configFlag(cmd, "data-dir", keyDataDir)
	f.String("listen", "127.0.0.1:8080", "HTTP listen address")
	configFlag(cmd, "listen", keyListen)
	f.String("catalog", "counter", "catalog to serve: a built-in name ("+strings.Join(builtin.Names(), ", ")+") or a sealed .wasm file")
	configFlag(cmd, "catalog", keyCatalog)
	f.Uint64("snapshot-every", 10_000, "take a snapshot every N records")
	configFlag(cmd, "snapshot-every", keySnapshotEvery)
	f.Int("snapshot-keep", 3, "snapshots kept; the WAL is compacted up to the oldest kept")
	configFlag(cmd, "snapshot-keep", keySnapshotKeep)
	f.String("log-level", "info", "log level: debug, info, warn, error")
	configFlag(cmd, "log-level", keyLogLevel)
	f.String("log-format", "text", "log format: text or json")
	configFlag(cmd, "log-format", keyLogFormat)
	f.String("engine", "compiler", "wazero engine: compiler or interpreter")
	configFlag(cmd, "engine", keyEngineKind)
	return cmd
}

func newLogger(v *viper.Viper) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(v.GetString(keyLogLevel))); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch v.GetString(keyLogFormat) {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("log.format %q: want text or json", v.GetString(keyLogFormat))
}

// loadCatalog resolves the catalog setting: a built-in name, or a file.
func loadCatalog(name string) ([]byte, string, error) {
	if b, ok := builtin.Lookup(name); ok {
		return b, "built-in " + name, nil
	}
	if strings.HasSuffix(name, ".wasm") || strings.ContainsRune(name, os.PathSeparator) {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, "", fmt.Errorf("catalog: %w", err)
		}
		return b, name, nil
	}
	return nil, "", fmt.Errorf("catalog %q is neither a built-in (%s) nor a .wasm file", name, strings.Join(builtin.Names(), ", "))
}

func serve(ctx context.Context, v *viper.Viper, cmd *cobra.Command) error {
	logger, err := newLogger(v)
	if err != nil {
		return err
	}
	slog.SetDefault(logger)
	dataDir := v.GetString(keyDataDir)
	wasm, source, err := loadCatalog(v.GetString(keyCatalog))
	if err != nil {
		return err
	}
	ecfg := engineConfig(v)
	if ecfg.CacheDir == "" {
		ecfg.CacheDir = filepath.Join(dataDir, "cache")
	}
	engine, err := host.NewEngine(ctx, ecfg)
	if err != nil {
		return err
	}
	defer engine.Close(context.Background())
	started := time.Now()
	module, err := engine.Load(ctx, wasm)
	if err != nil {
		return fmt.Errorf("catalog %s: %w", source, err)
	}
	logger.Info("catalog loaded", "source", source, "name", module.Descriptor.Name, "version", module.Descriptor.Version,
		"hash", module.HashHex(), "took", time.Since(started))
	exec, err := executor.Open(ctx, executor.Config{
		DataDir:       dataDir,
		Module:        module,
		SnapshotEvery: v.GetUint64(keySnapshotEvery),
		SnapshotKeep:  v.GetInt(keySnapshotKeep),
		MaxBatch:      v.GetInt(keyMaxBatch),
		Logger:        logger,
	})
	if err != nil {
		return err
	}
	handler := api.New(exec, api.Config{
		MaxBodyBytes:  v.GetInt64(keyMaxBodyBytes),
		SubmitTimeout: v.GetDuration(keySubmitTimeout),
		Logger:        logger,
	})
	ln, err := net.Listen("tcp", v.GetString(keyListen))
	if err != nil {
		exec.Close(context.Background())
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	st := exec.Status()
	logger.Info("listening", "addr", ln.Addr().String(), "data_dir", dataDir, "index", st.Index, "state_hash", st.StateHash.String())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err = <-served:
	case <-ctx.Done():
		logger.Info("shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = srv.Shutdown(shutdownCtx)
		cancel()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if cerr := exec.Close(context.Background()); cerr != nil {
		err = errors.Join(err, cerr)
	}
	logger.Info("stopped", "index", exec.Status().Index)
	return err
}
