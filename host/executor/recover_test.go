package executor_test

import (
	"fmt"
	"testing"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/host/state"
)

// workload submits n proposals one at a time (so each is its own batch):
// increments over a few keys with an occasional reset. It returns the
// verdicts by index.
func workload(t testing.TB, e *executor.Executor, n int) map[uint64]executor.Verdict {
	t.Helper()
	out := map[uint64]executor.Verdict{}
	for i := range n {
		p := inc(fmt.Sprintf("k%d", i%5), int64(i+1))
		if i%11 == 10 {
			p = abi.Proposal{Transition: reset, Inputs: fmt.Appendf(nil, `{"key":"k%d"}`, i%5)}
		}
		v := mustAccept(t, e, p)
		out[v.Index] = v
	}
	return out
}

// TestCleanRestartReproducesState: Close takes a final snapshot, and Open
// restores the same index, state hash and state from it.
func TestCleanRestartReproducesState(t *testing.T) {
	cfg := config(t, t.TempDir())
	e := open(t, cfg)
	workload(t, e, 40-genesis)
	before := readPosition(t, e)
	closeExec(t, e)

	e = open(t, cfg)
	if after := readPosition(t, e); after != before {
		t.Fatalf("after restart %+v, before %+v", after, before)
	}
	if st := e.Recovery(); st.SnapshotIndex != 40 || st.Replayed != 0 {
		t.Fatalf("recovery %+v, want the final snapshot at 40 and nothing replayed", st)
	}
	if v := mustAccept(t, e, inc("k0", 1)); v.Index != 41 {
		t.Fatalf("next record after restart at index %d, want 41", v.Index)
	}
}

// TestCrashRecoveryReplaysTheWAL: without a final snapshot, Open replays
// every record, verifying each recorded state hash, and reaches the same
// position.
func TestCrashRecoveryReplaysTheWAL(t *testing.T) {
	cfg := config(t, t.TempDir())
	e := open(t, cfg)
	workload(t, e, 40-genesis)
	before := readPosition(t, e)
	crash(t, e)

	e = open(t, cfg)
	if after := readPosition(t, e); after != before {
		t.Fatalf("after crash recovery %+v, before %+v", after, before)
	}
	if st := e.Recovery(); st.SnapshotIndex != 0 || st.Replayed != 40 {
		t.Fatalf("recovery %+v, want 40 records replayed", st)
	}
	if v := mustAccept(t, e, inc("k0", 1)); v.Index != 41 {
		t.Fatalf("next record after recovery at index %d, want 41", v.Index)
	}
}

// TestSnapshotsCompactTheWAL takes a snapshot every 5 records keeping 2:
// the WAL is compacted up to the oldest kept snapshot, and recovery from
// the newest snapshot plus the WAL tail gives the same state hash.
func TestSnapshotsCompactTheWAL(t *testing.T) {
	rec := &recorder{}
	cfg := config(t, t.TempDir())
	cfg.SnapshotEvery, cfg.SnapshotKeep = 5, 2
	cfg.Observer = rec
	e := open(t, cfg)
	verdicts := workload(t, e, 42-genesis)
	before := readPosition(t, e)
	crash(t, e) // waits for the background snapshots, takes no final one

	rec.mu.Lock()
	written, snapErrs := len(rec.snapshots), rec.snapErrs
	rec.mu.Unlock()
	if written != 8 || len(snapErrs) != 0 {
		t.Fatalf("%d snapshots written (want 8, at 5, 10, …, 40), errors %v", written, snapErrs)
	}

	e = open(t, cfg)
	if after := readPosition(t, e); after != before {
		t.Fatalf("after recovery %+v, before %+v", after, before)
	}
	if st := e.Recovery(); st.SnapshotIndex != 40 || st.Replayed != 2 {
		t.Fatalf("recovery %+v, want the snapshot at 40 and 2 records replayed", st)
	}
	infos, err := e.Snapshots().List()
	if err != nil {
		t.Fatal(err)
	}
	var kept []uint64
	for _, in := range infos {
		if !in.Valid {
			t.Fatalf("invalid snapshot %s: %v", in.Path, in.Err)
		}
		kept = append(kept, in.Index)
	}
	// Background snapshots may finish out of order, so pruning can leave
	// one more than Keep for a while; the newest is always kept.
	if len(kept) < 2 || kept[0] != 40 {
		t.Fatalf("snapshots kept %v, want at least 2 with the newest at 40", kept)
	}
	oldest := kept[len(kept)-1]
	if first := e.WAL().FirstIndex(); first != oldest+1 {
		t.Fatalf("WAL first index %d, want %d (compacted up to the oldest kept snapshot %d)", first, oldest+1, oldest)
	}
	// What the WAL still holds is what was acknowledged.
	for i, r := range walRecords(t, e) {
		if i <= genesis {
			continue
		}
		if state.Hash(r.StateHash) != verdicts[i].StateHash {
			t.Fatalf("record %d: WAL state hash %x, acknowledged %s", i, r.StateHash, verdicts[i].StateHash)
		}
	}
}
