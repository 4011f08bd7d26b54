// Package counterv2 is version 2 of the counter catalog, with another
// state shape: each key holds its total and the number of updates that
// made it. It declares a migration from counter 1.x, so activating it over
// a counter 1.x state converts that state once, at the swap. Tests of
// catalog activation, migration and replay use it.
package counterv2

import (
	"math"
	"strings"

	"github.com/reprise-dev/reprise/guest"
)

// Catalog is counter version 2.0.0.
var Catalog = guest.NewCatalog("counter", "2.0.0",
	"Named running totals with an update count per key; migrates the state of counter 1.x.")

// Total is what version 2 keeps per key.
type Total struct {
	Value   int64 `json:"value"`
	Updates int64 `json:"updates"`
}

// Totals holds each key's total. State view: {"totals": {key: {"updates": n, "value": total}}}.
var Totals = guest.NewMap[Total](Catalog, "totals", "Running total and number of updates per key.")

// MaxIncrement is the largest amount one increment may add.
const MaxIncrement = 1_000_000

// IncrementInputs are the inputs of TRANSITION_INCREMENT (as in version 1).
type IncrementInputs struct {
	Key string `json:"key"`
	By  int64  `json:"by"`
}

// ResetInputs are the inputs of TRANSITION_RESET (as in version 1).
type ResetInputs struct {
	Key string `json:"key"`
}

// checkKey is version 2's rule for keys: non-empty and without '/', which
// it reserves for key paths.
func checkKey(key string) error {
	switch {
	case key == "":
		return guest.Reject(guest.GuardRejected, "key must not be empty")
	case strings.Contains(key, "/"):
		return guest.Rejectf(guest.GuardRejected, "key %q contains '/', which counter 2 reserves", key)
	}
	return nil
}

func init() {
	guest.Transition(Catalog, "TRANSITION_INCREMENT", guest.Handler[IncrementInputs]{
		Doc: "Adds `by` (1..1,000,000) to the total of `key` and counts the update.",
		Guard: func(tx *guest.Tx, in IncrementInputs) error {
			if err := checkKey(in.Key); err != nil {
				return err
			}
			if in.By < 1 || in.By > MaxIncrement {
				return guest.Rejectf(guest.GuardRejected, "by must be between 1 and %d, got %d", MaxIncrement, in.By)
			}
			return nil
		},
		Apply: func(tx *guest.Tx, in IncrementInputs) error {
			t, _ := Totals.Get(tx, in.Key)
			if t.Value > math.MaxInt64-in.By {
				return guest.Rejectf(guest.PreconditionFailed, "total of %q would overflow", in.Key)
			}
			t.Value += in.By
			t.Updates++
			Totals.Set(tx, in.Key, t)
			return nil
		},
	})
	guest.Transition(Catalog, "TRANSITION_RESET", guest.Handler[ResetInputs]{
		Doc: "Removes `key`; resetting an absent key changes nothing.",
		Guard: func(tx *guest.Tx, in ResetInputs) error {
			if in.Key == "" {
				return guest.Reject(guest.GuardRejected, "key must not be empty")
			}
			return nil
		},
		Apply: func(tx *guest.Tx, in ResetInputs) error {
			Totals.Delete(tx, in.Key)
			return nil
		},
	})
	Catalog.MigrateFrom("counter", "1.*",
		"counts[key] = n becomes totals[key] = {value: n, updates: 0}; refuses keys containing '/'.",
		func(m *guest.Migration) error {
			for _, key := range m.Keys("counts") {
				if strings.Contains(key, "/") {
					return guest.Rejectf(guest.PreconditionFailed, "key %q contains '/', which counter 2 reserves; reset it first", key)
				}
				var n int64
				if _, err := m.Decode("counts", key, &n); err != nil {
					return err
				}
				Totals.Set(m.Tx(), key, Total{Value: n})
			}
			return nil
		})
}
