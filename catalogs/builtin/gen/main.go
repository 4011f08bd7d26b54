// Command gen rebuilds the embedded catalog modules of package builtin with
// the pinned toolchain. Run it through `go generate ./catalogs/builtin`.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/reprise-dev/reprise/catalogs/builtin/manifest"
	"github.com/reprise-dev/reprise/guest/build"
)

func main() {
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	for _, src := range manifest.Sources {
		res, err := build.Build(context.Background(), filepath.Join(root, src.Dir), build.Options{Toolchain: manifest.Toolchain})
		if err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(filepath.Join(root, "catalogs", "builtin", src.File), res.Wasm, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		fmt.Printf("%s: %d bytes from %s\n", src.File, len(res.Wasm), src.Dir)
	}
}

// moduleRoot finds the directory holding go.mod, from the working directory
// up (go generate runs in catalogs/builtin; a developer may run it anywhere
// in the repository).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
