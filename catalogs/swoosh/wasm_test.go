package swoosh_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/catalogs/swoosh"
	"github.com/reprise-dev/reprise/guest"
	"github.com/reprise-dev/reprise/guest/build"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/state"
)

var built struct {
	once sync.Once
	res  *build.Result
	err  error
}

// swooshWasm builds this package into a sealed module once per test
// binary.
func swooshWasm(t testing.TB) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the catalog with the Go toolchain")
	}
	built.once.Do(func() {
		built.res, built.err = build.Build(context.Background(), ".", build.Options{})
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.res.Wasm
}

func wasmReducer(t testing.TB, kind host.EngineKind, wasm []byte) (*host.Reducer, *host.Module) {
	t.Helper()
	ctx := context.Background()
	e, err := host.NewEngine(ctx, host.EngineConfig{Kind: kind, Limits: host.DefaultLimits})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(ctx) })
	m, err := e.Load(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	r, err := host.NewReducer(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(ctx) })
	return r, m
}

// TestWasmMatchesNative builds the catalog to a sealed wasm module and
// applies the same random proposals (valid and invalid, some by their bare
// event name) natively and in wasm under both engines: verdicts, details,
// outputs, deltas, state hashes and the final exported state must agree.
func TestWasmMatchesNative(t *testing.T) {
	ctx := context.Background()
	wasm := swooshWasm(t)
	native, err := host.NewNativeReducer(func() host.NativeRunner { return guest.NewRunner(swoosh.Catalog) })
	if err != nil {
		t.Fatal(err)
	}
	compiled, module := wasmReducer(t, host.EngineCompiler, wasm)
	interpreted, _ := wasmReducer(t, host.EngineInterpreter, wasm)
	if got, want := fmt.Sprint(module.Descriptor), fmt.Sprint(*native.Descriptor()); got != want {
		t.Fatalf("wasm descriptor differs from native:\n got %s\nwant %s", got, want)
	}
	reducers := map[string]*host.Reducer{"compiler": compiled, "interpreter": interpreted}

	const proposals = 600
	g := newGenerator(20240611)
	accepted, refused := 0, 0
	kinds := map[string]bool{}
	for i := range proposals {
		s, err := snapshotOf(native.State().Entries())
		if err != nil {
			t.Fatal(err)
		}
		p := g.proposal(s)
		if g.rng.IntN(5) == 0 {
			p.Transition = strings.TrimPrefix(p.Transition, abi.TransitionPrefix) // SWOOSH's bare event name
		}
		want, err := native.Apply(ctx, &p)
		if err != nil {
			t.Fatal(err)
		}
		for name, r := range reducers {
			got, err := r.Apply(ctx, &p)
			if err != nil {
				t.Fatal(err)
			}
			got.Fuel = 0 // native runs use no fuel
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("proposal %d (%s %s hlc %q) under %s:\n got %+v\nwant %+v", i, p.Transition, p.Inputs, p.HLC, name, got, want)
			}
		}
		if want.Result.Accepted() {
			g.index++
			accepted++
			kinds[want.Transition] = true
		} else {
			refused++
		}
	}
	if accepted < 150 || refused < 150 || len(kinds) < 25 {
		t.Fatalf("poor coverage: %d accepted (%d distinct transitions), %d refused", accepted, len(kinds), refused)
	}
	nativeState, err := native.ExportGuestState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range reducers {
		wasmState, err := r.ExportGuestState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(abi.AppendState(nil, wasmState), abi.AppendState(nil, nativeState)) {
			t.Fatalf("%s: exported state differs from native", name)
		}
		if state.FromEntries(wasmState).Hash() != r.State().Hash() || r.State().Hash() != native.State().Hash() {
			t.Fatalf("%s: state hashes disagree", name)
		}
		if r.Rebuilds() != 0 {
			t.Fatalf("%s: the guest failed and was rebuilt %d times", name, r.Rebuilds())
		}
	}
	t.Logf("%d proposals: %d accepted (%d distinct transitions), %d refused; module %d bytes", proposals, accepted, len(kinds), refused, len(wasm))
}
