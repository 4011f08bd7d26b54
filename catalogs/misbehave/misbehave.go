// Package misbehave is a catalog built to misbehave, one way per
// transition: loop forever, grow memory without bound, recurse without
// bound, panic, exit the process. Tests use it to prove that the host
// contains each failure to the one transition and keeps serving; it also
// has one well-behaved transition to show that state survives.
package misbehave

import (
	"os"

	"github.com/reprise-dev/reprise/guest"
)

// Catalog is the misbehaving catalog.
var Catalog = guest.NewCatalog("misbehave", "1.0.0", "Transitions that fail in every way a guest can.")

// Counts is the state the well-behaved transition changes.
var Counts = guest.NewMap[int64](Catalog, "counts", "Running totals, as in the counter catalog.")

type keyInput struct {
	Key string `json:"key"`
}

// sink keeps allocations reachable so the collector cannot free them.
var sink [][]byte

// depth recurses without end: unbounded recursion is what RECURSE tests.
func depth(n int) int {
	var pad [64]byte
	pad[n%64] = byte(n)
	//lint:ignore SA5007 the infinite recursion is the point
	return depth(n+1) + int(pad[0])
}

func init() {
	guest.Transition(Catalog, "TRANSITION_INCREMENT", guest.Handler[keyInput]{
		Doc: "Adds 1 to key's total.",
		Apply: func(tx *guest.Tx, in keyInput) error {
			n, _ := Counts.Get(tx, in.Key)
			Counts.Set(tx, in.Key, n+1)
			return nil
		},
	})
	guest.Transition(Catalog, "TRANSITION_SPIN", guest.Handler[keyInput]{
		Doc: "Writes state, then loops forever.",
		Apply: func(tx *guest.Tx, in keyInput) error {
			Counts.Set(tx, in.Key, -1)
			x := uint64(1)
			for x != 0 {
				x = x*6364136223846793005 + 1442695040888963407
				if x == 0 {
					x = 1
				}
			}
			return nil
		},
	})
	guest.Transition(Catalog, "TRANSITION_GROW", guest.Handler[keyInput]{
		Doc: "Writes state, then allocates memory until none is left.",
		Apply: func(tx *guest.Tx, in keyInput) error {
			Counts.Set(tx, in.Key, -2)
			for {
				// Fresh pages from memory.grow are already zero, so this
				// costs little fuel: memory, not fuel, runs out first.
				sink = append(sink, make([]byte, 8<<20))
			}
		},
	})
	guest.Transition(Catalog, "TRANSITION_RECURSE", guest.Handler[keyInput]{
		Doc: "Writes state, then recurses without bound.",
		Apply: func(tx *guest.Tx, in keyInput) error {
			Counts.Set(tx, in.Key, -3)
			return guest.Rejectf(guest.PreconditionFailed, "depth %d", depth(0))
		},
	})
	guest.Transition(Catalog, "TRANSITION_PANIC", guest.Handler[keyInput]{
		Doc: "Writes state, then panics.",
		Apply: func(tx *guest.Tx, in keyInput) error {
			Counts.Set(tx, in.Key, -4)
			panic("deliberate panic in " + in.Key)
		},
	})
	guest.Transition(Catalog, "TRANSITION_EXIT", guest.Handler[keyInput]{
		Doc: "Writes state, then exits the process.",
		Apply: func(tx *guest.Tx, in keyInput) error {
			Counts.Set(tx, in.Key, -5)
			os.Exit(3)
			return nil
		},
	})
}
