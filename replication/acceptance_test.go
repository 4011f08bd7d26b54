package replication

import (
	"strings"
	"testing"
)

// The twelve acceptance criteria of REPLICATION.md, as far as the protocol
// core decides them. Process-level evidence (real nodes, kill -9) belongs to
// the executor and control-plane tests.

// settled returns a simulated cluster in which every replica is in sync.
func settled(t *testing.T, seed uint64, mode Mode, replicas int) *cluster {
	t.Helper()
	c := newCluster(seed, mode, replicas, simBudgets)
	if err := c.settle(500); err != nil {
		t.Fatalf("initial settle: %v\n%s", err, c.traceTail(60))
	}
	return c
}

func writeAndSettle(t *testing.T, c *cluster, writes int) {
	t.Helper()
	for i := 0; i < writes; i++ {
		c.write(1+i%3, false)
		c.quiesce()
	}
	if err := c.settle(1000); err != nil {
		t.Fatalf("settle: %v\n%s", err, c.traceTail(60))
	}
}

// 1. Committed transitions survive failover: the promoted node's state hash
// at C equals the old primary's.
func TestAcceptance01CommittedTransitionsSurviveFailover(t *testing.T) {
	for _, mode := range []Mode{SyncAll, SyncQuorum} {
		t.Run(mode.String(), func(t *testing.T) {
			c := settled(t, 11, mode, 2)
			writeAndSettle(t, c, 20)
			old := c.prim()
			committed := old.prim.Committed()
			want, _ := old.disk.hashAt(committed)
			if committed == 0 || len(c.acked) == 0 {
				t.Fatalf("nothing committed before the failover")
			}
			if !c.failover(false) {
				t.Fatalf("no successor: %s", c.traceTail(20))
			}
			next := c.prim()
			if next.id == old.id {
				t.Fatalf("the crashed primary was promoted")
			}
			if got, ok := next.disk.hashAt(committed); !ok || got != want {
				t.Fatalf("promoted %s has a different state at committed %d", next.id, committed)
			}
			if next.prim.Committed() < committed {
				t.Fatalf("promoted with committed %d below the old %d", next.prim.Committed(), committed)
			}
			writeAndSettle(t, c, 5) // the old primary rejoins and converges
		})
	}
}

// 2. Uncommitted transitions are not revived after failover.
func TestAcceptance02UncommittedTransitionsAreNotRevived(t *testing.T) {
	// sync_all, epoch 1: r1 holds 1..5 durably, r2 only 1..3, so only 1..3
	// can have been acknowledged; the old primary had appended 1..6.
	r1 := Candidate{ID: "r1", Running: true, Epoch: 1, LineageEpoch: 1, Durable: 5, KnownCommitted: 2}
	r2 := Candidate{ID: "r2", Running: true, Epoch: 1, LineageEpoch: 1, Durable: 3, KnownCommitted: 3}
	succ, err := ChooseSuccessor(SyncAll, 3, 1, []Candidate{r1, r2})
	if err != nil {
		t.Fatal(err)
	}
	if succ.Primary != "r1" || succ.Committed != 3 {
		t.Fatalf("succession %+v, want r1 with boundary 3", succ)
	}
	h := newHarnessConfig(t, PrimaryConfig{Epoch: 2, Mode: SyncAll, Budgets: testBudgets(), Committed: succ.Committed,
		Replicas: []Member{{ID: "old", Endpoint: "old@1"}, {ID: "r2", Endpoint: "r2@1"}},
		Log:      LocalLog{First: 1, Last: 5, Durable: 5, History: History{{Epoch: 1, FirstIndex: 1}}}})
	if tl := last[TruncateLocal](t, h.new); tl.After != 3 {
		t.Fatalf("truncate %+v, want the new primary to drop 4..5", tl)
	}
	h.step(LocalTruncated{LastIndex: 3})
	h.appendN(2, true) // epoch 2 writes 4 and 5
	// The old primary rejoins holding its epoch 1 records 4..6, applied only
	// through what it knew committed: they are truncated, not kept.
	h.hello("old", 6, 1, 3)
	if tr := last[Truncate](t, h.new); tr.After != 3 {
		t.Fatalf("truncate %+v, want after 3", tr)
	}
	// Had it applied them, it is rebuilt instead.
	h.step(ReplicaUp{Replica: "old", Endpoint: "old@1"})
	h.hello("old", 6, 1, 6)
	if len(of[Rebuild](h.new))+len(of[TakeSnapshot](h.new)) == 0 {
		t.Fatalf("a replica that applied uncommitted records was not rebuilt: %v", h.new)
	}
}

// 3. Stale-epoch records, barriers and acknowledgements are refused; the
// committed prefix is unchanged.
func TestAcceptance03StaleEpochTrafficIsRefused(t *testing.T) {
	h := caughtUpHarness(t) // epoch 2, committed 10, write 11 pending
	committed := h.p.Committed()
	b := h.lastBarrier("r2")
	wantErr(t, h.stepErr(BarrierAck{Replica: "r2", Session: b.Session, Epoch: 1, ID: b.ID, Durable: 11, HasDurable: true}), ErrStale)
	wantErr(t, h.stepErr(Ack{Replica: "r2", Session: b.Session, Epoch: 1, Received: 11}), ErrStale)
	if h.p.Committed() != committed {
		t.Fatalf("committed moved on stale traffic")
	}
	r := newTestReplica(t) // epoch 2
	wantErr(t, r.Step(Ship{Replica: "r1", Session: 7, Epoch: 1, From: 6, Through: 6, FirstEpoch: 1, LastEpoch: 1, Committed: 6}), ErrStale)
	wantErr(t, r.Step(Barrier{Replica: "r1", Session: 7, Epoch: 1, ID: 1, Index: 5, Committed: 5}), ErrStale)
	for _, c := range r.Ready() {
		if _, ok := c.(EpochMismatch); !ok {
			t.Fatalf("stale traffic produced %T", c)
		}
	}
	if st := r.Status(); st.KnownCommitted != 3 || st.Received != 5 {
		t.Fatalf("stale traffic changed the replica: %+v", st)
	}
}

// 4. A short gap recovers by catch-up, not rebuild, and ends in sync.
func TestAcceptance04ShortGapRecoversByCatchUp(t *testing.T) {
	h := caughtUpHarness(t) // r1 reconnected at 4 of committed 10
	if st := h.sender("r1"); st.Session.Kind != KindCatchUp || st.Session.Target != 10 {
		t.Fatalf("r1 %+v", st)
	}
	if len(of[Rebuild](h.out))+len(of[TakeSnapshot](h.out)) != 0 {
		t.Fatalf("rebuild for a short gap: %v", h.out)
	}
	h.ack("r1")
	h.ackBarrier("r1", 10)
	if end := last[EndSession](t, h.new); end.Outcome != OutcomeCompleted || end.Kind != KindCatchUp {
		t.Fatalf("end %+v", end)
	}
	h.ack("r1")
	h.ackBarrier("r1", 11)
	h.ack("r2")
	h.ackBarrier("r2", 11)
	if st := h.sender("r1"); st.State != SenderInSync || st.Durable != 11 || h.p.Committed() != 11 {
		t.Fatalf("r1 %+v, committed %d", st, h.p.Committed())
	}
}

// 5. A catch-up that cannot converge (budget, stall) escalates to rebuild
// explicitly.
func TestAcceptance05NonConvergentCatchUpEscalates(t *testing.T) {
	h := caughtUpHarness(t)
	h.ticks(int(testBudgets().StallTicks))
	end := last[EndSession](t, h.new)
	if end.Outcome != OutcomeEscalated || !strings.Contains(end.Reason, "no progress") {
		t.Fatalf("end %+v", end)
	}
	if st := h.sender("r1"); st.Session == nil || st.Session.Kind != KindRebuild {
		t.Fatalf("no rebuild session after the escalation: %+v", st)
	}
	// The same facts that chose catch-up before now lead to a rebuild.
	h.hello("r1", 4, 1, 4)
	if len(of[Rebuild](h.new)) == 0 {
		t.Fatalf("escalated session did not rebuild: %v", h.new)
	}
}

// 6. A gap past retention goes to rebuild; losing a pin mid-recovery aborts
// cleanly.
func TestAcceptance06GapPastRetentionRebuildsAndALostPinAborts(t *testing.T) {
	h := rebuildHarness(t) // r1 at 2, WAL from 6: rebuilt from the snapshot at 8
	if st := h.sender("r1"); st.State != SenderRebuilding {
		t.Fatalf("r1 %+v", st)
	}
	c := caughtUpHarness(t)
	c.step(Compacted{First: 8}) // the executor lost the catch-up's pin
	end := last[EndSession](t, c.new)
	if end.Outcome != OutcomeFailed || len(heldPins(t, c.out)) != 0 {
		t.Fatalf("end %+v, pins %v", end, heldPins(t, c.out))
	}
	c.ticks(int(testBudgets().RetryTicks))
	c.hello("r1", 4, 1, 4)
	if len(of[Rebuild](c.new))+len(of[TakeSnapshot](c.new)) == 0 {
		t.Fatalf("gap now past retention was not rebuilt: %v", c.new)
	}
}

// 7. Snapshot + tail rebuild gives the same state hash as the primary; a
// rebuild of an old index from current state is refused.
func TestAcceptance07SnapshotTailRebuildMatchesThePrimary(t *testing.T) {
	c := settled(t, 7, BestEffort, 1)
	r := c.nodes["n1"]
	c.crashReplica(r)
	for i := 0; i < 30; i++ {
		c.write(2, false)
		c.quiesce()
	}
	c.snapshotAndCompact(true, false)
	if c.prim().disk.first == 1 {
		t.Fatalf("nothing was compacted")
	}
	if err := c.settle(1000); err != nil { // restarts n1
		t.Fatalf("settle: %v\n%s", err, c.traceTail(60))
	}
	if c.stats.outcomes["rebuild/completed"] == 0 {
		t.Fatalf("n1 recovered without a rebuild: %v", c.stats.outcomes)
	}
	if r.state != c.prim().state || r.applied != c.prim().disk.last() {
		t.Fatalf("rebuilt replica differs from the primary")
	}

	// The current state cannot stand for an older index.
	h := newHarnessConfig(t, PrimaryConfig{Epoch: 2, Mode: BestEffort, Budgets: testBudgets(), Committed: 12,
		Replicas: []Member{{ID: "r1", Endpoint: "r1@1"}},
		Log:      LocalLog{First: 9, Last: 12, Durable: 12, History: History{{Epoch: 1, FirstIndex: 1}}}})
	h.appendN(2, false) // head 14, committed 12
	h.hello("r1", 2, 1, 2)
	ts := last[TakeSnapshot](t, h.new)
	if ts.AtLeast != 12 {
		t.Fatalf("take snapshot %+v", ts)
	}
	h.step(SnapshotTaken{Replica: "r1", Session: ts.Session, Index: 10, StateHash: hash(10)})
	end := last[EndSession](t, h.new)
	if end.Outcome != OutcomeFailed || !strings.Contains(end.Reason, "cannot stand for an older index") || len(of[Rebuild](h.new)) != 0 {
		t.Fatalf("old-index snapshot accepted: %+v %v", end, h.new)
	}
}

// 8. sync_all is strict; sync_quorum needs a real durable majority.
func TestAcceptance08SyncAllIsStrictSyncQuorumNeedsADurableMajority(t *testing.T) {
	all := newHarness(t, SyncAll, "r1", "r2")
	all.hello("r1", 0, 0, 0)
	all.hello("r2", 0, 0, 0)
	all.ackBarrier("r1", 0)
	all.ackBarrier("r2", 0)
	all.appendN(1, true)
	all.ack("r1")
	all.ackBarrier("r1", 1)
	all.ack("r2") // received, not durable
	all.ticks(int(testBudgets().BarrierTicks))
	if got := answersText(all.answered(), 1); got != "f" || all.p.Committed() != 0 {
		t.Fatalf("sync_all answered %q with committed %d", got, all.p.Committed())
	}

	q := newHarness(t, SyncQuorum, ids(4)...)
	for _, id := range ids(4) {
		q.hello(id, 0, 0, 0)
		q.ackBarrier(id, 0)
	}
	q.appendN(1, true)
	for _, id := range ids(4) {
		q.ack(id) // every replica received it
	}
	q.ackBarrier("r1", 1) // two durable copies of five: no majority
	if q.p.Committed() != 0 {
		t.Fatalf("committed on two durable copies of five")
	}
	q.ackBarrier("r2", 1)
	if q.p.Committed() != 1 {
		t.Fatalf("not committed on three durable copies of five")
	}
}

// 9. Promotion picks only an eligible node (running, current epoch, holds
// the committed prefix).
func TestAcceptance09PromotionPicksOnlyAnEligibleNode(t *testing.T) {
	down := Candidate{ID: "a", Durable: 50}
	old := Candidate{ID: "b", Running: true, Epoch: 3, LineageEpoch: 3, Durable: 60}
	short := Candidate{ID: "c", Running: true, Epoch: 4, LineageEpoch: 4, Durable: 20}
	good := Candidate{ID: "d", Running: true, Epoch: 4, LineageEpoch: 4, Durable: 30, KnownCommitted: 25}
	s, err := ChooseSuccessor(SyncAll, 5, 4, []Candidate{down, old, short, good})
	if err != nil {
		t.Fatal(err)
	}
	if s.Primary != "d" || len(s.Eligible) != 1 {
		t.Fatalf("succession %+v, want d alone", s)
	}
	_, err = NewPrimary(PrimaryConfig{Epoch: 5, Mode: SyncAll, Committed: 25,
		Log: LocalLog{First: 1, Last: 20, Durable: 20, History: History{{Epoch: 4, FirstIndex: 1}}}})
	wantErr(t, err, ErrNotEligible)
}

// 10. An address change is not an identity change: the sender survives, the
// session restarts.
func TestAcceptance10AddressChangeIsNotAnIdentityChange(t *testing.T) {
	h := caughtUpHarness(t)
	before := h.sender("r2")
	wantErr(t, h.stepErr(ReplicaUp{Replica: "r2", Endpoint: "r2@2"}), ErrStale) // not before the control plane says so
	h.step(Membership{Epoch: 2, Replicas: []Member{{ID: "r1", Endpoint: "r1@1"}, {ID: "r2", Endpoint: "r2@2"}}})
	if cs := last[CloseStream](t, h.new); cs.Replica != "r2" || !strings.Contains(cs.Reason, "endpoint changed") {
		t.Fatalf("close %+v", cs)
	}
	c := last[Connect](t, h.new)
	after := h.sender("r2")
	if c.Endpoint != "r2@2" || after.Durable != before.Durable || after.Stream == before.Stream {
		t.Fatalf("connect %+v; sender before %+v after %+v", c, before, after)
	}
	h.hello("r2", 10, 1, 10)
	if after := h.sender("r2"); after.State != SenderInSync {
		t.Fatalf("r2 after the new handshake %+v", after)
	}
}

// 11. A stale timeout never moves state backwards; a late barrier answer is
// refused.
func TestAcceptance11StaleTimeoutsAndLateBarrierAnswers(t *testing.T) {
	h := caughtUpHarness(t) // r2's barrier for write 11 is outstanding
	h.ack("r2")
	h.ackBarrier("r2", 11) // answered in time
	h.ticks(int(testBudgets().BarrierTicks) * 3)
	if st := h.sender("r2"); st.State != SenderInSync || st.Durable != 11 {
		t.Fatalf("a timeout after the answer moved r2: %+v", st)
	}
	h.appendN(1, true)
	late := h.lastBarrier("r2")
	h.ticks(int(testBudgets().BarrierTicks)) // barrier for write 12 times out
	if st := h.sender("r2"); st.State == SenderInSync {
		t.Fatalf("r2 still in sync after its barrier timed out")
	}
	err := h.stepErr(BarrierAck{Replica: "r2", Session: late.Session, Epoch: 2, ID: late.ID, Durable: 12, HasDurable: true})
	wantErr(t, err, ErrStale)
	if st := h.sender("r2"); st.Durable != 11 {
		t.Fatalf("late answer moved the durable view: %+v", st)
	}
}

// 12. Races between data and timers have one defined order, and the
// invariants hold under a randomized, seeded schedule.
func TestAcceptance12OneOrderForDataAndTimers(t *testing.T) {
	// A barrier answer stepped before the tick that would expire it wins; one
	// stepped after is refused.
	first := caughtUpHarness(t)
	first.ack("r2")
	first.ticks(int(testBudgets().BarrierTicks) - 1)
	first.ackBarrier("r2", 11)
	first.step(Tick{})
	if st := first.sender("r2"); st.State != SenderInSync || st.Durable != 11 {
		t.Fatalf("answer before the deadline lost: %+v", st)
	}
	second := caughtUpHarness(t)
	second.ack("r2")
	second.ticks(int(testBudgets().BarrierTicks))
	b := second.lastBarrier("r2")
	wantErr(t, second.stepErr(BarrierAck{Replica: "r2", Session: b.Session, Epoch: 2, ID: b.ID, Durable: 11, HasDurable: true}), ErrStale)

	// The same seed gives the same run, step for step.
	run := func() []string {
		c := newCluster(42, SyncQuorum, 3, simBudgets)
		var lines []string
		c.log = func(s string) { lines = append(lines, s) }
		for i := 0; i < 800 && c.err == nil; i++ {
			c.randomStep()
		}
		if c.err != nil {
			t.Fatalf("seed 42: %v", c.err)
		}
		return lines
	}
	a, b2 := run(), run()
	if len(a) != len(b2) {
		t.Fatalf("two runs of one seed differ in length: %d and %d", len(a), len(b2))
	}
	for i := range a {
		if a[i] != b2[i] {
			t.Fatalf("two runs of one seed differ at line %d:\n%s\n%s", i, a[i], b2[i])
		}
	}
	// The randomized schedule itself is TestModelRandomized.
}
