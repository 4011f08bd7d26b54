package replication

import (
	"errors"
	"reflect"
	"testing"
)

// caughtUpHarness returns a primary at epoch 1 with r1 in a catch-up session
// (pin held) and r2 in sync, and one pending write.
func caughtUpHarness(t *testing.T) *harness {
	t.Helper()
	h := newHarnessConfig(t, PrimaryConfig{Epoch: 2, Mode: SyncAll, Budgets: testBudgets(), Committed: 10,
		Replicas: []Member{{ID: "r1", Endpoint: "r1@1"}, {ID: "r2", Endpoint: "r2@1"}},
		Log:      LocalLog{First: 1, Last: 10, Durable: 10, History: History{{Epoch: 1, FirstIndex: 1}}}})
	h.hello("r1", 4, 1, 4)
	h.hello("r2", 10, 1, 10)
	h.ackBarrier("r2", 10)
	h.appendN(1, true)
	if st := h.sender("r1"); st.State != SenderCatchingUp || st.Session.Pin == 0 {
		t.Fatalf("r1 is %s with session %+v, want a catch-up with a pin", st.State, st.Session)
	}
	return h
}

func TestPrimaryStepsDownOnHigherEpoch(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   func(h *harness) Event
	}{
		{"control plane", func(*harness) Event { return EpochChanged{Epoch: 3} }},
		{"hello of a newer epoch", func(h *harness) Event {
			return Hello{Replica: "r1", Session: 99, Epoch: 3}
		}},
		{"epoch mismatch answer naming a newer epoch", func(h *harness) Event {
			return EpochMismatch{Replica: "r2", Session: h.stream("r2"), Epoch: 3}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := caughtUpHarness(t)
			h.step(tc.ev(h))
			sd := last[StepDown](t, h.new)
			if sd.Epoch != 2 || sd.NewEpoch != 3 {
				t.Fatalf("step down %+v", sd)
			}
			if held := heldPins(t, h.out); len(held) != 0 {
				t.Fatalf("pins still held after stepping down: %v", held)
			}
			end := last[EndSession](t, h.new)
			if end.Replica != "r1" || end.Outcome != OutcomeInvalidated {
				t.Fatalf("catch-up session ended %+v, want invalidated", end)
			}
			if cs := of[CloseStream](h.new); len(cs) != 1 || cs[0].Replica != "r2" {
				t.Fatalf("in-sync stream not closed: %v", cs)
			}
			if got := answersText(h.answered(), 11); got[10:] != "f" {
				t.Fatalf("pending write answered %q, want failed", got)
			}
			wantErr(t, h.stepErr(Tick{}), ErrStopped)
			if h.p.State() != PrimaryStopped {
				t.Fatalf("state %s", h.p.State())
			}
		})
	}
}

// TestPrimaryRefusesStale feeds messages of the wrong epoch, session,
// barrier or endpoint: each is refused and changes nothing.
func TestPrimaryRefusesStale(t *testing.T) {
	tests := []struct {
		name string
		ev   func(h *harness) Event
		err  error
	}{
		{"ack of an older epoch", func(h *harness) Event {
			return Ack{Replica: "r2", Session: h.stream("r2"), Epoch: 1, Received: 11}
		}, ErrStale},
		{"ack on an older session", func(h *harness) Event {
			return Ack{Replica: "r2", Session: h.stream("r2") - 1, Epoch: 2, Received: 11}
		}, ErrStale},
		{"ack beyond what was shipped", func(h *harness) Event {
			return Ack{Replica: "r2", Session: h.stream("r2"), Epoch: 2, Received: 50}
		}, ErrStale},
		{"barrier answer for a barrier never sent", func(h *harness) Event {
			return BarrierAck{Replica: "r2", Session: h.stream("r2"), Epoch: 2, ID: 999, Durable: 11, HasDurable: true}
		}, ErrStale},
		{"barrier answer of an older epoch", func(h *harness) Event {
			b := h.lastBarrier("r2")
			return BarrierAck{Replica: "r2", Session: b.Session, Epoch: 1, ID: b.ID, Durable: 11, HasDurable: true}
		}, ErrStale},
		{"hello for an older session", func(h *harness) Event {
			return Hello{Replica: "r1", Session: h.stream("r1") - 2, Epoch: 2, Durable: 11, DurableEpoch: 2}
		}, ErrStale},
		{"hello for a session past its handshake", func(h *harness) Event {
			return Hello{Replica: "r1", Session: h.stream("r1"), Epoch: 2, Durable: 11, DurableEpoch: 2}
		}, ErrStale},
		{"truncation report nobody asked for", func(h *harness) Event {
			return Truncated{Replica: "r1", Session: h.stream("r1"), Epoch: 2, LastIndex: 3}
		}, ErrStale},
		{"install report for a catch-up", func(h *harness) Event {
			return Installed{Replica: "r1", Session: h.stream("r1"), Epoch: 2, Index: 4}
		}, ErrStale},
		{"announcement from an address the membership does not name", func(*harness) Event {
			return ReplicaUp{Replica: "r1", Endpoint: "r1@2"}
		}, ErrStale},
		{"announcement from a node outside the membership", func(*harness) Event {
			return ReplicaUp{Replica: "r9", Endpoint: "r9@1"}
		}, ErrStale},
		{"an older epoch from the control plane", func(*harness) Event { return EpochChanged{Epoch: 1} }, ErrStale},
		{"a membership of another epoch", func(*harness) Event {
			return Membership{Epoch: 1, Replicas: []Member{{ID: "r1", Endpoint: "x"}, {ID: "r2", Endpoint: "y"}}}
		}, ErrStale},
		{"a membership that adds a replica", func(*harness) Event {
			return Membership{Epoch: 2, Replicas: []Member{{ID: "r1", Endpoint: "r1@1"}, {ID: "r2", Endpoint: "r2@1"}, {ID: "r3", Endpoint: "r3@1"}}}
		}, ErrInvalidEvent},
		{"an append of another epoch", func(*harness) Event { return Appended{Through: 12, Epoch: 1} }, ErrInvalidEvent},
		{"an append that does not extend the log", func(*harness) Event { return Appended{Through: 11, Epoch: 2} }, ErrInvalidEvent},
		{"a replica event", func(*harness) Event { return Stored{Through: 1} }, ErrInvalidEvent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := caughtUpHarness(t)
			before := h.p.Status()
			ev := tc.ev(h)
			wantErr(t, h.stepErr(ev), tc.err)
			if len(h.new) != 0 {
				t.Fatalf("refused event produced commands %v", h.new)
			}
			if after := h.p.Status(); !reflect.DeepEqual(before, after) {
				t.Fatalf("refused event changed the state:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}

// TestReplicaBehindEpochIsNotCounted: a hello or an answer from a replica
// still at an older epoch ends the session without classifying it; the
// primary does not step down.
func TestReplicaBehindEpochIsNotCounted(t *testing.T) {
	h := newHarnessConfig(t, PrimaryConfig{Epoch: 2, Mode: SyncAll, Budgets: testBudgets(),
		Replicas: []Member{{ID: "r1", Endpoint: "r1@1"}}})
	h.step(Hello{Replica: "r1", Session: h.stream("r1"), Epoch: 1, Durable: 5, DurableEpoch: 1})
	end := last[EndSession](t, h.new)
	if end.Outcome != OutcomeFailed || h.sender("r1").Durable != 0 || h.p.State() != PrimaryServing {
		t.Fatalf("end %+v, sender %+v, state %s", end, h.sender("r1"), h.p.State())
	}
	h.ticks(int(testBudgets().RetryTicks))
	h.step(EpochMismatch{Replica: "r1", Session: h.stream("r1"), Epoch: 1})
	if end := last[EndSession](t, h.new); end.Outcome != OutcomeFailed || h.p.State() != PrimaryServing {
		t.Fatalf("end %+v, state %s", end, h.p.State())
	}
}

// newTestReplica starts a replica at epoch 2 holding records 1..5 (epochs 1
// then 2 from index 4), applied and committed through 3, following session 7.
func newTestReplica(t *testing.T) *Replica {
	t.Helper()
	r, err := NewReplica(ReplicaConfig{ID: "r1", Endpoint: "r1@1", Epoch: 2, Durable: 5, DurableEpoch: 2,
		Applied: 3, KnownCommitted: 3, LineageEpoch: 2})
	if err != nil {
		t.Fatalf("NewReplica: %v", err)
	}
	up := r.Ready()
	if len(up) != 1 || up[0] != (ReplicaUp{Replica: "r1", Endpoint: "r1@1"}) {
		t.Fatalf("start commands %v, want one ReplicaUp", up)
	}
	if err := r.Step(Connect{Replica: "r1", Session: 7, Epoch: 2}); err != nil {
		t.Fatalf("connect: %v", err)
	}
	hello := last[Hello](t, r.Ready())
	if hello.Durable != 5 || hello.DurableEpoch != 2 || hello.Applied != 3 {
		t.Fatalf("hello %+v", hello)
	}
	return r
}

func TestReplicaRefusesStale(t *testing.T) {
	mismatch := EpochMismatch{Replica: "r1", Session: 7, Epoch: 2}
	tests := []struct {
		name   string
		ev     Event
		err    error
		answer Command // the explicit answer owed, if any
	}{
		{"records of an older epoch", Ship{Replica: "r1", Session: 7, Epoch: 1, From: 6, Through: 6, FirstEpoch: 1, LastEpoch: 1}, ErrStale,
			EpochMismatch{Replica: "r1", Session: 7, Epoch: 2}},
		{"records of a newer epoch", Ship{Replica: "r1", Session: 7, Epoch: 3, From: 6, Through: 6, FirstEpoch: 3, LastEpoch: 3}, ErrStale, mismatch},
		{"records on an older session", Ship{Replica: "r1", Session: 6, Epoch: 2, From: 6, Through: 6, FirstEpoch: 2, LastEpoch: 2}, ErrStale, nil},
		{"records carrying an epoch past the replica's", Ship{Replica: "r1", Session: 7, Epoch: 2, From: 6, Through: 6, FirstEpoch: 3, LastEpoch: 3}, ErrStale, nil},
		{"records going back to an older epoch", Ship{Replica: "r1", Session: 7, Epoch: 2, From: 6, Through: 6, FirstEpoch: 1, LastEpoch: 1}, ErrStale, nil},
		{"records leaving a gap", Ship{Replica: "r1", Session: 7, Epoch: 2, From: 8, Through: 9, FirstEpoch: 2, LastEpoch: 2}, ErrStale, nil},
		{"records that are not a range", Ship{Replica: "r1", Session: 7, Epoch: 2, From: 9, Through: 8, FirstEpoch: 2, LastEpoch: 2}, ErrInvalidEvent, nil},
		{"records for another replica", Ship{Replica: "r2", Session: 7, Epoch: 2, From: 6, Through: 6, FirstEpoch: 2, LastEpoch: 2}, ErrInvalidEvent, nil},
		{"a barrier of an older epoch", Barrier{Replica: "r1", Session: 7, Epoch: 1, ID: 1, Index: 5}, ErrStale, mismatch},
		{"a truncation of an older epoch", Truncate{Replica: "r1", Session: 7, Epoch: 1, After: 4}, ErrStale, mismatch},
		{"a truncation below the applied index", Truncate{Replica: "r1", Session: 7, Epoch: 2, After: 2}, ErrStale, nil},
		{"a rebuild of an older epoch", Rebuild{Replica: "r1", Session: 7, Epoch: 1, SnapshotIndex: 4, SnapshotEpoch: 1, Target: 4}, ErrStale, mismatch},
		{"a connect of an older epoch", Connect{Replica: "r1", Session: 8, Epoch: 1}, ErrStale, EpochMismatch{Replica: "r1", Session: 8, Epoch: 2}},
		{"a connect of an older session", Connect{Replica: "r1", Session: 6, Epoch: 2}, ErrStale, nil},
		{"an older epoch from the control plane", EpochChanged{Epoch: 1}, ErrStale, nil},
		{"a store report of another generation", Stored{Gen: 9, Through: 5}, ErrStale, nil},
		{"a primary event", Appended{Through: 6, Epoch: 2}, ErrInvalidEvent, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestReplica(t)
			before := r.Status()
			wantErr(t, r.Step(tc.ev), tc.err)
			out := r.Ready()
			switch {
			case tc.answer == nil && len(out) != 0:
				t.Fatalf("refusal produced commands %v", out)
			case tc.answer != nil && (len(out) != 1 || out[0] != tc.answer):
				t.Fatalf("refusal answered %v, want %v", out, tc.answer)
			}
			if after := r.Status(); after != before {
				t.Fatalf("refused event changed the state:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}

// TestReplicaFollowsOnlyTheNewEpochAfterAChange: once the control plane
// moves a replica to a new epoch, the old primary's stream is refused, and
// the new primary's stream is accepted only after its handshake.
func TestReplicaFollowsOnlyTheNewEpochAfterAChange(t *testing.T) {
	r := newTestReplica(t)
	if err := r.Step(EpochChanged{Epoch: 3}); err != nil {
		t.Fatal(err)
	}
	err := r.Step(Ship{Replica: "r1", Session: 7, Epoch: 2, From: 6, Through: 6, FirstEpoch: 2, LastEpoch: 2})
	wantErr(t, err, ErrStale)
	if out := r.Ready(); len(out) != 1 || out[0] != (EpochMismatch{Replica: "r1", Session: 7, Epoch: 3}) {
		t.Fatalf("answer %v", out)
	}
	// The new primary's first session number may be lower than the old one's.
	err = r.Step(Ship{Replica: "r1", Session: 1, Epoch: 3, From: 6, Through: 6, FirstEpoch: 3, LastEpoch: 3})
	wantErr(t, err, ErrStale)
	if err := r.Step(Connect{Replica: "r1", Session: 1, Epoch: 3}); err != nil {
		t.Fatal(err)
	}
	last[Hello](t, r.Ready())
	if err := r.Step(Ship{Replica: "r1", Session: 1, Epoch: 3, From: 6, Through: 6, FirstEpoch: 3, LastEpoch: 3, Committed: 6}); err != nil {
		t.Fatal(err)
	}
	if st := last[StoreRecords](t, r.Ready()); st.From != 6 || st.Through != 6 {
		t.Fatalf("store %+v", st)
	}
}

func TestReplicaConfigErrors(t *testing.T) {
	for _, cfg := range []ReplicaConfig{
		{Endpoint: "a", Epoch: 1},
		{ID: "r", Epoch: 1},
		{ID: "r", Endpoint: "a"},
		{ID: "r", Endpoint: "a", Epoch: 1, Durable: 2, Applied: 3},
		{ID: "r", Endpoint: "a", Epoch: 1, Durable: 2, DurableEpoch: 2},
		{ID: "r", Endpoint: "a", Epoch: 1, DurableEpoch: 1},
		{ID: "r", Endpoint: "a", Epoch: 2, LineageEpoch: 3},
		{ID: "r", Endpoint: "a", Epoch: 2, Durable: 5, Applied: 3, Floor: 4},
	} {
		if _, err := NewReplica(cfg); err == nil {
			t.Errorf("NewReplica(%+v) succeeded", cfg)
		}
	}
}

func TestNewPrimaryRefusesBadConfig(t *testing.T) {
	good := PrimaryConfig{Epoch: 3, Mode: SyncAll, Committed: 5,
		Log: LocalLog{First: 1, Last: 8, Durable: 8, History: History{{Epoch: 1, FirstIndex: 1}, {Epoch: 2, FirstIndex: 4}}}}
	if _, err := NewPrimary(good); err != nil {
		t.Fatalf("good config: %v", err)
	}
	tests := []struct {
		name string
		edit func(*PrimaryConfig)
		err  error
	}{
		{"epoch 0", func(c *PrimaryConfig) { c.Epoch = 0 }, nil},
		{"no mode", func(c *PrimaryConfig) { c.Mode = 0 }, nil},
		{"epoch not above the log's", func(c *PrimaryConfig) { c.Epoch = 2 }, nil},
		{"durable past last", func(c *PrimaryConfig) { c.Log.Durable = 9 }, nil},
		{"first past last+1", func(c *PrimaryConfig) { c.Log.First = 10 }, nil},
		{"history not covering the log", func(c *PrimaryConfig) { c.Log.History = History{{Epoch: 1, FirstIndex: 3}} }, nil},
		{"checkpoint past the log", func(c *PrimaryConfig) { c.Log.Checkpoint = Checkpoint{Index: 9} }, nil},
		{"duplicate replica", func(c *PrimaryConfig) { c.Replicas = []Member{{ID: "a", Endpoint: "x"}, {ID: "a", Endpoint: "y"}} }, nil},
		{"replica without endpoint", func(c *PrimaryConfig) { c.Replicas = []Member{{ID: "a"}} }, nil},
		{"committed not held durably", func(c *PrimaryConfig) { c.Log.Durable = 4 }, ErrNotEligible},
		{"log compacted past the boundary", func(c *PrimaryConfig) { c.Log.First = 7 }, ErrNotEligible},
	}
	for _, tc := range tests {
		cfg := good
		cfg.Log.History = good.Log.History.Clone()
		tc.edit(&cfg)
		_, err := NewPrimary(cfg)
		if err == nil || (tc.err != nil && !errors.Is(err, tc.err)) {
			t.Errorf("%s: NewPrimary = %v, want an error (wrapping %v)", tc.name, err, tc.err)
		}
	}
}

func TestSyncQuorumMembershipIsFixedWithinAnEpoch(t *testing.T) {
	h := newHarness(t, SyncQuorum, "r1", "r2", "r3")
	err := h.stepErr(Membership{Epoch: 1, Replicas: []Member{{ID: "r1", Endpoint: "r1@1"}, {ID: "r2", Endpoint: "r2@1"}}})
	wantErr(t, err, ErrInvalidEvent)
	// Endpoints may change.
	h.step(Membership{Epoch: 1, Replicas: []Member{{ID: "r1", Endpoint: "r1@2"}, {ID: "r2", Endpoint: "r2@1"}, {ID: "r3", Endpoint: "r3@1"}}})
	if c := last[Connect](t, h.new); c.Replica != "r1" || c.Endpoint != "r1@2" {
		t.Fatalf("connect %+v", c)
	}
}
