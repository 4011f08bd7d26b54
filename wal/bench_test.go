package wal

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// The append benchmarks compare the log with the cheapest durable write there
// is: 256 bytes appended to a plain file in the log's own directory and
// fsynced. That baseline is measured in the same invocation, for a quarter
// of a second just before the timed loop and again just after it, and the
// mean is used, so drift of a shared disk shows in both figures alike. (The
// two are not interleaved call by call: an fsync on ext4 also flushes what
// Badger left dirty, which would charge one to the other.) Each append
// benchmark reports ns/op for one Append call, fsync-ns for the baseline,
// records/s, and two ratios to the baseline: call/fsync, the latency of one
// Append against one raw write+fsync, and record/fsync, the cost of one
// record against it. Run them with:
//
//	go test -run '^$' -bench . ./wal/

const rawBlockSize = 256

// writeAndSync appends one block and fsyncs, n times.
func writeAndSync(b *testing.B, f *os.File, n int) {
	block := make([]byte, rawBlockSize)
	for i := range n {
		block[0] = byte(i)
		if _, err := f.Write(block); err != nil {
			b.Fatalf("write: %v", err)
		}
		if err := f.Sync(); err != nil {
			b.Fatalf("fsync: %v", err)
		}
	}
}

func openRawFile(b *testing.B) *os.File {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "raw.blocks"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Close() })
	return f
}

// BenchmarkRawFsync256 is the baseline itself.
func BenchmarkRawFsync256(b *testing.B) {
	f := openRawFile(b)
	b.SetBytes(rawBlockSize)
	b.ResetTimer()
	writeAndSync(b, f, b.N)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
}

// fsyncBaselineNs measures the raw write+fsync loop on f, doubling the count
// until one pass lasts a quarter of a second, and returns ns per write.
func fsyncBaselineNs(b *testing.B, f *os.File) float64 {
	for n := 8; ; n *= 2 {
		start := time.Now()
		writeAndSync(b, f, n)
		if d := time.Since(start); d >= 250*time.Millisecond || n >= 1<<16 {
			return float64(d.Nanoseconds()) / float64(n)
		}
	}
}

// benchmarkAppend appends b.N batches of size records, with idempotency keys,
// as the executor does. Records are built outside the timed section, 64
// batches at a time.
func benchmarkAppend(b *testing.B, size int, noSync bool) {
	opts := testOptions(b.TempDir())
	opts.NoSyncWrites = noSync
	l := openLog(b, opts)
	raw, err := os.OpenFile(filepath.Join(opts.Dir, "raw.blocks"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = raw.Close() }()
	var (
		pending [][]Record
		built   uint64 // last index built
	)
	refill := func() {
		for range 64 {
			pending = append(pending, records(built+1, built+uint64(size)))
			built += uint64(size)
		}
	}
	refill()
	before := fsyncBaselineNs(b, raw)
	b.ResetTimer()
	for range b.N {
		if len(pending) == 0 {
			b.StopTimer()
			refill()
			b.StartTimer()
		}
		if err := l.Append(pending[0]); err != nil {
			b.Fatal(err)
		}
		pending = pending[1:]
	}
	b.StopTimer()
	elapsed := b.Elapsed()
	if err := l.Sync(); err != nil { // nothing of the log left dirty for the baseline's fsync
		b.Fatal(err)
	}
	fsyncNs := (before + fsyncBaselineNs(b, raw)) / 2
	callNs := float64(elapsed.Nanoseconds()) / float64(b.N)
	b.ReportMetric(fsyncNs, "fsync-ns")
	b.ReportMetric(float64(b.N*size)/elapsed.Seconds(), "records/s")
	b.ReportMetric(callNs/fsyncNs, "call/fsync")
	b.ReportMetric(callNs/float64(size)/fsyncNs, "record/fsync")
}

func BenchmarkAppend1(b *testing.B)  { benchmarkAppend(b, 1, false) }
func BenchmarkAppend64(b *testing.B) { benchmarkAppend(b, 64, false) }

// BenchmarkAppend64NoSync shows what durability costs: the same batches with
// Badger's fsync off, a configuration that exists only for this comparison.
func BenchmarkAppend64NoSync(b *testing.B) { benchmarkAppend(b, 64, true) }

// BenchmarkBadgerTxn1 is the floor the log stands on: one Set of a
// record-sized value per Badger transaction, committed with the log's own
// Badger options (SyncWrites on), no encoding, no index bookkeeping. Its
// call/fsync against the same raw baseline shows how much of Append1's
// latency is Badger's commit path itself (its write channel, memtable WAL
// write and sync) rather than the log.
func BenchmarkBadgerTxn1(b *testing.B) {
	dir := b.TempDir()
	db, err := badger.Open(badgerOptions(dir, true, defaultMemTableSize, slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	raw := openRawFile(b)
	value := make([]byte, 300) // about one encoded counter record
	before := fsyncBaselineNs(b, raw)
	b.ResetTimer()
	for i := range b.N {
		txn := db.NewTransaction(true)
		if err := txn.Set(recordKey(uint64(i+1)), value); err != nil {
			b.Fatal(err)
		}
		if err := txn.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	elapsed := b.Elapsed()
	if err := db.Sync(); err != nil {
		b.Fatal(err)
	}
	fsyncNs := (before + fsyncBaselineNs(b, raw)) / 2
	callNs := float64(elapsed.Nanoseconds()) / float64(b.N)
	b.ReportMetric(fsyncNs, "fsync-ns")
	b.ReportMetric(callNs/fsyncNs, "call/fsync")
}
