package executor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/catalogs/builtin"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/host/state"
	"github.com/reprise-dev/reprise/snapshot"
	"github.com/reprise-dev/reprise/wal"
)

const (
	increment = "TRANSITION_INCREMENT"
	reset     = "TRANSITION_RESET"
)

// genesis is the number of records a fresh data directory holds before its
// first transition: the activation of the configured catalog.
const genesis = 1

var counter struct {
	once sync.Once
	mod  *host.Module
	err  error
}

// counterModule loads the built-in counter catalog once per test binary:
// compiling it takes about a second.
func counterModule(t testing.TB) *host.Module {
	t.Helper()
	counter.once.Do(func() {
		wasm, ok := builtin.Lookup("counter")
		if !ok {
			counter.err = errors.New("the counter catalog is not built in")
			return
		}
		engine, err := host.NewEngine(context.Background(), host.EngineConfig{})
		if err != nil {
			counter.err = err
			return
		}
		counter.mod, counter.err = engine.Load(context.Background(), wasm)
	})
	if counter.err != nil {
		t.Fatal(counter.err)
	}
	return counter.mod
}

// inc is a counter increment.
func inc(key string, by int64) abi.Proposal {
	return abi.Proposal{Transition: increment, Inputs: fmt.Appendf(nil, `{"by":%d,"key":%q}`, by, key)}
}

// incKey is an increment carrying an idempotency key.
func incKey(key string, by int64, idem string) abi.Proposal {
	p := inc(key, by)
	p.IdemKey = idem
	return p
}

// incHLC is an increment carrying a hybrid logical clock value.
func incHLC(key string, by int64, hlc string) abi.Proposal {
	p := inc(key, by)
	p.HLC = hlc
	return p
}

// quietLogger drops the executor's log lines.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// config is a configuration for dir with the counter catalog and a quiet
// logger; snapshots are rare unless a test asks for more.
func config(t testing.TB, dir string) executor.Config {
	return executor.Config{
		DataDir:       dir,
		Module:        counterModule(t),
		SnapshotEvery: 1_000_000,
		Logger:        quietLogger(),
		WAL:           wal.Options{GCInterval: -1},
	}
}

// open opens an executor and closes it (cleanly) at the end of the test
// unless the test closed it already.
func open(t testing.TB, cfg executor.Config) *executor.Executor {
	t.Helper()
	e, err := executor.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", cfg.DataDir, err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

func closeExec(t testing.TB, e *executor.Executor) {
	t.Helper()
	if err := e.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func crash(t testing.TB, e *executor.Executor) {
	t.Helper()
	if err := e.SimulateCrash(); err != nil {
		t.Fatalf("SimulateCrash: %v", err)
	}
}

func submit(t testing.TB, e *executor.Executor, p abi.Proposal) executor.Verdict {
	t.Helper()
	v, err := e.Submit(context.Background(), executor.Submission{Proposal: p})
	if err != nil {
		t.Fatalf("Submit %s %s: %v", p.Transition, p.Inputs, err)
	}
	return v
}

func mustAccept(t testing.TB, e *executor.Executor, p abi.Proposal) executor.Verdict {
	t.Helper()
	v := submit(t, e, p)
	if !v.Accepted || v.Duplicate {
		t.Fatalf("Submit %s %s (idem %q, hlc %q): %+v, want a new accepted record", p.Transition, p.Inputs, p.IdemKey, p.HLC, v)
	}
	return v
}

// position is what a reader sees: index, state hash and the state view.
type position struct {
	Index uint64
	Hash  state.Hash
	View  string
}

func readPosition(t testing.TB, e *executor.Executor) position {
	t.Helper()
	var p position
	err := e.Read(func(st *state.State, index uint64, d *abi.Descriptor) {
		p = position{Index: index, Hash: st.Hash(), View: string(st.View(d))}
	})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return p
}

// walRecords reads every record the executor's WAL holds, by index.
func walRecords(t testing.TB, e *executor.Executor) map[uint64]wal.Record {
	t.Helper()
	l := e.WAL()
	out := map[uint64]wal.Record{}
	if l.LastIndex() < l.FirstIndex() || l.LastIndex() == 0 {
		return out
	}
	err := l.Range(l.FirstIndex(), l.LastIndex(), func(r wal.Record) error {
		out[r.Index] = r
		return nil
	})
	if err != nil {
		t.Fatalf("WAL Range: %v", err)
	}
	return out
}

// batchEvent is one Observer.Batch call.
type batchEvent struct{ proposals, records int }

// recorder is an Observer that records what the executor reports, and can
// park the writer goroutine inside a Batch or Snapshot call.
type recorder struct {
	mu        sync.Mutex
	batches   []batchEvent
	verdicts  []executor.Verdict
	snapshots []snapshot.Info
	snapErrs  []error

	// holdBatch, when set, parks the Batch call of the batch that carries
	// the holding proposal (see holdWriter): it signals parked, then waits
	// for release. Keying it to that batch, not merely the next one, matters:
	// the writer answers submitters before it reports their batch, so the
	// batch of an earlier, already answered submission may still be on its
	// way to Batch when holdWriter arms the gate.
	holdBatch *gate
	// holdSeen is set when the holding proposal's verdict is reported.
	holdSeen bool
	// holdSnapshot does the same for the next Snapshot call.
	holdSnapshot *gate
	// afterBatch, when set, runs (on the writer goroutine) after every
	// Batch is recorded.
	afterBatch func(batchEvent)
}

type gate struct {
	parked  chan struct{}
	release chan struct{}
}

func newGate() *gate { return &gate{parked: make(chan struct{}), release: make(chan struct{})} }

func (r *recorder) Verdict(_ string, v executor.Verdict) {
	r.mu.Lock()
	r.verdicts = append(r.verdicts, v)
	if v.Code == abi.UnknownTransition && v.Detail == holdTransition {
		r.holdSeen = true
	}
	r.mu.Unlock()
}

func (r *recorder) Batch(proposals, records int, _ time.Duration) {
	ev := batchEvent{proposals, records}
	r.mu.Lock()
	r.batches = append(r.batches, ev)
	var g *gate
	if r.holdSeen {
		g, r.holdBatch, r.holdSeen = r.holdBatch, nil, false
	}
	after := r.afterBatch
	r.mu.Unlock()
	if after != nil {
		after(ev)
	}
	if g != nil {
		close(g.parked)
		<-g.release
	}
}

func (r *recorder) Snapshot(info snapshot.Info, _ time.Duration, err error) {
	r.mu.Lock()
	if err != nil {
		r.snapErrs = append(r.snapErrs, err)
	} else {
		r.snapshots = append(r.snapshots, info)
	}
	g := r.holdSnapshot
	r.holdSnapshot = nil
	r.mu.Unlock()
	if g != nil {
		close(g.parked)
		<-g.release
	}
}

func (r *recorder) verdictCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.verdicts)
}

func (r *recorder) batchLog() []batchEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]batchEvent(nil), r.batches...)
}

// holdTransition names no transition of any catalog: a proposal for it is
// rejected, changes nothing, and its verdict marks the batch to park in.
const holdTransition = "HOLD_THE_WRITER"

// holdWriter parks the writer goroutine inside the Observer call of a batch
// of its own (one rejected proposal, which changes nothing), so that
// submissions made meanwhile queue up and form the next batch together.
// The returned release lets the writer go on.
func holdWriter(t testing.TB, e *executor.Executor, r *recorder) (release func()) {
	t.Helper()
	g := newGate()
	r.mu.Lock()
	r.holdBatch = g
	r.mu.Unlock()
	if v := submit(t, e, abi.Proposal{Transition: holdTransition, Inputs: []byte("{}")}); v.Accepted || v.Code != abi.UnknownTransition {
		t.Fatalf("the holding proposal was accepted: %+v", v)
	}
	<-g.parked
	var once sync.Once
	release = func() { once.Do(func() { close(g.release) }) }
	t.Cleanup(release)
	return release
}

// waitQueued waits until n submissions wait for the (held) writer.
func waitQueued(e *executor.Executor, n int) {
	for e.Queued() < n {
		runtime.Gosched()
		time.Sleep(100 * time.Microsecond)
	}
}

// waitBatches waits until the Observer has been told about n batches.
func waitBatches(r *recorder, n int) {
	for len(r.batchLog()) < n {
		runtime.Gosched()
		time.Sleep(100 * time.Microsecond)
	}
}

// result is the outcome of one asynchronous Submit.
type result struct {
	v   executor.Verdict
	err error
}

// submitAsync submits p on its own goroutine.
func submitAsync(e *executor.Executor, sub executor.Submission) <-chan result {
	ch := make(chan result, 1)
	go func() {
		v, err := e.Submit(context.Background(), sub)
		ch <- result{v, err}
	}()
	return ch
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func bufferLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func walDir(dataDir string) string  { return filepath.Join(dataDir, "wal") }
func snapDir(dataDir string) string { return filepath.Join(dataDir, "snapshots") }
