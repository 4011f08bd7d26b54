// Package nocatalog is a library package that declares no Catalog
// variable; building it must fail with an error that says so.
package nocatalog

// Name is here so that the package is not empty.
const Name = "nocatalog"
