package seal

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/reprise-dev/reprise/host/internal/wasmtest"
	"github.com/reprise-dev/reprise/host/wasmbin"
)

// goReactor returns testdata/reactor built with the real Go toolchain for
// wasip1, built once per test binary.
func goReactor(tb testing.TB) []byte {
	tb.Helper()
	return wasmtest.Reactor(tb, "testdata/reactor")
}

// engines are the two wazero engines every sealed module must run on alike.
var engines = []struct {
	name   string
	config func() wazero.RuntimeConfig
}{
	{"compiler", wazero.NewRuntimeConfigCompiler},
	{"interpreter", wazero.NewRuntimeConfigInterpreter},
}

// validate runs wasm-validate from wabt on a module when it is installed.
func validate(t *testing.T, wasm []byte) {
	t.Helper()
	wasmtest.Validate(t, wasm, "the sealed module")
}

// compile compiles a module in a fresh runtime closed with the test,
// checking that the compiled module imports nothing.
func compile(t *testing.T, config wazero.RuntimeConfig, wasm []byte) (wazero.Runtime, wazero.CompiledModule) {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, config)
	t.Cleanup(func() { rt.Close(ctx) })
	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatalf("compiling the sealed module: %v", err)
	}
	if imp := compiled.ImportedFunctions(); len(imp) != 0 {
		t.Fatalf("the compiled module still imports %d functions", len(imp))
	}
	return rt, compiled
}

// instantiate makes an anonymous instance, running the start functions.
func instantiate(t *testing.T, rt wazero.Runtime, compiled wazero.CompiledModule, start ...string) api.Module {
	t.Helper()
	ctx := context.Background()
	mod, err := rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions(start...))
	if err != nil {
		t.Fatalf("instantiating the sealed module: %v", err)
	}
	t.Cleanup(func() { mod.Close(ctx) })
	return mod
}

// call invokes an export and returns its results, failing the test on a trap.
func call(t *testing.T, mod api.Module, name string, args ...uint64) []uint64 {
	t.Helper()
	fn := mod.ExportedFunction(name)
	if fn == nil {
		t.Fatalf("export %q not found", name)
	}
	res, err := fn.Call(context.Background(), args...)
	if err != nil {
		t.Fatalf("%s(%v): %v", name, args, err)
	}
	return res
}

func mustParse(t *testing.T, wasm []byte) *wasmbin.Module {
	t.Helper()
	m, err := wasmbin.Parse(wasm)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
