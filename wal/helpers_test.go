package wal

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// quietLogger keeps test output readable; Badger's warnings still reach
// failing tests through their errors.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

func testOptions(dir string) Options {
	return Options{Dir: dir, Logger: quietLogger, GCInterval: -1}
}

func openLog(t testing.TB, opts Options) *Log {
	t.Helper()
	l, err := Open(opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", opts.Dir, err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

func reopen(t testing.TB, l *Log, opts Options) *Log {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return openLog(t, opts)
}

func hashOf(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// sampleRecord is a deterministic record for index i with every field set.
func sampleRecord(i uint64) Record {
	return Record{
		Index:       i,
		Epoch:       3,
		Kind:        KindTransition,
		Timestamp:   1_700_000_000_000_000_000 + int64(i),
		CatalogHash: hashOf("catalog-v1"),
		Transition:  "TRANSITION_LICENSE_GRANTED",
		Inputs:      []byte(fmt.Sprintf(`{"by":%d,"key":"a"}`, i)),
		InputsHash:  fmt.Sprintf("inputs-%d", i),
		IdemKey:     fmt.Sprintf("op-%d", i),
		Signer:      "node-001",
		HLC:         fmt.Sprintf("1-0-%016d", i),
		WindowID:    "window-1",
		Evidence:    []string{"ucxl://proof/123", fmt.Sprintf("ucxl://proof/%d", i)},
		Code:        "",
		Output:      []byte(fmt.Sprintf(`{"n":%d}`, i)),
		Fuel:        1000 + i,
		StateHash:   hashOf(fmt.Sprintf("state-%d", i)),
	}
}

// records returns sample records from..to inclusive.
func records(from, to uint64) []Record {
	out := make([]Record, 0, to-from+1)
	for i := from; i <= to; i++ {
		out = append(out, sampleRecord(i))
	}
	return out
}

func mustAppend(t testing.TB, l *Log, recs []Record) {
	t.Helper()
	if err := l.Append(recs); err != nil {
		t.Fatalf("Append(%d..%d): %v", recs[0].Index, recs[len(recs)-1].Index, err)
	}
}

// appendInBatches appends sample records from..to in batches of size n.
func appendInBatches(t testing.TB, l *Log, from, to, n uint64) {
	t.Helper()
	for i := from; i <= to; i += n {
		mustAppend(t, l, records(i, min(i+n-1, to)))
	}
}

func checkBounds(t testing.TB, l *Log, first, last uint64) {
	t.Helper()
	if f, la := l.FirstIndex(), l.LastIndex(); f != first || la != last {
		t.Fatalf("bounds = (%d, %d), want (%d, %d)", f, la, first, last)
	}
}

func wantCorrupt(t testing.TB, err error, index uint64) *CorruptError {
	t.Helper()
	var ce *CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v, want *CorruptError for index %d", err, index)
	}
	if ce.Index != index {
		t.Fatalf("CorruptError.Index = %d (%v), want %d", ce.Index, ce, index)
	}
	return ce
}

// rawBadger opens the WAL's directory with Badger directly, as a tool that
// tampers with stored data would; the Log must be closed.
func rawBadger(t testing.TB, dir string) *badger.DB {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(dir).
		WithLogger(nil).
		WithSyncWrites(true).
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithMetricsEnabled(false))
	if err != nil {
		t.Fatalf("opening Badger directly: %v", err)
	}
	return db
}

// tamper closes l, rewrites Badger data with fn, and reopens the directory
// (the Open error is returned, not fatal).
func tamper(t testing.TB, l *Log, opts Options, fn func(txn *badger.Txn) error) (*Log, error) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	db := rawBadger(t, opts.Dir)
	if err := db.Update(fn); err != nil {
		t.Fatalf("tampering: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("closing Badger: %v", err)
	}
	nl, err := Open(opts)
	if err == nil {
		t.Cleanup(func() { _ = nl.Close() })
	}
	return nl, err
}

func rawValue(txn *badger.Txn, key []byte) ([]byte, error) {
	item, err := txn.Get(key)
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
