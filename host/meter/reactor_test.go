package meter_test

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/reprise-dev/reprise/host/internal/wasmtest"
	"github.com/reprise-dev/reprise/host/meter"
	"github.com/reprise-dev/reprise/host/seal"
	"github.com/reprise-dev/reprise/host/wasmbin"
)

// Budgets for the Go reactor: enough for the Go runtime's start-up and for
// the bounded export, far too little for the one that never returns.
const (
	initBudget = 1 << 40
	callBudget = 1 << 40
	spinBudget = 5_000_000
)

var reactor struct {
	once     sync.Once
	sealed   []byte // the reactor with WASI virtualised, unmetered
	metered  []byte
	buildErr error
}

// goReactor builds testdata/reactor for GOOS=wasip1 once per test binary,
// seals it and meters it.
func goReactor(t testing.TB) (sealed, metered []byte) {
	t.Helper()
	reactor.once.Do(func() {
		reactor.sealed, reactor.metered, reactor.buildErr = buildReactor()
	})
	if reactor.buildErr != nil {
		t.Fatal(reactor.buildErr)
	}
	return reactor.sealed, reactor.metered
}

func buildReactor() (sealed, metered []byte, err error) {
	raw, err := wasmtest.BuildReactor(filepath.Join("testdata", "reactor"))
	if err != nil {
		return nil, nil, err
	}
	sealed, _, err = seal.Seal(raw)
	if err != nil {
		return nil, nil, err
	}
	metered, err = meter.Inject(sealed)
	return sealed, metered, err
}

// compilationCache shares compiled modules between the runtimes of one
// test binary, so the large Go module is compiled once per engine.
var compilationCache = wazero.NewCompilationCache()

// startGo instantiates a sealed Go reactor (metered or not) and runs its
// _initialize; with fuel set to initBudget when metered. It returns the
// instance and the fuel _initialize used.
func startGo(t testing.TB, e engine, wasm []byte, metered bool) (instance, int64) {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, e.cfg().WithCompilationCache(compilationCache))
	t.Cleanup(func() { rt.Close(ctx) })
	mod, err := rt.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		t.Fatalf("%s: instantiate: %v", e.name, err)
	}
	in := instance{mod: mod}
	if !metered {
		if _, err := mod.ExportedFunction("_initialize").Call(ctx); err != nil {
			t.Fatalf("%s: _initialize: %v", e.name, err)
		}
		return in, 0
	}
	fuel, ok := mod.ExportedGlobal(meter.FuelGlobal).(api.MutableGlobal)
	if !ok {
		t.Fatalf("%s: no mutable %s export", e.name, meter.FuelGlobal)
	}
	in.fuel = fuel
	o := in.call(t, "_initialize", initBudget)
	if o.err != nil {
		t.Fatalf("%s: _initialize with %d fuel: %v (fuel left %d)", e.name, int64(initBudget), o.err, o.remaining)
	}
	return in, o.used(initBudget)
}

// goRun is what one fresh metered instance of the reactor did.
type goRun struct {
	initFuel  int64
	results   []uint64 // of work(1), work(3), work(3)
	fuel      []int64  // used by each of those calls
	spinFuel  int64    // fuel left after spin trapped
	spinError string
}

func runGoReactor(t *testing.T, e engine, metered []byte) goRun {
	t.Helper()
	in, initFuel := startGo(t, e, metered, true)
	r := goRun{initFuel: initFuel}
	for _, rounds := range []uint64{1, 3, 3} {
		o := in.call(t, "work", callBudget, rounds)
		if o.err != nil {
			t.Fatalf("%s: work(%d): %v", e.name, rounds, o.err)
		}
		r.results = append(r.results, o.results[0])
		r.fuel = append(r.fuel, o.used(callBudget))
	}
	o := in.call(t, "spin", spinBudget)
	if o.err == nil {
		t.Fatalf("%s: spin returned with %d fuel left", e.name, o.remaining)
	}
	if o.remaining >= 0 {
		t.Fatalf("%s: spin failed with %v but %d fuel is left, want a negative value (out of fuel)", e.name, o.err, o.remaining)
	}
	r.spinFuel, r.spinError = o.remaining, o.err.Error()
	return r
}

func TestGoReactorIsMeteredDeterministically(t *testing.T) {
	sealed, metered := goReactor(t)
	validate(t, metered)

	again, err := meter.Inject(sealed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, metered) {
		t.Fatal("metering the same Go module twice gave different bytes")
	}

	// The unmetered module computes the same results.
	plain, _ := startGo(t, engines[0], sealed, false)
	var want []uint64
	for _, rounds := range []uint64{1, 3, 3} {
		res, err := plain.mod.ExportedFunction("work").Call(context.Background(), rounds)
		if err != nil {
			t.Fatalf("unmetered work(%d): %v", rounds, err)
		}
		want = append(want, res[0])
	}

	var runs []goRun
	for _, e := range engines {
		// Two fresh instances per engine: every run must cost the same.
		for range 2 {
			r := runGoReactor(t, e, metered)
			t.Logf("%s: _initialize %d fuel, work(1) %d, work(3) %d then %d, spin stopped at %d: %s",
				e.name, r.initFuel, r.fuel[0], r.fuel[1], r.fuel[2], r.spinFuel, r.spinError)
			runs = append(runs, r)
		}
	}
	first := runs[0]
	for i, r := range runs {
		for j := range want {
			if r.results[j] != want[j] {
				t.Fatalf("run %d: work results %v, unmetered module gave %v", i, r.results, want)
			}
		}
		if r.initFuel != first.initFuel || r.spinFuel != first.spinFuel {
			t.Fatalf("run %d: _initialize used %d and spin stopped at %d; run 0: %d and %d",
				i, r.initFuel, r.spinFuel, first.initFuel, first.spinFuel)
		}
		for j := range r.fuel {
			if r.fuel[j] != first.fuel[j] {
				t.Fatalf("run %d: work used %v fuel, run 0 used %v", i, r.fuel, first.fuel)
			}
		}
	}
	// More work costs more fuel.
	if first.fuel[0] <= 0 || first.fuel[1] <= first.fuel[0] {
		t.Fatalf("work(1) used %d fuel and work(3) %d: want 0 < work(1) < work(3)", first.fuel[0], first.fuel[1])
	}
}

// BenchmarkMeteredCall measures an exported Go function that decodes a small
// varint payload, allocates records and updates a map, in the sealed module
// unmetered and metered, under wazero's compiler, in alternating batches.
// ns/op covers one call of each.
func BenchmarkMeteredCall(b *testing.B) {
	sealed, metered := goReactor(b)
	e := engines[0]
	plain, _ := startGo(b, e, sealed, false)
	fueled, _ := startGo(b, e, metered, true)
	ctx := context.Background()
	plainWork := plain.mod.ExportedFunction("work")
	fueledWork := fueled.mod.ExportedFunction("work")

	const batch = 64
	var plainTime, fueledTime time.Duration
	var fuelUsed int64
	calls := 0
	b.ResetTimer()
	for calls < b.N {
		n := min(batch, b.N-calls)
		start := time.Now()
		for range n {
			if _, err := plainWork.Call(ctx, 1); err != nil {
				b.Fatal(err)
			}
		}
		mid := time.Now()
		for range n {
			fueled.fuel.Set(callBudget)
			if _, err := fueledWork.Call(ctx, 1); err != nil {
				b.Fatal(err)
			}
			fuelUsed = callBudget - int64(fueled.fuel.Get())
		}
		fueledTime += time.Since(mid)
		plainTime += mid.Sub(start)
		calls += n
	}
	perPlain := float64(plainTime.Nanoseconds()) / float64(calls)
	perFueled := float64(fueledTime.Nanoseconds()) / float64(calls)
	b.ReportMetric(perPlain, "unmetered-ns/call")
	b.ReportMetric(perFueled, "metered-ns/call")
	b.ReportMetric(perFueled/perPlain, "metered/unmetered")
	b.ReportMetric(float64(fuelUsed), "fuel/call")
}

// BenchmarkInject meters the sealed Go reactor, against the baseline of
// parsing and re-encoding it unchanged (the least any rewrite costs).
func BenchmarkInject(b *testing.B) {
	sealed, _ := goReactor(b)
	wasmtest.BenchRewrite(b, sealed, "inject", parseEncode, meter.Inject)
}

// parseEncode is the baseline of a rewrite: the module parsed and
// re-encoded unchanged.
func parseEncode(module []byte) error {
	m, err := wasmbin.Parse(module)
	if err != nil {
		return err
	}
	_ = m.Encode()
	return nil
}
