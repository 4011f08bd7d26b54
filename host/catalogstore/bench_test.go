package catalogstore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/reprise-dev/reprise/host"
)

// BenchmarkReadVerification prints, in one run, what reading the counter
// catalog (3.5 MB) costs when every read checks its SHA-256, against a
// plain read of the same file: Get (read + hash), Load (Get + the engine's
// cached lookup, which hashes again), an idempotent Put (admission lookup +
// stored-file check), and the engine's own cached Load from memory.
func BenchmarkReadVerification(b *testing.B) {
	ctx := context.Background()
	s, _ := newStore(b)
	wasm := builtinWasm(b, "counter")
	info := mustPut(b, s, wasm)
	path := filepath.Join(s.Dir(), info.HashHex()+".wasm")
	const iterations = 200
	measure := func(f func() error) float64 {
		for range iterations / 10 {
			if err := f(); err != nil {
				b.Fatal(err)
			}
		}
		start := time.Now()
		for range iterations {
			if err := f(); err != nil {
				b.Fatal(err)
			}
		}
		return float64(time.Since(start).Nanoseconds()) / iterations
	}
	plain := measure(func() error { _, err := os.ReadFile(path); return err })
	get := measure(func() error { _, err := s.Get(info.Hash); return err })
	load := measure(func() error { _, err := s.Load(ctx, info.Hash); return err })
	put := measure(func() error { _, _, err := s.Put(ctx, wasm); return err })
	engine := measure(func() error { _, err := s.Engine().Load(ctx, wasm); return err })
	hash := measure(func() error { host.Hash(wasm); return nil })
	// The figures above are the measurement (fixed counts, so one run
	// prints them together); b.N is not used.
	b.ReportMetric(plain/1000, "readfile-µs")
	b.ReportMetric(hash/1000, "sha256-µs")
	b.ReportMetric(get/1000, "get-µs")
	b.ReportMetric(load/1000, "load-µs")
	b.ReportMetric(put/1000, "put-again-µs")
	b.ReportMetric(engine/1000, "engine-load-µs")
	b.ReportMetric(get/plain, "get/readfile")
	b.ReportMetric(load/plain, "load/readfile")
	b.ReportMetric(put/plain, "put-again/readfile")
}
