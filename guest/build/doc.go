// Package build turns a catalog package into a sealed, import-free wasm
// module: it compiles the package with the Go toolchain for wasip1 and then
// seals it (see host/seal).
//
// A catalog package is an ordinary library package exporting
// `var Catalog *guest.Catalog`; build supplies the module's main package
// through the toolchain's -overlay flag, so nothing is written into the
// source tree. A package that is already `package main` is built as it is.
//
// Builds are byte-reproducible: same source, same toolchain, any directory.
// It must never change the caller's source tree or environment.
package build
