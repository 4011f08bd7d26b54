package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/reprise-dev/reprise/catalogs/builtin"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/api"
	"github.com/reprise-dev/reprise/host/catalogstore"
	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/replication/control"
	replnode "github.com/reprise-dev/reprise/replication/node"
)

// Server configuration keys (the engine and limits keys are in config.go).
const (
	keyDataDir           = "data_dir"
	keyListen            = "listen"
	keyCatalog           = "catalog"
	keySnapshotEvery     = "snapshot.every"
	keySnapshotKeep      = "snapshot.keep"
	keyMaxBatch          = "executor.max_batch"
	keyMaxBodyBytes      = "http.max_body_bytes"
	keyMaxHeaderBytes    = "http.max_header_bytes"
	keySubmitTimeout     = "http.submit_timeout"
	keyReadHeaderTimeout = "http.read_header_timeout"
	keyReadTimeout       = "http.read_timeout"
	keyWriteTimeout      = "http.write_timeout"
	keyIdleTimeout       = "http.idle_timeout"
	keyShutdownTimeout   = "http.shutdown_timeout"
	keyWALPageLimit      = "http.wal_page_limit"
	keyAuthToken         = "auth.token"
	keyProtectReads      = "auth.protect_reads"
	keyEventsBuffer      = "events.buffer"
	keyEventsHeartbeat   = "events.heartbeat"
	keyLogLevel          = "log.level"
	keyLogFormat         = "log.format"
)

// defaultCatalog is the catalog served when none is configured.
const defaultCatalog = "swoosh"

// serveSetting is one configuration key of `reprise serve`: its flag, its
// default (whose type is the setting's type) and its help text.
type serveSetting struct {
	key, flag string
	def       any // string, bool, int, int64, uint32, uint64 or time.Duration
	usage     string
}

// serveSettings lists every setting of the server, in the order --help and
// --print-config show them. The flag is the key with "." and "_" written
// as "-", except --engine (engine.kind), kept from earlier releases.
var serveSettings = []serveSetting{
	{keyDataDir, "data-dir", "data", "data directory (WAL, snapshots, compilation cache)"},
	{keyListen, "listen", "127.0.0.1:8080", "HTTP listen address"},
	{keyCatalog, "catalog", defaultCatalog, "catalog to serve: a built-in name (" + strings.Join(builtin.Names(), ", ") + ") or a sealed .wasm file"},
	{keySnapshotEvery, "snapshot-every", uint64(10_000), "take a snapshot every N records"},
	{keySnapshotKeep, "snapshot-keep", 3, "snapshots kept; the WAL is compacted up to the oldest kept"},
	{keyMaxBatch, "executor-max-batch", 1024, "proposals decided and made durable together (one fsync per batch)"},
	{keyEngineKind, "engine", string(host.EngineCompiler), "wazero engine: compiler or interpreter"},
	{keyEngineCacheDir, "engine-cache-dir", "", "compilation cache directory (default DATA_DIR/cache)"},
	{keyMaxModuleBytes, "limits-max-module-bytes", host.DefaultLimits.MaxModuleBytes, "largest catalog module admitted, in bytes"},
	{keyMemoryPages, "limits-memory-pages", host.DefaultLimits.MemoryPages, "memory cap per catalog instance, in 64 KiB pages"},
	{keyInitFuel, "limits-init-fuel", host.DefaultLimits.InitFuel, "fuel budget of a catalog instance's start-up"},
	{keyTransitionFuel, "limits-transition-fuel", host.DefaultLimits.TransitionFuel, "fuel budget of one transition"},
	{keyMaxBodyBytes, "http-max-body-bytes", int64(1 << 20), "request body limit in bytes (413 above it)"},
	{keyMaxHeaderBytes, "http-max-header-bytes", 64 << 10, "request header limit in bytes"},
	{keySubmitTimeout, "http-submit-timeout", 30 * time.Second, "how long a request waits for its verdict (shorter than the write timeout)"},
	{keyReadHeaderTimeout, "http-read-header-timeout", 5 * time.Second, "time to read a request's headers"},
	{keyReadTimeout, "http-read-timeout", 30 * time.Second, "time to read a whole request"},
	{keyWriteTimeout, "http-write-timeout", 60 * time.Second, "time to write a response (on the event stream: each write)"},
	{keyIdleTimeout, "http-idle-timeout", 120 * time.Second, "how long an idle keep-alive connection stays open"},
	{keyShutdownTimeout, "http-shutdown-timeout", 20 * time.Second, "how long SIGINT/SIGTERM waits for in-flight requests"},
	{keyWALPageLimit, "http-wal-page-limit", 1000, "most records one GET /v1/wal page returns"},
	{keyAuthToken, "auth-token", "", "bearer token required on mutating requests; prefer REPRISE_AUTH_TOKEN or the file, as flags are visible to other users"},
	{keyProtectReads, "auth-protect-reads", false, "require the token on reads too (every endpoint, /health and /metrics included)"},
	{keyEventsBuffer, "events-buffer", 1024, "records that may wait for one /v1/events stream before it is dropped (it then resumes)"},
	{keyEventsHeartbeat, "events-heartbeat", 15 * time.Second, "keep-alive interval of an idle /v1/events stream"},
	{keyLogLevel, "log-level", "info", "log level: debug, info, warn, error"},
	{keyLogFormat, "log-format", "text", "log format: text or json"},
}

func init() { serveSettings = append(serveSettings, clusterSettings...) }

func setServeDefaults(v *viper.Viper) {
	for _, s := range serveSettings {
		v.SetDefault(s.key, s.def)
	}
}

func newServeCmd(v *viper.Viper) *cobra.Command {
	var printConfig bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a Reprise node: recover state, then serve the HTTP API",
		Long: `Recovers the node's state from its data directory (newest valid snapshot plus
the WAL after it, verifying every recorded state hash), then serves the HTTP
API. Every accepted transition is durable (fsynced) before it is answered.
SIGINT or SIGTERM drains in-flight requests and takes a final snapshot.

The default catalog is the built-in SWOOSH orchestration catalog (swoosh);
--catalog counter serves the built-in counter.

Every flag below is also a configuration key, settable in the YAML file given
by --config or as an environment variable: REPRISE_ plus the key in capitals
with "." as "_". For example http.submit_timeout is --http-submit-timeout and
REPRISE_HTTP_SUBMIT_TIMEOUT; auth.token is REPRISE_AUTH_TOKEN. Flags win over
the environment, which wins over the file; with no file the defaults shown
apply. reprise.example.yaml in the repository lists every key, and
--print-config prints the configuration in force in the same form.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if printConfig {
				return printServeConfig(cmd.OutOrStdout(), v)
			}
			return serve(cmd.Context(), v, cmd)
		},
	}
	f := cmd.Flags()
	for _, s := range serveSettings {
		switch def := s.def.(type) {
		case string:
			f.String(s.flag, def, s.usage)
		case bool:
			f.Bool(s.flag, def, s.usage)
		case int:
			f.Int(s.flag, def, s.usage)
		case int64:
			f.Int64(s.flag, def, s.usage)
		case uint32:
			f.Uint32(s.flag, def, s.usage)
		case uint64:
			f.Uint64(s.flag, def, s.usage)
		case time.Duration:
			f.Duration(s.flag, def, s.usage)
		default:
			panic(fmt.Sprintf("setting %s: unsupported default type %T", s.key, def))
		}
		configFlag(cmd, s.flag, s.key)
	}
	f.BoolVar(&printConfig, "print-config", false, "print the configuration in force (file, environment, flags, defaults) as YAML and exit")
	return cmd
}

// printServeConfig prints every setting's value in force as YAML that
// --config accepts. The token is never printed.
func printServeConfig(w io.Writer, v *viper.Viper) error {
	section := ""
	for _, s := range serveSettings {
		sec, name, nested := strings.Cut(s.key, ".")
		if !nested {
			sec, name = "", s.key
		}
		if sec != section {
			section = sec
			if sec != "" {
				fmt.Fprintf(w, "%s:\n", sec)
			}
		}
		indent := ""
		if sec != "" {
			indent = "  "
		}
		var value string
		switch s.def.(type) {
		case string:
			value = strconv.Quote(v.GetString(s.key))
			if s.key == keyAuthToken && v.GetString(s.key) != "" {
				value = `"<set, not shown>"`
			}
		case bool:
			value = strconv.FormatBool(v.GetBool(s.key))
		case time.Duration:
			value = v.GetDuration(s.key).String()
		default:
			value = v.GetString(s.key)
		}
		fmt.Fprintf(w, "%s%s: %s\n", indent, name, value)
	}
	return nil
}

func newLogger(v *viper.Viper, out io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(v.GetString(keyLogLevel))); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch v.GetString(keyLogFormat) {
	case "text":
		return slog.New(slog.NewTextHandler(out, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(out, opts)), nil
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

// apiConfig reads the HTTP settings.
func apiConfig(v *viper.Viper, logger *slog.Logger, metrics *api.Metrics) (api.Config, error) {
	for _, key := range []string{keyMaxBodyBytes, keyMaxHeaderBytes, keyWALPageLimit, keyEventsBuffer} {
		if v.GetInt64(key) <= 0 {
			return api.Config{}, fmt.Errorf("%s is %s; it must be positive", key, v.GetString(key))
		}
	}
	for _, key := range []string{keySubmitTimeout, keyReadHeaderTimeout, keyReadTimeout, keyWriteTimeout, keyIdleTimeout, keyShutdownTimeout, keyEventsHeartbeat} {
		if v.GetDuration(key) <= 0 {
			return api.Config{}, fmt.Errorf("%s is %q; it must be a positive duration such as 30s", key, v.GetString(key))
		}
	}
	if v.GetDuration(keySubmitTimeout) >= v.GetDuration(keyWriteTimeout) {
		return api.Config{}, fmt.Errorf("%s (%s) must be shorter than %s (%s), or verdicts would be cut off before they are sent",
			keySubmitTimeout, v.GetDuration(keySubmitTimeout), keyWriteTimeout, v.GetDuration(keyWriteTimeout))
	}
	return api.Config{
		MaxBodyBytes:      v.GetInt64(keyMaxBodyBytes),
		MaxHeaderBytes:    v.GetInt(keyMaxHeaderBytes),
		SubmitTimeout:     v.GetDuration(keySubmitTimeout),
		ReadHeaderTimeout: v.GetDuration(keyReadHeaderTimeout),
		ReadTimeout:       v.GetDuration(keyReadTimeout),
		WriteTimeout:      v.GetDuration(keyWriteTimeout),
		IdleTimeout:       v.GetDuration(keyIdleTimeout),
		WALPageLimit:      v.GetInt(keyWALPageLimit),
		AuthToken:         v.GetString(keyAuthToken),
		ProtectReads:      v.GetBool(keyProtectReads),
		EventBuffer:       v.GetInt(keyEventsBuffer),
		EventHeartbeat:    v.GetDuration(keyEventsHeartbeat),
		Metrics:           metrics,
		Logger:            logger,
	}, nil
}

// authMode describes the access rule in force, for the start-up log.
func authMode(cfg api.Config) string {
	switch {
	case cfg.AuthToken == "":
		return "open"
	case cfg.ProtectReads:
		return "token required on every request"
	}
	return "token required on mutating requests"
}

func serve(ctx context.Context, v *viper.Viper, cmd *cobra.Command) error {
	logger, err := newLogger(v, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	slog.SetDefault(logger)
	metrics := api.NewMetrics()
	acfg, err := apiConfig(v, logger, metrics)
	if err != nil {
		return err
	}
	if v.GetInt(keyMaxBatch) <= 0 || v.GetInt(keySnapshotKeep) <= 0 || v.GetUint64(keySnapshotEvery) == 0 {
		return fmt.Errorf("%s, %s and %s must be positive (got %s, %s, %s)", keyMaxBatch, keySnapshotKeep, keySnapshotEvery,
			v.GetString(keyMaxBatch), v.GetString(keySnapshotKeep), v.GetString(keySnapshotEvery))
	}
	cluster, err := readClusterConfig(v)
	if err != nil {
		return err
	}
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
	// The store holds every catalog the WAL or a snapshot may name; the
	// configured one goes in too, so a restart never depends on the file
	// it came from.
	store, err := catalogstore.Open(filepath.Join(dataDir, catalogstore.DirName), catalogstore.Options{Engine: engine, Logger: logger})
	if err != nil {
		return err
	}
	if _, _, err := store.Put(ctx, wasm); err != nil {
		return fmt.Errorf("catalog %s: %w", source, err)
	}
	// A replica fetches from the primary the catalogs its log names and its
	// store lacks.
	var catalogs executor.Catalogs = store
	var replicationNode atomic.Pointer[replnode.Node]
	if cluster != nil {
		catalogs = &replnode.FetchingCatalogs{Store: store, Token: acfg.AuthToken, Primary: func() string {
			if n := replicationNode.Load(); n != nil {
				return n.Status().PrimaryAPI
			}
			return ""
		}}
	}
	exec, err := executor.Open(ctx, executor.Config{
		DataDir:       dataDir,
		Module:        module,
		Catalogs:      catalogs,
		Follower:      cluster != nil,
		SnapshotEvery: v.GetUint64(keySnapshotEvery),
		SnapshotKeep:  v.GetInt(keySnapshotKeep),
		MaxBatch:      v.GetInt(keyMaxBatch),
		Logger:        logger,
		Observer:      metrics,
	})
	if err != nil {
		return err
	}
	if c := exec.Catalog(); !c.Configured && c.Hash != [32]byte{} {
		logger.Warn("the WAL put another catalog in force than the one configured; serving the one in force (to switch, activate a catalog: POST /v1/catalogs/{hash}/activate or reprise catalog activate)",
			"in_force", c.Ref.String(), "in_force_hash", hex.EncodeToString(c.Hash[:]), "configured", source, "configured_hash", module.HashHex())
	}
	var repl *replnode.Node
	if cluster != nil {
		ncfg := cluster.nodeConfig(logger)
		ncfg.Exec = exec
		if repl, err = replnode.Start(ctx, ncfg); err != nil {
			exec.Close(context.Background())
			return err
		}
		replicationNode.Store(repl)
	}
	closeAll := func() error {
		var err error
		if repl != nil {
			err = repl.Close()
		}
		return errors.Join(err, exec.Close(context.Background()))
	}
	acfg.Catalogs, acfg.MaxModuleBytes, acfg.Cluster = store, v.GetInt64(keyMaxModuleBytes), repl
	handler, err := api.New(exec, acfg)
	if err != nil {
		closeAll()
		return err
	}
	ln, err := net.Listen("tcp", v.GetString(keyListen))
	if err != nil {
		handler.Close()
		closeAll()
		return err
	}
	srv := handler.HTTPServer()
	if acfg.AuthToken == "" && !loopback(ln.Addr()) {
		logger.Warn("serving without authentication on a non-loopback address; set auth.token (REPRISE_AUTH_TOKEN)", "addr", ln.Addr().String())
	}
	st := exec.Status()
	logger.Info("listening", "addr", ln.Addr().String(), "data_dir", dataDir, "index", st.Index, "state_hash", st.StateHash.String(),
		"auth", authMode(acfg))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	// The control plane starts once the API answers: its leader asks the
	// peers' APIs for their candidate facts.
	var plane control.Plane
	if cluster != nil {
		if plane, err = startCluster(ctx, cluster, repl, dataDir, acfg.AuthToken, logger); err != nil {
			srv.Close()
			handler.Close()
			closeAll()
			return fmt.Errorf("control plane: %w", err)
		}
		logger.Info("cluster", "node", cluster.self.ID, "control", cluster.control, "mode", cluster.mode.String(),
			"replication", repl.Endpoint(), "peers", len(cluster.peers))
	}
	select {
	case err = <-served:
	case <-ctx.Done():
		logger.Info("shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), v.GetDuration(keyShutdownTimeout))
		err = srv.Shutdown(shutdownCtx)
		cancel()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	handler.Close()
	if plane != nil {
		err = errors.Join(err, plane.Close())
	}
	// Nothing is submitted any more: the index now is the final one. (The
	// executor is not read after Close.)
	final := exec.Status().Index
	if cerr := closeAll(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	logger.Info("stopped", "index", final)
	return err
}

func loopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
