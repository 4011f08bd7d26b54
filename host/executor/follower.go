package executor

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/reprise-dev/reprise/host/replay"
	"github.com/reprise-dev/reprise/host/state"
	"github.com/reprise-dev/reprise/snapshot"
	"github.com/reprise-dev/reprise/wal"
)

// Errors of replication roles.
var (
	// ErrNotPrimary refuses a write on a node that follows: writes go to
	// the primary.
	ErrNotPrimary = errors.New("this node is not the primary")
	// ErrPrimary refuses a follower operation on the node that writes.
	ErrPrimary = errors.New("this node is the primary")
	// ErrNoState: a replica that has not received any state yet.
	ErrNoState = errors.New("no state yet: the replica has not received the log")
	// ErrNotAcknowledged: see NotAcknowledgedError.
	ErrNotAcknowledged = errors.New("not acknowledged by the replicas")
)

// NotAcknowledgedError says that a record was applied and made durable on
// this node, but the replicas the durability mode needs did not
// acknowledge it. Its fate is not known yet (it may still be committed, or
// be dropped by a failover): resubmit with the same idempotency key to
// learn it.
type NotAcknowledgedError struct {
	Index uint64
	Err   error
}

func (e *NotAcknowledgedError) Error() string {
	return fmt.Sprintf("record %d is durable on the primary but was not acknowledged by the replicas: %v", e.Index, e.Err)
}

// Unwrap lets errors.Is see both ErrNotAcknowledged and the cause.
func (e *NotAcknowledgedError) Unwrap() []error { return []error{ErrNotAcknowledged, e.Err} }

// Replicator is the primary's replication at the writer's edge. The writer
// calls it in this order, from one goroutine: Admit before applying a
// batch, Ship with the batch's records before the local append (so that
// replicas store them while the primary fsyncs), then Commit after it.
type Replicator interface {
	// Admit refuses a batch the durability mode cannot acknowledge now;
	// nothing of the batch is applied.
	Admit() error
	// Ship hands over records about to be appended locally. They must not
	// be modified.
	Ship(recs []wal.Record)
	// Commit reports how the local append ended (localErr) and returns once
	// the records through `through` are committed under the durability
	// mode, or with the reason they are not.
	Commit(through uint64, localErr error) error
	// RetentionFloor is the lowest index the WAL must keep for
	// replication (records at and above it are never compacted).
	RetentionFloor() uint64
}

// appendRecords appends recs durably, through the replicator when the node
// is a primary with replicas. commitErr is the local append's failure (the
// writer stops); replErr says the records are durable here but not
// acknowledged by the replicas. mu is held.
func (e *Executor) appendRecords(recs []wal.Record) (commitErr, replErr error) {
	rep := e.rep
	if rep != nil {
		rep.Ship(recs)
	}
	commitErr = e.wal.Append(recs)
	if rep != nil {
		replErr = rep.Commit(recs[len(recs)-1].Index, commitErr)
	}
	return commitErr, replErr
}

// refuseWrites says why the writer takes no write now; mu is held.
func (e *Executor) refuseWrites() error {
	switch {
	case e.failure != nil:
		return fmt.Errorf("%w: %v", ErrStopped, e.failure)
	case e.follower:
		return ErrNotPrimary
	case e.rep != nil:
		if err := e.rep.Admit(); err != nil {
			return err
		}
	}
	return nil
}

// Epoch is the epoch this node stamps into the records it appends.
func (e *Executor) Epoch() uint64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.epoch
}

// Promote makes a node the writer of epoch: it drops its records after
// `after` (the committed boundary the control plane promoted it with),
// reloading its state to that index when it had applied past it, and from
// then on stamps epoch into every record and writes through rep (nil for a
// node without replicas). A node with an empty log writes the genesis
// activation first, through rep.
func (e *Executor) Promote(ctx context.Context, epoch, after uint64, rep Replicator) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if epoch < e.epoch {
		return fmt.Errorf("promote to epoch %d: the node is already at epoch %d", epoch, e.epoch)
	}
	if last := e.wal.LastIndex(); last > after {
		if err := e.reloadTo(ctx, after); err != nil {
			return fmt.Errorf("promote to epoch %d: cut the log back to %d: %w", epoch, after, err)
		}
	} else if e.failure == nil && e.index < last {
		// A replica applies only what it knows is committed; a primary
		// serves everything it holds.
		if err := e.replay(ctx, e.index+1, last); err != nil {
			e.failure = err
			return fmt.Errorf("promote to epoch %d: %w", epoch, err)
		}
	}
	if e.failure != nil {
		return fmt.Errorf("promote to epoch %d: %w: %v", epoch, ErrStopped, e.failure)
	}
	e.epoch, e.follower, e.rep = epoch, false, rep
	e.replicator.Store(replicatorBox{rep})
	if err := e.saveReplicaMeta(ReplicaMeta{Committed: e.index, Lineage: epoch}); err != nil {
		return err
	}
	if e.machine.Module() == nil {
		_, err := e.genesis(ctx)
		var unacked *NotAcknowledgedError
		if errors.As(err, &unacked) {
			// Durable here and in force; the replicas take it when they
			// are in sync.
			e.log.Warn("the genesis record is not acknowledged by the replicas yet", "err", err)
		} else if err != nil {
			return err
		}
		e.committed()
	}
	e.log.Info("promoted to primary", "epoch", epoch, "index", e.index)
	return nil
}

// Demote makes the node follow: writes are refused with ErrNotPrimary from
// the next batch on. A batch being committed finishes first (the caller
// must have made its replicator's Commit return).
func (e *Executor) Demote(epoch uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.follower, e.rep = true, nil
	e.replicator.Store(replicatorBox{})
	e.epoch = max(e.epoch, epoch)
}

// ReplicaMeta is what a replica keeps durably beside its log for
// replication: the committed index it last learned, the epoch whose primary
// last verified its log, and whether a rebuild is half-done.
type ReplicaMeta struct {
	Committed  uint64
	Lineage    uint64
	Rebuilding bool
}

const replicaMetaKey = "replication/replica"

// ReplicaMeta reads what SaveReplicaMeta stored (zero when nothing was).
func (e *Executor) ReplicaMeta() (ReplicaMeta, error) {
	b, ok, err := e.wal.GetMeta(replicaMetaKey)
	if err != nil || !ok {
		return ReplicaMeta{}, err
	}
	if len(b) != 17 {
		return ReplicaMeta{}, fmt.Errorf("replication metadata has %d bytes, want 17", len(b))
	}
	return ReplicaMeta{Committed: binary.BigEndian.Uint64(b), Lineage: binary.BigEndian.Uint64(b[8:]), Rebuilding: b[16] == 1}, nil
}

// SaveReplicaMeta stores m durably (one fsync).
func (e *Executor) SaveReplicaMeta(m ReplicaMeta) error { return e.saveReplicaMeta(m) }

func (e *Executor) saveReplicaMeta(m ReplicaMeta) error {
	b := make([]byte, 17)
	binary.BigEndian.PutUint64(b, m.Committed)
	binary.BigEndian.PutUint64(b[8:], m.Lineage)
	if m.Rebuilding {
		b[16] = 1
	}
	return e.wal.SetMeta(replicaMetaKey, b)
}

// followerOp runs fn with mu held on a follower.
func (e *Executor) followerOp(fn func() error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.follower {
		return ErrPrimary
	}
	return fn()
}

// StoreReplicated appends records shipped by the primary, as they are,
// durably (their idempotency entries with them, for after a promotion).
// They are not applied: see ApplyStored.
func (e *Executor) StoreReplicated(recs []wal.Record) error {
	if len(recs) == 0 {
		return nil
	}
	return e.followerOp(func() error { return e.wal.Append(recs) })
}

// applyChunk is the most records ApplyStored applies under one hold of mu,
// so that reads on a replica wait for one chunk at most, never for a whole
// catch-up.
const applyChunk = 1024

// ApplyStored applies the stored records after the applied index through
// `through`, under the catalogs they name, checking every recorded state
// hash, and returns the applied index. A record that does not reproduce its
// recorded hash stops the replica (a *DivergenceError naming the index):
// it serves nothing until it is rebuilt (Discard or InstallSnapshot).
func (e *Executor) ApplyStored(ctx context.Context, through uint64) (uint64, error) {
	for {
		applied, more, err := e.applyChunk(ctx, through)
		if err != nil || !more {
			return applied, err
		}
	}
}

// applyChunk applies at most applyChunk stored records towards through and
// says whether more remain.
func (e *Executor) applyChunk(ctx context.Context, through uint64) (applied uint64, more bool, err error) {
	var snap bool
	var capture snapshotCapture
	err = e.followerOp(func() error {
		if e.failure != nil {
			return fmt.Errorf("%w: %v", ErrStopped, e.failure)
		}
		through = min(through, e.wal.LastIndex())
		applied = e.index
		if through <= e.index {
			return nil
		}
		to := min(through, e.index+applyChunk)
		if err := e.replay(ctx, e.index+1, to); err != nil {
			applied = e.index
			if errors.Is(err, wal.ErrCompacted) || errors.Is(err, wal.ErrNotFound) {
				return err // the log moved under a reset; nothing was applied wrongly
			}
			e.failure = err
			e.log.Error("replica stopped: a shipped record did not reproduce its recorded state; it must be rebuilt", "err", err)
			return fmt.Errorf("%w: %w", ErrStopped, err)
		}
		applied, more = e.index, e.index < through
		e.committed()
		snap, capture = e.snapshotDue()
		return nil
	})
	if snap {
		e.snapshotInBackground(capture)
	}
	return applied, more, err
}

// TruncateStored drops stored records after `after`. Applied records are
// never dropped: a reducer cannot un-apply (the primary rebuilds such a
// replica instead).
func (e *Executor) TruncateStored(after uint64) error {
	return e.followerOp(func() error {
		if after < e.index {
			return fmt.Errorf("truncate after %d: records through %d are applied", after, e.index)
		}
		if after >= e.wal.LastIndex() {
			return nil
		}
		return e.wal.TruncateTail(after)
	})
}

// ResetForRebuild discards the replica's state, snapshots and log so that
// the log continues at next (the index after the snapshot the rebuild
// installs). With next past 1 it first marks the rebuild as in progress
// durably: a restart before InstallSnapshot completes finds the mark.
func (e *Executor) ResetForRebuild(ctx context.Context, next uint64) error {
	return e.followerOp(func() error {
		if next > 1 {
			m, err := e.ReplicaMeta()
			if err != nil {
				return err
			}
			m.Rebuilding = true
			if err := e.saveReplicaMeta(m); err != nil {
				return err
			}
		}
		return e.resetState(ctx, next)
	})
}

// Discard drops the replica's state, snapshots and log and clears the
// rebuild mark: it starts over empty.
func (e *Executor) Discard(ctx context.Context) error {
	return e.followerOp(func() error {
		if err := e.resetState(ctx, 1); err != nil {
			return err
		}
		m, err := e.ReplicaMeta()
		if err != nil {
			return err
		}
		m.Rebuilding, m.Lineage = false, 0
		return e.saveReplicaMeta(m)
	})
}

// resetState empties the state, removes every snapshot and makes the log
// continue at next; mu is held.
func (e *Executor) resetState(ctx context.Context, next uint64) error {
	e.snapshotting.Wait()
	e.snapMu.Lock()
	defer e.snapMu.Unlock()
	infos, err := e.snaps.List()
	if err != nil {
		return err
	}
	for _, in := range infos {
		if err := e.snaps.Remove(in.Index); err != nil {
			return err
		}
	}
	if err := e.wal.Reset(next); err != nil {
		return err
	}
	e.emptyState(ctx)
	return nil
}

// InstallSnapshot receives a rebuild's snapshot stream and commits it only
// if its checksum matches and its manifest names index and stateHash; the
// state is then loaded from it and the log continues after it. It clears
// the rebuild mark.
func (e *Executor) InstallSnapshot(ctx context.Context, index uint64, stateHash state.Hash, r io.Reader) error {
	return e.followerOp(func() error {
		e.snapMu.Lock()
		_, err := e.snaps.InstallAt(index, stateHash, r)
		e.snapMu.Unlock()
		if err != nil {
			return err
		}
		sr, err := e.snaps.OpenAt(index)
		if err != nil {
			return err
		}
		defer sr.Close()
		if e.wal.LastIndex() < index || e.wal.FirstIndex() != index+1 {
			if err := e.wal.Reset(index + 1); err != nil {
				return err
			}
		}
		e.emptyState(ctx)
		if err := e.restoreSnapshot(ctx, sr); err != nil {
			e.failure = err
			return err
		}
		if e.machine.State().Hash() != stateHash {
			e.failure = fmt.Errorf("installed snapshot at %d has state hash %s, want %s", index, e.machine.State().Hash(), stateHash)
			return e.failure
		}
		m, err := e.ReplicaMeta()
		if err != nil {
			return err
		}
		m.Rebuilding = false
		m.Committed = max(m.Committed, index)
		return e.saveReplicaMeta(m)
	})
}

// SnapshotAt opens the raw bytes of the valid snapshot at index, for a
// rebuild of a replica; the caller closes it. An open file survives its
// removal by retention, so holding it open pins the snapshot.
func (e *Executor) SnapshotAt(index uint64) (io.ReadCloser, snapshot.Info, error) {
	infos, err := e.snaps.List()
	if err != nil {
		return nil, snapshot.Info{}, err
	}
	for _, in := range infos {
		if in.Index == index && in.Valid {
			rc, err := e.snaps.Raw(in)
			return rc, in, err
		}
	}
	return nil, snapshot.Info{}, fmt.Errorf("no valid snapshot at index %d", index)
}

// reloadTo cuts the log back to after and rebuilds the state at that index
// from the newest snapshot at or below it plus the WAL; mu is held.
func (e *Executor) reloadTo(ctx context.Context, after uint64) error {
	e.snapshotting.Wait()
	e.snapMu.Lock()
	infos, err := e.snaps.List()
	if err == nil {
		for _, in := range infos {
			if in.Index > after {
				if err = e.snaps.Remove(in.Index); err != nil {
					break
				}
			}
		}
	}
	e.snapMu.Unlock()
	if err != nil {
		return err
	}
	if after+1 < e.wal.FirstIndex() {
		return fmt.Errorf("the WAL starts at %d, past %d", e.wal.FirstIndex(), after+1)
	}
	if err := e.wal.TruncateTail(after); err != nil {
		return err
	}
	e.emptyState(ctx)
	return e.recover(ctx)
}

// replicatorBox lets an atomic.Value hold a nil Replicator.
type replicatorBox struct{ Replicator }

// emptyState drops the state in force for the empty state before any
// record, closing the old catalog instance; mu is held.
func (e *Executor) emptyState(ctx context.Context) {
	old := e.machine
	e.machine = replay.NewMachine(e.catalogs)
	old.Close(ctx)
	e.index, e.indexEpoch, e.lastSnapshot, e.lastHLC, e.failure = 0, 0, 0, "", nil
}
