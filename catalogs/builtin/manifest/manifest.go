// Package manifest lists the built-in catalogs and the toolchain they are
// built with. It is separate from package builtin so that the generator,
// which writes the embedded files, does not depend on them existing.
package manifest

// Toolchain is the Go toolchain the embedded modules are built with; builds
// are byte-identical only for the same toolchain.
const Toolchain = "go1.26.8"

// Source names a built-in catalog, the package it is built from (relative
// to the repository root) and its file in catalogs/builtin.
type Source struct {
	Name string
	Dir  string
	File string
}

// Sources lists every built-in catalog.
var Sources = []Source{
	{Name: "counter", Dir: "catalogs/counter", File: "counter.wasm"},
	{Name: "swoosh", Dir: "catalogs/swoosh", File: "swoosh.wasm"},
}
