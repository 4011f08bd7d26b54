package executor_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/host/state"
)

// TestGroupCommitUnderConcurrentLoad submits 64×50 proposals from 64
// goroutines. Every one is acknowledged with a unique index, the indexes
// are exactly 2..3201 (after the genesis record), the records went to the WAL in far fewer appends
// than there are records, and every acknowledged record is in the WAL with
// the state hash its verdict reported.
func TestGroupCommitUnderConcurrentLoad(t *testing.T) {
	const goroutines, each = 64, 50
	rec := &recorder{}
	cfg := config(t, t.TempDir())
	cfg.Observer = rec
	e := open(t, cfg)

	verdicts := make([][]executor.Verdict, goroutines)
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				v, err := e.Submit(context.Background(), executor.Submission{Proposal: inc(fmt.Sprintf("k%d", g%8), int64(i+1))})
				if err != nil {
					errs <- fmt.Errorf("goroutine %d submission %d: %w", g, i, err)
					return
				}
				if !v.Accepted || v.Duplicate {
					errs <- fmt.Errorf("goroutine %d submission %d: %+v", g, i, v)
					return
				}
				verdicts[g] = append(verdicts[g], v)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	const total = goroutines * each
	byIndex := map[uint64]executor.Verdict{}
	for _, vs := range verdicts {
		for _, v := range vs {
			if _, dup := byIndex[v.Index]; dup {
				t.Fatalf("index %d acknowledged twice", v.Index)
			}
			byIndex[v.Index] = v
		}
	}
	for i := uint64(genesis + 1); i <= genesis+total; i++ {
		if _, ok := byIndex[i]; !ok {
			t.Fatalf("index %d was never acknowledged (acknowledged %d indexes)", i, len(byIndex))
		}
	}
	if len(byIndex) != total {
		t.Fatalf("%d distinct indexes, want %d", len(byIndex), total)
	}

	appends, records := 0, 0
	for _, b := range rec.batchLog() {
		if b.records > 0 {
			appends++
			records += b.records
		}
	}
	if records != total {
		t.Fatalf("batches report %d records, want %d", records, total)
	}
	// With 64 submitters waiting on every fsync, batches hold many records:
	// one append per record would be the ungrouped baseline.
	if appends*4 > total {
		t.Fatalf("%d WAL appends for %d records: submissions were not grouped", appends, total)
	}
	t.Logf("%d records in %d WAL appends (%.1f records per append)", total, appends, float64(total)/float64(appends))

	wrecs := walRecords(t, e)
	if len(wrecs) != genesis+total {
		t.Fatalf("WAL holds %d records, want %d", len(wrecs), genesis+total)
	}
	for i, v := range byIndex {
		r, ok := wrecs[i]
		if !ok {
			t.Fatalf("acknowledged record %d is not in the WAL", i)
		}
		if state.Hash(r.StateHash) != v.StateHash {
			t.Fatalf("record %d: WAL state hash %x, verdict reported %s", i, r.StateHash, v.StateHash)
		}
	}
	pos := readPosition(t, e)
	if pos.Index != genesis+total || pos.Hash != byIndex[genesis+total].StateHash {
		t.Fatalf("read model at %d with %s; want %d with %s", pos.Index, pos.Hash, genesis+total, byIndex[genesis+total].StateHash)
	}
	// Each of the 8 keys got 8 goroutines × (1+2+…+50).
	for k := range 8 {
		if want := fmt.Sprintf(`"k%d":%d`, k, 8*each*(each+1)/2); !strings.Contains(pos.View, want) {
			t.Fatalf("state view %s lacks %s", pos.View, want)
		}
	}
}

// TestQueuedSubmissionsShareOneAppend parks the writer while 64
// submissions queue: they are applied as one batch, made durable with one
// WAL append, and given consecutive indexes in queue order.
func TestQueuedSubmissionsShareOneAppend(t *testing.T) {
	const n = 64
	rec := &recorder{}
	cfg := config(t, t.TempDir())
	cfg.Observer = rec
	e := open(t, cfg)
	mustAccept(t, e, inc("a", 1))

	release := holdWriter(t, e, rec)
	before := len(rec.batchLog())
	results := make([]<-chan result, n)
	for i := range results {
		results[i] = submitAsync(e, executor.Submission{Proposal: inc("a", 1)})
		waitQueued(e, i+1)
	}
	release()
	var indexes []uint64
	for i, ch := range results {
		r := <-ch
		if r.err != nil || !r.v.Accepted {
			t.Fatalf("submission %d: %+v, %v", i, r.v, r.err)
		}
		indexes = append(indexes, r.v.Index)
	}
	for i, idx := range indexes {
		if idx != uint64(genesis+i+2) {
			t.Fatalf("indexes %v: want %d..%d in queue order", indexes, genesis+2, genesis+n+1)
		}
	}
	after := rec.batchLog()[before:]
	if len(after) != 1 || after[0] != (batchEvent{proposals: n, records: n}) {
		t.Fatalf("batches after the release: %+v, want one of %d proposals and %d records", after, n, n)
	}
}

// TestIdempotencyKeyIsExactlyOnce: a repeated key returns the original
// index and state hash with Duplicate set and appends nothing, whether the
// repeat shares the original's batch or comes after a restart.
func TestIdempotencyKeyIsExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	cfg := config(t, dir)
	cfg.Observer = rec
	e := open(t, cfg)
	mustAccept(t, e, inc("a", 1))

	t.Run("same batch", func(t *testing.T) {
		release := holdWriter(t, e, rec)
		first := submitAsync(e, executor.Submission{Proposal: incKey("a", 5, "op-1")})
		waitQueued(e, 1)
		second := submitAsync(e, executor.Submission{Proposal: incKey("a", 5, "op-1")})
		waitQueued(e, 2)
		nVerdicts, nBatches := rec.verdictCount(), len(rec.batchLog())
		release()
		a, b := <-first, <-second
		waitBatches(rec, nBatches+1) // the Observer hears after the submitters
		if a.err != nil || b.err != nil {
			t.Fatalf("errors %v, %v", a.err, b.err)
		}
		if !a.v.Accepted || a.v.Duplicate || a.v.Index != genesis+2 {
			t.Fatalf("first submission: %+v, want accepted at index %d", a.v, genesis+2)
		}
		want := a.v
		want.Duplicate = true
		if !equalVerdicts(b.v, want) {
			t.Fatalf("second submission: %+v, want the first's verdict marked duplicate %+v", b.v, want)
		}
		if last := e.WAL().LastIndex(); last != genesis+2 {
			t.Fatalf("WAL last index %d, want %d (one record for both)", last, genesis+2)
		}
		// The Observer is told what each submitter was told.
		rec.mu.Lock()
		seen := append([]executor.Verdict(nil), rec.verdicts[nVerdicts:]...)
		rec.mu.Unlock()
		if len(seen) != 2 || !equalVerdicts(seen[0], a.v) || !equalVerdicts(seen[1], b.v) {
			t.Fatalf("Observer saw %+v; submitters got %+v and %+v", seen, a.v, b.v)
		}
	})
	original := submit(t, e, incKey("a", 5, "op-1"))
	if !original.Duplicate || original.Index != genesis+2 {
		t.Fatalf("repeat in a later batch: %+v", original)
	}

	t.Run("rejected key is not remembered", func(t *testing.T) {
		v := submit(t, e, incKey("a", 0, "op-2"))
		if v.Accepted || v.Code != abi.GuardRejected || v.Duplicate {
			t.Fatalf("by=0: %+v, want a guard rejection", v)
		}
		if last := e.WAL().LastIndex(); last != genesis+2 {
			t.Fatalf("a rejection appended: WAL last index %d", last)
		}
		fixed := mustAccept(t, e, incKey("a", 3, "op-2"))
		if fixed.Index != genesis+3 {
			t.Fatalf("resubmission after fixing the inputs: %+v, want index %d", fixed, genesis+3)
		}
	})

	t.Run("across restart", func(t *testing.T) {
		closeExec(t, e)
		e2 := open(t, cfg)
		for key, want := range map[string]uint64{"op-1": genesis + 2, "op-2": genesis + 3} {
			v := submit(t, e2, incKey("zzz", 7, key))
			if !v.Accepted || !v.Duplicate || v.Index != want {
				t.Fatalf("%s after restart: %+v, want duplicate of index %d", key, v, want)
			}
			if key == "op-1" && v.StateHash != original.StateHash {
				t.Fatalf("%s after restart: state hash %s, want the original %s", key, v.StateHash, original.StateHash)
			}
		}
		if pos := readPosition(t, e2); pos.Index != genesis+3 || strings.Contains(pos.View, "zzz") {
			t.Fatalf("duplicates changed state: %+v", pos)
		}
		if last := e2.WAL().LastIndex(); last != genesis+3 {
			t.Fatalf("duplicates appended: WAL last index %d", last)
		}
	})
}

func equalVerdicts(a, b executor.Verdict) bool {
	return a.Accepted == b.Accepted && a.Code == b.Code && a.Detail == b.Detail &&
		string(a.Output) == string(b.Output) && a.Index == b.Index && a.StateHash == b.StateHash &&
		a.Fuel == b.Fuel && a.Duplicate == b.Duplicate
}

// TestExpectedHash: a stale expected hash is refused with StateConflict,
// appends nothing and reports the current hash; the current one applies.
func TestExpectedHash(t *testing.T) {
	e := open(t, config(t, t.TempDir()))
	first := mustAccept(t, e, inc("a", 1))
	second := mustAccept(t, e, inc("a", 1))

	stale := first.StateHash
	v, err := e.Submit(context.Background(), executor.Submission{Proposal: inc("a", 1), ExpectedHash: &stale})
	if err != nil {
		t.Fatal(err)
	}
	if v.Accepted || v.Code != abi.StateConflict || v.StateHash != second.StateHash {
		t.Fatalf("stale expected hash: %+v, want state_conflict carrying the current hash %s", v, second.StateHash)
	}
	if !strings.Contains(v.Detail, stale.String()) || !strings.Contains(v.Detail, second.StateHash.String()) {
		t.Fatalf("conflict detail %q does not name both hashes", v.Detail)
	}
	if last := e.WAL().LastIndex(); last != genesis+2 {
		t.Fatalf("a conflict appended: WAL last index %d", last)
	}

	current := second.StateHash
	v, err = e.Submit(context.Background(), executor.Submission{Proposal: inc("a", 1), ExpectedHash: &current})
	if err != nil || !v.Accepted || v.Index != genesis+3 {
		t.Fatalf("matching expected hash: %+v, %v; want accepted at index %d", v, err, genesis+3)
	}
}

func hlc(physical int) string { return fmt.Sprintf("%x-0-0000000000000001", physical) }

// TestHLCIsMonotonic: accepted HLCs never go backwards; an older one is
// stale, an equal one is allowed, a malformed one is a bad proposal, and
// the last HLC survives a restart from the WAL and from a snapshot.
func TestHLCIsMonotonic(t *testing.T) {
	cfg := config(t, t.TempDir())
	cfg.SnapshotKeep = 1 // the shutdown snapshot compacts the WAL
	e := open(t, cfg)

	if v := submit(t, e, incHLC("a", 1, "not-an-hlc")); v.Code != abi.BadProposal {
		t.Fatalf("malformed HLC with no HLC accepted yet: %+v, want bad_proposal", v)
	}
	mustAccept(t, e, incHLC("a", 1, hlc(10)))
	mustAccept(t, e, inc("a", 1)) // no HLC: no constraint, no change
	mustAccept(t, e, incHLC("a", 1, hlc(10)))
	mustAccept(t, e, incHLC("a", 1, strings.ToUpper(hlc(0x2a))))
	if got := e.Status().LastHLC; got != strings.ToUpper(hlc(0x2a)) {
		t.Fatalf("last HLC %q", got)
	}
	if v := submit(t, e, incHLC("a", 1, hlc(0x29))); v.Code != abi.StaleHLC || v.Accepted {
		t.Fatalf("older HLC: %+v, want stale_hlc", v)
	}
	if v := submit(t, e, incHLC("a", 1, "2a-x-1")); v.Code != abi.BadProposal {
		t.Fatalf("malformed HLC: %+v, want bad_proposal", v)
	}
	// Case and zero padding do not matter: components compare as numbers.
	mustAccept(t, e, incHLC("a", 1, "002b-0-1"))
	if last := e.WAL().LastIndex(); last != genesis+5 {
		t.Fatalf("WAL last index %d, want %d (refusals append nothing)", last, genesis+5)
	}

	checkAfterRestart := func(e *executor.Executor) {
		t.Helper()
		if got := e.Status().LastHLC; got != "002b-0-1" {
			t.Fatalf("last HLC after restart %q, want 002b-0-1", got)
		}
		if v := submit(t, e, incHLC("a", 1, hlc(0x2a))); v.Code != abi.StaleHLC {
			t.Fatalf("older HLC after restart: %+v, want stale_hlc", v)
		}
	}

	// Restart from the WAL alone.
	crash(t, e)
	e = open(t, cfg)
	if st := e.Recovery(); st.SnapshotIndex != 0 || st.Replayed != genesis+5 {
		t.Fatalf("recovery %+v, want a replay of %d records", st, genesis+5)
	}
	checkAfterRestart(e)

	// Restart from a snapshot, the WAL compacted up to it.
	closeExec(t, e)
	e = open(t, cfg)
	if st := e.Recovery(); st.SnapshotIndex != genesis+5 || st.Replayed != 0 {
		t.Fatalf("recovery %+v, want the snapshot at %d and nothing replayed", st, genesis+5)
	}
	if first := e.WAL().FirstIndex(); first != genesis+6 {
		t.Fatalf("WAL first index %d, want %d (compacted up to the snapshot)", first, genesis+6)
	}
	checkAfterRestart(e)
}

// TestHLCOrderHoldsWithinABatch queues, in one batch, a proposal with a
// high HLC followed by one without an HLC, then a proposal with a lower
// HLC: the lower one must be stale both in that batch and in the next.
func TestHLCOrderHoldsWithinABatch(t *testing.T) {
	for _, sameBatch := range []bool{true, false} {
		t.Run(fmt.Sprintf("lower HLC in the same batch %v", sameBatch), func(t *testing.T) {
			rec := &recorder{}
			cfg := config(t, t.TempDir())
			cfg.Observer = rec
			e := open(t, cfg)
			mustAccept(t, e, incHLC("a", 1, hlc(1)))

			release := holdWriter(t, e, rec)
			subs := []abi.Proposal{incHLC("a", 1, hlc(9)), inc("a", 1)}
			if sameBatch {
				subs = append(subs, incHLC("a", 1, hlc(5)))
			}
			var chans []<-chan result
			for i, p := range subs {
				chans = append(chans, submitAsync(e, executor.Submission{Proposal: p}))
				waitQueued(e, i+1)
			}
			release()
			var got []result
			for _, ch := range chans {
				got = append(got, <-ch)
			}
			if !sameBatch {
				got = append(got, result{})
				got[2].v, got[2].err = e.Submit(context.Background(), executor.Submission{Proposal: incHLC("a", 1, hlc(5))})
			}
			for i, r := range got[:2] {
				if r.err != nil || !r.v.Accepted {
					t.Fatalf("submission %d: %+v, %v", i, r.v, r.err)
				}
			}
			if r := got[2]; r.err != nil || r.v.Code != abi.StaleHLC {
				t.Fatalf("HLC %s after %s was accepted: %+v, %v", hlc(5), hlc(9), r.v, r.err)
			}
			if h := e.Status().LastHLC; h != hlc(9) {
				t.Fatalf("last HLC %q, want %q", h, hlc(9))
			}
			var hlcs []string
			for _, r := range walRecords(t, e) {
				if r.HLC != "" {
					hlcs = append(hlcs, r.HLC)
				}
			}
			slices.Sort(hlcs)
			if want := []string{hlc(1), hlc(9)}; !slices.Equal(hlcs, want) {
				t.Fatalf("HLCs in the WAL %v, want %v", hlcs, want)
			}
		})
	}
}
