package api

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/catalogstore"
	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/host/state"
	replnode "github.com/reprise-dev/reprise/replication/node"
)

// Config configures the HTTP surface. Zero values take the defaults named.
type Config struct {
	// MaxBodyBytes caps request bodies (413 above it); default 1 MiB.
	MaxBodyBytes int64
	// SubmitTimeout bounds how long a request waits for its verdict;
	// default 30s. It must be shorter than WriteTimeout.
	SubmitTimeout time.Duration

	// Server timeouts, applied by HTTPServer. WriteTimeout bounds a whole
	// response, except on the event stream, where it bounds each write.
	ReadHeaderTimeout time.Duration // default 5s
	ReadTimeout       time.Duration // default 30s
	WriteTimeout      time.Duration // default 60s
	IdleTimeout       time.Duration // default 120s
	MaxHeaderBytes    int           // default 64 KiB

	// AuthToken, when set, is required as "Authorization: Bearer <token>"
	// on every mutating request (any method but GET, HEAD and OPTIONS).
	AuthToken string
	// ProtectReads requires the token on reads too (every endpoint).
	ProtectReads bool

	// WALPageLimit caps the records of one GET /v1/wal page; default 1000.
	WALPageLimit int
	// EventBuffer is how many committed records may wait for one event
	// stream subscriber; a subscriber further behind is dropped and
	// resumes from its last event id. Default 1024.
	EventBuffer int
	// EventHeartbeat is the interval of keep-alive comments on an idle
	// event stream; default 15s.
	EventHeartbeat time.Duration

	// Catalogs is the node's catalog store, behind /v1/catalogs; nil
	// answers those endpoints with 503.
	Catalogs *catalogstore.Store
	// MaxModuleBytes caps the body of a catalog upload; default
	// host.DefaultLimits.MaxModuleBytes.
	MaxModuleBytes int64

	// Metrics receives the executor's observations; it must be the
	// executor's Config.Observer for transition, batch and snapshot
	// metrics to appear. Nil creates one that sees only what the HTTP
	// layer itself measures.
	Metrics *Metrics
	// Cluster is the node's replication, nil on a single node. With it,
	// writes on a replica are redirected to the primary, reads say the
	// index they reflect and are refused while the node's state may not
	// be served, and /health, /metrics and /v1/replication report the
	// node's role, epoch and replicas.
	Cluster *replnode.Node

	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Now reads the clock for reports that depend on it (licence expiry,
	// snapshot age); nil means time.Now.
	Now func() time.Time
}

func (c *Config) applyDefaults() error {
	defaults := []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&c.SubmitTimeout, 30 * time.Second}, {&c.ReadHeaderTimeout, 5 * time.Second}, {&c.ReadTimeout, 30 * time.Second},
		{&c.WriteTimeout, 60 * time.Second}, {&c.IdleTimeout, 120 * time.Second}, {&c.EventHeartbeat, 15 * time.Second},
	}
	for _, d := range defaults {
		if *d.v < 0 {
			return fmt.Errorf("negative duration %s", *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	switch {
	case c.MaxBodyBytes < 0:
		return fmt.Errorf("max body bytes %d is negative", c.MaxBodyBytes)
	case c.MaxHeaderBytes < 0:
		return fmt.Errorf("max header bytes %d is negative", c.MaxHeaderBytes)
	case c.WALPageLimit < 0:
		return fmt.Errorf("WAL page limit %d is negative", c.WALPageLimit)
	case c.EventBuffer < 0:
		return fmt.Errorf("event buffer %d is negative", c.EventBuffer)
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = 64 << 10
	}
	if c.MaxModuleBytes <= 0 {
		c.MaxModuleBytes = int64(host.DefaultLimits.MaxModuleBytes)
	}
	if c.WALPageLimit == 0 {
		c.WALPageLimit = 1000
	}
	if c.EventBuffer == 0 {
		c.EventBuffer = 1024
	}
	if c.SubmitTimeout >= c.WriteTimeout {
		return fmt.Errorf("submit timeout %s must be shorter than write timeout %s, or verdicts would be cut off before they are sent", c.SubmitTimeout, c.WriteTimeout)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Server is the HTTP handler of a node.
type Server struct {
	cfg     Config
	exec    *executor.Executor
	log     *slog.Logger
	mux     *chi.Mux
	metrics *Metrics
	events  *hub
	// summary mirrors the committed state's conventional fields (policy,
	// boot), updated by the writer once per batch so that answering a
	// request never waits for the writer's lock.
	summary   atomic.Pointer[stateSummary]
	tokenHash [32]byte
	closeOnce sync.Once
}

// New builds the router over exec. Call Close (or shut down the server
// HTTPServer returns, which calls it) to end event streams.
func New(exec *executor.Executor, cfg Config) (*Server, error) {
	if err := cfg.applyDefaults(); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s := &Server{cfg: cfg, exec: exec, log: cfg.Logger, mux: chi.NewRouter(), metrics: cfg.Metrics}
	if s.metrics == nil {
		s.metrics = NewMetrics()
	}
	if cfg.AuthToken != "" {
		s.tokenHash = sha256.Sum256([]byte(cfg.AuthToken))
	}
	if err := s.refreshCatalog(); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s.events = newHub(exec, s.metrics, cfg.EventBuffer, s.log, s.refreshCatalog)
	exec.OnCommit(func(st *state.State, index uint64) {
		s.summary.Store(summarize(st, s.summary.Load()))
		s.events.committed(index)
	})

	s.mux.Use(s.instrument, s.recoverer, s.tagRole, s.authorize, s.limitBody)
	s.mux.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusNotFound, "not_found", "no such endpoint", r.Method+" "+truncate(r.URL.Path, maxDetailBytes))
	})
	s.mux.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed", r.Method+" "+truncate(r.URL.Path, maxDetailBytes))
	})
	for _, group := range s.routeGroups() {
		group(s.mux)
	}
	return s, nil
}

// routeGroups lists the groups of endpoints. Each group is a method in its
// own file that registers full paths on the router; adding endpoints is a
// new file plus one line here, and the OpenAPI test then requires them in
// openapi.json. Authentication, body limits, metrics and logging apply to
// every route without further work.
func (s *Server) routeGroups() []func(chi.Router) {
	return []func(chi.Router){
		s.swooshRoutes,      // POST /transition, GET /state, GET /health
		s.whooshRoutes,      // WHOOSH-compatible adapter paths under /api/v1
		s.v1Routes,          // /v1: state at an index, WAL, snapshots, catalog
		s.eventRoutes,       // /v1/events
		s.catalogRoutes,     // /v1/catalogs, /v1/replay: versions, hot swap, replay
		s.replicationRoutes, // /v1/replication
		s.opsRoutes,         // /metrics, /openapi.json
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Router exposes the router, for tests that walk its routes.
func (s *Server) Router() chi.Router { return s.mux }

// Metrics returns the metrics the server exposes.
func (s *Server) Metrics() *Metrics { return s.metrics }

// HTTPServer returns an http.Server serving s with every timeout of the
// configuration set. Shutting it down also calls Close, so event streams
// end and Shutdown does not wait for them.
func (s *Server) HTTPServer() *http.Server {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(s.Close)
	return srv
}

// Close ends every event stream and stops following commits. Other
// endpoints keep working; it is safe to call more than once.
func (s *Server) Close() { s.closeOnce.Do(s.events.close) }

// refreshCatalog records the catalog in force for the metrics' label
// table. It runs at start and whenever the event hub sees the module
// change.
func (s *Server) refreshCatalog() error {
	var desc abi.Descriptor
	if err := s.exec.Read(func(_ *state.State, _ uint64, d *abi.Descriptor) { desc = *d }); err != nil {
		if errors.Is(err, executor.ErrStopped) {
			return nil // nothing more will be committed; keep the old table
		}
		if errors.Is(err, executor.ErrNoState) {
			return nil // a replica that has received nothing yet: no catalog in force
		}
		return err
	}
	s.metrics.setCatalog(&desc, s.exec.Status().Module)
	return nil
}

// stateSummary returns the last committed summary.
func (s *Server) stateSummary() *stateSummary { return s.summary.Load() }
