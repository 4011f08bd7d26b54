package build_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/abi/canon"
	"github.com/reprise-dev/reprise/catalogs/counter"
	"github.com/reprise-dev/reprise/guest"
	"github.com/reprise-dev/reprise/guest/build"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/seal"
	"github.com/reprise-dev/reprise/host/wasmbin"
)

// counterDir is the counter catalog, relative to this package's directory
// (where go test runs).
var counterDir = filepath.Join("..", "..", "catalogs", "counter")

const counterImportPath = "github.com/reprise-dev/reprise/catalogs/counter"

// counterBuild is one build of the counter catalog shared by the tests
// that only inspect the output: each build runs the Go toolchain.
var counterBuild struct {
	once sync.Once
	res  *build.Result
	err  error
}

func builtCounter(t *testing.T) *build.Result {
	t.Helper()
	skipBuildsInShortMode(t)
	counterBuild.once.Do(func() {
		counterBuild.res, counterBuild.err = build.Build(context.Background(), counterDir, build.Options{})
	})
	if counterBuild.err != nil {
		t.Fatalf("build %s: %v", counterDir, counterBuild.err)
	}
	return counterBuild.res
}

func skipBuildsInShortMode(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds catalogs with the Go toolchain")
	}
}

// TestBuildIsReproducible builds the counter catalog a second time from
// another working directory (given by absolute path), with an empty build
// cache and with every build variable the builder pins set to something
// that would change the output, and requires the same bytes as the first
// build.
func TestBuildIsReproducible(t *testing.T) {
	first := builtCounter(t)
	abs, err := filepath.Abs(counterDir)
	if err != nil {
		t.Fatal(err)
	}
	sourceBefore := listDir(t, abs)

	t.Chdir(t.TempDir())
	t.Setenv("GOCACHE", t.TempDir())
	t.Setenv("GOOS", "linux")
	t.Setenv("GOARCH", "arm64")
	t.Setenv("CGO_ENABLED", "1")
	t.Setenv("GOWASM", "satconv,signext")
	t.Setenv("GOFLAGS", "-ldflags=-s")
	second, err := build.Build(context.Background(), abs, build.Options{})
	if err != nil {
		t.Fatalf("build %s from another directory: %v", abs, err)
	}

	if !bytes.Equal(first.Unsealed, second.Unsealed) {
		t.Errorf("toolchain output differs: sha256 %x, then %x", sha256.Sum256(first.Unsealed), sha256.Sum256(second.Unsealed))
	}
	if !bytes.Equal(first.Wasm, second.Wasm) {
		t.Errorf("sealed output differs: sha256 %x, then %x", sha256.Sum256(first.Wasm), sha256.Sum256(second.Wasm))
	}
	if first.ImportPath != second.ImportPath || !slices.Equal(first.Seal.Virtualised, second.Seal.Virtualised) {
		t.Errorf("builds disagree: %s %v, then %s %v", first.ImportPath, first.Seal.Virtualised, second.ImportPath, second.Seal.Virtualised)
	}
	if after := listDir(t, abs); !slices.Equal(sourceBefore, after) {
		t.Errorf("building changed the catalog's directory: %v, then %v", sourceBefore, after)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(des))
	for i, de := range des {
		names[i] = de.Name()
	}
	return names
}

// TestBuiltModuleIsSealed reads the output with the project's own parser:
// no imports, the seal record naming exactly the imports the toolchain's
// output had, and every export of the abi contract.
func TestBuiltModuleIsSealed(t *testing.T) {
	res := builtCounter(t)
	if res.ImportPath != counterImportPath {
		t.Errorf("import path %q, want %q", res.ImportPath, counterImportPath)
	}
	if res.Seal.AlreadySealed || len(res.Seal.Virtualised) == 0 {
		t.Fatalf("seal report %+v: the toolchain's output should have had WASI imports to seal", res.Seal)
	}

	unsealed, err := wasmbin.Parse(res.Unsealed)
	if err != nil {
		t.Fatalf("toolchain output does not parse: %v", err)
	}
	var imported []string
	for _, im := range unsealed.Imports {
		if im.Module != seal.WASIModule || im.Kind != wasmbin.KindFunc {
			t.Errorf("toolchain output imports %s.%s (%v), not a %s function", im.Module, im.Name, im.Kind, seal.WASIModule)
		}
		imported = append(imported, im.Module+"."+im.Name)
	}
	if !slices.Equal(imported, res.Seal.Virtualised) {
		t.Errorf("seal report lists %v, the toolchain output imports %v", res.Seal.Virtualised, imported)
	}

	m, err := wasmbin.Parse(res.Wasm)
	if err != nil {
		t.Fatalf("sealed output does not parse: %v", err)
	}
	if len(m.Imports) != 0 {
		t.Errorf("sealed output has %d imports, the first %s.%s", len(m.Imports), m.Imports[0].Module, m.Imports[0].Name)
	}
	if _, ok := m.Custom(seal.RecordSection); !ok {
		t.Fatalf("sealed output has no %s custom section", seal.RecordSection)
	}
	rec, ok, err := seal.ReadRecord(m)
	if err != nil || !ok {
		t.Fatalf("seal record: present %v, error %v", ok, err)
	}
	if rec.Version != seal.Version || !slices.Equal(rec.Virtualised, res.Seal.Virtualised) {
		t.Errorf("seal record %+v, want version %d listing %v", rec, seal.Version, res.Seal.Virtualised)
	}

	for _, name := range append([]string{abi.ExportMemory, abi.ExportInitialize}, abi.RequiredExports...) {
		if _, ok := m.Export(name); !ok {
			t.Errorf("sealed output does not export %s", name)
		}
	}
	if _, problems := host.Validate(res.Wasm, host.DefaultLimits); len(problems) > 0 {
		t.Errorf("host validation refuses the output: %v", problems)
	}
}

// TestBuiltModuleValidatesWithWabt asks an independent validator, when one
// is installed.
func TestBuiltModuleValidatesWithWabt(t *testing.T) {
	res := builtCounter(t)
	tool, err := exec.LookPath("wasm-validate")
	if err != nil {
		t.Log("wasm-validate is not on PATH; the independent validation was not run")
		return
	}
	file := filepath.Join(t.TempDir(), "counter.wasm")
	if err := os.WriteFile(file, res.Wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, file).CombinedOutput()
	if err != nil {
		t.Fatalf("wasm-validate refuses the sealed module: %v\n%s", err, out)
	}
}

// TestBuiltModuleDescribesItselfAsTheNativeCatalog loads the output into
// the host and compares its descriptor with the one the same catalog code
// gives natively.
func TestBuiltModuleDescribesItselfAsTheNativeCatalog(t *testing.T) {
	res := builtCounter(t)
	ctx := context.Background()
	eng, err := host.NewEngine(ctx, host.EngineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(ctx)
	m, err := eng.Load(ctx, res.Wasm)
	if err != nil {
		t.Fatalf("host refuses the built module: %v", err)
	}
	if m.ABIVersion != abi.Version {
		t.Errorf("module speaks abi %d, want %d", m.ABIVersion, abi.Version)
	}
	fromWasm, err := canon.Marshal(&m.Descriptor)
	if err != nil {
		t.Fatal(err)
	}
	native := guest.NewRunner(counter.Catalog).Describe()
	if !bytes.Equal(fromWasm, native) {
		t.Errorf("descriptor from the module:\n%s\nnative descriptor:\n%s", fromWasm, native)
	}
}

func TestBuildRefusesPackageWithoutCatalog(t *testing.T) {
	skipBuildsInShortMode(t)
	_, err := build.Build(context.Background(), filepath.Join("testdata", "nocatalog"), build.Options{})
	if err == nil {
		t.Fatal("a package without a Catalog variable was built")
	}
	for _, want := range []string{"github.com/reprise-dev/reprise/guest/build/testdata/nocatalog", "must export `var Catalog *guest.Catalog`"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestBuildReportsCompilerErrors(t *testing.T) {
	skipBuildsInShortMode(t)
	_, err := build.Build(context.Background(), filepath.Join("testdata", "broken"), build.Options{})
	if err == nil {
		t.Fatal("a package that does not compile was built")
	}
	for _, want := range []string{"github.com/reprise-dev/reprise/guest/build/testdata/broken", "broken.go:11:", `cannot use "ten"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "must export") {
		t.Errorf("a compile error is reported as a missing Catalog: %v", err)
	}
}

func TestBuildRefusesMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "no-such-catalog")
	_, err := build.Build(context.Background(), dir, build.Options{})
	if err == nil {
		t.Fatal("a directory that does not exist was built")
	}
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not say that %s does not exist", err, dir)
	}
}

func TestBuildRefusesFile(t *testing.T) {
	file := filepath.Join(counterDir, "counter.go")
	_, err := build.Build(context.Background(), file, build.Options{})
	if err == nil || !strings.Contains(err.Error(), "is not a directory") || !strings.Contains(err.Error(), file) {
		t.Fatalf("building a file: error %v, want one saying %s is not a directory", err, file)
	}
}

func TestBuildRefusesDirectoryOutsideAnyModule(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "catalog.go"), []byte("package catalog\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := build.Build(context.Background(), dir, build.Options{})
	if err == nil {
		t.Fatal("a package outside any module was built")
	}
	if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "go.mod") {
		t.Errorf("error %q does not name the directory and the missing go.mod", err)
	}
}
