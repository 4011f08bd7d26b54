// Package counter is the smallest useful catalog: named running totals.
// Tests and documentation use it; `reprise serve --catalog counter` runs it.
package counter

import (
	"math"

	"github.com/reprise-dev/reprise/guest"
)

// Catalog is the counter catalog.
var Catalog = guest.NewCatalog("counter", "1.0.0",
	"Named running totals: increment a key by a bounded amount, or reset it.")

// Counts holds the running total of each key. State view: {"counts": {key: total}}.
var Counts = guest.NewMap[int64](Catalog, "counts", "Running total per key.")

// MaxIncrement is the largest amount one increment may add.
const MaxIncrement = 1_000_000

// IncrementInputs are the inputs of TRANSITION_INCREMENT.
type IncrementInputs struct {
	Key string `json:"key"`
	By  int64  `json:"by"`
}

// ResetInputs are the inputs of TRANSITION_RESET.
type ResetInputs struct {
	Key string `json:"key"`
}

func init() {
	guest.Transition(Catalog, "TRANSITION_INCREMENT", guest.Handler[IncrementInputs]{
		Doc: "Adds `by` (1..1,000,000) to the total of `key` (non-empty).",
		Guard: func(tx *guest.Tx, in IncrementInputs) error {
			if in.Key == "" {
				return guest.Reject(guest.GuardRejected, "key must not be empty")
			}
			if in.By < 1 || in.By > MaxIncrement {
				return guest.Rejectf(guest.GuardRejected, "by must be between 1 and %d, got %d", MaxIncrement, in.By)
			}
			return nil
		},
		Apply: func(tx *guest.Tx, in IncrementInputs) error {
			total, _ := Counts.Get(tx, in.Key)
			if total > math.MaxInt64-in.By {
				return guest.Rejectf(guest.PreconditionFailed, "total of %q would overflow", in.Key)
			}
			Counts.Set(tx, in.Key, total+in.By)
			return nil
		},
	})
	guest.Transition(Catalog, "TRANSITION_RESET", guest.Handler[ResetInputs]{
		Doc: "Removes `key` (non-empty); its total reads as 0 afterwards. Resetting an absent key changes nothing.",
		Guard: func(tx *guest.Tx, in ResetInputs) error {
			if in.Key == "" {
				return guest.Reject(guest.GuardRejected, "key must not be empty")
			}
			return nil
		},
		Apply: func(tx *guest.Tx, in ResetInputs) error {
			Counts.Delete(tx, in.Key)
			return nil
		},
	})
}
