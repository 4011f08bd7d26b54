package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

func TestOpenEmptyLog(t *testing.T) {
	l := openLog(t, testOptions(t.TempDir()))
	checkBounds(t, l, 0, 0)
	if _, err := l.Get(1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(1) on an empty log: %v, want ErrNotFound", err)
	}
	if err := l.Range(1, 10, func(Record) error { t.Fatal("Range visited a record of an empty log"); return nil }); err != nil {
		t.Fatalf("Range on an empty log: %v", err)
	}
}

func TestOpenRefusesBadOptions(t *testing.T) {
	if _, err := Open(Options{}); err == nil || !strings.Contains(err.Error(), "Dir") {
		t.Fatalf("Open without Dir: %v, want an error naming Dir", err)
	}
	opts := testOptions(t.TempDir())
	opts.MemTableSize = 1000
	if _, err := Open(opts); err == nil || !strings.Contains(err.Error(), "MemTableSize") {
		t.Fatalf("Open with a tiny memtable: %v, want an error naming MemTableSize", err)
	}
}

func TestAppendGetRoundTripThroughBadger(t *testing.T) {
	opts := testOptions(t.TempDir())
	l := openLog(t, opts)
	big := fullRecord(3)
	big.Body = make([]byte, 3*valueThreshold) // stored in Badger's value log
	for i := range big.Body {
		big.Body[i] = byte(i * 7)
	}
	want := []Record{fullRecord(1), sampleRecord(2), big, {Index: 4, Kind: KindTransition}}
	for i := range want {
		want[i].Epoch = 1 << 40 // epochs may not decrease along the log
	}
	mustAppend(t, l, want)
	check := func(l *Log) {
		t.Helper()
		for _, w := range want {
			got, err := l.Get(w.Index)
			if err != nil {
				t.Fatalf("Get(%d): %v", w.Index, err)
			}
			if !reflect.DeepEqual(got, w) {
				t.Fatalf("Get(%d):\n got %+v\nwant %+v", w.Index, got, w)
			}
		}
	}
	check(l)
	check(reopen(t, l, opts))
}

func TestAppendEnforcesContiguity(t *testing.T) {
	l := openLog(t, testOptions(t.TempDir()))
	if err := l.Append(records(2, 3)); !errors.Is(err, ErrNotContiguous) {
		t.Fatalf("first record 2: %v, want ErrNotContiguous", err)
	}
	mustAppend(t, l, records(1, 3))
	for name, batch := range map[string][]Record{
		"gap":         records(5, 6),
		"repeat":      records(3, 4),
		"inner gap":   {sampleRecord(4), sampleRecord(6)},
		"inner order": {sampleRecord(5), sampleRecord(4)},
	} {
		err := l.Append(batch)
		if !errors.Is(err, ErrNotContiguous) {
			t.Fatalf("%s: %v, want ErrNotContiguous", name, err)
		}
		if !strings.Contains(err.Error(), "expected") {
			t.Fatalf("%s: error %q does not say which index was expected", name, err)
		}
	}
	checkBounds(t, l, 1, 3)
	if err := l.Append(nil); err != nil {
		t.Fatalf("Append(nil): %v", err)
	}
	mustAppend(t, l, records(4, 4))
	checkBounds(t, l, 1, 4)
}

func TestAppendRefusesEpochRegression(t *testing.T) {
	opts := testOptions(t.TempDir())
	l := openLog(t, opts)
	r1, r2 := sampleRecord(1), sampleRecord(2)
	r1.Epoch, r2.Epoch = 5, 5
	mustAppend(t, l, []Record{r1, r2})
	r3 := sampleRecord(3)
	r3.Epoch = 4
	if err := l.Append([]Record{r3}); !errors.Is(err, ErrEpochRegression) {
		t.Fatalf("epoch 4 after 5: %v, want ErrEpochRegression", err)
	}
	// After a reopen the epoch of the last record is read back from the log.
	l = reopen(t, l, opts)
	if err := l.Append([]Record{r3}); !errors.Is(err, ErrEpochRegression) {
		t.Fatalf("epoch 4 after 5, after reopen: %v, want ErrEpochRegression", err)
	}
	r3.Epoch = 6
	mustAppend(t, l, []Record{r3})
}

func TestReopenKeepsBounds(t *testing.T) {
	opts := testOptions(t.TempDir())
	l := openLog(t, opts)
	appendInBatches(t, l, 1, 500, 37)
	checkBounds(t, l, 1, 500)
	l = reopen(t, l, opts)
	checkBounds(t, l, 1, 500)
	if _, err := l.TruncateHead(120); err != nil {
		t.Fatal(err)
	}
	l = reopen(t, l, opts)
	checkBounds(t, l, 121, 500)
	mustAppend(t, l, records(501, 510))
	l = reopen(t, l, opts)
	checkBounds(t, l, 121, 510)
}

func TestGetErrors(t *testing.T) {
	l := openLog(t, testOptions(t.TempDir()))
	mustAppend(t, l, records(1, 10))
	if _, err := l.TruncateHead(4); err != nil {
		t.Fatal(err)
	}
	for index, want := range map[uint64]error{0: ErrNotFound, 3: ErrCompacted, 4: ErrCompacted, 11: ErrNotFound} {
		if _, err := l.Get(index); !errors.Is(err, want) {
			t.Errorf("Get(%d): %v, want %v", index, err, want)
		}
	}
	if r, err := l.Get(5); err != nil || r.Index != 5 {
		t.Fatalf("Get(5) = %d, %v", r.Index, err)
	}
}

func TestRangeBoundsAndErrors(t *testing.T) {
	l := openLog(t, testOptions(t.TempDir()))
	mustAppend(t, l, records(1, 20))
	if _, err := l.TruncateHead(5); err != nil {
		t.Fatal(err)
	}
	collect := func(from, to uint64) ([]uint64, error) {
		var got []uint64
		err := l.Range(from, to, func(r Record) error {
			got = append(got, r.Index)
			return nil
		})
		return got, err
	}
	got, err := collect(6, 1000)
	if err != nil || len(got) != 15 || got[0] != 6 || got[14] != 20 {
		t.Fatalf("Range(6, 1000) = %v, %v; want 6..20", got, err)
	}
	if got, err := collect(10, 12); err != nil || !reflect.DeepEqual(got, []uint64{10, 11, 12}) {
		t.Fatalf("Range(10, 12) = %v, %v", got, err)
	}
	if got, err := collect(21, 30); err != nil || len(got) != 0 {
		t.Fatalf("Range past the end = %v, %v; want nothing", got, err)
	}
	if got, err := collect(12, 11); err != nil || len(got) != 0 {
		t.Fatalf("Range(12, 11) = %v, %v; want nothing", got, err)
	}
	if _, err := collect(5, 10); !errors.Is(err, ErrCompacted) {
		t.Fatalf("Range below FirstIndex: %v, want ErrCompacted", err)
	}
	if _, err := collect(0, 10); err == nil {
		t.Fatal("Range from 0 succeeded")
	}
	stop := errors.New("stop")
	n := 0
	err = l.Range(6, 20, func(Record) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Fatalf("Range with a failing callback: %v after %d records; want the callback's error after 3", err, n)
	}
}

// TestRangeStreams100k appends 100,000 records and ranges over them. The log
// streams: the callback runs on the first records before the last one is
// read, which the corrupt last record proves (it is reported only after
// every earlier record was delivered), and stopping early stops the read.
func TestRangeStreams100k(t *testing.T) {
	const n = 100_000
	opts := testOptions(t.TempDir())
	l := openLog(t, opts)
	appendInBatches(t, l, 1, n, 5000)

	next := uint64(1)
	err := l.Range(1, n, func(r Record) error {
		if r.Index != next {
			return fmt.Errorf("got record %d, want %d", r.Index, next)
		}
		if r.IdemKey != fmt.Sprintf("op-%d", r.Index) || r.Fuel != 1000+r.Index {
			return fmt.Errorf("record %d holds another record's fields: %+v", r.Index, r)
		}
		next++
		return nil
	})
	if err != nil || next != n+1 {
		t.Fatalf("Range(1, %d): %v after %d records", n, err, next-1)
	}

	l, err = tamper(t, l, opts, func(txn *badger.Txn) error {
		v, err := rawValue(txn, recordKey(n))
		if err != nil {
			return err
		}
		v[len(v)/2] ^= 0x10
		return txn.Set(recordKey(n), v)
	})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	delivered := 0
	err = l.Range(1, n, func(Record) error { delivered++; return nil })
	wantCorrupt(t, err, n)
	if delivered != n-1 {
		t.Fatalf("Range delivered %d records before the corrupt one, want %d", delivered, n-1)
	}

	stop := errors.New("stop")
	delivered = 0
	err = l.Range(1, n, func(Record) error {
		delivered++
		if delivered == 10 {
			return stop
		}
		return nil
	})
	if err != stop || delivered != 10 {
		t.Fatalf("early stop: %v after %d records", err, delivered)
	}
}

func TestClosedLogRefusesCalls(t *testing.T) {
	l := openLog(t, testOptions(t.TempDir()))
	mustAppend(t, l, records(1, 2))
	release, err := l.Pin(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	release() // releasing after Close is harmless
	checks := map[string]error{
		"Close":        l.Close(),
		"Append":       l.Append(records(3, 3)),
		"Range":        l.Range(1, 2, func(Record) error { return nil }),
		"TruncateTail": l.TruncateTail(1),
		"Reset":        l.Reset(5),
		"SetMeta":      l.SetMeta("k", nil),
		"Sync":         l.Sync(),
	}
	_, checks["Get"] = l.Get(1)
	_, checks["Pin"] = l.Pin(1)
	_, checks["TruncateHead"] = l.TruncateHead(1)
	_, _, checks["IdempotencyLookup"] = l.IdempotencyLookup("op-1")
	_, _, checks["GetMeta"] = l.GetMeta("k")
	_, checks["PruneIdempotency"] = l.PruneIdempotency(2)
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func TestOpenRefusesAForeignBadgerDatabase(t *testing.T) {
	dir := t.TempDir()
	db := rawBadger(t, dir)
	if err := db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("user"), []byte("data")) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := Open(testOptions(dir))
	if err == nil || !strings.Contains(err.Error(), "not a WAL") {
		t.Fatalf("Open of a foreign database: %v, want an error saying it is not a WAL", err)
	}
}

func TestOpenRefusesAnotherLayoutVersion(t *testing.T) {
	opts := testOptions(t.TempDir())
	l := openLog(t, opts)
	_, err := tamper(t, l, opts, func(txn *badger.Txn) error {
		return txn.Set(sysLayout, be64(layoutVersion+1))
	})
	if err == nil || !strings.Contains(err.Error(), "layout version") {
		t.Fatalf("Open with layout version %d: %v, want an error naming the layout version", layoutVersion+1, err)
	}
}

func TestSizeCountsBadgerFiles(t *testing.T) {
	l := openLog(t, testOptions(t.TempDir()))
	big := sampleRecord(1)
	big.Output = make([]byte, 2*valueThreshold)
	mustAppend(t, l, []Record{big})
	appendInBatches(t, l, 2, 2000, 500)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	lsm, vlog := l.Size()
	if lsm <= 0 || vlog <= 0 {
		t.Fatalf("Size() = %d, %d; want both positive after writing small and large records", lsm, vlog)
	}
}

// TestOpenSurvivesEmptyMemtableFile reproduces what a kill -9 between
// Badger creating a memtable file and sizing it leaves behind: an empty
// NNNNN.mem file. Open must still succeed with every record intact.
func TestOpenSurvivesEmptyMemtableFile(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append([]Record{{Index: 1, Epoch: 1, Kind: KindTransition, Transition: "T"}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "00099.mem"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatalf("open after an empty memtable file: %v", err)
	}
	defer l.Close()
	if r, err := l.Get(1); err != nil || r.Transition != "T" {
		t.Fatalf("record 1 after reopen: %+v, %v", r, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "00099.mem")); !os.IsNotExist(err) {
		t.Fatalf("empty memtable file still there: %v", err)
	}
}
