package nan_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/reprise-dev/reprise/host/internal/wasmtest"
	"github.com/reprise-dev/reprise/host/nan"
	"github.com/reprise-dev/reprise/host/wasmbin"
)

// kernelIterations is the loop count of one call of a float kernel.
const kernelIterations = 1000

// selectCheck is the branch-free alternative to the inserted check, for
// local t:
//
//	local.tee t; f64.const canonical; local.get t; local.get t; f64.eq; select
func selectCheck(t uint32) []instr {
	return []instr{ltee(t), f64c(nan.CanonicalF64), lget(t), lget(t), op(wasmbin.OpF64Eq), op(wasmbin.OpSelect)}
}

// floatKernel returns kernel(n i32, x f64) -> i64, which iterates
// acc = min(sqrt(acc*x + 0.5), 10) n times and returns the bits of acc.
// With chain, the expression is one chain of instructions (two checks per
// iteration after Canonicalize); without, every result goes through a local
// (four checks). check, when not nil, is written by hand after every
// arithmetic result, using local 3 as scratch.
func floatKernel(chain bool, check func(t uint32) []instr) []byte {
	var body []instr
	after := func(ins ...instr) {
		body = append(body, ins...)
		if check != nil {
			body = append(body, check(3)...)
		}
	}
	body = append(body, f64c(math.Float64bits(1)), lset(2), blockOf(wasmbin.OpLoop, 0))
	if chain {
		body = append(body, f64c(math.Float64bits(0.5)), lget(2), lget(1), op(wasmbin.OpF64Mul), op(wasmbin.OpF64Add))
		after(op(wasmbin.OpF64Sqrt))
		after(f64c(math.Float64bits(10)), op(wasmbin.OpF64Min))
		body = append(body, lset(2))
	} else {
		after(lget(2), lget(1), op(wasmbin.OpF64Mul))
		body = append(body, lset(2))
		after(lget(2), f64c(math.Float64bits(0.5)), op(wasmbin.OpF64Add))
		body = append(body, lset(2))
		after(lget(2), op(wasmbin.OpF64Sqrt))
		body = append(body, lset(2))
		after(lget(2), f64c(math.Float64bits(10)), op(wasmbin.OpF64Min))
		body = append(body, lset(2))
	}
	body = append(body,
		lget(0), i32c(1), op(wasmbin.OpI32Sub), ltee(0), brIf(0), end,
		lget(2), op(wasmbin.OpI64ReinterpretF64), end)
	return encodeModule(fixtureFunc{
		params:  vals(i32, f64),
		results: vals(i64),
		locals:  []wasmbin.LocalGroup{{Count: 2, Type: f64}},
		code:    code(body...),
		export:  "kernel",
	})
}

// BenchmarkCanonicalizeCost measures a float-heavy exported function under
// wazero's compiler before and after Canonicalize, in alternating batches,
// and reports the ratio. "every-result" checks four results per iteration;
// its "select" variant is the same function with the branch-free check
// written by hand, the alternative Canonicalize does not use. "chain" is the same arithmetic written as
// one expression, where Canonicalize leaves out the checks inside the chain.
// ns/op covers one call of each variant.
func BenchmarkCanonicalizeCost(b *testing.B) {
	for _, bench := range []struct {
		name       string
		chain      bool
		withSelect bool
	}{{"every-result", false, true}, {"chain", true, false}} {
		b.Run(bench.name, func(b *testing.B) {
			plain := floatKernel(bench.chain, nil)
			variants := []struct {
				name string
				wasm []byte
			}{{"plain", plain}, {"if", canonicalize(b, plain)}}
			if bench.withSelect {
				variants = append(variants, struct {
					name string
					wasm []byte
				}{"select", floatKernel(bench.chain, selectCheck)})
			}
			ctx := context.Background()
			x := math.Float64bits(1.5)
			var want uint64
			times := make([]time.Duration, len(variants))
			calls := 0
			for i, v := range variants {
				fn := instantiate(b, engines[0], v.wasm).ExportedFunction("kernel")
				res, err := fn.Call(ctx, kernelIterations, x)
				if err != nil {
					b.Fatal(err)
				}
				if i == 0 {
					want = res[0]
				} else if res[0] != want {
					b.Fatalf("%s returned %#x, plain %#x", v.name, res[0], want)
				}
			}
			fns := make([]func() error, len(variants))
			for i, v := range variants {
				fn := instantiate(b, engines[0], v.wasm).ExportedFunction("kernel")
				fns[i] = func() error { _, err := fn.Call(ctx, kernelIterations, x); return err }
			}
			const batch = 16
			b.ResetTimer()
			for calls < b.N {
				n := min(batch, b.N-calls)
				for i, fn := range fns {
					start := time.Now()
					for range n {
						if err := fn(); err != nil {
							b.Fatal(err)
						}
					}
					times[i] += time.Since(start)
				}
				calls += n
			}
			base := float64(times[0].Nanoseconds()) / float64(calls)
			b.ReportMetric(base, "plain-ns/call")
			for i, v := range variants[1:] {
				per := float64(times[i+1].Nanoseconds()) / float64(calls)
				b.ReportMetric(per, v.name+"-ns/call")
				b.ReportMetric(per/base, v.name+"/plain")
			}
		})
	}
}

// BenchmarkCanonicalize rewrites the sealed Go reactor, against the
// baseline of parsing and re-encoding it unchanged.
func BenchmarkCanonicalize(b *testing.B) {
	sealed := goReactor(b)
	wasmtest.BenchRewrite(b, sealed, "canonicalize", parseEncode, nan.Canonicalize)
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
