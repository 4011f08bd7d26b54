package executor

import (
	"context"
	"errors"
	"fmt"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host/replay"
	"github.com/reprise-dev/reprise/host/state"
	"github.com/reprise-dev/reprise/wal"
)

var (
	// ErrNotCommitted: the index asked for is beyond the last durable
	// index (see *NotCommittedError).
	ErrNotCommitted = errors.New("index not committed")
	// ErrStateUnavailable: the state at the index asked for can no longer
	// be rebuilt: the WAL records after it are compacted and no valid
	// snapshot at or before it continues the WAL.
	ErrStateUnavailable = errors.New("state no longer reconstructible")
)

// NotCommittedError refuses a state at an index the node has not made
// durable yet. It is an ErrNotCommitted.
type NotCommittedError struct {
	Index     uint64 // the index asked for
	Committed uint64 // the last durable index
}

func (e *NotCommittedError) Error() string {
	return fmt.Sprintf("index %d is not committed; the last durable index is %d", e.Index, e.Committed)
}

// Is makes a NotCommittedError match ErrNotCommitted.
func (e *NotCommittedError) Is(target error) bool { return target == ErrNotCommitted }

// PastState is the state at an index, rebuilt by StateAt.
type PastState struct {
	Index uint64
	// State is the caller's: nothing else holds or changes it.
	State *state.State
	// Descriptor is the descriptor of the catalog in force at Index and
	// Catalog its hash; nil and zero at index 0, before any catalog.
	Descriptor *abi.Descriptor
	Catalog    [32]byte
}

// StateAt rebuilds the state at a committed index beside the writer
// without disturbing it (see replay.StateAt): from the newest valid
// snapshot at or before index, or from genesis while the WAL still starts
// at record 1, it applies the records up to index under the catalogs they
// name, verifying every recorded state hash. Its cost grows with the
// distance from that snapshot; the state at the current index is cheaper
// through Read.
//
// An index beyond the last durable one fails with a *NotCommittedError
// (ErrNotCommitted); a state that can no longer be rebuilt with an error
// wrapping ErrStateUnavailable; a stopped writer with ErrStopped.
func (e *Executor) StateAt(ctx context.Context, index uint64) (PastState, error) {
	e.mu.RLock()
	committed, failure := e.index, e.failure
	e.mu.RUnlock()
	if failure != nil {
		return PastState{}, fmt.Errorf("%w: %v", ErrStopped, failure)
	}
	if index > committed {
		return PastState{}, &NotCommittedError{Index: index, Committed: committed}
	}
	m, err := replay.StateAt(ctx, replay.Source{WAL: e.wal, Snapshots: e.snaps, Catalogs: e.catalogs}, index)
	switch {
	case errors.Is(err, replay.ErrUnavailable) || errors.Is(err, wal.ErrCompacted):
		return PastState{}, fmt.Errorf("%w: %w", ErrStateUnavailable, err)
	case err != nil:
		return PastState{}, fmt.Errorf("state at index %d: %w", index, err)
	}
	ps := PastState{Index: index, State: m.State(), Catalog: m.Hash()}
	if r := m.Reducer(); r != nil {
		ps.Descriptor = r.Descriptor()
	}
	return ps, nil
}
