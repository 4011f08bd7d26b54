package host_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host"
)

// counterState returns a counter state of n keys.
func counterState(n int) []abi.Entry {
	entries := make([]abi.Entry, n)
	for i := range entries {
		entries[i] = abi.Entry{Field: "counts", Key: fmt.Sprintf("key-%07d", i), Value: []byte("1")}
	}
	return entries
}

// incrementProposals pre-encodes proposals over n keys, in a fixed
// scattered order, so the loop measures only the transition.
func incrementProposals(n int) []abi.Proposal {
	ps := make([]abi.Proposal, 4096)
	for i := range ps {
		k := (i * 7919) % n
		ps[i] = abi.Proposal{Transition: "TRANSITION_INCREMENT", Inputs: fmt.Appendf(nil, `{"by":1,"key":"key-%07d"}`, k)}
	}
	return ps
}

func restoredReducer(b *testing.B, r *host.Reducer, n int) *host.Reducer {
	if err := r.Restore(context.Background(), r.Descriptor().Ref(), counterState(n)); err != nil {
		b.Fatal(err)
	}
	return r
}

// nsPerOp times n calls of f after n/10 warm-up calls.
func nsPerOp(n int, f func(i int)) float64 {
	for i := 0; i < n/10; i++ {
		f(i)
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		f(i)
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

// BenchmarkCounterTransition prints, in one run, the cost of one counter
// transition in wasm and natively, their ratio, and how the wasm cost
// changes between a state of 100 keys and one of 100,000 keys. "guest" is
// the call into the catalog alone; "reducer" adds the host's read model
// and state hash, i.e. everything a transition costs before the WAL.
func BenchmarkCounterTransition(b *testing.B) {
	ctx := context.Background()
	e := newEngine(b, host.EngineCompiler, host.DefaultLimits)
	m, err := e.Load(ctx, counterWasm(b))
	if err != nil {
		b.Fatal(err)
	}
	figures := map[string]float64{}
	const iterations = 50_000
	for _, n := range []int{100, 100_000} {
		ps := incrementProposals(n)
		wasm, err := host.NewReducer(ctx, m)
		if err != nil {
			b.Fatal(err)
		}
		restoredReducer(b, wasm, n)
		native := restoredReducer(b, nativeCounter(b), n)
		inst, err := m.Instantiate(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if res, err := inst.ImportState(ctx, &abi.ImportRequest{From: wasm.Descriptor().Ref(), Entries: counterState(n)}); err != nil || !res.Accepted() {
			b.Fatalf("import: %v %+v", err, res)
		}
		figures[fmt.Sprintf("wasm-guest@%d", n)] = nsPerOp(iterations, func(i int) {
			if res, _, err := inst.Apply(ctx, &ps[i%len(ps)], 1<<40); err != nil || !res.Accepted() {
				b.Fatal(err, res)
			}
		})
		for name, r := range map[string]*host.Reducer{"wasm-reducer": wasm, "native-reducer": native} {
			figures[fmt.Sprintf("%s@%d", name, n)] = nsPerOp(iterations, func(i int) {
				if o, err := r.Apply(ctx, &ps[i%len(ps)]); err != nil || !o.Result.Accepted() {
					b.Fatal(err, o)
				}
			})
		}
		inst.Close(ctx)
		wasm.Close(ctx)
	}
	// The figures above are the measurement (fixed counts, so one run of
	// the benchmark prints all of them together); b.N is not used.
	for name, v := range figures {
		b.ReportMetric(v/1000, name+"-µs")
	}
	b.ReportMetric(figures["wasm-reducer@100"]/figures["native-reducer@100"], "wasm/native@100")
	b.ReportMetric(figures["wasm-reducer@100000"]/figures["native-reducer@100000"], "wasm/native@100000")
	b.ReportMetric(figures["wasm-guest@100000"]/figures["wasm-guest@100"], "guest-100k/100")
	b.ReportMetric(figures["wasm-reducer@100000"]/figures["wasm-reducer@100"], "reducer-100k/100")
}
