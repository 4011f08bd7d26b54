package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/abi/canon"
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

// snapshotExtra is the executor's own metadata in a snapshot.
type snapshotExtra struct {
	Catalog abi.CatalogRef `json:"catalog"`
	LastHLC string         `json:"last_hlc,omitempty"`
}

// RecoveryStats describe the last recovery.
type RecoveryStats struct {
	SnapshotIndex uint64
	Replayed      uint64
	Took          time.Duration
}

// recover loads the newest valid snapshot and replays the WAL after it,
// verifying every recorded state hash.
func (e *Executor) recover(ctx context.Context) error {
	start := time.Now()
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
		if err := e.replay(ctx, e.index+1, last); err != nil {
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
	e.stats = RecoveryStats{SnapshotIndex: snapIndex, Replayed: e.index - snapIndex, Took: time.Since(start)}
	e.log.Info("recovered", "index", e.index, "snapshot", snapIndex, "replayed", e.stats.Replayed,
		"state_hash", e.reducer.State().Hash().String(), "took", e.stats.Took)
	return nil
}

func (e *Executor) restoreSnapshot(ctx context.Context, r *snapshot.Reader) error {
	m := r.Meta
	if m.CatalogHash != e.module.Hash {
		return fmt.Errorf("snapshot at index %d was taken under catalog %x, but this node serves %x", m.Index, m.CatalogHash, e.module.Hash)
	}
	payload, err := io.ReadAll(r.Payload())
	if err != nil {
		return fmt.Errorf("snapshot at index %d: %w", m.Index, err)
	}
	entries, err := abi.DecodeState(payload)
	if err != nil {
		return fmt.Errorf("snapshot at index %d: %w", m.Index, err)
	}
	if err := e.reducer.Restore(ctx, e.reducer.Descriptor().Ref(), entries); err != nil {
		return fmt.Errorf("snapshot at index %d: %w", m.Index, err)
	}
	if got := e.reducer.State().Hash(); got != state.Hash(m.StateHash) {
		return fmt.Errorf("snapshot at index %d holds state %s but records state hash %s", m.Index, got, state.Hash(m.StateHash))
	}
	var extra snapshotExtra
	if len(m.Extra) > 0 {
		if err := canon.Unmarshal(m.Extra, &extra); err != nil {
			return fmt.Errorf("snapshot at index %d: metadata: %w", m.Index, err)
		}
	}
	e.index, e.lastSnapshot, e.lastHLC = m.Index, m.Index, extra.LastHLC
	return nil
}

// ProposalOf rebuilds the proposal a record was applied from.
func ProposalOf(rec *wal.Record) abi.Proposal {
	return abi.Proposal{
		Transition: rec.Transition, Inputs: rec.Inputs, Index: rec.Index, Timestamp: rec.Timestamp,
		Signer: rec.Signer, HLC: rec.HLC, WindowID: rec.WindowID, IdemKey: rec.IdemKey,
		InputsHash: rec.InputsHash, Evidence: rec.Evidence,
	}
}

// replay applies records from..to and checks each against what was
// recorded.
func (e *Executor) replay(ctx context.Context, from, to uint64) error {
	return e.wal.Range(from, to, func(rec wal.Record) error {
		if rec.Kind != wal.KindTransition {
			return fmt.Errorf("record %d is a %s record, which this version cannot replay", rec.Index, rec.Kind)
		}
		if rec.CatalogHash != e.module.Hash {
			return fmt.Errorf("record %d was produced by catalog %x, but this node serves %x", rec.Index, rec.CatalogHash, e.module.Hash)
		}
		p := ProposalOf(&rec)
		out, err := e.reducer.Apply(ctx, &p)
		if err != nil {
			return fmt.Errorf("replay record %d: %w", rec.Index, err)
		}
		div := &DivergenceError{Index: rec.Index, Transition: rec.Transition, Recorded: rec.StateHash, Replayed: out.StateHash}
		switch {
		case !out.Result.Accepted():
			div.Reason = fmt.Sprintf("recorded as accepted, replays as %s (%s)", out.Result.Code.Slug(), out.Result.Detail)
			return div
		case out.StateHash != state.Hash(rec.StateHash):
			div.Reason = "state hash differs"
			return div
		case !bytes.Equal(out.Result.Output, rec.Output):
			div.Reason = fmt.Sprintf("output differs: recorded %s, replayed %s", rec.Output, out.Result.Output)
			return div
		}
		e.index = rec.Index
		if rec.HLC != "" {
			e.lastHLC = e.maxHLC(rec.HLC)
		}
		return nil
	})
}

// writeSnapshot writes the state at index and compacts the WAL up to the
// oldest snapshot kept. It runs beside the writer on a cloned state.
func (e *Executor) writeSnapshot(st *state.State, index uint64, lastHLC string) {
	e.snapMu.Lock()
	defer e.snapMu.Unlock()
	start := time.Now()
	entries := st.Entries()
	extra, err := canon.Marshal(snapshotExtra{Catalog: e.reducer.Descriptor().Ref(), LastHLC: lastHLC})
	if err != nil {
		e.log.Error("snapshot metadata", "err", err)
		return
	}
	meta := snapshot.Meta{Index: index, Epoch: e.cfg.Epoch, CatalogHash: e.module.Hash, StateHash: st.Hash(),
		Entries: uint64(len(entries)), CreatedUnix: time.Now().Unix(), Extra: extra}
	info, err := e.snaps.Write(meta, func(w io.Writer) error {
		_, err := w.Write(abi.AppendState(nil, entries))
		return err
	})
	if o := e.cfg.Observer; o != nil {
		o.Snapshot(info, time.Since(start), err)
	}
	if err != nil {
		e.log.Warn("snapshot failed; the WAL is kept", "index", index, "err", err)
		return
	}
	e.log.Info("snapshot written", "index", index, "entries", len(entries), "took", time.Since(start))
	e.compact()
}

// compact drops WAL records that the oldest kept snapshot covers.
func (e *Executor) compact() {
	infos, err := e.snaps.List()
	if err != nil {
		e.log.Warn("list snapshots for compaction", "err", err)
		return
	}
	var oldest uint64
	for _, in := range infos {
		if in.Valid && (oldest == 0 || in.Index < oldest) {
			oldest = in.Index
		}
	}
	if oldest == 0 {
		return
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
	st, idx, hlc := e.reducer.State().Clone(), e.index, e.lastHLC
	e.lastSnapshot = idx
	e.mu.Unlock()
	e.writeSnapshot(st, idx, hlc)
	infos, err := e.snaps.List()
	if err != nil {
		return idx, err
	}
	for _, in := range infos {
		if in.Index == idx && in.Valid {
			return idx, nil
		}
	}
	return idx, fmt.Errorf("snapshot at index %d was not written; see the log", idx)
}

// Recovery reports the last recovery's figures.
func (e *Executor) Recovery() RecoveryStats { return e.stats }
