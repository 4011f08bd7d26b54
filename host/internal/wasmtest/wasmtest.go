// Package wasmtest holds what the host's tests need to make and check real
// wasm modules: building a Go program for wasip1 with the real toolchain
// (once per directory per test binary), and running the independent
// validator from wabt when it is installed.
//
// It is for tests only and must never be imported by product code.
package wasmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var (
	mu    sync.Mutex
	built = map[string]*buildResult{}
)

type buildResult struct {
	once sync.Once
	wasm []byte
	err  error
}

// Reactor returns the Go main package in dir (a path relative to the
// calling test's package, usually under testdata/ with its own go.mod)
// built for GOOS=wasip1 as a reactor (-buildmode=c-shared), built once per
// test binary.
func Reactor(tb testing.TB, dir string) []byte {
	tb.Helper()
	wasm, err := BuildReactor(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return wasm
}

// BuildReactor is Reactor without a testing.TB.
func BuildReactor(dir string) ([]byte, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	mu.Lock()
	r, ok := built[abs]
	if !ok {
		r = &buildResult{}
		built[abs] = r
	}
	mu.Unlock()
	r.once.Do(func() { r.wasm, r.err = build(abs) })
	return r.wasm, r.err
}

func build(src string) ([]byte, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("the go tool is needed to build %s: %w", src, err)
	}
	out, err := os.MkdirTemp("", "wasmtest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	wasmPath := filepath.Join(out, "reactor.wasm")
	cmd := exec.Command(goTool, "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-o", wasmPath, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOTOOLCHAIN=local", "GOFLAGS=", "GOWORK=off", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building %s for wasip1: %w\n%s", src, err, msg)
	}
	return os.ReadFile(wasmPath)
}

// Validate runs wasm-validate (Debian package wabt) on wasm when it is on
// PATH and fails the test if it refuses the module; when it is absent the
// test logs that the independent check did not run.
func Validate(tb testing.TB, wasm []byte, what string) {
	tb.Helper()
	tool, err := exec.LookPath("wasm-validate")
	if err != nil {
		tb.Logf("wasm-validate is not on PATH (apt-get install wabt): %s was not checked by an independent validator", what)
		return
	}
	path := filepath.Join(tb.TempDir(), "module.wasm")
	if err := os.WriteFile(path, wasm, 0o600); err != nil {
		tb.Fatal(err)
	}
	if out, err := exec.Command(tool, path).CombinedOutput(); err != nil {
		tb.Fatalf("wasm-validate refused %s: %v\n%s", what, err, out)
	}
}

// BenchRewrite times a module rewrite against a baseline run on the same
// module in the same loop (typically parsing and re-encoding it unchanged,
// the least any rewrite costs), and reports both and their ratio.
func BenchRewrite(b *testing.B, module []byte, name string, baseline func([]byte) error, rewrite func([]byte) ([]byte, error)) {
	b.Helper()
	b.SetBytes(int64(len(module)))
	var base, rw time.Duration
	for b.Loop() {
		start := time.Now()
		if err := baseline(module); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if _, err := rewrite(module); err != nil {
			b.Fatal(err)
		}
		rw += time.Since(mid)
		base += mid.Sub(start)
	}
	b.ReportMetric(float64(base.Microseconds())/float64(b.N), "parse+encode-µs")
	b.ReportMetric(float64(rw.Microseconds())/float64(b.N), name+"-µs")
	b.ReportMetric(float64(rw)/float64(base), name+"/parse+encode")
}
