package replication

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func cand(id ReplicaID, durable uint64) Candidate {
	return Candidate{ID: id, Running: true, Epoch: 4, LineageEpoch: 4, Durable: durable}
}

func TestEligible(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Candidate)
		want string // "" when eligible
	}{
		{"running, current, verified, holds committed", func(*Candidate) {}, ""},
		{"not running", func(c *Candidate) { c.Running = false }, "not running"},
		{"older epoch", func(c *Candidate) { c.Epoch = 3 }, "epoch 3"},
		{"log last verified in an older epoch", func(c *Candidate) { c.LineageEpoch = 3 }, "verified in epoch 3"},
		{"being rebuilt", func(c *Candidate) { c.Rebuilding = true }, "rebuilt"},
		{"state hash mismatch", func(c *Candidate) { c.NeedsRebuild = true }, "needs a rebuild"},
		{"misses part of the committed prefix", func(c *Candidate) { c.Durable = 9 }, "committed index is 10"},
	}
	for _, tc := range tests {
		c := cand("a", 12)
		tc.edit(&c)
		err := Eligible(c, 4, 10)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrNotEligible) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Eligible = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestChooseSuccessor(t *testing.T) {
	stale := cand("s", 50)
	stale.LineageEpoch = 3
	behind := cand("k", 30)
	behind.KnownCommitted = 35 // someone knows 35 is committed: k misses it
	snap := cand("f", 40)
	snap.Floor = 38 // rebuilt from a fresh snapshot past the boundary
	snap2 := cand("g", 36)
	snap2.Floor = 37
	tests := []struct {
		name     string
		mode     Mode
		nodes    int
		cands    []Candidate
		primary  ReplicaID
		boundary uint64
		eligible []ReplicaID
		err      string
	}{
		{"sync_all: boundary is what every eligible copy holds", SyncAll, 3,
			[]Candidate{cand("b", 20), cand("a", 17)}, "b", 17, []ReplicaID{"a", "b"}, ""},
		{"sync_all: one reachable copy is enough", SyncAll, 3,
			[]Candidate{cand("a", 17)}, "a", 17, []ReplicaID{"a"}, ""},
		{"sync_all: stale lineage and unreachable nodes are ignored", SyncAll, 4,
			[]Candidate{stale, cand("a", 17), {ID: "d", Durable: 99}}, "a", 17, []ReplicaID{"a"}, ""},
		{"sync_quorum: highest durable among enough candidates", SyncQuorum, 3,
			[]Candidate{cand("a", 17), cand("b", 20)}, "b", 20, []ReplicaID{"a", "b"}, ""},
		{"sync_quorum: too few candidates to be sure", SyncQuorum, 3,
			[]Candidate{cand("a", 17)}, "", 0, nil, "needs 2 eligible"},
		{"sync_quorum of five needs three", SyncQuorum, 5,
			[]Candidate{cand("a", 17), cand("b", 18), cand("c", 16)}, "b", 18, []ReplicaID{"a", "b", "c"}, ""},
		{"best_effort: the most durable", BestEffort, 3,
			[]Candidate{cand("a", 17), cand("b", 20)}, "b", 20, []ReplicaID{"a", "b"}, ""},
		{"ties go to the smallest ID", BestEffort, 3,
			[]Candidate{cand("b", 20), cand("a", 20)}, "a", 20, []ReplicaID{"a", "b"}, ""},
		{"a candidate missing a known committed write is not eligible", SyncAll, 3,
			[]Candidate{behind, cand("a", 40)}, "a", 40, []ReplicaID{"a"}, ""},
		{"a candidate that cannot cut back to the boundary does not win", SyncAll, 3,
			[]Candidate{snap, cand("a", 36)}, "a", 36, []ReplicaID{"a", "f"}, ""},
		{"no eligible candidate", SyncAll, 3,
			[]Candidate{stale}, "", 0, nil, "no candidate"},
		{"only candidates starting past the boundary", SyncAll, 3,
			[]Candidate{snap, snap2}, "", 0, nil, "past it"},
		{"duplicate candidate", SyncAll, 3,
			[]Candidate{cand("a", 1), cand("a", 2)}, "", 0, nil, "twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ChooseSuccessor(tc.mode, tc.nodes, 4, tc.cands)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ChooseSuccessor = %+v, %v; want error %q", s, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Primary != tc.primary || s.Committed != tc.boundary || !reflect.DeepEqual(s.Eligible, tc.eligible) {
				t.Fatalf("ChooseSuccessor = %+v, want %s at %d among %v", s, tc.primary, tc.boundary, tc.eligible)
			}
		})
	}
}

// TestPromotedPrimaryDropsUncommittedRecords: a node promoted with a log
// past its boundary truncates it before it serves, and starts its epoch
// right after the boundary.
func TestPromotedPrimaryDropsUncommittedRecords(t *testing.T) {
	h := newHarnessConfig(t, PrimaryConfig{Epoch: 3, Mode: SyncAll, Budgets: testBudgets(), Committed: 7,
		Replicas: []Member{{ID: "r1", Endpoint: "r1@1"}},
		Log:      LocalLog{First: 1, Last: 9, Durable: 9, History: History{{Epoch: 1, FirstIndex: 1}, {Epoch: 2, FirstIndex: 8}}}})
	if tl := last[TruncateLocal](t, h.new); tl.After != 7 || len(h.new) != 1 {
		t.Fatalf("first commands %v, want only TruncateLocal after 7", h.new)
	}
	wantErr(t, h.stepErr(Appended{Through: 10, Epoch: 3}), ErrNotReady)
	wantErr(t, h.p.Admit(), ErrNotReady)
	wantErr(t, h.stepErr(LocalTruncated{LastIndex: 8}), ErrInvalidEvent)
	h.step(LocalTruncated{LastIndex: 7})
	if c := last[Connect](t, h.new); c.Replica != "r1" || c.Committed != 7 {
		t.Fatalf("connect %+v", c)
	}
	want := History{{Epoch: 1, FirstIndex: 1}, {Epoch: 3, FirstIndex: 8}}
	if got := h.p.History(); !reflect.DeepEqual(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	// A replica holding the deposed epoch 2 records truncates them.
	h.hello("r1", 9, 2, 7)
	if tr := last[Truncate](t, h.new); tr.After != 7 {
		t.Fatalf("truncate %+v", tr)
	}
}

// TestTruncationRounds: a replica whose divergent tail spans two deposed
// epochs is cut back over two rounds, each checked against the history,
// then caught up.
func TestTruncationRounds(t *testing.T) {
	// The primary's lineage: epoch 1 wrote 1..7, epoch 2 wrote 8..11, epoch 5
	// (this one) starts at 12. The replica holds epoch 3 records from 10.
	h := newHarnessConfig(t, PrimaryConfig{Epoch: 5, Mode: BestEffort, Budgets: testBudgets(), Committed: 11,
		Replicas: []Member{{ID: "r1", Endpoint: "r1@1"}},
		Log:      LocalLog{First: 1, Last: 11, Durable: 11, History: History{{Epoch: 1, FirstIndex: 1}, {Epoch: 2, FirstIndex: 8}}}})
	h.hello("r1", 15, 3, 7)
	if tr := last[Truncate](t, h.new); tr.After != 11 {
		t.Fatalf("first round %+v, want after 11", tr)
	}
	s := h.stream("r1")
	wantErr(t, h.stepErr(Truncated{Replica: "r1", Session: s, Epoch: 4, LastIndex: 11, LastEpoch: 3}), ErrStale)
	h.step(Truncated{Replica: "r1", Session: s, Epoch: 5, LastIndex: 11, LastEpoch: 3})
	if tr := last[Truncate](t, h.new); tr.After != 7 {
		t.Fatalf("second round %+v, want after 7 (before epoch 2 began)", tr)
	}
	h.step(Truncated{Replica: "r1", Session: s, Epoch: 5, LastIndex: 7, LastEpoch: 1})
	if st := h.sender("r1"); st.State != SenderCatchingUp || st.Session.Target != 11 {
		t.Fatalf("after the rounds r1 is %+v", st)
	}
	if sh := last[Ship](t, h.new); sh.From != 8 || sh.FirstEpoch != 2 {
		t.Fatalf("ship %+v", sh)
	}
	// A report of a different cut fails the session.
	h2 := newHarnessConfig(t, PrimaryConfig{Epoch: 5, Mode: BestEffort, Budgets: testBudgets(), Committed: 11,
		Replicas: []Member{{ID: "r1", Endpoint: "r1@1"}},
		Log:      LocalLog{First: 1, Last: 11, Durable: 11, History: History{{Epoch: 1, FirstIndex: 1}, {Epoch: 2, FirstIndex: 8}}}})
	h2.hello("r1", 15, 3, 7)
	h2.step(Truncated{Replica: "r1", Session: h2.stream("r1"), Epoch: 5, LastIndex: 9, LastEpoch: 2})
	if end := last[EndSession](t, h2.new); end.Outcome != OutcomeFailed {
		t.Fatalf("end %+v", end)
	}
}
