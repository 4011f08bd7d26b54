package guest

import (
	"fmt"
	"testing"

	"github.com/reprise-dev/reprise/abi"
)

// TestDeltaOfLongUndoLog drives a transaction past the length where delta
// switches from scanning to indexing the undo log, with repeated writes,
// a created-then-deleted key and an unchanged rewrite, and checks that each
// changed entry appears exactly once with its final value.
func TestDeltaOfLongUndoLog(t *testing.T) {
	c := NewCatalog("delta", "1", "")
	m := NewMap[int](c, "m", "")
	r := NewRunner(c)
	tx := &Tx{st: &r.st, c: c, p: &abi.Proposal{Transition: "T"}}
	m.Set(tx, "same", 7)
	tx.undo = tx.undo[:0] // "same" = 7 is the state before the transaction
	for round := 0; round < 3; round++ {
		for i := 0; i < 20; i++ {
			m.Set(tx, fmt.Sprintf("k%02d", i), round*100+i)
		}
	}
	m.Set(tx, "tmp", 1)
	m.Delete(tx, "tmp")
	m.Set(tx, "same", 7)
	if len(tx.undo) <= 16 {
		t.Fatalf("undo log of %d entries does not exercise the indexed path", len(tx.undo))
	}
	d := tx.delta()
	if len(d) != 20 {
		t.Fatalf("delta has %d changes, want 20: %+v", len(d), d)
	}
	for i, ch := range d {
		if want := fmt.Sprintf("k%02d", i); ch.Key != want || string(ch.Value) != fmt.Sprint(200+i) || ch.Deleted {
			t.Fatalf("change %d = %+v, want %s = %d", i, ch, want, 200+i)
		}
	}
}
