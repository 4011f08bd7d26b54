package replication

import (
	"testing"
)

// rstep steps r, failing the test on an error, and returns its commands.
func rstep(t *testing.T, r *Replica, ev Event) []Command {
	t.Helper()
	if err := r.Step(ev); err != nil {
		t.Fatalf("replica step %T %+v: %v", ev, ev, err)
	}
	return r.Ready()
}

func ship(from, through, epoch, committed uint64) Ship {
	return Ship{Replica: "r1", Session: 7, Epoch: 2, From: from, Through: through, FirstEpoch: epoch, LastEpoch: epoch, Committed: committed}
}

func TestReplicaBarrierWaitsForDurableRecords(t *testing.T) {
	r := newTestReplica(t)
	out := rstep(t, r, ship(6, 8, 2, 6))
	st := last[StoreRecords](t, out)
	if st.From != 6 || st.Through != 8 {
		t.Fatalf("store %+v", st)
	}
	// Learning that 6 is committed applies what is durable of it: 4..5.
	if ap := last[ApplyRecords](t, out); ap.From != 4 || ap.Through != 5 {
		t.Fatalf("apply %+v, want 4..5 (the durable part of the committed records)", ap)
	}
	if out := rstep(t, r, Barrier{Replica: "r1", Session: 7, Epoch: 2, ID: 1, Index: 8, Committed: 6}); len(out) != 0 {
		t.Fatalf("barrier answered before the records were stored: %v", out)
	}
	out = rstep(t, r, Stored{Gen: st.Gen, Through: 8})
	if a := last[Ack](t, out); a.Received != 8 {
		t.Fatalf("ack %+v", a)
	}
	sync := last[SyncLog](t, out)
	if sync.Through != 8 || sync.Committed != 6 {
		t.Fatalf("sync %+v", sync)
	}
	out = rstep(t, r, Synced{Gen: sync.Gen, Through: 8, Epoch: 2})
	if ba := last[BarrierAck](t, out); ba.ID != 1 || ba.Durable != 8 || !ba.HasDurable {
		t.Fatalf("barrier answer %+v", ba)
	}
	// Applied only up to what is committed, never past it.
	ap := last[ApplyRecords](t, out)
	if ap.From != 6 || ap.Through != 6 {
		t.Fatalf("apply %+v, want 6..6", ap)
	}
	rstep(t, r, AppliedThrough{StateGen: ap.StateGen, Through: 6})
	if idx, ok := r.ReadIndex(); idx != 6 || !ok {
		t.Fatalf("read index %d %v", idx, ok)
	}
	// A barrier covering the committed index makes the log a verified copy.
	if c := r.Candidate(); c.LineageEpoch != 2 || c.Durable != 8 || c.KnownCommitted != 6 {
		t.Fatalf("candidate %+v", c)
	}
}

func TestReplicaLineageOnlyFromABarrierItHolds(t *testing.T) {
	r, err := NewReplica(ReplicaConfig{ID: "r1", Endpoint: "r1@1", Epoch: 2, Durable: 5, DurableEpoch: 1, Applied: 3, KnownCommitted: 3, LineageEpoch: 1})
	if err != nil {
		t.Fatal(err)
	}
	r.Ready()
	rstep(t, r, Connect{Replica: "r1", Session: 1, Epoch: 2})
	// Records and a barrier it cannot prove it covers do not verify it.
	rstep(t, r, Ship{Replica: "r1", Session: 1, Epoch: 2, From: 6, Through: 6, FirstEpoch: 2, LastEpoch: 2, Committed: 9})
	out := rstep(t, r, Barrier{Replica: "r1", Session: 1, Epoch: 2, ID: 1, Index: 5, Committed: 9})
	if ba := last[BarrierAck](t, out); ba.Durable != 5 {
		t.Fatalf("answer %+v", ba)
	}
	if err := Eligible(r.Candidate(), 2, 0); err == nil {
		t.Fatalf("a replica behind the committed index it was told is eligible: %+v", r.Candidate())
	}
	out = rstep(t, r, Barrier{Replica: "r1", Session: 1, Epoch: 2, ID: 2, Index: 5, Committed: 5})
	last[BarrierAck](t, out)
	if err := Eligible(r.Candidate(), 2, 0); err != nil {
		t.Fatalf("after a barrier it covers: %v", err)
	}
}

func TestReplicaTruncation(t *testing.T) {
	r := newTestReplica(t)
	out := rstep(t, r, Truncate{Replica: "r1", Session: 7, Epoch: 2, After: 4})
	if tl := last[TruncateLog](t, out); tl.After != 4 {
		t.Fatalf("truncate %+v", tl)
	}
	if len(of[Truncated](out)) != 0 {
		t.Fatalf("answered before the truncation was done: %v", out)
	}
	out = rstep(t, r, LogTruncated{After: 4, LastEpoch: 2})
	if tr := last[Truncated](t, out); tr.LastIndex != 4 || tr.LastEpoch != 2 || tr.Session != 7 {
		t.Fatalf("truncated %+v", tr)
	}
	// Truncating to the end of the log answers at once.
	out = rstep(t, r, Truncate{Replica: "r1", Session: 7, Epoch: 2, After: 4})
	if tr := last[Truncated](t, out); tr.LastIndex != 4 {
		t.Fatalf("truncated %+v", tr)
	}
}

func TestReplicaDropsItsVolatileTailOnANewSession(t *testing.T) {
	r := newTestReplica(t)
	st := last[StoreRecords](t, rstep(t, r, ship(6, 8, 2, 3)))
	rstep(t, r, Stored{Gen: st.Gen, Through: 8}) // stored, never synced
	out := rstep(t, r, Connect{Replica: "r1", Session: 9, Epoch: 2})
	if tl := last[TruncateLog](t, out); tl.After != 5 {
		t.Fatalf("truncate %+v, want after 5", tl)
	}
	if h := last[Hello](t, out); h.Durable != 5 || h.DurableEpoch != 2 {
		t.Fatalf("hello %+v", h)
	}
	// The old generation's completions are refused; the new records are not
	// mistaken for duplicates.
	wantErr(t, r.Step(Synced{Gen: st.Gen, Through: 8, Epoch: 2}), ErrStale)
	r.Ready()
	rstep(t, r, LogTruncated{After: 5, LastEpoch: 2})
	out = rstep(t, r, Ship{Replica: "r1", Session: 9, Epoch: 2, From: 6, Through: 7, FirstEpoch: 2, LastEpoch: 2})
	if s := last[StoreRecords](t, out); s.From != 6 || s.Through != 7 || s.Gen == st.Gen {
		t.Fatalf("store %+v (old generation %d)", s, st.Gen)
	}
}

func TestReplicaHelloWaitsForAnAskedTruncation(t *testing.T) {
	r := newTestReplica(t)
	rstep(t, r, Truncate{Replica: "r1", Session: 7, Epoch: 2, After: 4})
	// The record left at 4 has an epoch only the executor can tell: the hello
	// to a new session waits for it.
	if out := rstep(t, r, Connect{Replica: "r1", Session: 8, Epoch: 2}); len(of[Hello](out)) != 0 {
		t.Fatalf("hello before the truncation was reported: %v", out)
	}
	out := rstep(t, r, LogTruncated{After: 4, LastEpoch: 1})
	if h := last[Hello](t, out); h.Session != 8 || h.Durable != 4 || h.DurableEpoch != 1 {
		t.Fatalf("hello %+v", h)
	}
	if len(of[Truncated](out)) != 0 {
		t.Fatalf("the superseded session got a truncation answer: %v", out)
	}
}

func TestReplicaRebuild(t *testing.T) {
	r := newTestReplica(t)
	out := rstep(t, r, Rebuild{Replica: "r1", Session: 7, Epoch: 2, SnapshotIndex: 20, SnapshotEpoch: 2, StateHash: hash(20), Target: 25})
	if rl := last[ResetLog](t, out); rl.Next != 21 {
		t.Fatalf("reset %+v", rl)
	}
	in := last[InstallSnapshot](t, out)
	if in.Index != 20 || in.StateHash != hash(20) {
		t.Fatalf("install %+v", in)
	}
	if _, ok := r.ReadIndex(); ok || !r.Status().Rebuilding {
		t.Fatalf("serving reads during a rebuild: %+v", r.Status())
	}
	// The tail is stored while the snapshot streams, not applied.
	st := last[StoreRecords](t, rstep(t, r, Ship{Replica: "r1", Session: 7, Epoch: 2, From: 21, Through: 25, FirstEpoch: 2, LastEpoch: 2, Committed: 24}))
	rstep(t, r, Stored{Gen: st.Gen, Through: 25})
	out = rstep(t, r, Barrier{Replica: "r1", Session: 7, Epoch: 2, ID: 3, Index: 25, Committed: 24})
	sync := last[SyncLog](t, out)
	if out := rstep(t, r, Synced{Gen: sync.Gen, Through: 25, Epoch: 2}); len(of[BarrierAck](out)) != 0 || len(of[ApplyRecords](out)) != 0 {
		t.Fatalf("answered or applied before the snapshot was installed: %v", out)
	}
	if c := r.Candidate(); !c.Rebuilding || c.Durable != 0 {
		t.Fatalf("candidate during a rebuild %+v", c)
	}
	out = rstep(t, r, SnapshotInstalled{Session: 7, Index: 20, StateHash: hash(20)})
	if in := last[Installed](t, out); in.Index != 20 || in.StateHash != hash(20) {
		t.Fatalf("installed %+v", in)
	}
	if ba := last[BarrierAck](t, out); ba.Durable != 25 {
		t.Fatalf("barrier answer %+v", ba)
	}
	if ap := last[ApplyRecords](t, out); ap.From != 21 || ap.Through != 24 {
		t.Fatalf("replay %+v, want 21..24", ap)
	}
	if st := r.Status(); st.Floor != 20 || st.Applied != 20 || st.Rebuilding || st.LineageEpoch != 2 {
		t.Fatalf("status %+v", st)
	}
}

func TestReplicaRebuildFromTheEmptyState(t *testing.T) {
	r := newTestReplica(t)
	out := rstep(t, r, Rebuild{Replica: "r1", Session: 7, Epoch: 2, Target: 5})
	if rl := last[ResetLog](t, out); rl.Next != 1 || len(of[InstallSnapshot](out)) != 0 {
		t.Fatalf("commands %v", out)
	}
	st := last[StoreRecords](t, rstep(t, r, Ship{Replica: "r1", Session: 7, Epoch: 2, From: 1, Through: 5, FirstEpoch: 1, LastEpoch: 2, Committed: 5}))
	rstep(t, r, Stored{Gen: st.Gen, Through: 5})
	if ap := last[ApplyRecords](t, rstep(t, r, Synced{Gen: st.Gen, Through: 5, Epoch: 2})); ap.From != 1 || ap.Through != 5 {
		t.Fatalf("apply %+v", ap)
	}
}

func TestReplicaAbandonsAnUnfinishedRebuild(t *testing.T) {
	start := func(t *testing.T) *Replica {
		r := newTestReplica(t)
		rstep(t, r, Rebuild{Replica: "r1", Session: 7, Epoch: 2, SnapshotIndex: 20, SnapshotEpoch: 2, StateHash: hash(20), Target: 20})
		return r
	}
	empty := func(t *testing.T, r *Replica, out []Command) {
		t.Helper()
		last[DiscardRebuild](t, out)
		if st := r.Status(); st.Durable != 0 || st.Applied != 0 || st.Rebuilding || st.LineageEpoch != 0 || st.Floor != 0 {
			t.Fatalf("status after discarding %+v", st)
		}
	}
	t.Run("snapshot failed verification", func(t *testing.T) {
		r := start(t)
		out := rstep(t, r, SnapshotInstalled{Session: 7, Index: 20, StateHash: hash(21)})
		empty(t, r, out)
		if rf := last[RebuildFailed](t, out); rf.Session != 7 {
			t.Fatalf("rebuild failure %+v", rf)
		}
	})
	t.Run("snapshot install failed", func(t *testing.T) {
		r := start(t)
		out := rstep(t, r, SnapshotInstallFailed{Session: 7, Reason: "checksum mismatch"})
		empty(t, r, out)
		last[RebuildFailed](t, out)
	})
	t.Run("a new session", func(t *testing.T) {
		r := start(t)
		out := rstep(t, r, Connect{Replica: "r1", Session: 8, Epoch: 2})
		empty(t, r, out)
		if h := last[Hello](t, out); h.Durable != 0 || h.Applied != 0 {
			t.Fatalf("hello %+v", h)
		}
	})
	t.Run("an epoch change", func(t *testing.T) {
		r := start(t)
		empty(t, r, rstep(t, r, EpochChanged{Epoch: 3}))
	})
}

func TestReplicaApplyFailureStopsItAndAsksForARebuild(t *testing.T) {
	r := newTestReplica(t)
	st := last[StoreRecords](t, rstep(t, r, ship(6, 6, 2, 6)))
	rstep(t, r, Stored{Gen: st.Gen, Through: 6})
	ap := last[ApplyRecords](t, rstep(t, r, Synced{Gen: st.Gen, Through: 6, Epoch: 2}))
	out := rstep(t, r, ApplyFailed{StateGen: ap.StateGen, Index: 5, Reason: "state hash mismatch at 5"})
	last[ReplicaUp](t, out)
	if _, ok := r.ReadIndex(); ok {
		t.Fatalf("serving reads after a state hash mismatch")
	}
	if err := Eligible(r.Candidate(), 2, 0); err == nil {
		t.Fatalf("a replica that failed a state hash check is eligible")
	}
	if h := last[Hello](t, rstep(t, r, Connect{Replica: "r1", Session: 8, Epoch: 2})); !h.NeedsRebuild || h.Applied != 4 {
		t.Fatalf("hello %+v", h)
	}
	if d := Classify(PrimaryView{Committed: 6, Head: 6, First: 1, History: History{{Epoch: 1, FirstIndex: 1}, {Epoch: 2, FirstIndex: 4}}},
		ReplicaFacts{Durable: 6, DurableEpoch: 2, Applied: 4, NeedsRebuild: true}); d.Class != ClassRebuild {
		t.Fatalf("classified %+v", d)
	}
}

func TestReplicaDoesNotServeStateAheadOfCommitted(t *testing.T) {
	r := newTestReplica(t)
	// A fresh-snapshot rebuild installs state at 30 while the committed
	// index it knows is 25.
	rstep(t, r, Rebuild{Replica: "r1", Session: 7, Epoch: 2, SnapshotIndex: 30, SnapshotEpoch: 2, StateHash: hash(30), Target: 30})
	rstep(t, r, SnapshotInstalled{Session: 7, Index: 30, StateHash: hash(30)})
	rstep(t, r, Barrier{Replica: "r1", Session: 7, Epoch: 2, ID: 1, Index: 30, Committed: 25})
	if idx, ok := r.ReadIndex(); ok || idx != 30 {
		t.Fatalf("read index %d, %v: state past committed is served", idx, ok)
	}
	rstep(t, r, Barrier{Replica: "r1", Session: 7, Epoch: 2, ID: 2, Index: 30, Committed: 30})
	if idx, ok := r.ReadIndex(); !ok || idx != 30 {
		t.Fatalf("read index %d, %v after committed caught up", idx, ok)
	}
}
