package replication

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ReplicaID is a node's stable, configured identity. It is never derived
// from an address: an address change keeps the ID (and the primary's sender
// for it) and only restarts the recovery session.
type ReplicaID string

// SessionID names one recovery session of one sender. The primary allocates
// them in increasing order; the connection a session opens keeps its ID for
// as long as the replica stays in sync, so every message on that connection
// carries it and anything carrying another ID is stale.
type SessionID uint64

// BarrierID names one barrier; a reply to any other barrier is stale.
type BarrierID uint64

// PinID names one WAL (and snapshot) pin taken for a session.
type PinID uint64

// Mode is the durability mode: what a client write needs before it is
// acknowledged.
type Mode uint8

const (
	// BestEffort acknowledges after the primary's own fsync; replicas that
	// fail a barrier are degraded and recovered, never waited for.
	BestEffort Mode = iota + 1
	// SyncAll acknowledges only when every replica of the membership holds
	// the write durably; while any replica is not in sync, writes fail.
	SyncAll
	// SyncQuorum acknowledges when a majority of all nodes, the primary
	// included, hold the write durably. It needs at least three nodes.
	SyncQuorum
)

// String returns the configuration spelling of the mode.
func (m Mode) String() string {
	switch m {
	case BestEffort:
		return "best_effort"
	case SyncAll:
		return "sync_all"
	case SyncQuorum:
		return "sync_quorum"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// ParseMode reads a mode as configured: best_effort, sync_all or sync_quorum.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "best_effort":
		return BestEffort, nil
	case "sync_all":
		return SyncAll, nil
	case "sync_quorum":
		return SyncQuorum, nil
	}
	return 0, fmt.Errorf("replication: unknown durability mode %q (want best_effort, sync_all or sync_quorum)", s)
}

func (m Mode) valid() bool { return m >= BestEffort && m <= SyncQuorum }

// majority is the number of nodes that make a majority of n.
func majority(n int) int { return n/2 + 1 }

// Member is one replica of the membership the control plane assigns.
type Member struct {
	ID       ReplicaID
	Endpoint string // where the primary reaches it; may change, the ID may not
}

// validateMembers checks a replica set for the primary (self excluded).
func validateMembers(mode Mode, members []Member) error {
	seen := make(map[ReplicaID]bool, len(members))
	for i, m := range members {
		if m.ID == "" {
			return fmt.Errorf("replication: member %d has an empty replica ID", i)
		}
		if m.Endpoint == "" {
			return fmt.Errorf("replication: member %q has an empty endpoint", m.ID)
		}
		if seen[m.ID] {
			return fmt.Errorf("replication: member %q is listed twice", m.ID)
		}
		seen[m.ID] = true
	}
	if mode == SyncQuorum && len(members)+1 < 3 {
		return fmt.Errorf("replication: sync_quorum needs at least three nodes, the membership has %d", len(members)+1)
	}
	return nil
}

// sortedMembers returns a copy of members ordered by ID.
func sortedMembers(members []Member) []Member {
	out := slices.Clone(members)
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return out
}

// Checkpoint is a durable, verified snapshot the primary can send as the base
// of a rebuild: its index and the state hash the WAL recorded at that index.
// Index 0 means none.
type Checkpoint struct {
	Index     uint64
	StateHash [32]byte
}

// Budgets bound recovery. All durations are in ticks (the executor decides
// what a tick is). A zero field takes its value from DefaultBudgets.
type Budgets struct {
	// HandshakeTicks bounds a session from Connect to its classification.
	HandshakeTicks uint64
	// BarrierTicks is how long a barrier may go unanswered; after it the
	// barrier has failed and a late answer is refused.
	BarrierTicks uint64
	// CatchUpTicks bounds the duration of a catch-up; past it the session
	// escalates to rebuild.
	CatchUpTicks uint64
	// CatchUpRecords is the largest gap a catch-up may take on; a larger gap
	// is rebuilt from the start.
	CatchUpRecords uint64
	// StallTicks is how long a session may make no progress; a catch-up
	// then escalates to rebuild, any other session fails.
	StallTicks uint64
	// RebuildTicks bounds the duration of a rebuild; past it the session
	// fails and a new one starts over.
	RebuildTicks uint64
	// RetryTicks is the pause before reconnecting a replica whose session or
	// stream failed.
	RetryTicks uint64
	// MaxInFlight bounds records shipped to one replica and not yet
	// acknowledged as received.
	MaxInFlight uint64
}

// DefaultBudgets are the budgets used for zero fields, assuming a tick of
// about 10 ms.
func DefaultBudgets() Budgets {
	return Budgets{
		HandshakeTicks: 200,
		BarrierTicks:   100,
		CatchUpTicks:   6000,
		CatchUpRecords: 1_000_000,
		StallTicks:     500,
		RebuildTicks:   60000,
		RetryTicks:     50,
		MaxInFlight:    4096,
	}
}

func (b Budgets) withDefaults() Budgets {
	d := DefaultBudgets()
	fill := func(v *uint64, def uint64) {
		if *v == 0 {
			*v = def
		}
	}
	fill(&b.HandshakeTicks, d.HandshakeTicks)
	fill(&b.BarrierTicks, d.BarrierTicks)
	fill(&b.CatchUpTicks, d.CatchUpTicks)
	fill(&b.CatchUpRecords, d.CatchUpRecords)
	fill(&b.StallTicks, d.StallTicks)
	fill(&b.RebuildTicks, d.RebuildTicks)
	fill(&b.RetryTicks, d.RetryTicks)
	fill(&b.MaxInFlight, d.MaxInFlight)
	return b
}

var (
	// ErrStale wraps every refusal of a message or event that no longer
	// applies: another session, another epoch, a barrier that already timed
	// out, an endpoint the membership no longer names. The state is
	// unchanged; any answer owed to the peer is in Ready.
	ErrStale = errors.New("replication: stale")
	// ErrInvalidEvent wraps refusals of events that could never be right
	// (an append that does not extend the log, an unknown replica, a field
	// out of range). The state is unchanged.
	ErrInvalidEvent = errors.New("replication: invalid event")
	// ErrStopped is returned for any event after the engine stopped (it
	// stepped down, was shut down, or its WAL failed).
	ErrStopped = errors.New("replication: engine stopped")
	// ErrNotReady is returned by a primary that has not yet truncated its
	// log to the committed boundary it was promoted with.
	ErrNotReady = errors.New("replication: primary not serving yet")
	// ErrNotEligible wraps refusals to promote a node.
	ErrNotEligible = errors.New("replication: not eligible for promotion")
	// ErrNotEnoughReplicas is what Admit wraps when the durability mode
	// cannot acknowledge a new write now.
	ErrNotEnoughReplicas = errors.New("replication: not enough replicas in sync")
)

func stalef(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrStale}, args...)...)
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidEvent}, args...)...)
}

// NotEnoughReplicasError says why a write cannot be acknowledged now.
type NotEnoughReplicasError struct {
	Mode      Mode
	Need      int         // nodes that must hold the write, the primary included
	InSync    int         // nodes in sync now, the primary included
	NotInSync []ReplicaID // replicas not in sync, sorted
}

func (e *NotEnoughReplicasError) Error() string {
	return fmt.Sprintf("replication: %s needs %d nodes in sync, %d are (not in sync: %s)",
		e.Mode, e.Need, e.InSync, joinIDs(e.NotInSync))
}

func joinIDs(ids []ReplicaID) string {
	if len(ids) == 0 {
		return "none"
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return strings.Join(s, ", ")
}

// Is makes errors.Is(err, ErrNotEnoughReplicas) hold.
func (e *NotEnoughReplicasError) Is(target error) bool { return target == ErrNotEnoughReplicas }
