package guest

// served is the runner behind the wasm exports.
var served *Runner

// Serve makes c the catalog this module serves through the abi exports.
// `reprise catalog build` generates the call; a hand-written main package
// calls it from init. It panics if called twice.
func Serve(c *Catalog) {
	if served != nil {
		panic("guest: Serve called twice")
	}
	served = NewRunner(c)
}
