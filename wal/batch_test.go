package wal

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// errInjectedFsync is the failure failingCommit reports.
var errInjectedFsync = errors.New("injected fsync failure")

// failingCommit stands in for Badger's commit when the disk fails: commits
// before the failAt-th one go through to Badger, the failAt-th is discarded
// (nothing of it reaches Badger) and reports errInjectedFsync. A failing
// fsync cannot be caused on a real file system from a test.
type failingCommit struct {
	failAt int
	calls  int
}

func (f *failingCommit) commit(txn *badger.Txn) error {
	f.calls++
	if f.calls == f.failAt {
		txn.Discard()
		return errInjectedFsync
	}
	return txn.Commit()
}

// versionsOf returns the Badger version (commit timestamp) of every key of
// records from..to: the record, its idempotency entry and its reverse entry.
// Keys written by one transaction share one version.
func versionsOf(t *testing.T, l *Log, from, to uint64) map[uint64][]uint64 {
	t.Helper()
	out := make(map[uint64][]uint64)
	err := l.db.View(func(txn *badger.Txn) error {
		for i := from; i <= to; i++ {
			r := sampleRecord(i)
			for _, k := range [][]byte{recordKey(i), idemKey(r.IdemKey), reverseKey(i)} {
				item, err := txn.Get(k)
				if err != nil {
					return fmt.Errorf("key %x of record %d: %w", k, i, err)
				}
				out[i] = append(out[i], item.Version())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rawKeyAbsent fails unless Badger itself holds no value under key.
func rawKeyAbsent(t *testing.T, l *Log, key []byte, what string) {
	t.Helper()
	err := l.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(key)
		return err
	})
	if !errors.Is(err, badger.ErrKeyNotFound) {
		t.Fatalf("%s: Badger lookup gave %v, want no such key", what, err)
	}
}

// TestBatchIsOneBadgerTransaction inspects Badger's commit timestamps: every
// key a batch writes (records, idempotency entries, reverse entries) carries
// the same version, so Badger committed them in one transaction, with one
// fsync; the next batch is a later transaction.
func TestBatchIsOneBadgerTransaction(t *testing.T) {
	l := openLog(t, testOptions(t.TempDir()))
	mustAppend(t, l, records(1, 64))
	mustAppend(t, l, records(65, 65))
	versions := versionsOf(t, l, 1, 65)
	first := versions[1][0]
	for i := uint64(1); i <= 64; i++ {
		for _, v := range versions[i] {
			if v != first {
				t.Fatalf("record %d: a key has version %d, the batch's first key %d", i, v, first)
			}
		}
	}
	if v := versions[65][0]; v <= first {
		t.Fatalf("next batch has version %d, want above %d", v, first)
	}
}

func TestFailedValidationLeavesNothingVisible(t *testing.T) {
	l := openLog(t, testOptions(t.TempDir()))
	mustAppend(t, l, records(1, 10))
	bad := map[string]func(r *Record){
		"duplicate idempotency key": func(r *Record) { r.IdemKey = "op-3" },
		"kind 0":                    func(r *Record) { r.Kind = 0 },
		"too large":                 func(r *Record) { r.Body = make([]byte, MaxRecordBytes) },
		"not contiguous":            func(r *Record) { r.Index++ },
		"epoch regression":          func(r *Record) { r.Epoch = 1 },
		"idempotency key too long":  func(r *Record) { r.IdemKey = string(make([]byte, MaxIdemKeyBytes+1)) },
	}
	for name, spoil := range bad {
		batch := records(11, 40)
		spoil(&batch[len(batch)-1])
		if err := l.Append(batch); err == nil {
			t.Fatalf("%s: Append succeeded", name)
		}
		checkBounds(t, l, 1, 10)
		for _, r := range batch[:len(batch)-1] {
			rawKeyAbsent(t, l, recordKey(r.Index), name+": record")
			rawKeyAbsent(t, l, idemKey(r.IdemKey), name+": idempotency entry")
			if _, found, err := l.IdempotencyLookup(r.IdemKey); found || err != nil {
				t.Fatalf("%s: IdempotencyLookup(%q) = %v, %v after a refused batch", name, r.IdemKey, found, err)
			}
		}
		if _, err := l.Get(11); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: Get(11) = %v, want ErrNotFound", name, err)
		}
	}
	// A refusal does not stop the log.
	mustAppend(t, l, records(11, 40))
	checkBounds(t, l, 1, 40)
}

func TestFailedCommitLeavesNothingVisibleAndStopsWrites(t *testing.T) {
	opts := testOptions(t.TempDir())
	l := openLog(t, opts)
	mustAppend(t, l, records(1, 10))
	l.commit = (&failingCommit{failAt: 1}).commit
	err := l.Append(records(11, 74))
	if !errors.Is(err, errInjectedFsync) {
		t.Fatalf("Append with a failing commit: %v, want the injected failure", err)
	}
	checkBounds(t, l, 1, 10)
	for i := uint64(11); i <= 74; i++ {
		rawKeyAbsent(t, l, recordKey(i), "record of the failed batch")
		if _, found, _ := l.IdempotencyLookup(fmt.Sprintf("op-%d", i)); found {
			t.Fatalf("idempotency entry of record %d visible after a failed commit", i)
		}
	}
	// What is durable is unknown after a failed commit: the log takes no
	// more writes, but still serves reads.
	for name, err := range map[string]error{
		"Append":       l.Append(records(11, 11)),
		"TruncateTail": l.TruncateTail(5),
		"Reset":        l.Reset(100),
		"SetMeta":      l.SetMeta("epoch", []byte{1}),
	} {
		if !errors.Is(err, ErrFailed) || !errors.Is(err, errInjectedFsync) {
			t.Errorf("%s after a failed commit: %v, want ErrFailed wrapping the cause", name, err)
		}
	}
	if _, err := l.TruncateHead(5); !errors.Is(err, ErrFailed) {
		t.Errorf("TruncateHead after a failed commit: %v, want ErrFailed", err)
	}
	if r, err := l.Get(10); err != nil || r.Index != 10 {
		t.Fatalf("Get(10) after a failed commit: %v", err)
	}
	// Reopening reloads the durable truth and accepts writes again.
	l = reopen(t, l, opts)
	checkBounds(t, l, 1, 10)
	mustAppend(t, l, records(11, 74))
	checkBounds(t, l, 1, 74)
}

// smallTxnOptions makes Badger's transaction limit small enough that a batch
// of a few thousand records needs several transactions.
func smallTxnOptions(dir string) Options {
	opts := testOptions(dir)
	opts.MemTableSize = minMemTableSize
	return opts
}

func TestBatchAboveBadgerLimitSplitsBetweenRecords(t *testing.T) {
	l := openLog(t, smallTxnOptions(t.TempDir()))
	const n = 3000
	mustAppend(t, l, records(1, n))
	checkBounds(t, l, 1, n)
	versions := versionsOf(t, l, 1, n)
	txns := map[uint64]bool{}
	for i := uint64(1); i <= n; i++ {
		v := versions[i]
		for _, other := range v[1:] {
			if other != v[0] {
				t.Fatalf("record %d was split across transactions: versions %v", i, v)
			}
		}
		if i > 1 && v[0] < versions[i-1][0] {
			t.Fatalf("record %d committed before record %d", i, i-1)
		}
		txns[v[0]] = true
	}
	if len(txns) < 2 {
		t.Fatalf("%d records took %d transaction(s) under a 1 MiB memtable; the test no longer exercises the split", n, len(txns))
	}
	// Every transaction but the last is as full as Badger allows (one more
	// record would have exceeded its limit): the split is driven by Badger's
	// limits, not by an arbitrary chunk size.
	maxCount, maxSize := l.db.MaxBatchCount(), l.db.MaxBatchSize()
	var count, size int64
	for i := uint64(1); i <= n; i++ {
		recCount, recSize := badgerCost(t, sampleRecord(i))
		if i > 1 && versions[i][0] != versions[i-1][0] {
			if count+recCount < maxCount && size+recSize < maxSize {
				t.Fatalf("a transaction ended before record %d although it had room (%d entries, %d bytes)", i, count, size)
			}
			count, size = 0, 0
		}
		count += recCount
		size += recSize
		if count >= maxCount || size >= maxSize {
			t.Fatalf("the transaction of record %d exceeds Badger's limit (%d entries, %d bytes)", i, count, size)
		}
	}
}

// badgerCost is what a record with an idempotency key costs a Badger
// transaction: its three entries and their estimated size.
func badgerCost(t *testing.T, r Record) (count, size int64) {
	t.Helper()
	enc, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	idem := encodeIdemEntry(IdemEntry{Index: r.Index, Code: r.Code, StateHash: r.StateHash, Output: r.Output})
	size = estimateEntrySize(recordKeyLen, len(enc)) +
		estimateEntrySize(len(idemKey(r.IdemKey)), len(idem)) +
		estimateEntrySize(len(reverseKey(r.Index)), len(r.IdemKey))
	return 3, size
}

// TestSplitBatchFailureKeepsAContiguousPrefix covers the documented limit of a
// split batch: a commit failing after the first leaves the records of the
// committed transactions, contiguously, and nothing after them.
func TestSplitBatchFailureKeepsAContiguousPrefix(t *testing.T) {
	opts := smallTxnOptions(t.TempDir())
	l := openLog(t, opts)
	const n = 3000
	l.commit = (&failingCommit{failAt: 2}).commit
	if err := l.Append(records(1, n)); !errors.Is(err, errInjectedFsync) {
		t.Fatalf("Append: %v, want the injected failure", err)
	}
	last := l.LastIndex()
	if last == 0 || last >= n || l.FirstIndex() != 1 {
		t.Fatalf("bounds after a failed second commit = (%d, %d); want a prefix 1..k with 0 < k < %d",
			l.FirstIndex(), last, n)
	}
	l = reopen(t, l, opts)
	checkBounds(t, l, 1, last)
	count := uint64(0)
	if err := l.Range(1, n, func(Record) error { count++; return nil }); err != nil || count != last {
		t.Fatalf("Range after reopen: %v, %d records; want %d", err, count, last)
	}
	for _, i := range []uint64{1, last} {
		if _, found, err := l.IdempotencyLookup(fmt.Sprintf("op-%d", i)); !found || err != nil {
			t.Fatalf("idempotency entry of committed record %d: %v, %v", i, found, err)
		}
	}
	if _, found, _ := l.IdempotencyLookup(fmt.Sprintf("op-%d", last+1)); found {
		t.Fatalf("idempotency entry of uncommitted record %d found", last+1)
	}
	mustAppend(t, l, records(last+1, n))
	checkBounds(t, l, 1, n)
}
