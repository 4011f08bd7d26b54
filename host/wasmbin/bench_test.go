package wasmbin

import (
	"bytes"
	"testing"
	"time"
)

// The benchmarks time the operation and a baseline in the same loop over the
// real Go module and report the ratio, which is comparable across machines.

// BenchmarkParse compares Parse with copying the same bytes (Parse copies its
// input once, so "x-copy" is the cost of decoding on top of that).
func BenchmarkParse(b *testing.B) {
	wasm := goGuest(b)
	b.SetBytes(int64(len(wasm)))
	var base, subject time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		sink = bytes.Clone(wasm)
		t1 := time.Now()
		if _, err := Parse(wasm); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		base += t1.Sub(t0)
		subject += t2.Sub(t1)
	}
	b.ReportMetric(float64(subject)/float64(base), "x-copy")
}

// BenchmarkEncode compares Encode with copying a module-sized buffer.
func BenchmarkEncode(b *testing.B) {
	wasm := goGuest(b)
	m, err := Parse(wasm)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(wasm)))
	var base, subject time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		sink = bytes.Clone(wasm)
		t1 := time.Now()
		sink = m.Encode()
		t2 := time.Now()
		base += t1.Sub(t0)
		subject += t2.Sub(t1)
	}
	b.ReportMetric(float64(subject)/float64(base), "x-copy")
}

// BenchmarkDecodeInstrs compares decoding every body of the Go module with a
// plain byte-by-byte pass over the same code.
func BenchmarkDecodeInstrs(b *testing.B) {
	m, err := Parse(goGuest(b))
	if err != nil {
		b.Fatal(err)
	}
	size := 0
	for _, body := range m.Code {
		size += len(body.Code)
	}
	b.SetBytes(int64(size))
	var base, subject time.Duration
	var sum, count int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		for _, body := range m.Code {
			for _, c := range body.Code {
				sum += int(c)
			}
		}
		t1 := time.Now()
		for _, body := range m.Code {
			if err := DecodeInstrs(body.Code, func(in Instr) error { count++; return nil }); err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		base += t1.Sub(t0)
		subject += t2.Sub(t1)
	}
	b.ReportMetric(float64(subject)/float64(base), "x-bytescan")
	sinkInt = sum + count
}

var (
	sink    []byte
	sinkInt int
)
