package swoosh

import "github.com/reprise-dev/reprise/abi"

// CompareHLC exposes the HLC order to the external tests.
var CompareHLC = abi.CompareHLC
