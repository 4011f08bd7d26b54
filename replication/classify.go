package replication

import "fmt"

// Class is the outcome of classifying a replica on reconnect.
type Class uint8

const (
	// ClassInSync: the replica's durable log is a prefix of the primary's
	// and reaches the committed index; live shipping resumes after it.
	ClassInSync Class = iota + 1
	// ClassCatchUp: the gap up to the committed index is still in the WAL.
	ClassCatchUp
	// ClassTruncate: the replica holds records outside the primary's
	// lineage and has applied none of them; it drops them and is classified
	// again.
	ClassTruncate
	// ClassRebuild: the replica gets a snapshot and the WAL after it.
	ClassRebuild
)

func (c Class) String() string {
	switch c {
	case ClassInSync:
		return "in_sync"
	case ClassCatchUp:
		return "catch_up"
	case ClassTruncate:
		return "truncate"
	case ClassRebuild:
		return "rebuild"
	}
	return fmt.Sprintf("Class(%d)", uint8(c))
}

// RebuildSource says what a rebuild installs.
type RebuildSource uint8

const (
	// SourceSnapshotTail installs the primary's trusted snapshot at an exact
	// index (index 0 is the empty state: no transfer) and ships the WAL after
	// it.
	SourceSnapshotTail RebuildSource = iota + 1
	// SourceFreshSnapshot has the primary snapshot its current state, at the
	// exact index that state is at, and installs that.
	SourceFreshSnapshot
)

func (s RebuildSource) String() string {
	switch s {
	case SourceSnapshotTail:
		return "snapshot_tail"
	case SourceFreshSnapshot:
		return "fresh_snapshot"
	}
	return fmt.Sprintf("RebuildSource(%d)", uint8(s))
}

// ReplicaFacts are what a replica reports in its hello.
type ReplicaFacts struct {
	Durable      uint64 // R: highest index recoverable after a crash (snapshot + durable WAL)
	DurableEpoch uint64 // epoch of the record at Durable; 0 when Durable is 0
	Applied      uint64 // index the replica's state reflects
	NeedsRebuild bool   // the replica found a state hash mismatch or holds a half-installed rebuild
}

// PrimaryView is what the primary knows when it classifies.
type PrimaryView struct {
	Committed      uint64 // C
	Head           uint64 // H
	First          uint64 // S: lowest index still in the WAL (0 is read as 1)
	History        History
	Checkpoint     Checkpoint
	CatchUpRecords uint64 // largest gap a catch-up may take on; 0 means no limit
}

// Decision is a classification.
type Decision struct {
	Class Class
	// Matched is the highest index proven common to both logs (the
	// candidate point of truncation when Class is ClassTruncate).
	Matched uint64
	// From and Target bound a catch-up: records From..Target.
	From, Target uint64
	// Source and SnapshotIndex say how to rebuild; for a fresh snapshot
	// Target is the lowest index the snapshot may be at.
	Source        RebuildSource
	SnapshotIndex uint64
	Reason        string
}

// Classify decides how a reconnecting replica recovers, from facts alone.
//
// With R the replica's durable index, C committed, S the first retained
// index and H the head:
//
//   - First the replica's record at R is checked against the primary's epoch
//     history. If it is not the primary's record, the replica holds records
//     outside the lineage: when it has applied none of them it truncates
//     them (ClassTruncate, then it is classified again); otherwise a reducer
//     cannot un-apply them and it is rebuilt.
//   - R ≥ C (its log is a prefix of the primary's): in sync; live shipping
//     resumes at R+1, or, when those records are compacted, a rebuild.
//   - R < C and R+1 ≥ S, gap within budget: catch-up of R+1..C.
//   - Otherwise rebuild, targeting C (or H when C is 0): from the trusted
//     snapshot when it is at or below the target with the WAL after it still
//     retained, from the empty state when the WAL is retained from index 1
//     and the target is within the catch-up record budget, else from a
//     fresh snapshot.
//
// A replica whose records past C are the primary's own (same index, same
// epoch) keeps them: they are not truncated, since they are exactly what the
// primary would ship again.
func Classify(v PrimaryView, f ReplicaFacts) Decision {
	if f.NeedsRebuild {
		return rebuildDecision(v, 0, "replica reports that it needs a rebuild")
	}
	if f.Applied > f.Durable {
		return rebuildDecision(v, 0, fmt.Sprintf("replica applied index %d beyond its durable index %d", f.Applied, f.Durable))
	}
	r := f.Durable
	m, exact := v.History.commonPrefix(r, f.DurableEpoch, v.Head)
	if !exact {
		if f.Applied > m {
			return rebuildDecision(v, m, fmt.Sprintf(
				"replica applied index %d past the common prefix %d; a reducer cannot un-apply", f.Applied, m))
		}
		return Decision{Class: ClassTruncate, Matched: m,
			Reason: fmt.Sprintf("record %d of epoch %d is not in the primary's lineage; drop records after %d", r, f.DurableEpoch, m)}
	}
	first := max(v.First, 1)
	c := v.Committed
	if r >= c {
		if r == v.Head || r+1 >= first {
			return Decision{Class: ClassInSync, Matched: r, From: r + 1, Target: r,
				Reason: fmt.Sprintf("durable %d, committed %d", r, c)}
		}
		return rebuildDecision(v, r, fmt.Sprintf("records after %d are compacted (first retained %d)", r, first))
	}
	gap := c - r
	if v.CatchUpRecords > 0 && gap > v.CatchUpRecords {
		return rebuildDecision(v, r, fmt.Sprintf("gap of %d records exceeds the catch-up budget of %d", gap, v.CatchUpRecords))
	}
	if r+1 < first {
		return rebuildDecision(v, r, fmt.Sprintf("records after %d are compacted (first retained %d)", r, first))
	}
	return Decision{Class: ClassCatchUp, Matched: r, From: r + 1, Target: c,
		Reason: fmt.Sprintf("gap %d..%d is retained", r+1, c)}
}

func rebuildDecision(v PrimaryView, matched uint64, reason string) Decision {
	target := v.Committed
	if target == 0 {
		target = v.Head
	}
	d := Decision{Class: ClassRebuild, Matched: matched, Target: target, Reason: reason}
	first := max(v.First, 1)
	switch k := v.Checkpoint.Index; {
	case k > 0 && k <= target && k+1 >= first:
		d.Source, d.SnapshotIndex = SourceSnapshotTail, k
	case first == 1 && (v.CatchUpRecords == 0 || target <= v.CatchUpRecords):
		// The whole log is retained and small enough to replay: start from
		// the empty state.
		d.Source, d.SnapshotIndex = SourceSnapshotTail, 0
	default:
		d.Source = SourceFreshSnapshot
	}
	return d
}
