package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise-dev/reprise/catalogs/builtin"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/executor"
)

// modules holds the built-in catalogs, each compiled once per test binary
// when first needed: compiling one takes seconds (much longer under -race).
var modules struct {
	mu     sync.Mutex
	engine *host.Engine
	byName map[string]*host.Module
}

func builtinModule(t testing.TB, name string) *host.Module {
	t.Helper()
	modules.mu.Lock()
	defer modules.mu.Unlock()
	if m, ok := modules.byName[name]; ok {
		return m
	}
	ctx := context.Background()
	if modules.engine == nil {
		engine, err := host.NewEngine(ctx, host.EngineConfig{})
		if err != nil {
			t.Fatal(err)
		}
		modules.engine, modules.byName = engine, map[string]*host.Module{}
	}
	wasm, ok := builtin.Lookup(name)
	if !ok {
		t.Fatalf("catalog %s is not built in", name)
	}
	m, err := modules.engine.Load(ctx, wasm)
	if err != nil {
		t.Fatalf("load catalog %s: %v", name, err)
	}
	modules.byName[name] = m
	return m
}

// node is a Reprise node over real HTTP on loopback: a real executor with
// its Badger WAL in a temporary directory, the API, and an http.Server
// with the API's own timeouts.
type node struct {
	t       testing.TB
	dir     string
	module  *host.Module
	cfg     Config
	ecfg    executor.Config
	exec    *executor.Executor
	api     *Server
	srv     *http.Server
	served  chan error
	url     string
	client  *http.Client
	metrics *Metrics
}

// quietLogger discards logs: tests check answers, not log lines.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func startNode(t testing.TB, catalog string, cfg Config) *node {
	return startNodeKeeping(t, catalog, cfg, 10)
}

// startNodeKeeping starts a node that keeps `keep` snapshots: the WAL is
// compacted once that many exist.
func startNodeKeeping(t testing.TB, catalog string, cfg Config, keep int) *node {
	t.Helper()
	n := &node{t: t, dir: t.TempDir(), module: builtinModule(t, catalog), cfg: cfg}
	n.ecfg = executor.Config{SnapshotEvery: 1 << 40, SnapshotKeep: keep}
	n.start()
	t.Cleanup(n.stop)
	return n
}

// start opens the executor on the node's directory and serves the API on a
// fresh loopback port.
func (n *node) start() {
	n.t.Helper()
	n.metrics = NewMetrics()
	ecfg := n.ecfg
	ecfg.DataDir, ecfg.Module, ecfg.Observer = n.dir, n.module, n.metrics
	if ecfg.Logger == nil {
		ecfg.Logger = quietLogger()
	}
	exec, err := executor.Open(context.Background(), ecfg)
	if err != nil {
		n.t.Fatalf("open executor: %v", err)
	}
	cfg := n.cfg
	cfg.Metrics = n.metrics
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	a, err := New(exec, cfg)
	if err != nil {
		exec.Close(context.Background())
		n.t.Fatalf("api: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		n.t.Fatal(err)
	}
	n.exec, n.api, n.srv = exec, a, a.HTTPServer()
	n.url = "http://" + ln.Addr().String()
	n.served = make(chan error, 1)
	go func() { n.served <- n.srv.Serve(ln) }()
	n.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

// stop shuts the server down gracefully and closes the executor (which
// takes a final snapshot). It is safe to call twice.
func (n *node) stop() {
	if n.exec == nil {
		return
	}
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.srv.Shutdown(ctx); err != nil {
		n.t.Errorf("shutdown: %v", err)
	}
	if err := <-n.served; !errors.Is(err, http.ErrServerClosed) {
		n.t.Errorf("serve: %v", err)
	}
	n.client.CloseIdleConnections()
	n.api.Close() // Shutdown started it; wait for the hub before the executor goes
	if err := n.exec.Close(context.Background()); err != nil {
		n.t.Errorf("close executor: %v", err)
	}
	n.exec = nil
}

func (n *node) restart() {
	n.t.Helper()
	n.stop()
	n.start()
}

// reply is an HTTP answer, read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) String() string { return http.StatusText(r.status) + " " + string(r.body) }

// do sends a request; header is name, value pairs.
func (n *node) do(method, path, body string, header ...string) reply {
	n.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, n.url+path, rd)
	if err != nil {
		n.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := n.client.Do(req)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		n.t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: raw}
}

func (n *node) get(path string, header ...string) reply {
	return n.do(http.MethodGet, path, "", header...)
}

func (n *node) post(path, body string, header ...string) reply {
	return n.do(http.MethodPost, path, body, header...)
}

// decode decodes a JSON answer strictly into v.
func decode(t testing.TB, r reply, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("answer %d is not the expected JSON (%v): %s", r.status, err, r.body)
	}
}

// wantProblem requires a problem+json answer with the status and code.
func wantProblem(t testing.TB, r reply, status int, code string) Problem {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != ProblemContentType {
		t.Fatalf("Content-Type %q, want %q: %s", ct, ProblemContentType, r.body)
	}
	var p Problem
	decode(t, r, &p)
	if p.Status != status || p.Code != code || p.Type != problemTypeBase+code || p.Title == "" {
		t.Fatalf("problem %+v, want status %d code %s", p, status, code)
	}
	return p
}

// verdict is POST /transition's answer.
type verdict = transitionResponse

// submit posts a proposal and decodes the verdict.
func (n *node) submit(body string, header ...string) (reply, verdict) {
	n.t.Helper()
	r := n.post("/transition", body, header...)
	var v verdict
	if r.status == http.StatusOK || r.status == http.StatusBadRequest || r.status == http.StatusConflict {
		if ct := r.header.Get("Content-Type"); ct == "application/json" {
			decode(n.t, r, &v)
		}
	}
	return r, v
}

// mustAccept submits a proposal that must be accepted as a new record.
func (n *node) mustAccept(body string, header ...string) verdict {
	n.t.Helper()
	r, v := n.submit(body, header...)
	if r.status != http.StatusOK || !v.Success || v.Duplicate || v.Index == 0 {
		n.t.Fatalf("proposal %s: %s", body, r)
	}
	return v
}

// health reads GET /health.
func (n *node) health() healthResponse {
	n.t.Helper()
	r := n.get("/health")
	var h healthResponse
	decode(n.t, r, &h)
	return h
}
