// Package builtin embeds the sealed catalog modules the reprise binary
// serves by name (`reprise serve --catalog counter`). The .wasm files are
// build outputs checked in so that a plain `go build` or `go run` of the
// binary needs nothing else; `go generate ./catalogs/builtin` rebuilds
// them with the pinned toolchain, and a test fails when they are stale.
//
// It must never hold catalog logic: only the built bytes and their sources.
package builtin

import (
	_ "embed"
	"sort"
)

//go:generate go run ./gen

var (
	//go:embed counter.wasm
	counterWasm []byte
	//go:embed swoosh.wasm
	swooshWasm []byte
)

var modules = map[string][]byte{
	"counter": counterWasm,
	"swoosh":  swooshWasm,
}

// Lookup returns the sealed module of a built-in catalog.
func Lookup(name string) ([]byte, bool) {
	b, ok := modules[name]
	return b, ok
}

// Names lists the built-in catalogs, sorted.
func Names() []string {
	names := make([]string, 0, len(modules))
	for n := range modules {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
