// Package broken declares a catalog but does not compile: building it
// must fail with the compiler's message.
package broken

import "github.com/reprise-dev/reprise/guest"

// Catalog is a catalog whose package does not compile.
var Catalog = guest.NewCatalog("broken", "1.0.0", "does not compile")

// limit is a type error on purpose.
var limit int = "ten"
