package wal

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

func wantMeta(t *testing.T, l *Log, key string, want []byte) {
	t.Helper()
	got, found, err := l.GetMeta(key)
	if err != nil || !found || !bytes.Equal(got, want) {
		t.Fatalf("GetMeta(%q) = %q, %v, %v; want %q", key, got, found, err, want)
	}
}

func TestMetadataRoundTripAndDurability(t *testing.T) {
	opts := testOptions(t.TempDir())
	l := openLog(t, opts)
	if _, found, err := l.GetMeta("epoch"); found || err != nil {
		t.Fatalf("GetMeta of an unset key: %v, %v", found, err)
	}
	for _, kv := range []struct{ k, v string }{{"epoch", "\x07"}, {"catalog", "sha256:abc"}, {"empty", ""}, {"epoch", "\x08"}} {
		if err := l.SetMeta(kv.k, []byte(kv.v)); err != nil {
			t.Fatalf("SetMeta(%q): %v", kv.k, err)
		}
	}
	mustAppend(t, l, records(1, 20))
	wantMeta(t, l, "epoch", []byte{8})
	l = reopen(t, l, opts)
	wantMeta(t, l, "epoch", []byte{8})
	wantMeta(t, l, "catalog", []byte("sha256:abc"))
	wantMeta(t, l, "empty", []byte{})

	// Metadata is untouched by every truncation, and never shows in a Range.
	mustTruncateHead(t, l, 5, 6)
	if err := l.TruncateTail(15); err != nil {
		t.Fatal(err)
	}
	if err := l.Reset(40); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, records(40, 45))
	l = reopen(t, l, opts)
	wantMeta(t, l, "catalog", []byte("sha256:abc"))
	count := 0
	if err := l.Range(40, 45, func(Record) error { count++; return nil }); err != nil || count != 6 {
		t.Fatalf("Range(40, 45) = %d records, %v", count, err)
	}
}

func TestMetadataLimits(t *testing.T) {
	l := openLog(t, testOptions(t.TempDir()))
	cases := map[string]struct {
		key string
		val []byte
	}{
		"empty key":   {"", nil},
		"long key":    {strings.Repeat("k", MaxMetaKeyBytes+1), nil},
		"large value": {"k", make([]byte, MaxMetaValueBytes+1)},
	}
	for name, c := range cases {
		if err := l.SetMeta(c.key, c.val); err == nil {
			t.Errorf("SetMeta with %s succeeded", name)
		}
	}
	if _, _, err := l.GetMeta(""); err == nil {
		t.Error("GetMeta(\"\") succeeded")
	}
	if err := l.SetMeta(strings.Repeat("k", MaxMetaKeyBytes), make([]byte, MaxMetaValueBytes)); err != nil {
		t.Fatalf("SetMeta at the limits: %v", err)
	}
}

func TestCorruptMetadataIsReported(t *testing.T) {
	opts := testOptions(t.TempDir())
	l := openLog(t, opts)
	if err := l.SetMeta("epoch", []byte{7}); err != nil {
		t.Fatal(err)
	}
	l, err := tamper(t, l, opts, rewriteValue(metaKey("epoch"), func(v []byte) []byte { v[1] = 9; return v }))
	if err != nil {
		t.Fatal(err)
	}
	var ce *CorruptError
	if _, found, err := l.GetMeta("epoch"); !errors.As(err, &ce) || found {
		t.Fatalf("GetMeta of a corrupt value: %v, %v; want *CorruptError", found, err)
	}
	if !strings.Contains(ce.Error(), `"epoch"`) {
		t.Fatalf("error %q does not name the key", ce)
	}
}

// TestAuxiliaryKeysSortBelowRecords checks the key layout: whatever their
// name, metadata, idempotency and system keys sort before record 1 and after
// the unused key of index 0, so a record iterator never meets them.
func TestAuxiliaryKeysSortBelowRecords(t *testing.T) {
	names := [][]byte{nil, {0}, {0xff}, bytes.Repeat([]byte{0xff}, MaxIdemKeyBytes), []byte("epoch")}
	for _, ns := range []byte{nsIdem, nsMeta, nsReverse, nsSystem} {
		for _, name := range names {
			k := auxKey(ns, name)
			if bytes.Compare(k, recordKey(1)) >= 0 || bytes.Compare(k, make([]byte, recordKeyLen)) <= 0 {
				t.Fatalf("aux key %x does not sort strictly between index 0 and index 1", k)
			}
			if _, ok := indexOfKey(k); ok {
				t.Fatalf("aux key %x parses as a record key", k)
			}
		}
	}
	if i, ok := indexOfKey(recordKey(1 << 40)); !ok || i != 1<<40 {
		t.Fatalf("indexOfKey(recordKey(2^40)) = %d, %v", i, ok)
	}
	if _, ok := indexOfKey(recordKey(0)); ok {
		t.Fatal("index 0 parses as a record key")
	}
	// Records sort in index order.
	if bytes.Compare(recordKey(255), recordKey(256)) >= 0 {
		t.Fatal("record keys do not sort in index order")
	}
}

// TestAuxiliaryKeysDoNotEnterRecordIteration writes many idempotency entries
// and metadata values and checks, through Badger, that iterating from record
// 1 meets only record keys.
func TestAuxiliaryKeysDoNotEnterRecordIteration(t *testing.T) {
	l := openLog(t, testOptions(t.TempDir()))
	for i := range 50 {
		if err := l.SetMeta(strings.Repeat("\xff", i+1), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	appendInBatches(t, l, 1, 1000, 100)
	seen := uint64(0)
	err := l.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Seek(recordKey(1)); it.Valid(); it.Next() {
			index, ok := indexOfKey(it.Item().Key())
			if !ok || index != seen+1 {
				t.Fatalf("after record %d the iterator met key %x", seen, it.Item().Key())
			}
			seen = index
		}
		return nil
	})
	if err != nil || seen != 1000 {
		t.Fatalf("iterated %d record keys, %v; want 1000", seen, err)
	}
}
