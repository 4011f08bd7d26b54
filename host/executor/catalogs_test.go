package executor_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/reprise-dev/reprise/guest/build"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/replay"
)

// builtCatalogs holds the catalogs built from source by this test binary,
// by directory name under catalogs/.
var builtCatalogs struct {
	mu   sync.Mutex
	mods map[string]*host.Module
}

// catalogModule builds catalogs/<name> into a sealed module (once per test
// binary) and loads it into the engine of the counter module.
func catalogModule(t testing.TB, name string) *host.Module {
	t.Helper()
	if testing.Short() {
		t.Skip("builds catalogs with the Go toolchain")
	}
	engine := counterModule(t).Engine()
	builtCatalogs.mu.Lock()
	defer builtCatalogs.mu.Unlock()
	if m, ok := builtCatalogs.mods[name]; ok {
		return m
	}
	res, err := build.Build(context.Background(), filepath.Join("..", "..", "catalogs", name), build.Options{})
	if err != nil {
		t.Fatalf("build catalogs/%s: %v", name, err)
	}
	m, err := engine.Load(context.Background(), res.Wasm)
	if err != nil {
		t.Fatalf("load catalogs/%s: %v", name, err)
	}
	if builtCatalogs.mods == nil {
		builtCatalogs.mods = map[string]*host.Module{}
	}
	builtCatalogs.mods[name] = m
	return m
}

// versions are the counter catalogs the activation tests swap between.
type versions struct {
	v1      *host.Module // counter 1.0.0 (built in)
	v11     *host.Module // counter 1.1.0: same shape, a reset keeps the key at zero
	v2      *host.Module // counter 2.0.0: another shape, migrates from 1.x
	other   *host.Module // misbehave: another catalog, no migration
	catalog *replay.ModuleSet
}

func counterVersions(t testing.TB) versions {
	t.Helper()
	v := versions{v1: counterModule(t), v11: catalogModule(t, "counterdiverge"), v2: catalogModule(t, "counterv2"),
		other: catalogModule(t, "misbehave")}
	v.catalog = replay.NewModuleSet(v.v1, v.v11, v.v2, v.other)
	return v
}

func hashOf(m *host.Module) string {
	return fmt.Sprintf("%s (%s)", m.Descriptor.Ref(), m.HashHex()[:12])
}
