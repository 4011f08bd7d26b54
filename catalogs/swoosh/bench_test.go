package swoosh_test

import (
	"context"
	"testing"
	"time"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/catalogs/builtin"
	"github.com/reprise-dev/reprise/catalogs/swoosh"
	"github.com/reprise-dev/reprise/guest"
	"github.com/reprise-dev/reprise/host"
)

// nsPerOp times n calls of f after n/10 warm-up calls.
func nsPerOp(n int, f func(i int)) float64 {
	for i := 0; i < n/10; i++ {
		f(i)
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		f(n/10 + i)
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

// BenchmarkTransition prints, in one run, the cost of one SWOOSH
// execution transition (WORK ⇄ REVIEW in a fully formed project) through
// the host reducer natively and in wasm, and the cost of one counter
// increment in wasm as the baseline: their ratios say what the catalog's
// rules cost over the SDK's floor.
func BenchmarkTransition(b *testing.B) {
	ctx := context.Background()
	wasm := swooshWasm(b)
	prefix := newMachine(b)
	toWork(prefix)
	replay := func(r *host.Reducer) *host.Reducer {
		for i := range prefix.log {
			if o, err := r.Apply(ctx, &prefix.log[i]); err != nil || !o.Result.Accepted() {
				b.Fatalf("replaying %s: %v %+v", prefix.log[i].Transition, err, o.Result)
			}
		}
		return r
	}
	native, err := host.NewNativeReducer(func() host.NativeRunner { return guest.NewRunner(swoosh.Catalog) })
	if err != nil {
		b.Fatal(err)
	}
	reducers := map[string]*host.Reducer{"native": replay(native)}
	reducers["wasm"], _ = wasmReducer(b, host.EngineCompiler, wasm)
	replay(reducers["wasm"])
	counterWasm, ok := builtin.Lookup("counter")
	if !ok {
		b.Fatal("counter is not built in")
	}
	counter, _ := wasmReducer(b, host.EngineCompiler, counterWasm)

	const iterations = 20_000
	start := prefix.clock
	step := func(r *host.Reducer, name string) func(i int) {
		return func(i int) {
			p := abi.Proposal{Transition: "TRANSITION_WORK_COMPLETED", Index: prefix.index + uint64(i) + 1, Timestamp: prefix.ts, HLC: hlc(start + uint64(i))}
			if i%2 == 1 {
				p.Transition = "TRANSITION_REVIEW_CHANGES_REQUESTED"
			}
			if o, err := r.Apply(ctx, &p); err != nil || !o.Result.Accepted() {
				b.Fatalf("%s %s: %v %+v", name, p.Transition, err, o.Result)
			}
		}
	}
	figures := map[string]float64{}
	for name, r := range reducers {
		figures[name] = nsPerOp(iterations, step(r, name))
	}
	increment := abi.Proposal{Transition: "TRANSITION_INCREMENT", Inputs: []byte(`{"by":1,"key":"a"}`)}
	figures["counter-wasm"] = nsPerOp(iterations, func(int) {
		if o, err := counter.Apply(ctx, &increment); err != nil || !o.Result.Accepted() {
			b.Fatal(err, o.Result)
		}
	})
	// The figures are the measurement (fixed counts, so one run prints
	// them together); b.N is not used.
	for name, v := range figures {
		b.ReportMetric(v/1000, name+"-µs")
	}
	b.ReportMetric(figures["wasm"]/figures["native"], "wasm/native")
	b.ReportMetric(figures["wasm"]/figures["counter-wasm"], "swoosh/counter")
}
