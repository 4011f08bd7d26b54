package executor

import (
	"context"

	"github.com/reprise-dev/reprise/host/replay"
)

// ReplayRequest asks for a replay of the node's own WAL (see replay.Request).
type ReplayRequest struct {
	// From and To bound the records compared; 0 means as early as the
	// retained WAL and snapshots allow, and the last record.
	From, To uint64
	// Catalog, when set, forces that catalog version for the range instead
	// of the catalogs the activation records put in force.
	Catalog *[32]byte
	// MaxDiff bounds the entries listed in a state diff; 0 means
	// replay.DefaultMaxDiff.
	MaxDiff int
}

// Replay replays part of the WAL beside the writer without disturbing it:
// it pins the records it reads, reads them through the WAL's own range
// reads, and runs its own reducers (catalog modules are shared with the
// writer only as compiled code).
func (e *Executor) Replay(ctx context.Context, req ReplayRequest) (replay.Report, error) {
	r := replay.Request{From: req.From, To: req.To, MaxDiff: req.MaxDiff}
	if req.Catalog != nil {
		r.Force, r.Catalog = true, *req.Catalog
	}
	return replay.Run(ctx, replay.Source{WAL: e.wal, Snapshots: e.snaps, Catalogs: e.catalogs}, r)
}

// Shadow replays the recent WAL against catalog hash: the last `recent`
// records, or with recent 0 everything from the oldest retained snapshot
// (or genesis). The state at the start of that range is handed over to the
// candidate (migrated if it declares a migration), then each record runs
// under both the candidate and its own catalog, and the report names the
// first record whose result or state differs.
func (e *Executor) Shadow(ctx context.Context, hash [32]byte, recent uint64) (replay.Report, error) {
	var from uint64
	if recent > 0 {
		last := e.wal.LastIndex()
		from = 1
		if last > recent {
			from = last - recent + 1
		}
		from = max(from, e.wal.FirstIndex())
	}
	return e.Replay(ctx, ReplayRequest{From: from, Catalog: &hash})
}
