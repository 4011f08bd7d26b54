// Package counterdiverge is counter version 1.1.0: the state shape and the
// increment of counter 1.0.0, but a reset keeps the key at zero instead of
// removing it. It is a compatible version (activated over counter 1.0.0
// without a migration, and back) whose behaviour differs for exactly one
// transition kind; tests of hot swap and of divergence reports use it.
package counterdiverge

import (
	"math"

	"github.com/reprise-dev/reprise/guest"
)

// Catalog is counter version 1.1.0.
var Catalog = guest.NewCatalog("counter", "1.1.0",
	"Named running totals; a reset keeps the key at zero.")

// Counts holds the running total of each key, as in counter 1.0.0.
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
		Doc: "Sets `key` (non-empty) to zero.",
		Guard: func(tx *guest.Tx, in ResetInputs) error {
			if in.Key == "" {
				return guest.Reject(guest.GuardRejected, "key must not be empty")
			}
			return nil
		},
		Apply: func(tx *guest.Tx, in ResetInputs) error {
			Counts.Set(tx, in.Key, 0)
			return nil
		},
	})
}
