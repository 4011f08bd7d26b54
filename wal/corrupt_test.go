package wal

import (
	"errors"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// rewriteValue replaces the value stored under key with change(value).
func rewriteValue(key []byte, change func(v []byte) []byte) func(*badger.Txn) error {
	return func(txn *badger.Txn) error {
		v, err := rawValue(txn, key)
		if err != nil {
			return err
		}
		return txn.Set(key, change(v))
	}
}

// wantCorruptAt checks that Get(index) and a Range across index both report
// index as corrupt, that Range delivered every record before it, and that
// the records around it still read.
func wantCorruptAt(t *testing.T, l *Log, index uint64) {
	t.Helper()
	_, err := l.Get(index)
	ce := wantCorrupt(t, err, index)
	if !strings.Contains(ce.Error(), "record ") {
		t.Fatalf("error %q does not name the record", ce)
	}
	next := l.FirstIndex()
	err = l.Range(next, l.LastIndex(), func(r Record) error {
		if r.Index != next {
			t.Fatalf("Range delivered record %d, want %d", r.Index, next)
		}
		next++
		return nil
	})
	wantCorrupt(t, err, index)
	if next != index {
		t.Fatalf("Range delivered records up to %d before reporting %d", next-1, index)
	}
	for _, i := range []uint64{index - 1, index + 1} {
		if _, err := l.Get(i); err != nil {
			t.Fatalf("Get(%d) next to the corrupt record: %v", i, err)
		}
	}
	if err := l.Range(index+1, l.LastIndex(), func(Record) error { return nil }); err != nil {
		t.Fatalf("Range after the corrupt record: %v", err)
	}
}

func TestCorruptRecordIsReportedByIndex(t *testing.T) {
	cases := map[string]func(v []byte) []byte{
		"flipped byte": func(v []byte) []byte { v[len(v)/2] ^= 0x01; return v },
		"flipped checksum": func(v []byte) []byte {
			v[len(v)-1] ^= 0x80
			return v
		},
		"torn value":  func(v []byte) []byte { return v[:len(v)/2] },
		"short value": func(v []byte) []byte { return v[:3] },
		"empty value": func([]byte) []byte { return nil },
		"wrong record": func([]byte) []byte {
			r := sampleRecord(51)
			enc, _ := r.MarshalBinary()
			return enc
		},
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			opts := testOptions(t.TempDir())
			l := openLog(t, opts)
			mustAppend(t, l, records(1, 100))
			l, err := tamper(t, l, opts, rewriteValue(recordKey(50), change))
			if err != nil {
				t.Fatalf("Open with a corrupt record value (detected on read, not on open): %v", err)
			}
			wantCorruptAt(t, l, 50)
		})
	}
}

func TestCorruptLargeRecordInValueLog(t *testing.T) {
	opts := testOptions(t.TempDir())
	l := openLog(t, opts)
	recs := records(1, 3)
	recs[1].Output = make([]byte, 4*valueThreshold)
	mustAppend(t, l, recs)
	l, err := tamper(t, l, opts, rewriteValue(recordKey(2), func(v []byte) []byte {
		v[len(v)-100] ^= 0x04
		return v
	}))
	if err != nil {
		t.Fatal(err)
	}
	wantCorruptAt(t, l, 2)
}

func TestAppendAfterCorruptLastRecordIsRefused(t *testing.T) {
	opts := testOptions(t.TempDir())
	l := openLog(t, opts)
	mustAppend(t, l, records(1, 5))
	l, err := tamper(t, l, opts, rewriteValue(recordKey(5), func(v []byte) []byte { return v[:10] }))
	if err != nil {
		t.Fatal(err)
	}
	err = l.Append(records(6, 6))
	wantCorrupt(t, err, 5)
}

func TestOpenDetectsIndexGap(t *testing.T) {
	for name, missing := range map[string]uint64{"middle": 50, "first": 1} {
		t.Run(name, func(t *testing.T) {
			opts := testOptions(t.TempDir())
			l := openLog(t, opts)
			mustAppend(t, l, records(1, 100))
			_, err := tamper(t, l, opts, func(txn *badger.Txn) error { return txn.Delete(recordKey(missing)) })
			ce := wantCorrupt(t, err, missing)
			if !strings.Contains(ce.Reason, "gap") {
				t.Fatalf("reason %q does not say there is a gap", ce.Reason)
			}
		})
	}
}

func TestOpenDetectsGapAtFloor(t *testing.T) {
	opts := testOptions(t.TempDir())
	l := openLog(t, opts)
	mustAppend(t, l, records(1, 100))
	mustTruncateHead(t, l, 20, 21)
	_, err := tamper(t, l, opts, func(txn *badger.Txn) error { return txn.Delete(recordKey(21)) })
	wantCorrupt(t, err, 21)
}

func TestCorruptIdempotencyEntry(t *testing.T) {
	opts := testOptions(t.TempDir())
	l := openLog(t, opts)
	mustAppend(t, l, records(1, 10))
	l, err := tamper(t, l, opts, rewriteValue(idemKey("op-4"), func(v []byte) []byte { v[2] ^= 0xff; return v }))
	if err != nil {
		t.Fatal(err)
	}
	var ce *CorruptError
	if _, found, err := l.IdempotencyLookup("op-4"); !errors.As(err, &ce) || found {
		t.Fatalf("IdempotencyLookup of a corrupt entry: %v, %v; want *CorruptError", found, err)
	}
	if !strings.Contains(ce.Error(), `"op-4"`) {
		t.Fatalf("error %q does not name the key", ce)
	}
	// An unreadable entry still blocks its key: better refuse than apply a
	// proposal twice.
	dup := sampleRecord(11)
	dup.IdemKey = "op-4"
	if err := l.Append([]Record{dup}); !errors.Is(err, ErrDuplicateIdemKey) {
		t.Fatalf("Append with a key whose entry is corrupt: %v, want ErrDuplicateIdemKey", err)
	}
	// Tail truncation removes the corrupt entry with its record.
	if err := l.TruncateTail(3); err != nil {
		t.Fatal(err)
	}
	wantNoIdem(t, l, "op-4")
}
