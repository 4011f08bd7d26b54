package seal

import (
	"testing"
	"time"

	"github.com/reprise-dev/reprise/host/wasmbin"
)

// BenchmarkSeal compares sealing the Go reactor with a plain Parse+Encode
// round trip of it, timed in the same loop; "x-roundtrip" is the cost of the
// rewrite on top of reading and writing the module.
func BenchmarkSeal(b *testing.B) {
	wasm := goReactor(b)
	b.SetBytes(int64(len(wasm)))
	var base, subject time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		m, err := wasmbin.Parse(wasm)
		if err != nil {
			b.Fatal(err)
		}
		sink = m.Encode()
		t1 := time.Now()
		if sink, _, err = Seal(wasm); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		base += t1.Sub(t0)
		subject += t2.Sub(t1)
	}
	b.ReportMetric(float64(subject)/float64(base), "x-roundtrip")
}

var sink []byte
