package nan_test

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/reprise-dev/reprise/host/internal/wasmtest"
	"github.com/reprise-dev/reprise/host/meter"
	"github.com/reprise-dev/reprise/host/nan"
	"github.com/reprise-dev/reprise/host/seal"
)

// fuelBudget is far more than any call below needs.
const fuelBudget = 1 << 40

// TestComposesWithMeter rewrites the instruction table module in both
// orders with the fuel meter and checks that both validate and give the
// canonical results, and that the meter still counts.
func TestComposesWithMeter(t *testing.T) {
	plain := opModule()
	metered, err := meter.Inject(plain)
	if err != nil {
		t.Fatal(err)
	}
	nanFirst, err := meter.Inject(canonicalize(t, plain))
	if err != nil {
		t.Fatalf("metering the canonicalized module: %v", err)
	}
	wasmtest.Validate(t, nanFirst, "the canonicalized then metered module")
	meterFirst := canonicalize(t, metered)

	for _, e := range engines {
		for _, v := range []struct {
			name string
			wasm []byte
		}{{"canonicalize then meter", nanFirst}, {"meter then canonicalize", meterFirst}} {
			mod := instantiate(t, e, v.wasm)
			fuel, ok := mod.ExportedGlobal(meter.FuelGlobal).(api.MutableGlobal)
			if !ok {
				t.Fatalf("%s, %s: no mutable %s export", e.name, v.name, meter.FuelGlobal)
			}
			for _, c := range opCases {
				args := []uint64{payloadNaN(c.in)}
				if c.binary {
					args = append(args, 0)
				}
				fuel.Set(fuelBudget)
				got := resultBits(call(t, mod, c.op.String(), args...), c.out)
				if got != canonical(c.out) {
					t.Fatalf("%s, %s: %s(%#x) = %#x, want %#x", e.name, v.name, c.op, args, got, canonical(c.out))
				}
				if used := fuelBudget - int64(fuel.Get()); used <= 0 {
					t.Fatalf("%s, %s: %s used %d fuel", e.name, v.name, c.op, used)
				}
			}
		}
	}
}

var reactor struct {
	once   sync.Once
	sealed []byte
	err    error
}

// goReactor builds the meter's test reactor for wasip1 once per test binary
// and seals it.
func goReactor(t testing.TB) []byte {
	t.Helper()
	reactor.once.Do(func() {
		raw, err := wasmtest.BuildReactor(filepath.Join("..", "meter", "testdata", "reactor"))
		if err != nil {
			reactor.err = err
			return
		}
		reactor.sealed, _, reactor.err = seal.Seal(raw)
	})
	if reactor.err != nil {
		t.Fatal(reactor.err)
	}
	return reactor.sealed
}

// workResults starts a fresh instance of a sealed Go reactor (metered when
// a fuel global is exported) and returns what work(1), work(3), work(3)
// return.
func workResults(t *testing.T, e engine, wasm []byte) []uint64 {
	t.Helper()
	mod := instantiate(t, e, wasm)
	fuel, _ := mod.ExportedGlobal(meter.FuelGlobal).(api.MutableGlobal)
	run := func(name string, args ...uint64) []uint64 {
		if fuel != nil {
			fuel.Set(fuelBudget)
		}
		res, err := mod.ExportedFunction(name).Call(context.Background(), args...)
		if err != nil {
			t.Fatalf("%s: %s%v: %v", e.name, name, args, err)
		}
		return res
	}
	run("_initialize")
	var out []uint64
	for _, rounds := range []uint64{1, 3, 3} {
		out = append(out, run("work", rounds)[0])
	}
	return out
}

func TestGoReactorRunsTheSameAfterCanonicalize(t *testing.T) {
	sealed := goReactor(t)
	wasm := canonicalize(t, sealed)
	again, err := nan.Canonicalize(sealed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, wasm) {
		t.Fatal("two rewrites of the Go module differ")
	}
	checks := insertedChecks(t, sealed, wasm)
	if checks <= 0 {
		t.Fatalf("no check inserted into the Go module (it has float arithmetic in its runtime)")
	}
	t.Logf("Go reactor: %d checks inserted, %d -> %d bytes", checks, len(sealed), len(wasm))

	metered, err := meter.Inject(wasm)
	if err != nil {
		t.Fatalf("metering the canonicalized Go module: %v", err)
	}
	wasmtest.Validate(t, metered, "the canonicalized then metered Go module")

	want := workResults(t, engines[0], sealed)
	for _, e := range engines {
		for _, v := range []struct {
			name string
			wasm []byte
		}{{"canonicalized", wasm}, {"canonicalized and metered", metered}} {
			got := workResults(t, e, v.wasm)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s, %s: work results %v, the sealed module gave %v", e.name, v.name, got, want)
				}
			}
		}
	}
}
