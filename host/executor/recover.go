package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host/replay"
	"github.com/reprise-dev/reprise/host/state"
	"github.com/reprise-dev/reprise/snapshot"
	"github.com/reprise-dev/reprise/wal"
)

// DivergenceError says that replaying a record did not reproduce what the
// WAL recorded: the node refuses to serve rather than serve divergent
// state.
type DivergenceError struct {
	Index      uint64
	Transition string
	Reason     string
	Recorded   state.Hash
	Replayed   state.Hash
}

func (e *DivergenceError) Error() string {
	return fmt.Sprintf("replay diverged at index %d (%s): %s; recorded state hash %s, replayed %s; refusing to serve",
		e.Index, e.Transition, e.Reason, e.Recorded, e.Replayed)
}

// RecoveryStats describe the last recovery.
type RecoveryStats struct {
	SnapshotIndex uint64
	Replayed      uint64
	Took          time.Duration
}

// recover loads the newest valid snapshot and replays the WAL after it,
// verifying every recorded state hash, under the catalogs the snapshot and
// the activation records put in force. A fresh data directory gets the
// activation of the configured catalog as record 1.
func (e *Executor) recover(ctx context.Context) error {
	start := time.Now()
	applyLimit := uint64(0) // none
	if e.follower {
		m, err := e.ReplicaMeta()
		if err != nil {
			return fmt.Errorf("read replication metadata: %w", err)
		}
		if m.Rebuilding {
			// A rebuild was cut short: its half-installed state is never
			// served. Start over empty; the mark stays until a rebuild
			// completes, so the primary learns the replica needs one.
			e.log.Warn("a rebuild was interrupted; discarding the partial state")
			if err := e.resetState(ctx, 1); err != nil {
				return fmt.Errorf("discard an interrupted rebuild: %w", err)
			}
		}
		// A replica applies only what it knows is committed: records past
		// that may be cut back by the primary, and a reducer cannot
		// un-apply.
		applyLimit = m.Committed
	}
	r, err := e.snaps.OpenLatest()
	switch {
	case errors.Is(err, snapshot.ErrNoSnapshot):
	case err != nil:
		return fmt.Errorf("load snapshot: %w", err)
	default:
		err := e.restoreSnapshot(ctx, r)
		r.Close()
		if err != nil {
			return err
		}
	}
	snapIndex := e.index
	first, last := e.wal.FirstIndex(), e.wal.LastIndex()
	switch {
	case last > e.index:
		if first > e.index+1 {
			from := "there is no usable snapshot"
			if e.index > 0 {
				from = fmt.Sprintf("the newest usable snapshot is at index %d", e.index)
			}
			return fmt.Errorf("WAL starts at index %d but %s: records %d..%d are missing", first, from, e.index+1, first-1)
		}
		to := last
		if e.follower {
			to = min(last, max(applyLimit, e.index))
		}
		if err := e.replay(ctx, e.index+1, to); err != nil {
			return err
		}
	case last < e.index:
		// The snapshot is durable truth (it is only taken of durable
		// state); a WAL that ends before it lost nothing the snapshot does
		// not hold. Continue the log after the snapshot.
		e.log.Warn("WAL ends before the snapshot; continuing the log after the snapshot", "wal_last", last, "snapshot", e.index)
		if err := e.wal.Reset(e.index + 1); err != nil {
			return fmt.Errorf("reset WAL after snapshot %d: %w", e.index, err)
		}
	}
	replayed := e.index - snapIndex
	if e.machine.Module() == nil {
		if e.index != 0 {
			return fmt.Errorf("no catalog is in force at index %d", e.index)
		}
		if !e.follower {
			if _, err := e.genesis(ctx); err != nil {
				return err
			}
		}
	} else if e.machine.Hash() != e.cfg.Module.Hash {
		d := e.machine.Reducer().Descriptor()
		e.log.Warn("the log puts another catalog in force than the one configured; serving the catalog in force (activate the configured one to switch)",
			"in_force", d.Ref().String(), "in_force_hash", replay.HashHex(e.machine.Hash()),
			"configured", e.cfg.Module.Descriptor.Ref().String(), "configured_hash", e.cfg.Module.HashHex())
	}
	e.stats = RecoveryStats{SnapshotIndex: snapIndex, Replayed: replayed, Took: time.Since(start)}
	catalog := "none"
	if r := e.machine.Reducer(); r != nil {
		catalog = r.Descriptor().Ref().String()
	}
	e.log.Info("recovered", "index", e.index, "snapshot", snapIndex, "replayed", e.stats.Replayed,
		"state_hash", e.machine.State().Hash().String(), "catalog", catalog, "took", e.stats.Took)
	return nil
}

func (e *Executor) restoreSnapshot(ctx context.Context, r *snapshot.Reader) error {
	base, extra, err := replay.ReadBase(r)
	if err != nil {
		return err
	}
	if err := e.machine.Start(ctx, base); err != nil {
		return fmt.Errorf("snapshot at index %d: %w", base.Index, err)
	}
	e.index, e.lastSnapshot, e.lastHLC = base.Index, base.Index, extra.LastHLC
	e.indexEpoch = r.Meta.Epoch
	return nil
}

// ProposalOf rebuilds the proposal a record was applied from.
func ProposalOf(rec *wal.Record) abi.Proposal { return replay.ProposalOf(rec) }

// replay applies records from..to and checks each against what was
// recorded.
func (e *Executor) replay(ctx context.Context, from, to uint64) error {
	return e.wal.Range(from, to, func(rec wal.Record) error {
		st, err := e.machine.Apply(ctx, &rec)
		if err != nil {
			return err
		}
		if st.Diverged() {
			name := rec.Transition
			if rec.Kind == wal.KindActivation {
				name = "activation of catalog " + replay.HashHex(rec.CatalogHash)
			}
			return &DivergenceError{Index: rec.Index, Transition: name, Reason: strings.Join(st.Differences, "; "),
				Recorded: rec.StateHash, Replayed: st.Replayed.StateHash}
		}
		if len(st.Drift) > 0 {
			e.log.Warn("catalog activation recorded under another host; it replays identically", "index", rec.Index, "drift", strings.Join(st.Drift, "; "))
		}
		e.index, e.indexEpoch = rec.Index, rec.Epoch
		if rec.HLC != "" {
			e.lastHLC = e.maxHLC(rec.HLC)
		}
		return nil
	})
}

// snapshotCapture is what a snapshot is written from, taken under mu.
type snapshotCapture struct {
	st      *state.State
	index   uint64
	epoch   uint64
	catalog [32]byte
	extra   replay.SnapshotExtra
}

// capture takes what a snapshot of the durable state needs; mu is held.
// With clone the state is copied, for a writer that goes on.
func (e *Executor) capture(clone bool) snapshotCapture {
	st := e.machine.State()
	if clone {
		st = st.Clone()
	}
	c := snapshotCapture{st: st, index: e.index, epoch: e.indexEpoch, catalog: e.machine.Hash(),
		extra: replay.SnapshotExtra{Catalog: e.machine.Reducer().Descriptor().Ref(), LastHLC: e.lastHLC}}
	if a, at, ok := e.machine.Activation(); ok {
		c.extra.Activation, c.extra.ActivationIndex = &a, at
	}
	return c
}

// writeSnapshot writes a captured state and compacts the WAL up to the
// oldest snapshot kept. It runs beside the writer.
func (e *Executor) writeSnapshot(c snapshotCapture) {
	e.snapMu.Lock()
	defer e.snapMu.Unlock()
	start := time.Now()
	entries := c.st.Entries()
	extra, err := c.extra.Encode()
	if err != nil {
		e.log.Error("snapshot metadata", "err", err)
		return
	}
	meta := snapshot.Meta{Index: c.index, Epoch: c.epoch, CatalogHash: c.catalog, StateHash: c.st.Hash(),
		Entries: uint64(len(entries)), CreatedUnix: time.Now().Unix(), Extra: extra}
	info, err := e.snaps.Write(meta, func(w io.Writer) error {
		_, err := w.Write(abi.AppendState(nil, entries))
		return err
	})
	if o := e.cfg.Observer; o != nil {
		o.Snapshot(info, time.Since(start), err)
	}
	if err != nil {
		e.log.Warn("snapshot failed; the WAL is kept", "index", c.index, "err", err)
		return
	}
	e.log.Info("snapshot written", "index", c.index, "entries", len(entries), "took", time.Since(start))
	e.compact()
}

// compact drops WAL records that the oldest kept snapshot covers, once
// SnapshotKeep snapshots exist. Until then genesis counts as one of the
// kept starting points, so a young node keeps its whole WAL and can be
// replayed from the beginning (to audit it, or against another catalog
// version).
func (e *Executor) compact() {
	infos, err := e.snaps.List()
	if err != nil {
		e.log.Warn("list snapshots for compaction", "err", err)
		return
	}
	var oldest uint64
	valid := 0
	for _, in := range infos {
		if in.Valid {
			valid++
			if oldest == 0 || in.Index < oldest {
				oldest = in.Index
			}
		}
	}
	if oldest == 0 || valid < e.cfg.SnapshotKeep {
		return
	}
	if box, _ := e.replicator.Load().(replicatorBox); box.Replicator != nil {
		rep := box.Replicator
		// Never compact what replication still needs: catch-ups pin
		// their ranges, and nothing at or above the floor goes.
		if floor := rep.RetentionFloor(); floor <= oldest {
			if floor <= 1 {
				return
			}
			oldest = floor - 1
		}
	}
	if _, err := e.wal.TruncateHead(oldest); err != nil {
		e.log.Warn("WAL compaction", "up_to", oldest, "err", err)
	}
}

// Snapshot takes a snapshot of the current durable state now.
func (e *Executor) Snapshot() (uint64, error) {
	e.mu.Lock()
	if e.failure != nil {
		e.mu.Unlock()
		return 0, fmt.Errorf("%w: %v", ErrStopped, e.failure)
	}
	c := e.capture(true)
	e.lastSnapshot = c.index
	e.mu.Unlock()
	e.writeSnapshot(c)
	infos, err := e.snaps.List()
	if err != nil {
		return c.index, err
	}
	for _, in := range infos {
		if in.Index == c.index && in.Valid {
			return c.index, nil
		}
	}
	return c.index, fmt.Errorf("snapshot at index %d was not written; see the log", c.index)
}

// Recovery reports the last recovery's figures.
func (e *Executor) Recovery() RecoveryStats { return e.stats }
