// Package catalogs holds catalog sources (each subdirectory a package
// exporting `var Catalog *guest.Catalog`) and, in catalogs/builtin, the
// sealed modules built from them that the reprise binary embeds.
//
// Catalog code runs inside a sealed module: it must never depend on time,
// randomness, I/O or map iteration order for anything it decides.
package catalogs
