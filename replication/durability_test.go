package replication

import (
	"errors"
	"strings"
	"testing"
)

// TestDurabilityModes appends three writes to a primary whose replicas are
// all in sync, lets each replica answer its barrier (or not), and checks
// which writes are acknowledged, which fail, and the committed index.
func TestDurabilityModes(t *testing.T) {
	type answer struct {
		durable    uint64
		noDurable  bool // an "OK" without a durable index
		silent     bool // never answers: the barrier times out
		notStarted bool // not even connected
	}
	ack := func(d uint64) answer { return answer{durable: d} }
	silent := answer{silent: true}
	tests := []struct {
		name      string
		mode      Mode
		local     uint64 // the primary's own fsync reached
		replicas  []answer
		committed uint64
		answers   string // per write: a(cked), f(ailed), - pending
	}{
		{"best_effort acknowledges on the local fsync alone", BestEffort, 3, []answer{silent, silent}, 3, "aaa"},
		{"best_effort waits for the local fsync", BestEffort, 2, []answer{ack(3), ack(3)}, 2, "aa-"},
		{"best_effort with no replicas", BestEffort, 3, nil, 3, "aaa"},
		{"sync_all acknowledges when every replica is durable", SyncAll, 3, []answer{ack(3), ack(3)}, 3, "aaa"},
		{"sync_all fails the writes a silent replica never confirmed", SyncAll, 3, []answer{ack(3), silent}, 0, "fff"},
		{"sync_all keeps what a failing replica did confirm", SyncAll, 3, []answer{ack(3), ack(2)}, 2, "aaf"},
		{"sync_all refuses an OK without a durable index", SyncAll, 3, []answer{ack(3), {noDurable: true}}, 0, "fff"},
		{"sync_all also waits for the primary's own fsync", SyncAll, 2, []answer{ack(3), ack(3)}, 2, "aa-"},
		{"sync_all fails while a replica is not in sync", SyncAll, 3, []answer{ack(3), {notStarted: true}}, 0, "fff"},
		{"sync_all with no replicas is the primary alone", SyncAll, 3, nil, 3, "aaa"},
		{"sync_quorum of three commits with one replica", SyncQuorum, 3, []answer{ack(3), silent}, 3, "aaa"},
		{"sync_quorum of three fails with no replica", SyncQuorum, 3, []answer{silent, silent}, 0, "fff"},
		{"sync_quorum needs a real durable majority", SyncQuorum, 3, []answer{ack(3), ack(1), silent, silent}, 1, "aff"},
		{"sync_quorum counts replicas even before the local fsync", SyncQuorum, 0, []answer{ack(3), ack(3), ack(3), silent}, 3, "aaa"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := ids(len(tc.replicas))
			h := newHarness(t, tc.mode, rs...)
			for i, id := range rs {
				if !tc.replicas[i].notStarted {
					h.hello(id, 0, 0, 0)
					h.ackBarrier(id, 0) // the barrier that marks it in sync
				}
			}
			h.appendN(3, false)
			if tc.local > 0 {
				h.step(LocalDurable{Through: tc.local})
			}
			anySilent := false
			for i, id := range rs {
				a := tc.replicas[i]
				switch {
				case a.silent, a.notStarted:
					anySilent = true
				case a.noDurable:
					b := h.lastBarrier(id)
					h.step(BarrierAck{Replica: id, Session: b.Session, Epoch: b.Epoch, ID: b.ID})
				default:
					h.ack(id)
					h.ackBarrier(id, a.durable)
				}
			}
			if anySilent {
				h.ticks(int(testBudgets().BarrierTicks) + 1)
			}
			if got := h.p.Committed(); got != tc.committed {
				t.Errorf("committed %d, want %d", got, tc.committed)
			}
			if got := answersText(h.answered(), 3); got != tc.answers {
				t.Errorf("answers %q, want %q", got, tc.answers)
			}
		})
	}
}

// TestWritesAppendedWhileDoomedFailAtOnce: under sync_all a write appended
// while a replica is out is failed as soon as it is appended, and writes
// after the replica is back in sync are acknowledged again; the committed
// index then covers the failed ones too (their records stayed in the log).
func TestWritesAppendedWhileDoomedFailAtOnce(t *testing.T) {
	h := newHarness(t, SyncAll, "r1")
	if err := h.p.Admit(); err == nil {
		t.Fatalf("Admit before r1 is in sync: nil")
	}
	h.appendN(2, true)
	if got := answersText(h.answered(), 2); got != "ff" {
		t.Fatalf("answers %q, want ff", got)
	}
	h.hello("r1", 0, 0, 0) // in sync at 0: the gap 1..2 is live shipping
	h.ack("r1")
	h.ackBarrier("r1", 2)
	h.appendN(1, true)
	h.ack("r1")
	h.ackBarrier("r1", 3)
	if got := answersText(h.answered(), 3); got != "ffa" {
		t.Fatalf("answers %q, want ffa", got)
	}
	if h.p.Committed() != 3 {
		t.Fatalf("committed %d, want 3", h.p.Committed())
	}
}

func TestAdmit(t *testing.T) {
	h := newHarness(t, SyncAll, "r1", "r2")
	h.hello("r1", 0, 0, 0)
	err := h.p.Admit()
	var ne *NotEnoughReplicasError
	if !errors.As(err, &ne) || !errors.Is(err, ErrNotEnoughReplicas) {
		t.Fatalf("Admit = %v, want a NotEnoughReplicasError", err)
	}
	if ne.Need != 3 || ne.InSync != 2 || len(ne.NotInSync) != 1 || ne.NotInSync[0] != "r2" || !strings.Contains(err.Error(), "r2") {
		t.Fatalf("Admit error %+v (%v)", ne, err)
	}
	h.hello("r2", 0, 0, 0)
	if err := h.p.Admit(); err != nil {
		t.Fatalf("Admit with every replica in sync: %v", err)
	}

	q := newHarness(t, SyncQuorum, "r1", "r2", "r3", "r4")
	q.hello("r1", 0, 0, 0)
	if err := q.p.Admit(); !errors.Is(err, ErrNotEnoughReplicas) {
		t.Fatalf("quorum Admit with 2 of 5 in sync = %v", err)
	}
	q.hello("r3", 0, 0, 0)
	if err := q.p.Admit(); err != nil {
		t.Fatalf("quorum Admit with 3 of 5 in sync: %v", err)
	}

	b := newHarness(t, BestEffort, "r1")
	if err := b.p.Admit(); err != nil {
		t.Fatalf("best_effort Admit: %v", err)
	}
}

func TestSyncQuorumNeedsThreeNodes(t *testing.T) {
	_, err := NewPrimary(PrimaryConfig{Epoch: 1, Mode: SyncQuorum, Replicas: []Member{{ID: "r1", Endpoint: "a"}}})
	if err == nil || !strings.Contains(err.Error(), "at least three nodes") {
		t.Fatalf("NewPrimary(sync_quorum, 2 nodes) = %v", err)
	}
	if _, err := ChooseSuccessor(SyncQuorum, 2, 1, nil); err == nil {
		t.Fatalf("ChooseSuccessor(sync_quorum, 2 nodes) succeeded")
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{BestEffort, SyncAll, SyncQuorum} {
		got, err := ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseMode("sync_some"); err == nil || !strings.Contains(err.Error(), "sync_some") {
		t.Errorf("ParseMode(sync_some) = %v", err)
	}
}
