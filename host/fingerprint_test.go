package host_test

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/host"
)

func TestFingerprintNamesTheEngineAndWazero(t *testing.T) {
	ctx := context.Background()
	var fps []host.Fingerprint
	for _, kind := range []host.EngineKind{host.EngineCompiler, host.EngineInterpreter} {
		e, err := host.NewEngine(ctx, host.EngineConfig{Kind: kind})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close(ctx)
		fp := e.Fingerprint()
		if !strings.HasPrefix(fp.Wazero, "v1.") || fp.Engine != kind || fp.MemoryPages == 0 || fp.ABI == 0 {
			t.Fatalf("fingerprint %+v", fp)
		}
		fps = append(fps, fp)
	}
	if d := fps[0].Diff(fps[0]); d != nil {
		t.Fatalf("a fingerprint differs from itself: %v", d)
	}
	d := fps[0].Diff(fps[1])
	if len(d) != 1 || d[0] != "engine: compiler -> interpreter" {
		t.Fatalf("diff %q, want just the engine", d)
	}
}

func TestWazeroVersionMatchesGoMod(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`github.com/tetratelabs/wazero (v\S+)`).FindSubmatch(mod)
	if m == nil || string(m[1]) != host.WazeroVersion {
		t.Fatalf("go.mod requires wazero %q; host.WazeroVersion is %q: update the constant with the upgrade", m, host.WazeroVersion)
	}
}
