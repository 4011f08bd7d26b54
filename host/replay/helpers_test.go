package replay_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/catalogs/builtin"
	"github.com/reprise-dev/reprise/guest/build"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/host/replay"
	"github.com/reprise-dev/reprise/wal"
)

// engines holds one engine of each kind per test binary, and the modules
// loaded into them by name.
var engines struct {
	mu   sync.Mutex
	eng  map[host.EngineKind]*host.Engine
	mods map[string]*host.Module
	wasm map[string][]byte
}

// wasmOf returns a catalog's sealed module: a built-in by name, or
// "src:<dir>" built from catalogs/<dir> once per test binary.
func wasmOf(t testing.TB, name string) []byte {
	t.Helper()
	if b, ok := builtin.Lookup(name); ok {
		return b
	}
	if testing.Short() {
		t.Skip("builds catalogs with the Go toolchain")
	}
	if b, ok := engines.wasm[name]; ok {
		return b
	}
	res, err := build.Build(context.Background(), filepath.Join("..", "..", "catalogs", name), build.Options{})
	if err != nil {
		t.Fatalf("build catalogs/%s: %v", name, err)
	}
	if engines.wasm == nil {
		engines.wasm = map[string][]byte{}
	}
	engines.wasm[name] = res.Wasm
	return res.Wasm
}

// module loads a catalog (see wasmOf) into the engine of the given kind.
func module(t testing.TB, kind host.EngineKind, name string) *host.Module {
	t.Helper()
	engines.mu.Lock()
	defer engines.mu.Unlock()
	key := string(kind) + "/" + name
	if m, ok := engines.mods[key]; ok {
		return m
	}
	if engines.eng == nil {
		engines.eng, engines.mods = map[host.EngineKind]*host.Engine{}, map[string]*host.Module{}
	}
	eng, ok := engines.eng[kind]
	if !ok {
		var err error
		if eng, err = host.NewEngine(context.Background(), host.EngineConfig{Kind: kind}); err != nil {
			t.Fatal(err)
		}
		engines.eng[kind] = eng
	}
	m, err := eng.Load(context.Background(), wasmOf(t, name))
	if err != nil {
		t.Fatalf("load %s into the %s engine: %v", name, kind, err)
	}
	engines.mods[key] = m
	return m
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// node opens an executor on a fresh data directory serving module, with
// the given catalogs, and closes it at the end of the test.
func node(t testing.TB, m *host.Module, catalogs replay.Catalogs) *executor.Executor {
	t.Helper()
	e, err := executor.Open(context.Background(), executor.Config{
		DataDir: t.TempDir(), Module: m, Catalogs: catalogs, SnapshotEvery: 1 << 40,
		Logger: quietLogger(), WAL: wal.Options{GCInterval: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

func inc(key string, by int64) abi.Proposal {
	return abi.Proposal{Transition: "TRANSITION_INCREMENT", Inputs: fmt.Appendf(nil, `{"by":%d,"key":%q}`, by, key)}
}

func reset(key string) abi.Proposal {
	return abi.Proposal{Transition: "TRANSITION_RESET", Inputs: fmt.Appendf(nil, `{"key":%q}`, key)}
}

func mustAccept(t testing.TB, e *executor.Executor, p abi.Proposal) executor.Verdict {
	t.Helper()
	v, err := e.Submit(context.Background(), executor.Submission{Proposal: p})
	if err != nil || !v.Accepted {
		t.Fatalf("%s %s: %+v, %v", p.Transition, p.Inputs, v, err)
	}
	return v
}

// source is a replay source over a live executor's WAL and snapshots.
func source(e *executor.Executor, catalogs replay.Catalogs) replay.Source {
	return replay.Source{WAL: e.WAL(), Snapshots: e.Snapshots(), Catalogs: catalogs}
}

// substitutingCatalogs is a test double for a host change that is not
// deterministic: asked for catalog `want`, it hands back module `with`
// relabelled with want's hash, so a replay runs other code than the code
// that wrote the log while everything else looks the same.
type substitutingCatalogs struct {
	replay.Catalogs
	want [32]byte
	with *host.Module
}

func (s substitutingCatalogs) Load(ctx context.Context, hash [32]byte) (*host.Module, error) {
	if hash != s.want {
		return s.Catalogs.Load(ctx, hash)
	}
	m := *s.with
	m.Hash = hash
	return &m, nil
}

func isWrongCatalog(err error) bool {
	var we *replay.WrongCatalogError
	return errors.As(err, &we)
}
