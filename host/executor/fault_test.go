package executor_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/host/state"
	"github.com/reprise-dev/reprise/snapshot"
	"github.com/reprise-dev/reprise/wal"
)

// rewriteRecordValue replaces, in the closed WAL of dataDir, the stored
// value of record index with change(old value), writing through Badger
// directly as a torn write or a flipped bit on disk would leave it.
func rewriteRecordValue(t *testing.T, dataDir string, index uint64, change func([]byte) []byte) {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(walDir(dataDir)).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	key := binary.BigEndian.AppendUint64(nil, index)
	err = db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return fmt.Errorf("record %d: %w", index, err)
		}
		old, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		return txn.Set(key, change(old))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// openFails opens dataDir expecting a refusal, twice (a refused Open must
// release what it opened, so the second attempt meets the same problem
// rather than a lock), and returns the error.
func openFails(t *testing.T, cfg executor.Config) error {
	t.Helper()
	var errs [2]error
	for i := range errs {
		e, err := executor.Open(context.Background(), cfg)
		if err == nil {
			e.Close(context.Background())
			t.Fatalf("Open succeeded on a damaged data directory")
		}
		errs[i] = err
	}
	if errs[0].Error() != errs[1].Error() {
		t.Fatalf("a second Open failed differently: %v, then %v", errs[0], errs[1])
	}
	t.Logf("Open refused: %v", errs[0])
	return errs[0]
}

// TestCorruptRecordRefusesToStart damages one record after a crash (the
// last one, as a torn write would, or one in the middle): Open refuses,
// naming the record.
func TestCorruptRecordRefusesToStart(t *testing.T) {
	damages := map[string]func([]byte) []byte{
		"torn":        func(b []byte) []byte { return bytes.Clone(b[:len(b)/2]) },
		"flipped bit": func(b []byte) []byte { b = bytes.Clone(b); b[len(b)/2] ^= 0x10; return b },
	}
	for _, index := range []uint64{10, 5} {
		for name, damage := range damages {
			t.Run(fmt.Sprintf("%s record %d of 10", name, index), func(t *testing.T) {
				cfg := config(t, t.TempDir())
				e := open(t, cfg)
				workload(t, e, 10-genesis)
				crash(t, e)
				rewriteRecordValue(t, cfg.DataDir, index, damage)

				err := openFails(t, cfg)
				var ce *wal.CorruptError
				if !errors.As(err, &ce) || ce.Index != index {
					t.Fatalf("Open: %v; want a *wal.CorruptError for record %d", err, index)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("record %d ", index)) {
					t.Fatalf("Open error %q does not name record %d", err, index)
				}
			})
		}
	}
}

// TestWrongRecordedHashIsDivergence appends, to a closed node's WAL, a
// well-formed record whose recorded outcome is not what replaying it
// gives: Open refuses with a *DivergenceError naming the index and hashes.
func TestWrongRecordedHashIsDivergence(t *testing.T) {
	mod := counterModule(t)
	// A twin node applying the same proposals gives the true hash after
	// record 7.
	twin := open(t, config(t, t.TempDir()))
	workload(t, twin, 6-genesis)
	truth := mustAccept(t, twin, inc("a", 5)).StateHash
	wrong := state.Hash(bytes.Repeat([]byte{0xab}, 32))

	cases := []struct {
		name     string
		inputs   string
		recorded state.Hash
		reason   string
	}{
		{"wrong state hash", `{"by":5,"key":"a"}`, wrong, "state hash differs"},
		{"replays as a rejection", `{"by":0,"key":"a"}`, wrong, "replays as guard_rejected"},
		{"right hash, wrong output", `{"by":5,"key":"a"}`, truth, "output differs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := config(t, t.TempDir())
			e := open(t, cfg)
			workload(t, e, 6-genesis)
			closeExec(t, e)

			l, err := wal.Open(wal.Options{Dir: walDir(cfg.DataDir), Logger: quietLogger(), GCInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			rec := wal.Record{Index: 7, Epoch: 1, Kind: wal.KindTransition, Timestamp: 7, CatalogHash: mod.Hash,
				Transition: increment, Inputs: []byte(c.inputs), StateHash: c.recorded}
			if c.reason == "output differs" {
				rec.Output = []byte(`{"total":5}`)
			}
			if err := l.Append([]wal.Record{rec}); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}

			err = openFails(t, cfg)
			var de *executor.DivergenceError
			if !errors.As(err, &de) {
				t.Fatalf("Open: %v; want a *executor.DivergenceError", err)
			}
			if de.Index != 7 || de.Recorded != c.recorded || !strings.Contains(de.Reason, c.reason) {
				t.Fatalf("divergence %+v; want index 7, recorded %s, reason %q", de, c.recorded, c.reason)
			}
			if c.reason != "replays as guard_rejected" && de.Replayed != truth {
				t.Fatalf("divergence reports the replayed hash %s, want %s", de.Replayed, truth)
			}
			for _, want := range []string{"index 7", de.Recorded.String(), de.Replayed.String()} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("Open error %q does not name %s", err, want)
				}
			}
		})
	}
}

// snapshotFiles lists the snapshot files of dataDir, newest first.
func snapshotFiles(t *testing.T, dataDir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(snapDir(dataDir), "snap-*.rsnap"))
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
		names[i], names[j] = names[j], names[i]
	}
	return names
}

// TestCorruptNewestSnapshotFallsBack damages the newest snapshot: Open
// skips it with a warning naming the file and recovers from the older
// snapshot plus the WAL, at the same state hash; the next Close writes a
// good snapshot in its place.
func TestCorruptNewestSnapshotFallsBack(t *testing.T) {
	const trailer = 8 + 32 // payload length and SHA-256 after the payload
	damages := map[string]func(size int) int{
		"payload byte": func(size int) int { return size - trailer - 1 },
		"header byte":  func(int) int { return 20 },
	}
	for name, offset := range damages {
		t.Run(name, func(t *testing.T) {
			cfg := config(t, t.TempDir())
			cfg.SnapshotEvery, cfg.SnapshotKeep = 5, 3
			e := open(t, cfg)
			workload(t, e, 22-genesis)
			before := readPosition(t, e)
			closeExec(t, e) // final snapshot at 22

			files := snapshotFiles(t, cfg.DataDir)
			if len(files) < 2 || filepath.Base(files[0]) != snapshot.FileName(22) || filepath.Base(files[1]) != snapshot.FileName(20) {
				t.Fatalf("snapshot files %v, want the newest at 22 and 20", files)
			}
			b, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			b[offset(len(b))] ^= 0x01
			if err := os.WriteFile(files[0], b, 0o644); err != nil {
				t.Fatal(err)
			}

			var logs syncBuffer
			cfg.Logger = bufferLogger(&logs)
			e = open(t, cfg)
			if after := readPosition(t, e); after != before {
				t.Fatalf("recovered %+v, want %+v", after, before)
			}
			if st := e.Recovery(); st.SnapshotIndex != 20 || st.Replayed != 2 {
				t.Fatalf("recovery %+v, want the snapshot at 20 and 2 records replayed", st)
			}
			if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, snapshot.FileName(22)) {
				t.Fatalf("no warning naming %s in the log:\n%s", snapshot.FileName(22), out)
			}
			closeExec(t, e)

			e = open(t, cfg)
			if st := e.Recovery(); st.SnapshotIndex != 22 || st.Replayed != 0 {
				t.Fatalf("after another clean restart: recovery %+v, want a good snapshot at 22", st)
			}
		})
	}
}

// TestMissingSnapshotDirectory deletes DataDir/snapshots: recovery uses the
// WAL alone when it still starts at 1, and otherwise refuses, naming the
// missing records.
func TestMissingSnapshotDirectory(t *testing.T) {
	t.Run("WAL starts at 1", func(t *testing.T) {
		cfg := config(t, t.TempDir())
		e := open(t, cfg)
		workload(t, e, 10-genesis)
		before := readPosition(t, e)
		crash(t, e)
		if err := os.RemoveAll(snapDir(cfg.DataDir)); err != nil {
			t.Fatal(err)
		}
		e = open(t, cfg)
		if after := readPosition(t, e); after != before {
			t.Fatalf("recovered %+v, want %+v", after, before)
		}
		if st := e.Recovery(); st.Replayed != 10 {
			t.Fatalf("recovery %+v, want 10 records replayed", st)
		}
	})
	t.Run("WAL compacted", func(t *testing.T) {
		cfg := config(t, t.TempDir())
		cfg.SnapshotEvery, cfg.SnapshotKeep = 4, 2
		e := open(t, cfg)
		workload(t, e, 10-genesis)
		closeExec(t, e) // snapshots at 4, 8 and 10, keeping 8 and 10: the WAL starts at 9
		if err := os.RemoveAll(snapDir(cfg.DataDir)); err != nil {
			t.Fatal(err)
		}
		err := openFails(t, cfg)
		if !strings.Contains(err.Error(), "records 1..8 are missing") {
			t.Fatalf("Open: %v; want it to say records 1..8 are missing", err)
		}
	})
}

// errInjectedDiskFull is what faultyCommit reports.
var errInjectedDiskFull = errors.New("no space left on device (injected)")

// faultyCommit is a test double for a disk whose fsync fails (or which is
// full) from the moment it is armed: a real file system cannot be made to
// fail an fsync from a test.
type faultyCommit struct{ armed atomic.Bool }

func (f *faultyCommit) hook() error {
	if f.armed.Load() {
		return errInjectedDiskFull
	}
	return nil
}

// TestFailedCommitStopsTheWriter fails the WAL commit of one batch: its
// submitters get an error wrapping ErrStopped, never a success; the writer
// then refuses submissions and reads; after reopening without the fault,
// every acknowledged record is there, the state hash verifies, and the
// failed batch left nothing.
func TestFailedCommitStopsTheWriter(t *testing.T) {
	rec := &recorder{}
	fault := &faultyCommit{}
	cfg := config(t, t.TempDir())
	cfg.Observer = rec
	cfg.WAL.CommitFault = fault.hook
	e := open(t, cfg)
	acked := workload(t, e, 10-genesis)
	last := acked[10]

	release := holdWriter(t, e, rec)
	fault.armed.Store(true)
	var chans []<-chan result
	for i := range 5 {
		chans = append(chans, submitAsync(e, executor.Submission{Proposal: incKey("lost", 1, fmt.Sprintf("lost-%d", i))}))
		waitQueued(e, i+1)
	}
	release()
	for i, ch := range chans {
		r := <-ch
		if !errors.Is(r.err, executor.ErrStopped) || !strings.Contains(r.err.Error(), errInjectedDiskFull.Error()) {
			t.Fatalf("submission %d of the failed batch: %+v, %v; want ErrStopped naming the cause", i, r.v, r.err)
		}
	}
	if _, err := e.Submit(context.Background(), executor.Submission{Proposal: inc("after", 1)}); !errors.Is(err, executor.ErrStopped) {
		t.Fatalf("Submit after the failure: %v, want ErrStopped", err)
	}
	if err := e.Read(func(*state.State, uint64, *abi.Descriptor) {}); !errors.Is(err, executor.ErrStopped) {
		t.Fatalf("Read after the failure: %v, want ErrStopped", err)
	}
	if _, err := e.Snapshot(); !errors.Is(err, executor.ErrStopped) {
		t.Fatalf("Snapshot after the failure: %v, want ErrStopped", err)
	}
	if st := e.Status(); st.Failure == nil || st.Index != 10 {
		t.Fatalf("status %+v, want a failure at durable index 10", st)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatalf("Close after the failure: %v", err)
	}

	cfg.WAL.CommitFault = nil
	e = open(t, cfg)
	if pos := readPosition(t, e); pos.Index != 10 || pos.Hash != last.StateHash || strings.Contains(pos.View, "lost") {
		t.Fatalf("reopened at %+v; want index 10, hash %s, nothing of the failed batch", pos, last.StateHash)
	}
	if st := e.Recovery(); st.Replayed != 10 {
		t.Fatalf("recovery %+v, want the 10 acknowledged records replayed (no snapshot after the failure)", st)
	}
	checkAcknowledgedInWAL(t, e, acked)
	// The failed batch's idempotency keys were never recorded.
	if v := mustAccept(t, e, incKey("lost", 1, "lost-0")); v.Index != 11 {
		t.Fatalf("resubmitting a key of the failed batch: %+v, want a new record at 11", v)
	}
}

// TestFailedCommitUnderConcurrentLoad fails the WAL from the 20th batch on
// while 16 goroutines submit: every submission either was acknowledged or
// failed with ErrStopped, and after reopening the WAL holds exactly the
// acknowledged records.
func TestFailedCommitUnderConcurrentLoad(t *testing.T) {
	const goroutines = 16
	rec := &recorder{}
	fault := &faultyCommit{}
	var appends atomic.Int64
	rec.afterBatch = func(b batchEvent) {
		if b.records > 0 && appends.Add(1) == 20 {
			fault.armed.Store(true)
		}
	}
	cfg := config(t, t.TempDir())
	cfg.Observer = rec
	cfg.WAL.CommitFault = fault.hook
	e := open(t, cfg)

	var mu sync.Mutex
	acked := map[uint64]executor.Verdict{}
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				v, err := e.Submit(context.Background(), executor.Submission{Proposal: incKey(fmt.Sprintf("g%d", g), 1, fmt.Sprintf("g%d-%d", g, i))})
				if errors.Is(err, executor.ErrStopped) {
					return
				}
				if err != nil || !v.Accepted || v.Duplicate {
					errs <- fmt.Errorf("goroutine %d submission %d: %+v, %v", g, i, v, err)
					return
				}
				mu.Lock()
				acked[v.Index] = v
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !fault.armed.Load() || len(acked) == 0 {
		t.Fatalf("the fault was never armed (%d appends, %d acknowledged)", appends.Load(), len(acked))
	}
	t.Logf("%d records acknowledged in %d appends, then one failing commit", len(acked), appends.Load()-1)

	cfg.WAL.CommitFault = nil
	e = open(t, cfg)
	status := e.Status()
	if status.Index != genesis+uint64(len(acked)) {
		t.Fatalf("reopened at index %d, but %d records were acknowledged after the genesis record", status.Index, len(acked))
	}
	if status.StateHash != acked[status.Index].StateHash {
		t.Fatalf("reopened with state hash %s, the last acknowledged was %s", status.StateHash, acked[status.Index].StateHash)
	}
	checkAcknowledgedInWAL(t, e, acked)
}

// checkAcknowledgedInWAL requires the WAL to hold exactly the acknowledged
// records, each with the state hash its verdict reported.
func checkAcknowledgedInWAL(t *testing.T, e *executor.Executor, acked map[uint64]executor.Verdict) {
	t.Helper()
	recs := walRecords(t, e)
	if len(recs) != genesis+len(acked) {
		t.Fatalf("WAL holds %d records, %d were acknowledged after the genesis record", len(recs), len(acked))
	}
	for i, v := range acked {
		r, ok := recs[i]
		if !ok {
			t.Fatalf("acknowledged record %d is missing from the WAL", i)
		}
		if state.Hash(r.StateHash) != v.StateHash {
			t.Fatalf("record %d: WAL state hash %x, acknowledged %s", i, r.StateHash, v.StateHash)
		}
	}
}
