package seal

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/reprise-dev/reprise/host/wasmbin"
)

var (
	reactorOnce sync.Once
	reactorWasm []byte
	reactorErr  error
)

// goReactor returns testdata/reactor built with the real Go toolchain for
// wasip1, built once per test binary.
func goReactor(tb testing.TB) []byte {
	tb.Helper()
	reactorOnce.Do(func() { reactorWasm, reactorErr = buildGoReactor("testdata/reactor") })
	if reactorErr != nil {
		tb.Fatal(reactorErr)
	}
	return reactorWasm
}

func buildGoReactor(dir string) ([]byte, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("the go tool is needed to build the test reactor: %w", err)
	}
	src, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	out, err := os.MkdirTemp("", "seal-reactor-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	wasmPath := filepath.Join(out, "reactor.wasm")
	cmd := exec.Command(goTool, "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-o", wasmPath, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOTOOLCHAIN=local", "GOFLAGS=", "GOWORK=off", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building %s for wasip1: %w\n%s", dir, err, msg)
	}
	return os.ReadFile(wasmPath)
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
	tool, err := exec.LookPath("wasm-validate")
	if err != nil {
		t.Log("wasm-validate is not on PATH; the sealed module was not checked by an independent validator")
		return
	}
	path := filepath.Join(t.TempDir(), "sealed.wasm")
	if err := os.WriteFile(path, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tool, path).CombinedOutput(); err != nil {
		t.Fatalf("wasm-validate refused the sealed module: %v\n%s", err, out)
	}
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
