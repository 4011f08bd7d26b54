package wasmbin

import (
	"bytes"
	"testing"
)

// FuzzParse checks that Parse never panics, that whatever it accepts encodes
// to bytes it accepts again with the same encoding, and that decoding every
// accepted body never panics. Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add(sampleModule().Encode())
	f.Add(rawModule())
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := Parse(in)
		if err != nil {
			return
		}
		for _, body := range m.Code {
			_ = DecodeInstrs(body.Code, func(Instr) error { return nil })
		}
		first := m.Encode()
		m2, err := Parse(first)
		if err != nil {
			t.Fatalf("Parse accepted the input but refused its encoding: %v", err)
		}
		if second := m2.Encode(); !bytes.Equal(first, second) {
			t.Fatalf("encoding is not stable:\n first % x\nsecond % x", first, second)
		}
	})
}
