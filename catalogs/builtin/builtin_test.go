package builtin_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"path/filepath"
	"testing"

	"github.com/reprise-dev/reprise/catalogs/builtin"
	"github.com/reprise-dev/reprise/catalogs/builtin/manifest"
	"github.com/reprise-dev/reprise/guest/build"
)

// TestEmbeddedModulesAreFreshAndReproducible rebuilds every built-in
// catalog from source with the pinned toolchain and requires the embedded
// bytes to match exactly. It proves two things at once: the checked-in
// module is what the source builds to, and the build is reproducible on
// this machine (any directory, any time).
func TestEmbeddedModulesAreFreshAndReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds catalogs with the Go toolchain")
	}
	for _, src := range manifest.Sources {
		embedded, ok := builtin.Lookup(src.Name)
		if !ok {
			t.Fatalf("%s is not embedded", src.Name)
		}
		res, err := build.Build(context.Background(), filepath.Join("..", "..", src.Dir), build.Options{Toolchain: manifest.Toolchain})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(res.Wasm, embedded) {
			t.Fatalf("%s is stale: embedded sha256 %x, fresh build %x; run `go generate ./catalogs/builtin`",
				src.File, sha256.Sum256(embedded), sha256.Sum256(res.Wasm))
		}
	}
}
