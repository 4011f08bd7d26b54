package replication

import (
	"fmt"
	"slices"
	"strings"
)

// Candidate is what the control plane knows of a node when it picks a new
// primary (Replica.Candidate reports it for a running replica; the old
// primary, restarted, reports its own log with LineageEpoch = its epoch).
type Candidate struct {
	ID      ReplicaID
	Running bool
	// Epoch is the node's current epoch; LineageEpoch the last epoch in
	// which it answered a barrier proving it held every write committed so
	// far (0 when none did, or its log was discarded since).
	Epoch        uint64
	LineageEpoch uint64
	// Durable is the highest index it can recover after a crash.
	Durable uint64
	// Floor is the lowest index its log can be cut back to: the index of
	// the snapshot its log continues from (0 when it holds the log from the
	// start). It can only be promoted with a boundary at or above it.
	Floor uint64
	// KnownCommitted is the highest committed index it learned.
	KnownCommitted uint64
	Rebuilding     bool
	NeedsRebuild   bool
}

// Eligible says whether c may become primary after epoch ends: it runs, it
// is on epoch, its log was verified by epoch's primary, no rebuild is
// pending, and it holds committed (a committed index known to the control
// plane) durably.
func Eligible(c Candidate, epoch, committed uint64) error {
	switch {
	case !c.Running:
		return fmt.Errorf("%w: %s is not running", ErrNotEligible, c.ID)
	case c.Epoch != epoch:
		return fmt.Errorf("%w: %s is at epoch %d, not %d", ErrNotEligible, c.ID, c.Epoch, epoch)
	case c.LineageEpoch != epoch:
		return fmt.Errorf("%w: %s's log was last verified in epoch %d, not %d", ErrNotEligible, c.ID, c.LineageEpoch, epoch)
	case c.Rebuilding:
		return fmt.Errorf("%w: %s is being rebuilt", ErrNotEligible, c.ID)
	case c.NeedsRebuild:
		return fmt.Errorf("%w: %s needs a rebuild", ErrNotEligible, c.ID)
	case c.Durable < committed:
		return fmt.Errorf("%w: %s holds %d durably, the committed index is %d", ErrNotEligible, c.ID, c.Durable, committed)
	}
	return nil
}

// Succession is the control plane's choice after an epoch ends.
type Succession struct {
	// Primary is the node to promote.
	Primary ReplicaID
	// Committed is the boundary to promote it with (PrimaryConfig.Committed):
	// no write acknowledged in the ending epoch lies above it, under the
	// mode's promise.
	Committed uint64
	// Eligible lists the eligible candidates, sorted.
	Eligible []ReplicaID
}

// ChooseSuccessor picks the primary for the epoch after epoch from the
// reachable candidates, for a cluster of nodes nodes (the ending epoch's
// membership, primary included) under mode. Candidates are members of the
// ending epoch (the old primary among them if it runs). Within an epoch the
// membership never grows, and under sync_quorum never changes (see
// Membership), so every acknowledged write is on the nodes the mode counts.
//
// The boundary is chosen so that no acknowledged write is lost:
//
//   - sync_all acknowledged a write only when every replica held it, so
//     every eligible candidate holds every acknowledged write; the boundary
//     is the lowest durable index among them, which drops everything some
//     of them lack (never acknowledged) and keeps what all hold.
//   - sync_quorum acknowledged a write when a majority held it, so it needs
//     enough eligible candidates that one of them is in every majority
//     (nodes − majority + 1); the boundary is the highest durable index
//     among them.
//   - best_effort promises nothing across a failover; the boundary is the
//     highest durable index among the eligible.
//
// The most durable eligible candidate that holds the boundary and can cut
// its log back to it (Floor) wins, ties going to the smallest ID.
func ChooseSuccessor(mode Mode, nodes int, epoch uint64, cands []Candidate) (Succession, error) {
	if !mode.valid() {
		return Succession{}, fmt.Errorf("replication: invalid durability mode %d", mode)
	}
	if mode == SyncQuorum && nodes < 3 {
		return Succession{}, fmt.Errorf("replication: sync_quorum needs at least three nodes, the cluster has %d", nodes)
	}
	sorted := slices.Clone(cands)
	slices.SortFunc(sorted, func(a, b Candidate) int { return strings.Compare(string(a.ID), string(b.ID)) })
	var known uint64
	for _, c := range sorted {
		if c.Running && c.Epoch == epoch {
			known = max(known, c.KnownCommitted)
		}
	}
	var eligible []Candidate
	var refused []string
	for i, c := range sorted {
		if i > 0 && sorted[i-1].ID == c.ID {
			return Succession{}, fmt.Errorf("replication: candidate %s is listed twice", c.ID)
		}
		if err := Eligible(c, epoch, known); err != nil {
			refused = append(refused, err.Error())
			continue
		}
		eligible = append(eligible, c)
	}
	if len(eligible) == 0 {
		return Succession{}, fmt.Errorf("%w: no candidate can succeed epoch %d (%s)", ErrNotEligible, epoch, strings.Join(refused, "; "))
	}
	if mode == SyncQuorum {
		if need := nodes - majority(nodes) + 1; len(eligible) < need {
			return Succession{}, fmt.Errorf("%w: sync_quorum over %d nodes needs %d eligible candidates to be sure to hold every acknowledged write, %d are",
				ErrNotEligible, nodes, need, len(eligible))
		}
	}
	s := Succession{}
	boundary := eligible[0].Durable
	for _, c := range eligible {
		s.Eligible = append(s.Eligible, c.ID)
		if mode == SyncAll {
			boundary = min(boundary, c.Durable)
		} else {
			boundary = max(boundary, c.Durable)
		}
	}
	best := -1
	for i, c := range eligible {
		if c.Durable >= boundary && c.Floor <= boundary && (best < 0 || c.Durable > eligible[best].Durable) {
			best = i
		}
	}
	if best < 0 {
		return Succession{}, fmt.Errorf("%w: every candidate holding the boundary %d starts from a snapshot past it", ErrNotEligible, boundary)
	}
	s.Primary, s.Committed = eligible[best].ID, boundary
	return s, nil
}
