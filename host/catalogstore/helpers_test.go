package catalogstore_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/abi/canon"
	"github.com/reprise-dev/reprise/catalogs/builtin"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/catalogstore"
	"github.com/reprise-dev/reprise/host/wasmbin"
)

// describedModule assembles, without a toolchain, an import-free module that
// passes admission and describes itself with d (ABI filled in). Only
// reprise_describe returns something meaningful: the store never applies a
// transition. mutate, when given, breaks the module in one way.
func describedModule(t testing.TB, d abi.Descriptor, mutate func(m *wasmbin.Module)) []byte {
	t.Helper()
	d.ABI = abi.Version
	desc, err := canon.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	const descAt, bufferAt = 1024, 32768
	if len(desc) > bufferAt-descAt {
		t.Fatalf("descriptor of %d bytes does not fit", len(desc))
	}
	i32, i64 := wasmbin.I32, wasmbin.I64
	constI32 := func(v int64) []byte { return append(wasmbin.AppendSLEB128([]byte{0x41}, v), 0x0B) }
	constI64 := func(v uint64) []byte { return append(wasmbin.AppendSLEB128([]byte{0x42}, int64(v)), 0x0B) }
	m := &wasmbin.Module{
		Types: []wasmbin.FuncType{
			{Results: []wasmbin.ValType{i32}},                                 // () -> i32
			{Params: []wasmbin.ValType{i32}, Results: []wasmbin.ValType{i32}}, // (i32) -> i32
			{Results: []wasmbin.ValType{i64}},                                 // () -> i64
			{Params: []wasmbin.ValType{i32}, Results: []wasmbin.ValType{i64}}, // (i32) -> i64
		},
		Funcs:    []uint32{0, 1, 2, 3, 2, 3},
		Memories: []wasmbin.Limits{{Min: 1}},
		Code: []wasmbin.FuncBody{
			{Code: constI32(abi.Version)},
			{Code: constI32(bufferAt)},
			{Code: constI64(abi.Pack(descAt, uint32(len(desc))))},
			{Code: constI64(0)},
			{Code: constI64(0)},
			{Code: constI64(0)},
		},
	}
	for i, name := range []string{abi.ExportABIVersion, abi.ExportBuffer, abi.ExportDescribe, abi.ExportApply, abi.ExportExportState, abi.ExportImportState} {
		m.Exports = append(m.Exports, wasmbin.Export{Name: name, Kind: wasmbin.KindFunc, Index: uint32(i)})
	}
	m.Exports = append(m.Exports, wasmbin.Export{Name: abi.ExportMemory, Kind: wasmbin.KindMemory})
	data := wasmbin.AppendULEB128(nil, 1) // one active segment in memory 0
	data = append(data, 0x00)
	data = append(data, constI32(descAt)...)
	data = wasmbin.AppendULEB128(data, uint64(len(desc)))
	data = append(data, desc...)
	m.Data, m.HasData = data, true
	if mutate != nil {
		mutate(m)
	}
	return m.Encode()
}

// versionModule is a small valid catalog "demo" at the given version.
func versionModule(t testing.TB, version string) []byte {
	return describedModule(t, abi.Descriptor{
		Name:        "demo",
		Version:     version,
		Fields:      []abi.FieldInfo{{Name: "hits", Kind: abi.FieldValue}},
		Transitions: []abi.TransitionInfo{{Name: "TRANSITION_HIT"}, {Name: "TRANSITION_CLEAR"}},
	}, nil)
}

func builtinWasm(t testing.TB, name string) []byte {
	t.Helper()
	b, ok := builtin.Lookup(name)
	if !ok {
		t.Fatalf("%s is not built in", name)
	}
	return b
}

func newEngine(t testing.TB, limits host.Limits) *host.Engine {
	t.Helper()
	e, err := host.NewEngine(context.Background(), host.EngineConfig{Kind: host.EngineCompiler, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

// stepClock is a deterministic clock: each reading is one second after the
// previous one, starting at its base.
type stepClock struct {
	mu   sync.Mutex
	next time.Time
}

func newStepClock() *stepClock {
	return &stepClock{next: time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)}
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.next
	c.next = c.next.Add(time.Second)
	return t
}

func openStore(t testing.TB, dir string, engine *host.Engine, now func() time.Time) *catalogstore.Store {
	t.Helper()
	s, err := catalogstore.Open(dir, catalogstore.Options{Engine: engine, Now: now, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// shared is one engine for the tests that do not need their own: it
// compiles each built-in catalog once per test binary (the costly part of
// admitting one, several seconds under -race) instead of once per test.
var shared struct {
	once   sync.Once
	engine *host.Engine
	err    error
}

func sharedEngine(t testing.TB) *host.Engine {
	t.Helper()
	shared.once.Do(func() {
		shared.engine, shared.err = host.NewEngine(context.Background(), host.EngineConfig{Kind: host.EngineCompiler, Limits: host.DefaultLimits})
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.engine
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.engine != nil {
		shared.engine.Close(context.Background())
	}
	os.Exit(code)
}

// newStore opens a store in a fresh directory, with the shared engine and a
// step clock.
func newStore(t testing.TB) (*catalogstore.Store, *stepClock) {
	t.Helper()
	clock := newStepClock()
	return openStore(t, filepath.Join(t.TempDir(), catalogstore.DirName), sharedEngine(t), clock.Now), clock
}

func mustPut(t testing.TB, s *catalogstore.Store, wasm []byte) catalogstore.Info {
	t.Helper()
	info, _, err := s.Put(context.Background(), wasm)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// dirNames lists a directory's entries, sorted.
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

// testLogger sends a store's log lines to the test's log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testLogWriter{t}, nil))
}

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
