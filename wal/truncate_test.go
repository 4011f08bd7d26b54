package wal

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

func mustTruncateHead(t *testing.T, l *Log, upTo, wantFirst uint64) {
	t.Helper()
	first, err := l.TruncateHead(upTo)
	if err != nil {
		t.Fatalf("TruncateHead(%d): %v", upTo, err)
	}
	if first != wantFirst || l.FirstIndex() != wantFirst {
		t.Fatalf("TruncateHead(%d) = %d, FirstIndex %d; want %d", upTo, first, l.FirstIndex(), wantFirst)
	}
}

func TestPinHoldsHeadTruncation(t *testing.T) {
	l := openLog(t, testOptions(t.TempDir()))
	mustAppend(t, l, records(1, 100))

	release40, err := l.Pin(40)
	if err != nil {
		t.Fatal(err)
	}
	release60, err := l.Pin(60)
	if err != nil {
		t.Fatal(err)
	}
	mustTruncateHead(t, l, 80, 40) // stops below the lowest pin
	if _, err := l.Get(39); !errors.Is(err, ErrCompacted) {
		t.Fatalf("Get(39): %v, want ErrCompacted", err)
	}
	if _, err := l.Get(40); err != nil {
		t.Fatalf("Get(40), the pinned index: %v", err)
	}
	if _, err := l.Pin(39); !errors.Is(err, ErrCompacted) {
		t.Fatalf("Pin below FirstIndex: %v, want ErrCompacted", err)
	}

	release40()
	mustTruncateHead(t, l, 80, 60) // the next pin holds
	release40()                    // a second release changes nothing
	mustTruncateHead(t, l, 80, 60)

	var wg sync.WaitGroup
	for range 4 { // releases racing with each other are fine too
		wg.Add(1)
		go func() { defer wg.Done(); release60() }()
	}
	wg.Wait()
	mustTruncateHead(t, l, 80, 81)
	checkBounds(t, l, 81, 100)
}

func TestPinAboveLastIndexHoldsFutureRecords(t *testing.T) {
	l := openLog(t, testOptions(t.TempDir()))
	mustAppend(t, l, records(1, 10))
	release, err := l.Pin(12)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	mustTruncateHead(t, l, 100, 11) // everything appended goes, the log stays at its position
	checkBounds(t, l, 11, 10)
	mustAppend(t, l, records(11, 20))
	mustTruncateHead(t, l, 100, 12)
	if _, err := l.Pin(0); err == nil {
		t.Fatal("Pin(0) succeeded")
	}
}

func TestTruncateHeadOfEverythingKeepsPosition(t *testing.T) {
	opts := testOptions(t.TempDir())
	l := openLog(t, opts)
	mustAppend(t, l, records(1, 30))
	mustTruncateHead(t, l, 30, 31)
	checkBounds(t, l, 31, 30)
	mustTruncateHead(t, l, 50, 31) // nothing left to delete
	l = reopen(t, l, opts)
	checkBounds(t, l, 31, 30)
	if err := l.Append(records(1, 1)); !errors.Is(err, ErrNotContiguous) {
		t.Fatalf("Append(1) after truncating to 30: %v, want ErrNotContiguous", err)
	}
	mustAppend(t, l, records(31, 35))
	l = reopen(t, l, opts)
	checkBounds(t, l, 31, 35)
}

func TestTruncateTailThenAppend(t *testing.T) {
	opts := testOptions(t.TempDir())
	l := openLog(t, opts)
	mustAppend(t, l, records(1, 50))
	if err := l.TruncateTail(30); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, l, 1, 30)
	if _, err := l.Get(31); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(31) after TruncateTail(30): %v, want ErrNotFound", err)
	}
	// The replica continues with the new primary's records, of a later epoch.
	replacement := records(31, 35)
	for i := range replacement {
		replacement[i].Epoch = 4
		replacement[i].Transition = "FROM_NEW_PRIMARY"
	}
	mustAppend(t, l, replacement)
	// TruncateTail is durable when it returns: a reopen sees the new tail.
	l = reopen(t, l, opts)
	checkBounds(t, l, 1, 35)
	got, err := l.Get(31)
	if err != nil || !reflect.DeepEqual(got, replacement[0]) {
		t.Fatalf("Get(31) = %+v, %v; want the replacement record", got, err)
	}
	if err := l.TruncateTail(35); err != nil {
		t.Fatalf("TruncateTail at LastIndex: %v", err)
	}
	checkBounds(t, l, 1, 35)
}

func TestTruncateTailAfterHeadTruncation(t *testing.T) {
	opts := testOptions(t.TempDir())
	l := openLog(t, opts)
	mustAppend(t, l, records(1, 50))
	mustTruncateHead(t, l, 20, 21)
	if err := l.TruncateTail(10); err == nil {
		t.Fatal("TruncateTail below FirstIndex-1 succeeded")
	}
	checkBounds(t, l, 21, 50)
	if err := l.TruncateTail(20); err != nil { // every record, keeping the position
		t.Fatal(err)
	}
	checkBounds(t, l, 21, 20)
	l = reopen(t, l, opts)
	checkBounds(t, l, 21, 20)
	mustAppend(t, l, records(21, 22))
}

func TestTruncateTailToZeroMakesAFreshLog(t *testing.T) {
	l := openLog(t, testOptions(t.TempDir()))
	mustAppend(t, l, records(1, 5))
	if err := l.TruncateTail(0); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, l, 0, 0)
	mustAppend(t, l, records(1, 2))
	checkBounds(t, l, 1, 2)
}

func TestReset(t *testing.T) {
	opts := testOptions(t.TempDir())
	l := openLog(t, opts)
	mustAppend(t, l, records(1, 50))
	if err := l.SetMeta("epoch", []byte{3}); err != nil {
		t.Fatal(err)
	}
	if err := l.Reset(200); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, l, 200, 199)
	for index, want := range map[uint64]error{1: ErrCompacted, 50: ErrCompacted, 199: ErrCompacted, 200: ErrNotFound} {
		if _, err := l.Get(index); !errors.Is(err, want) {
			t.Errorf("Get(%d) after Reset(200): %v, want %v", index, err, want)
		}
	}
	if err := l.Append(records(51, 51)); !errors.Is(err, ErrNotContiguous) {
		t.Fatalf("Append(51) after Reset(200): %v, want ErrNotContiguous", err)
	}
	mustAppend(t, l, records(200, 210))
	l = reopen(t, l, opts)
	checkBounds(t, l, 200, 210)
	if v, ok, err := l.GetMeta("epoch"); err != nil || !ok || v[0] != 3 {
		t.Fatalf("metadata after Reset: %v, %v, %v", v, ok, err)
	}

	// Back to an earlier index: everything goes again.
	if err := l.Reset(20); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, l, 20, 19)
	mustAppend(t, l, records(20, 25))
	l = reopen(t, l, opts)
	checkBounds(t, l, 20, 25)
	// Reset(1) is a fresh log.
	if err := l.Reset(1); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, l, 0, 0)
	l = reopen(t, l, opts)
	checkBounds(t, l, 0, 0)
	mustAppend(t, l, records(1, 1))
	if err := l.Reset(0); err == nil {
		t.Fatal("Reset(0) succeeded")
	}
}

func TestResetIgnoresPinsAndLeavesThemHarmless(t *testing.T) {
	l := openLog(t, testOptions(t.TempDir()))
	mustAppend(t, l, records(1, 10))
	release, err := l.Pin(5)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Reset(100); err != nil {
		t.Fatalf("Reset with a pin held: %v", err)
	}
	release()
	checkBounds(t, l, 100, 99)
}

// TestOpenFinishesInterruptedHeadTruncation writes the state a crash leaves
// when TruncateHead has made its floor durable but deleted nothing yet.
func TestOpenFinishesInterruptedHeadTruncation(t *testing.T) {
	opts := testOptions(t.TempDir())
	l := openLog(t, opts)
	mustAppend(t, l, records(1, 50))
	l, err := tamper(t, l, opts, func(txn *badger.Txn) error { return txn.Set(sysFloor, be64(30)) })
	if err != nil {
		t.Fatalf("Open after an interrupted head truncation: %v", err)
	}
	checkBounds(t, l, 30, 50)
	rawKeyAbsent(t, l, recordKey(29), "record below the floor")
	if _, found, err := l.IdempotencyLookup("op-29"); !found || err != nil {
		t.Fatalf("idempotency entry of a head-truncated record: %v, %v; want kept", found, err)
	}
}

// TestOpenFinishesInterruptedTailTruncation writes the state a crash leaves
// when TruncateTail has made its marker durable but deleted nothing yet.
func TestOpenFinishesInterruptedTailTruncation(t *testing.T) {
	opts := testOptions(t.TempDir())
	l := openLog(t, opts)
	mustAppend(t, l, records(1, 50))
	l, err := tamper(t, l, opts, func(txn *badger.Txn) error { return txn.Set(sysTailCut, be64(20)) })
	if err != nil {
		t.Fatalf("Open after an interrupted tail truncation: %v", err)
	}
	checkBounds(t, l, 1, 20)
	rawKeyAbsent(t, l, sysTailCut, "tail-cut marker")
	for i := uint64(21); i <= 50; i++ {
		rawKeyAbsent(t, l, recordKey(i), "record above the cut")
		rawKeyAbsent(t, l, idemKey(fmt.Sprintf("op-%d", i)), "idempotency entry above the cut")
		rawKeyAbsent(t, l, reverseKey(i), "reverse entry above the cut")
	}
	if _, found, err := l.IdempotencyLookup("op-20"); !found || err != nil {
		t.Fatalf("idempotency entry at the cut: %v, %v; want kept", found, err)
	}
	mustAppend(t, l, records(21, 22))
}

// TestTruncationsSpanningManyTransactions deletes more keys than one Badger
// transaction holds.
func TestTruncationsSpanningManyTransactions(t *testing.T) {
	opts := smallTxnOptions(t.TempDir())
	l := openLog(t, opts)
	const n = 6000
	appendInBatches(t, l, 1, n, 1000)
	mustTruncateHead(t, l, 2500, 2501)
	if err := l.TruncateTail(3500); err != nil {
		t.Fatal(err)
	}
	l = reopen(t, l, opts)
	checkBounds(t, l, 2501, 3500)
	if _, found, _ := l.IdempotencyLookup("op-3501"); found {
		t.Fatal("idempotency entry above the tail cut survived")
	}
	if err := l.Reset(10_000); err != nil {
		t.Fatal(err)
	}
	l = reopen(t, l, opts)
	checkBounds(t, l, 10_000, 9_999)
}

// TestFailedTruncationIsFinishedByOpen fails the commit that deletes the
// records, after the truncation's durable marker was written: the log takes
// no more writes, and the next Open completes the truncation.
func TestFailedTruncationIsFinishedByOpen(t *testing.T) {
	cases := map[string]struct {
		truncate  func(l *Log) error
		wantFirst uint64
		wantLast  uint64
	}{
		"TruncateTail": {func(l *Log) error { return l.TruncateTail(20) }, 1, 20},
		"Reset":        {func(l *Log) error { return l.Reset(100) }, 100, 99},
		"TruncateHead": {func(l *Log) error { _, err := l.TruncateHead(20); return err }, 21, 50},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			opts := testOptions(t.TempDir())
			l := openLog(t, opts)
			mustAppend(t, l, records(1, 50))
			l.commit = (&failingCommit{failAt: 2}).commit
			if err := c.truncate(l); !errors.Is(err, errInjectedFsync) {
				t.Fatalf("%s with a failing deletion commit: %v, want the injected failure", name, err)
			}
			if err := l.Append(records(51, 51)); !errors.Is(err, ErrFailed) {
				t.Fatalf("Append after a failed truncation: %v, want ErrFailed", err)
			}
			l = reopen(t, l, opts)
			checkBounds(t, l, c.wantFirst, c.wantLast)
			if c.wantLast < 50 {
				wantNoIdem(t, l, "op-50")
			}
			mustAppend(t, l, records(c.wantLast+1, c.wantLast+1))
		})
	}
}
