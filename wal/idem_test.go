package wal

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

func entryOf(r Record) IdemEntry {
	return IdemEntry{Index: r.Index, Code: r.Code, StateHash: r.StateHash, Output: r.Output}
}

func wantIdem(t *testing.T, l *Log, r Record) {
	t.Helper()
	got, found, err := l.IdempotencyLookup(r.IdemKey)
	if err != nil || !found {
		t.Fatalf("IdempotencyLookup(%q) = %v, %v; want the entry of record %d", r.IdemKey, found, err, r.Index)
	}
	if want := entryOf(r); !reflect.DeepEqual(got, want) {
		t.Fatalf("IdempotencyLookup(%q) = %+v, want %+v", r.IdemKey, got, want)
	}
}

func wantNoIdem(t *testing.T, l *Log, key string) {
	t.Helper()
	if e, found, err := l.IdempotencyLookup(key); found || err != nil {
		t.Fatalf("IdempotencyLookup(%q) = %+v, %v, %v; want no entry", key, e, found, err)
	}
}

func TestIdempotencyEntriesLifecycle(t *testing.T) {
	opts := testOptions(t.TempDir())
	l := openLog(t, opts)
	recs := records(1, 40)
	recs[6].Code = "REJECTED_GUARD" // a rejection's result is remembered too
	recs[6].Output = nil
	recs[7].IdemKey = "" // no key, no entry
	mustAppend(t, l, recs)
	wantIdem(t, l, recs[0])
	wantIdem(t, l, recs[6])
	wantNoIdem(t, l, "op-8")

	// Found after a reopen.
	l = reopen(t, l, opts)
	wantIdem(t, l, recs[4])

	// Kept by head truncation, so a repeated proposal still gets its answer.
	mustTruncateHead(t, l, 10, 11)
	wantIdem(t, l, recs[4])
	l = reopen(t, l, opts)
	wantIdem(t, l, recs[4])

	// Removed by tail truncation with the records they belong to.
	if err := l.TruncateTail(30); err != nil {
		t.Fatal(err)
	}
	wantIdem(t, l, recs[29])
	for i := 31; i <= 40; i++ {
		wantNoIdem(t, l, fmt.Sprintf("op-%d", i))
	}
	l = reopen(t, l, opts)
	wantNoIdem(t, l, "op-35")
	// The key of a truncated record is free again.
	again := sampleRecord(31)
	again.IdemKey = "op-35"
	mustAppend(t, l, []Record{again})
	wantIdem(t, l, again)

	// Retention.
	n, err := l.PruneIdempotency(6)
	if err != nil || n != 5 {
		t.Fatalf("PruneIdempotency(6) = %d, %v; want 5 entries removed", n, err)
	}
	wantNoIdem(t, l, "op-5")
	wantIdem(t, l, recs[5])
	if n, err := l.PruneIdempotency(1); err != nil || n != 0 {
		t.Fatalf("PruneIdempotency(1) = %d, %v; want nothing", n, err)
	}
}

func TestResetRemovesIdempotencyEntries(t *testing.T) {
	opts := testOptions(t.TempDir())
	l := openLog(t, opts)
	recs := records(1, 50)
	mustAppend(t, l, recs)
	mustTruncateHead(t, l, 10, 11)
	if err := l.Reset(200); err != nil {
		t.Fatal(err)
	}
	// Entries of the records Reset dropped are gone; entries of records
	// truncated from the head before it stay (they lie below every index
	// the log will hold again).
	wantIdem(t, l, recs[9])
	wantNoIdem(t, l, "op-11")
	wantNoIdem(t, l, "op-50")
	mustAppend(t, l, records(200, 210))
	l = reopen(t, l, opts)
	wantIdem(t, l, recs[9])
	wantNoIdem(t, l, "op-11")

	// Resetting to an earlier index drops the entries from that index on,
	// even those of records already truncated from the head, since those
	// indexes will be appended again.
	mustTruncateHead(t, l, 205, 206)
	if err := l.Reset(5); err != nil {
		t.Fatal(err)
	}
	wantIdem(t, l, recs[3])
	wantNoIdem(t, l, "op-5")
	wantNoIdem(t, l, "op-10")
	wantNoIdem(t, l, "op-200")
	mustAppend(t, l, records(5, 12))
	wantIdem(t, l, sampleRecord(10))
}

func TestAppendRefusesDuplicateIdempotencyKeys(t *testing.T) {
	l := openLog(t, testOptions(t.TempDir()))
	mustAppend(t, l, records(1, 10))
	mustTruncateHead(t, l, 10, 11)

	dup := sampleRecord(11)
	dup.IdemKey = "op-3" // its record was truncated, its entry was not
	err := l.Append([]Record{dup})
	if !errors.Is(err, ErrDuplicateIdemKey) || !strings.Contains(err.Error(), `"op-3"`) {
		t.Fatalf("Append of a recorded key: %v, want ErrDuplicateIdemKey naming op-3", err)
	}

	a, b := sampleRecord(11), sampleRecord(12)
	b.IdemKey = a.IdemKey
	err = l.Append([]Record{a, b})
	if !errors.Is(err, ErrDuplicateIdemKey) || !strings.Contains(err.Error(), `"op-11"`) {
		t.Fatalf("Append of a key twice in one batch: %v, want ErrDuplicateIdemKey naming op-11", err)
	}
	checkBounds(t, l, 11, 10)
	wantNoIdem(t, l, "op-11")
	mustAppend(t, l, records(11, 12))
}

func TestIdempotencyLookupRefusesEmptyKey(t *testing.T) {
	l := openLog(t, testOptions(t.TempDir()))
	if _, _, err := l.IdempotencyLookup(""); err == nil {
		t.Fatal("IdempotencyLookup(\"\") succeeded")
	}
}

func TestIdemEntryCodecRoundTrip(t *testing.T) {
	for _, e := range []IdemEntry{
		{Index: 1},
		{Index: 1 << 60, Code: "REJECTED", StateHash: hashOf("s"), Output: []byte("out")},
	} {
		b := encodeIdemEntry(e)
		got, err := decodeIdemEntry("k", b)
		if err != nil || !reflect.DeepEqual(got, e) {
			t.Fatalf("round trip of %+v = %+v, %v", e, got, err)
		}
		for i := range b {
			bad := append([]byte(nil), b...)
			bad[i] ^= 0x40
			var ce *CorruptError
			if _, err := decodeIdemEntry("k", bad); !errors.As(err, &ce) {
				t.Fatalf("flipped byte %d: %v, want *CorruptError", i, err)
			}
		}
	}
}

// TestIdempotencyLookupAnswersOnlyCommittedIndexes stores, through Badger, an
// entry for an index above LastIndex, as a commit that failed after reaching
// Badger's memtable can leave: it is not answered as a result.
func TestIdempotencyLookupAnswersOnlyCommittedIndexes(t *testing.T) {
	opts := testOptions(t.TempDir())
	l := openLog(t, opts)
	mustAppend(t, l, records(1, 10))
	l, err := tamper(t, l, opts, func(txn *badger.Txn) error {
		return txn.Set(idemKey("ghost"), encodeIdemEntry(IdemEntry{Index: 11, StateHash: hashOf("s")}))
	})
	if err != nil {
		t.Fatal(err)
	}
	wantNoIdem(t, l, "ghost")
	wantIdem(t, l, sampleRecord(10))
}
