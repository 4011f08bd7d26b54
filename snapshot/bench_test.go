package snapshot

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const benchSize = 100 << 20

// rawWriteFsync is the baseline: the same bytes written sequentially in 1 MiB
// pieces to a plain file, then fsynced.
func rawWriteFsync(b *testing.B, path string, chunk []byte) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	for written := 0; written < benchSize; written += len(chunk) {
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

func mbPerSecond(bytes int64, d time.Duration) float64 {
	return float64(bytes) / 1e6 / d.Seconds()
}

// BenchmarkWrite100MB writes a 100 MB snapshot (temp file, SHA-256, fsync,
// rename, directory fsync, prune) and, in the same iteration, the raw
// baseline, alternating which goes first. It reports both speeds and their
// ratio; the snapshot is written in pieces of the size the sub-benchmark
// names, the baseline always in 1 MiB pieces.
func BenchmarkWrite100MB(b *testing.B) {
	chunk := testPayload(1, 1<<20)
	for _, bc := range []struct {
		name  string
		piece int
	}{{"pieces=1MiB", 1 << 20}, {"pieces=4KiB", 4 << 10}} {
		b.Run(bc.name, func(b *testing.B) {
			dir := b.TempDir()
			s := openStore(b, filepath.Join(dir, "snapshots"), Options{Keep: 1})
			rawPath := filepath.Join(dir, "raw")
			write := func(w io.Writer) error {
				for written := 0; written < benchSize; written += bc.piece {
					off := written % len(chunk)
					if _, err := w.Write(chunk[off : off+bc.piece]); err != nil {
						return err
					}
				}
				return nil
			}
			var snapTime, rawTime time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				snapFirst := i%2 == 0
				if !snapFirst {
					start := time.Now()
					rawWriteFsync(b, rawPath, chunk)
					rawTime += time.Since(start)
				}
				start := time.Now()
				if _, err := s.Write(testMeta(uint64(i)), write); err != nil {
					b.Fatal(err)
				}
				snapTime += time.Since(start)
				if snapFirst {
					start := time.Now()
					rawWriteFsync(b, rawPath, chunk)
					rawTime += time.Since(start)
				}
			}
			total := int64(benchSize) * int64(b.N)
			b.ReportMetric(mbPerSecond(total, snapTime), "snapshot-MB/s")
			b.ReportMetric(mbPerSecond(total, rawTime), "raw-MB/s")
			b.ReportMetric(rawTime.Seconds()/snapTime.Seconds(), "snapshot/raw")
		})
	}
}

// BenchmarkVerify100MB opens a 100 MB snapshot with OpenLatest (full SHA-256
// verification) and, as the baseline, reads the same file sequentially
// without hashing; both read from whatever the page cache holds.
func BenchmarkVerify100MB(b *testing.B) {
	chunk := testPayload(1, 1<<20)
	s := openStore(b, b.TempDir(), Options{})
	info, err := s.Write(testMeta(1), func(w io.Writer) error {
		for written := 0; written < benchSize; written += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	var verifyTime, rawTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		f, err := os.Open(info.Path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf); err != nil {
			b.Fatal(err)
		}
		f.Close()
		rawTime += time.Since(start)

		start = time.Now()
		r, err := s.OpenLatest()
		if err != nil {
			b.Fatal(err)
		}
		r.Close()
		verifyTime += time.Since(start)
	}
	total := info.Size * int64(b.N)
	b.ReportMetric(mbPerSecond(total, verifyTime), "verify-MB/s")
	b.ReportMetric(mbPerSecond(total, rawTime), "raw-read-MB/s")
	b.ReportMetric(rawTime.Seconds()/verifyTime.Seconds(), "verify/raw-read")
}
