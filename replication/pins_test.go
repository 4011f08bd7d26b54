package replication

import (
	"testing"
)

// rebuildHarness returns a primary whose WAL starts at 6 (a trusted snapshot
// at 8), committed 10, with r1 rebuilding from that snapshot (pin held) and
// r2 in sync.
func rebuildHarness(t *testing.T) *harness {
	t.Helper()
	h := newHarnessConfig(t, PrimaryConfig{Epoch: 2, Mode: BestEffort, Budgets: testBudgets(), Committed: 10,
		Replicas: []Member{{ID: "r1", Endpoint: "r1@1"}, {ID: "r2", Endpoint: "r2@1"}},
		Log: LocalLog{First: 6, Last: 10, Durable: 10, History: History{{Epoch: 1, FirstIndex: 1}},
			Checkpoint: Checkpoint{Index: 8, StateHash: hash(8)}}})
	h.hello("r1", 2, 1, 2)
	rb := last[Rebuild](t, h.new)
	if rb.SnapshotIndex != 8 || rb.StateHash != hash(8) || rb.Target != 10 {
		t.Fatalf("rebuild %+v", rb)
	}
	pin := last[Pin](t, h.new)
	if pin.From != 9 || pin.SnapshotIndex != 8 {
		t.Fatalf("pin %+v", pin)
	}
	h.hello("r2", 10, 1, 10)
	return h
}

// longCatchUpHarness returns a primary with r1 catching up 90 records.
func longCatchUpHarness(t *testing.T) *harness {
	t.Helper()
	b := testBudgets()
	b.CatchUpRecords = 200
	h := newHarnessConfig(t, PrimaryConfig{Epoch: 2, Mode: BestEffort, Budgets: b, Committed: 100,
		Replicas: []Member{{ID: "r1", Endpoint: "r1@1"}},
		Log:      LocalLog{First: 1, Last: 100, Durable: 100, History: History{{Epoch: 1, FirstIndex: 1}}}})
	h.hello("r1", 10, 1, 10)
	if st := h.sender("r1"); st.State != SenderCatchingUp || st.Session.Target != 100 {
		t.Fatalf("r1 %+v", st)
	}
	return h
}

// TestPinReleasedOnEveryExitPath ends a pinned catch-up or rebuild session
// in every way a session can end and checks that the pin is released, in the
// same step and before the session's terminal event.
func TestPinReleasedOnEveryExitPath(t *testing.T) {
	b := testBudgets()
	tests := []struct {
		name    string
		setup   func(*testing.T) *harness
		trigger func(*harness)
		outcome Outcome
	}{
		{"catch-up completed", caughtUpHarness, func(h *harness) {
			h.ack("r1")
			h.ackBarrier("r1", 10)
		}, OutcomeCompleted},
		{"rebuild completed", rebuildHarness, func(h *harness) {
			s := h.stream("r1")
			h.step(Installed{Replica: "r1", Session: s, Epoch: 2, Index: 8, StateHash: hash(8)})
			h.ack("r1")
			h.ackBarrier("r1", 10)
		}, OutcomeCompleted},
		{"connection lost", caughtUpHarness, func(h *harness) {
			h.step(Unreachable{Replica: "r1", Session: h.stream("r1"), Reason: "reset"})
		}, OutcomeFailed},
		{"records no longer readable", caughtUpHarness, func(h *harness) {
			h.step(RecordsUnavailable{Replica: "r1", Session: h.stream("r1"), Index: 5, Reason: "checksum"})
		}, OutcomeFailed},
		{"WAL compacted past the pin", caughtUpHarness, func(h *harness) {
			h.step(Compacted{First: 7})
		}, OutcomeFailed},
		{"completion barrier timed out", caughtUpHarness, func(h *harness) {
			h.ack("r1")
			h.ticks(int(b.BarrierTicks))
		}, OutcomeFailed},
		{"transferred snapshot failed verification", rebuildHarness, func(h *harness) {
			h.step(Installed{Replica: "r1", Session: h.stream("r1"), Epoch: 2, Index: 8, StateHash: hash(9)})
		}, OutcomeFailed},
		{"primary could not read the snapshot", rebuildHarness, func(h *harness) {
			h.step(SnapshotFailed{Replica: "r1", Session: h.stream("r1"), Reason: "pruned"})
		}, OutcomeFailed},
		{"replica could not install the snapshot", rebuildHarness, func(h *harness) {
			h.step(RebuildFailed{Replica: "r1", Session: h.stream("r1"), Epoch: 2, Reason: "disk full"})
		}, OutcomeFailed},
		{"rebuild stalled", rebuildHarness, func(h *harness) {
			h.ticks(int(b.StallTicks))
		}, OutcomeFailed},
		{"catch-up over its duration budget", longCatchUpHarness, func(h *harness) {
			// Progress every tick keeps it from stalling; the duration budget
			// still ends it.
			for i := 0; i < int(b.CatchUpTicks); i++ {
				h.step(Ack{Replica: "r1", Session: h.stream("r1"), Epoch: 2, Received: 11 + uint64(i)})
				h.step(Tick{})
			}
		}, OutcomeEscalated},
		{"catch-up stalled", caughtUpHarness, func(h *harness) {
			h.ticks(int(b.StallTicks))
		}, OutcomeEscalated},
		{"superseded by a restart announcement", caughtUpHarness, func(h *harness) {
			h.step(ReplicaUp{Replica: "r1", Endpoint: "r1@1"})
		}, OutcomeSuperseded},
		{"invalidated by an address change", caughtUpHarness, func(h *harness) {
			h.step(Membership{Epoch: 2, Replicas: []Member{{ID: "r1", Endpoint: "r1@2"}, {ID: "r2", Endpoint: "r2@1"}}})
		}, OutcomeInvalidated},
		{"invalidated by an epoch change", caughtUpHarness, func(h *harness) {
			h.step(EpochChanged{Epoch: 3})
		}, OutcomeInvalidated},
		{"replica removed", caughtUpHarness, func(h *harness) {
			h.step(Membership{Epoch: 2, Replicas: []Member{{ID: "r2", Endpoint: "r2@1"}}})
		}, OutcomeRemoved},
		{"shut down", rebuildHarness, func(h *harness) {
			h.step(Shutdown{})
		}, OutcomeCancelled},
		{"primary's own WAL failed", rebuildHarness, func(h *harness) {
			h.step(LocalSyncFailed{Reason: "EIO"})
		}, OutcomeCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.setup(t)
			sess := h.stream("r1")
			if held := heldPins(t, h.out); len(held) != 1 {
				t.Fatalf("before: pins held %v, want the session's one", held)
			}
			from := len(h.out)
			tc.trigger(h)
			var end *EndSession
			for _, c := range h.out[from:] {
				if e, ok := c.(EndSession); ok && e.Session == sess && e.Replica == "r1" {
					end = &e
				}
			}
			if end == nil {
				t.Fatalf("session %d did not end; commands %v", sess, h.out[from:])
			}
			if end.Outcome != tc.outcome || end.Reason == "" {
				t.Fatalf("session ended %s (%q), want %s", end.Outcome, end.Reason, tc.outcome)
			}
			// heldPins also fails if an EndSession precedes its Unpin.
			held := heldPins(t, h.out)
			for _, p := range held {
				if p.Session == sess {
					t.Fatalf("pin %d of the ended session %d is still held", p.ID, sess)
				}
			}
			if tc.outcome == OutcomeEscalated {
				// The rebuild that follows holds its own pin (or waits for a
				// snapshot); nothing else may be held.
				if len(held) > 1 {
					t.Fatalf("pins held after escalation: %v", held)
				}
			} else if len(held) != 0 {
				t.Fatalf("pins held after the session ended: %v", held)
			}
			for _, s := range h.p.Status().Replicas {
				if s.Session != nil && s.Session.ID == sess {
					t.Fatalf("status still shows the ended session: %+v", s.Session)
				}
			}
		})
	}
}

// TestNoPinOutlivesAStoppedPrimary runs a session of every kind, then stops
// the primary, and checks that nothing stays pinned.
func TestNoPinOutlivesAStoppedPrimary(t *testing.T) {
	h := newHarnessConfig(t, PrimaryConfig{Epoch: 2, Mode: BestEffort, Budgets: testBudgets(), Committed: 10,
		Replicas: []Member{{ID: "a", Endpoint: "a"}, {ID: "b", Endpoint: "b"}, {ID: "c", Endpoint: "c"}},
		Log: LocalLog{First: 6, Last: 10, Durable: 10, History: History{{Epoch: 1, FirstIndex: 1}},
			Checkpoint: Checkpoint{Index: 8, StateHash: hash(8)}}})
	h.hello("a", 7, 1, 7) // catch-up
	h.hello("b", 1, 1, 1) // rebuild from the snapshot
	h.hello("c", 3, 1, 3) // rebuild ...
	if held := heldPins(t, h.out); len(held) != 3 {
		t.Fatalf("pins %v, want 3", held)
	}
	h.step(EpochChanged{Epoch: 5})
	if held := heldPins(t, h.out); len(held) != 0 {
		t.Fatalf("pins held after stepping down: %v", held)
	}
}

// TestTransferProgressKeepsARebuildAlive: snapshot bytes flowing count as
// progress; when they stop, the stall budget ends the rebuild.
func TestTransferProgressKeepsARebuildAlive(t *testing.T) {
	h := rebuildHarness(t)
	stall := int(testBudgets().StallTicks)
	for i := 1; i <= 2*stall; i++ {
		h.step(TransferProgress{Replica: "r1", Session: h.stream("r1"), Bytes: uint64(i) << 20})
		h.step(Tick{})
	}
	if st := h.sender("r1"); st.State != SenderRebuilding {
		t.Fatalf("rebuild with bytes flowing ended: %+v", st)
	}
	h.ticks(stall)
	if end := last[EndSession](t, h.new); end.Outcome != OutcomeFailed || len(heldPins(t, h.out)) != 0 {
		t.Fatalf("end %+v", end)
	}
}
