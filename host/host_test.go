package host_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/catalogs/builtin"
	"github.com/reprise-dev/reprise/catalogs/counter"
	"github.com/reprise-dev/reprise/guest"
	"github.com/reprise-dev/reprise/guest/build"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/state"
)

func repoPath(rel string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", rel)
}

var misbehave struct {
	once sync.Once
	res  *build.Result
	err  error
}

// misbehaveModule builds catalogs/misbehave once per test binary.
func misbehaveModule(t testing.TB) *build.Result {
	t.Helper()
	misbehave.once.Do(func() {
		misbehave.res, misbehave.err = build.Build(context.Background(), repoPath("catalogs/misbehave"), build.Options{})
	})
	if misbehave.err != nil {
		t.Fatal(misbehave.err)
	}
	return misbehave.res
}

func newEngine(t testing.TB, kind host.EngineKind, limits host.Limits) *host.Engine {
	t.Helper()
	e, err := host.NewEngine(context.Background(), host.EngineConfig{Kind: kind, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

func counterWasm(t testing.TB) []byte {
	b, ok := builtin.Lookup("counter")
	if !ok {
		t.Fatal("counter is not built in")
	}
	return b
}

func wasmReducer(t testing.TB, e *host.Engine, wasm []byte) *host.Reducer {
	t.Helper()
	m, err := e.Load(context.Background(), wasm)
	if err != nil {
		t.Fatal(err)
	}
	r, err := host.NewReducer(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

func nativeCounter(t testing.TB) *host.Reducer {
	r, err := host.NewNativeReducer(func() host.NativeRunner { return guest.NewRunner(counter.Catalog) })
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCounterModuleIsAdmittedAndDescribed(t *testing.T) {
	e := newEngine(t, host.EngineCompiler, host.DefaultLimits)
	m, err := e.Load(context.Background(), counterWasm(t))
	if err != nil {
		t.Fatal(err)
	}
	d := m.Descriptor
	if d.Name != "counter" || d.Version != "1.0.0" || m.ABIVersion != abi.Version {
		t.Fatalf("descriptor %+v abi %d", d, m.ABIVersion)
	}
	if got := strings.Join(d.TransitionNames(), ","); got != "TRANSITION_INCREMENT,TRANSITION_RESET" {
		t.Fatalf("transitions %s", got)
	}
	if m.Hash != host.Hash(counterWasm(t)) {
		t.Fatal("module identity is not the SHA-256 of its bytes")
	}
	again, err := e.Load(context.Background(), counterWasm(t))
	if err != nil || again != m {
		t.Fatalf("loading the same bytes twice gave a different module (%v)", err)
	}
}

// randomProposal draws counter proposals, valid and invalid, from a small
// key space so that keys repeat.
func randomProposal(rng *rand.Rand, i int) *abi.Proposal {
	key := fmt.Sprintf("k%d", rng.IntN(40))
	p := &abi.Proposal{Index: uint64(i + 1), Timestamp: int64(i)}
	switch n := rng.IntN(100); {
	case n < 70:
		p.Transition = "TRANSITION_INCREMENT"
		p.Inputs = fmt.Appendf(nil, `{"by":%d,"key":%q}`, rng.IntN(1_100_000)-50_000, key)
	case n < 80:
		p.Transition = "RESET" // the bare event name resolves too
		p.Inputs = fmt.Appendf(nil, `{"key":%q}`, key)
	case n < 85:
		p.Transition = "TRANSITION_INCREMENT"
		p.Inputs = []byte(`{"key":""}`)
	case n < 90:
		p.Transition = "TRANSITION_INCREMENT"
		p.Inputs = []byte(`{"key":"a","by":"2"}`)
	case n < 95:
		p.Transition = "TRANSITION_DECREMENT"
	default:
		p.Transition = "TRANSITION_INCREMENT"
		p.Inputs = []byte(`{"key":"a","by":1,"extra":0}`)
	}
	return p
}

// TestDifferentialNativeAndWasm applies the same few thousand random
// proposals to the counter natively and in wasm (under both engines) and
// requires identical verdicts, deltas, state hashes and exported state.
func TestDifferentialNativeAndWasm(t *testing.T) {
	ctx := context.Background()
	native := nativeCounter(t)
	compiled := wasmReducer(t, newEngine(t, host.EngineCompiler, host.DefaultLimits), counterWasm(t))
	interp := wasmReducer(t, newEngine(t, host.EngineInterpreter, host.DefaultLimits), counterWasm(t))
	rng := rand.New(rand.NewPCG(42, 2))
	accepted, rejected := 0, 0
	for i := 0; i < 3000; i++ {
		p := randomProposal(rng, i)
		want, err := native.Apply(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		for name, r := range map[string]*host.Reducer{"compiler": compiled, "interpreter": interp} {
			got, err := r.Apply(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			got.Fuel = 0 // native runs use no fuel
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("proposal %d (%s %s) under %s:\n got %+v\nwant %+v", i, p.Transition, p.Inputs, name, got, want)
			}
		}
		if want.Result.Accepted() {
			accepted++
		} else {
			rejected++
		}
	}
	if accepted < 1000 || rejected < 500 {
		t.Fatalf("poor coverage: %d accepted, %d rejected", accepted, rejected)
	}
	nativeState, _ := native.ExportGuestState(ctx)
	for name, r := range map[string]*host.Reducer{"compiler": compiled, "interpreter": interp} {
		wasmState, err := r.ExportGuestState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(abi.AppendState(nil, wasmState), abi.AppendState(nil, nativeState)) {
			t.Fatalf("%s: exported state differs from native", name)
		}
		if state.FromEntries(wasmState).Hash() != r.State().Hash() {
			t.Fatalf("%s: guest state and read model disagree", name)
		}
	}
}

func TestModuleWithImportsIsRefusedNamingThem(t *testing.T) {
	e := newEngine(t, host.EngineCompiler, host.DefaultLimits)
	_, err := e.Load(context.Background(), misbehaveModule(t).Unsealed)
	var refused *host.RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("unsealed module: err = %v, want a RefusedError", err)
	}
	msg := err.Error()
	for _, name := range []string{"wasi_snapshot_preview1.fd_write", "wasi_snapshot_preview1.clock_time_get", "wasi_snapshot_preview1.random_get"} {
		if !strings.Contains(msg, name) {
			t.Errorf("refusal does not name %s: %s", name, msg)
		}
	}
}

// TestMisbehavingTransitionsAreContained runs each failure the misbehave
// catalog has and checks that it rejects that one transition with a clear
// reason, leaves state (read model and guest) untouched, and that the next
// transition succeeds.
func TestMisbehavingTransitionsAreContained(t *testing.T) {
	ctx := context.Background()
	limits := host.DefaultLimits
	limits.MemoryPages = 2048 // 128 MiB keeps the memory bomb quick
	limits.TransitionFuel = 50_000_000
	for _, kind := range []host.EngineKind{host.EngineCompiler, host.EngineInterpreter} {
		t.Run(string(kind), func(t *testing.T) {
			r := wasmReducer(t, newEngine(t, kind, limits), misbehaveModule(t).Wasm)
			inc := &abi.Proposal{Transition: "TRANSITION_INCREMENT", Inputs: []byte(`{"key":"a"}`)}
			cases := []struct {
				transition string
				code       abi.Code
				detail     string
			}{
				{"TRANSITION_SPIN", abi.OutOfFuel, "used all 50000000 units of fuel"},
				{"TRANSITION_PANIC", abi.GuestPanic, "deliberate panic in a"},
				{"TRANSITION_EXIT", abi.Trap, "unreachable"},
				{"TRANSITION_RECURSE", 0, ""}, // fuel or stack, whichever runs out first
				{"TRANSITION_GROW", abi.OutOfMemory, "memory limit is 128 MiB"},
			}
			if kind == host.EngineInterpreter {
				cases = cases[:3] // the interpreter is slow to exhaust memory or stack
			}
			want := int64(0)
			for _, c := range cases {
				if o, err := r.Apply(ctx, inc); err != nil || !o.Result.Accepted() {
					t.Fatalf("increment before %s: %v %+v", c.transition, err, o)
				}
				want++
				before := r.State().Hash()
				r.Fuel = limits.TransitionFuel
				if c.code == abi.OutOfMemory {
					r.Fuel = 20 * limits.TransitionFuel // let memory, not fuel, run out
				}
				o, err := r.Apply(ctx, &abi.Proposal{Transition: c.transition, Inputs: []byte(`{"key":"a"}`)})
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: %s: %s (fuel %d)", c.transition, o.Result.Code.Message(), o.Result.Detail, o.Fuel)
				if o.Result.Accepted() || len(o.Result.Delta) != 0 {
					t.Fatalf("%s was accepted: %+v", c.transition, o)
				}
				if c.code != 0 && (o.Result.Code != c.code || !strings.Contains(o.Result.Detail, c.detail)) {
					t.Fatalf("%s: got %s %q, want %s containing %q", c.transition, o.Result.Code, o.Result.Detail, c.code, c.detail)
				}
				if c.code == 0 && !o.Result.Code.HostCode() {
					t.Fatalf("%s: got %s, want a guest failure (trap, fuel or memory)", c.transition, o.Result.Code)
				}
				if o.StateHash != before || r.State().Hash() != before {
					t.Fatalf("%s changed the state hash", c.transition)
				}
				got, err := r.ExportGuestState(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 1 || string(got[0].Value) != fmt.Sprint(want) {
					t.Fatalf("after %s the guest holds %+v, want counts/a = %d", c.transition, got, want)
				}
			}
			if o, err := r.Apply(ctx, inc); err != nil || !o.Result.Accepted() {
				t.Fatalf("final increment: %v %+v", err, o)
			}
		})
	}
}
