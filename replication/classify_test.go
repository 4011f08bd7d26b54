package replication

import (
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	// Epoch 1 wrote 1..10, epoch 3 wrote 11..20; committed 15; records from
	// 5 on are retained; a trusted snapshot exists at 8.
	base := PrimaryView{Committed: 15, Head: 20, First: 5, CatchUpRecords: 50,
		History: History{{Epoch: 1, FirstIndex: 1}, {Epoch: 3, FirstIndex: 11}}, Checkpoint: Checkpoint{Index: 8, StateHash: hash(8)}}
	with := func(f func(*PrimaryView)) PrimaryView {
		v := base
		f(&v)
		return v
	}
	tests := []struct {
		name  string
		view  PrimaryView
		facts ReplicaFacts
		want  Decision // Reason is not compared
		why   string   // a word the reason must contain
	}{
		{name: "durable exactly at committed is in sync", view: base,
			facts: ReplicaFacts{Durable: 15, DurableEpoch: 3, Applied: 15},
			want:  Decision{Class: ClassInSync, Matched: 15, From: 16, Target: 15}},
		{name: "empty replica of an empty primary is in sync", view: PrimaryView{},
			facts: ReplicaFacts{},
			want:  Decision{Class: ClassInSync, From: 1}},
		{name: "retained gap is caught up to the committed index", view: base,
			facts: ReplicaFacts{Durable: 9, DurableEpoch: 1, Applied: 9},
			want:  Decision{Class: ClassCatchUp, Matched: 9, From: 10, Target: 15}},
		{name: "gap starting exactly at the first retained index is caught up", view: base,
			facts: ReplicaFacts{Durable: 4, DurableEpoch: 1, Applied: 4},
			want:  Decision{Class: ClassCatchUp, Matched: 4, From: 5, Target: 15}},
		{name: "last record of an older epoch matches exactly", view: base,
			facts: ReplicaFacts{Durable: 10, DurableEpoch: 1, Applied: 10},
			want:  Decision{Class: ClassCatchUp, Matched: 10, From: 11, Target: 15}},
		{name: "gap past retention is rebuilt from the snapshot and the tail", view: base,
			facts: ReplicaFacts{Durable: 2, DurableEpoch: 1, Applied: 2},
			want:  Decision{Class: ClassRebuild, Matched: 2, Target: 15, Source: SourceSnapshotTail, SnapshotIndex: 8}, why: "compacted"},
		{name: "gap over the record budget is rebuilt", view: with(func(v *PrimaryView) { v.CatchUpRecords = 3 }),
			facts: ReplicaFacts{Durable: 9, DurableEpoch: 1, Applied: 9},
			want:  Decision{Class: ClassRebuild, Matched: 9, Target: 15, Source: SourceSnapshotTail, SnapshotIndex: 8}, why: "budget"},
		{name: "records past committed that are the primary's own are kept", view: base,
			facts: ReplicaFacts{Durable: 18, DurableEpoch: 3, Applied: 15},
			want:  Decision{Class: ClassInSync, Matched: 18, From: 19, Target: 18}},
		{name: "records of a deposed epoch, none applied, are truncated", view: base,
			facts: ReplicaFacts{Durable: 12, DurableEpoch: 2, Applied: 10},
			want:  Decision{Class: ClassTruncate, Matched: 10}, why: "lineage"},
		{name: "records of a deposed epoch that were applied force a rebuild", view: base,
			facts: ReplicaFacts{Durable: 12, DurableEpoch: 2, Applied: 11},
			want:  Decision{Class: ClassRebuild, Matched: 10, Target: 15, Source: SourceSnapshotTail, SnapshotIndex: 8}, why: "un-apply"},
		{name: "records past the primary's head are truncated", view: base,
			facts: ReplicaFacts{Durable: 25, DurableEpoch: 3, Applied: 15},
			want:  Decision{Class: ClassTruncate, Matched: 20}},
		{name: "an epoch the history cannot place is cut back before the epoch it overlaps", view: base,
			facts: ReplicaFacts{Durable: 12, DurableEpoch: 5, Applied: 0},
			want:  Decision{Class: ClassTruncate, Matched: 10}},
		{name: "a replica asking for a rebuild gets one", view: base,
			facts: ReplicaFacts{Durable: 15, DurableEpoch: 3, Applied: 15, NeedsRebuild: true},
			want:  Decision{Class: ClassRebuild, Target: 15, Source: SourceSnapshotTail, SnapshotIndex: 8}, why: "needs"},
		{name: "state applied past the durable log forces a rebuild", view: base,
			facts: ReplicaFacts{Durable: 12, DurableEpoch: 3, Applied: 13},
			want:  Decision{Class: ClassRebuild, Target: 15, Source: SourceSnapshotTail, SnapshotIndex: 8}, why: "beyond"},
		{name: "whole log retained and small: rebuild from the empty state",
			view:  with(func(v *PrimaryView) { v.First, v.Checkpoint = 1, Checkpoint{} }),
			facts: ReplicaFacts{Durable: 12, DurableEpoch: 2, Applied: 11},
			want:  Decision{Class: ClassRebuild, Matched: 10, Target: 15, Source: SourceSnapshotTail, SnapshotIndex: 0}},
		{name: "snapshot past the target is not used: fresh snapshot",
			view:  with(func(v *PrimaryView) { v.Checkpoint = Checkpoint{Index: 18, StateHash: hash(18)} }),
			facts: ReplicaFacts{Durable: 2, DurableEpoch: 1, Applied: 2},
			want:  Decision{Class: ClassRebuild, Matched: 2, Target: 15, Source: SourceFreshSnapshot}},
		{name: "snapshot whose tail is compacted is not used: fresh snapshot",
			view:  with(func(v *PrimaryView) { v.First = 12 }),
			facts: ReplicaFacts{Durable: 2, DurableEpoch: 1, Applied: 2},
			want:  Decision{Class: ClassRebuild, Matched: 2, Target: 15, Source: SourceFreshSnapshot}},
		{name: "nothing committed: a rebuild targets the head",
			view:  with(func(v *PrimaryView) { v.Committed, v.Checkpoint = 0, Checkpoint{} }),
			facts: ReplicaFacts{Durable: 2, DurableEpoch: 1, Applied: 0},
			want:  Decision{Class: ClassRebuild, Matched: 2, Target: 20, Source: SourceFreshSnapshot}},
		{name: "ahead of committed but with its next records compacted is rebuilt",
			view:  with(func(v *PrimaryView) { v.Committed = 1 }),
			facts: ReplicaFacts{Durable: 2, DurableEpoch: 1, Applied: 1},
			want:  Decision{Class: ClassRebuild, Matched: 2, Target: 1, Source: SourceFreshSnapshot}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Classify(tc.view, tc.facts)
			reason := got.Reason
			got.Reason = ""
			if got != tc.want {
				t.Fatalf("Classify(%+v)\n got %+v\nwant %+v (reason %q)", tc.facts, got, tc.want, reason)
			}
			if reason == "" || (tc.why != "" && !strings.Contains(reason, tc.why)) {
				t.Fatalf("reason %q does not say %q", reason, tc.why)
			}
		})
	}
}

func TestHistoryValidate(t *testing.T) {
	tests := []struct {
		h    History
		want string
	}{
		{History{{Epoch: 1, FirstIndex: 1}, {Epoch: 2, FirstIndex: 5}}, ""},
		{History{{Epoch: 1, FirstIndex: 1}, {Epoch: 2, FirstIndex: 1}}, ""}, // epoch 1 wrote nothing
		{History{{Epoch: 0, FirstIndex: 1}}, "epoch 0"},
		{History{{Epoch: 1, FirstIndex: 0}}, "first index 0"},
		{History{{Epoch: 2, FirstIndex: 1}, {Epoch: 2, FirstIndex: 4}}, "after epoch 2"},
		{History{{Epoch: 1, FirstIndex: 5}, {Epoch: 2, FirstIndex: 4}}, "before epoch 1"},
	}
	for _, tc := range tests {
		err := tc.h.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%v.Validate() = %v, want %q", tc.h, err, tc.want)
		}
	}
}

func TestHistoryEpochAtAndTruncate(t *testing.T) {
	h := History{{Epoch: 1, FirstIndex: 3}, {Epoch: 2, FirstIndex: 6}, {Epoch: 4, FirstIndex: 6}, {Epoch: 5, FirstIndex: 9}}
	for _, tc := range []struct {
		index, epoch uint64
		ok           bool
	}{{0, 0, true}, {2, 0, false}, {3, 1, true}, {5, 1, true}, {6, 4, true}, {8, 4, true}, {9, 5, true}, {100, 5, true}} {
		if e, ok := h.EpochAt(tc.index); e != tc.epoch || ok != tc.ok {
			t.Errorf("EpochAt(%d) = %d, %v; want %d, %v", tc.index, e, ok, tc.epoch, tc.ok)
		}
	}
	if got := h.Truncate(6); len(got) != 3 || got.LastEpoch() != 4 {
		t.Errorf("Truncate(6) = %v, want epochs 1, 2, 4", got)
	}
	if got := h.Truncate(5); len(got) != 1 || got.LastEpoch() != 1 {
		t.Errorf("Truncate(5) = %v, want epoch 1 only", got)
	}
	if got := h.Truncate(2); len(got) != 0 {
		t.Errorf("Truncate(2) = %v, want empty", got)
	}
}

// TestCommonPrefixRounds checks that repeated truncation rounds end on a
// record both logs share, whatever the replica's divergent tail.
func TestCommonPrefixRounds(t *testing.T) {
	primary := History{{Epoch: 1, FirstIndex: 1}, {Epoch: 2, FirstIndex: 8}, {Epoch: 5, FirstIndex: 12}}
	const head = 20
	replicas := []struct {
		name string
		h    History
		last uint64
		want uint64
	}{
		// The primary's epoch 2 runs past where the replica's epoch 3 began;
		// the rounds cannot see where that was and fall back before epoch 2.
		{"deposed epoch 3 inside epoch 2", History{{Epoch: 1, FirstIndex: 1}, {Epoch: 2, FirstIndex: 8}, {Epoch: 3, FirstIndex: 10}}, 15, 7},
		{"deposed epoch 3 after epoch 2", History{{Epoch: 1, FirstIndex: 1}, {Epoch: 2, FirstIndex: 8}, {Epoch: 3, FirstIndex: 12}}, 15, 11},
		{"old epoch 1 records past its end", History{{Epoch: 1, FirstIndex: 1}}, 10, 7},
		{"deposed epochs 3 and 4", History{{Epoch: 1, FirstIndex: 1}, {Epoch: 3, FirstIndex: 6}, {Epoch: 4, FirstIndex: 9}}, 11, 5},
		{"same lineage, longer", History{{Epoch: 1, FirstIndex: 1}, {Epoch: 2, FirstIndex: 8}, {Epoch: 5, FirstIndex: 12}}, 25, 20},
	}
	for _, r := range replicas {
		idx := r.last
		for round := 0; ; round++ {
			if round > 10 {
				t.Fatalf("%s: no agreement after 10 rounds", r.name)
			}
			e, _ := r.h.EpochAt(idx)
			m, exact := primary.commonPrefix(idx, e, head)
			if exact {
				if m != r.want {
					t.Fatalf("%s: agreed at %d, want %d", r.name, m, r.want)
				}
				break
			}
			if m >= idx {
				t.Fatalf("%s: round %d did not move down from %d", r.name, round, idx)
			}
			idx = m
		}
	}
}
