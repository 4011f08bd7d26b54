package wal

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzUnmarshalRecord checks that decoding never panics, that whatever
// decodes re-encodes to the same bytes (one encoding per record), and that a
// failure is a *CorruptError or a *VersionError. Each input is tried as it is
// and with a valid checksum appended, so the fuzzer also reaches the field
// decoder behind the checksum.
func FuzzUnmarshalRecord(f *testing.F) {
	for _, r := range []Record{sampleRecord(1), fullRecord(1 << 20), {Index: 1, Kind: KindTransition}} {
		enc, err := r.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
		f.Add(enc[:len(enc)-checksumLen])
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecode(t, b)
		checkDecode(t, appendChecksum(bytes.Clone(b)))
	})
}

func checkDecode(t *testing.T, b []byte) {
	r, err := UnmarshalRecord(b)
	if err != nil {
		var ce *CorruptError
		var ve *VersionError
		if !errors.As(err, &ce) && !errors.As(err, &ve) {
			t.Fatalf("error %v (%T) is neither *CorruptError nor *VersionError", err, err)
		}
		if !reflect.DeepEqual(r, Record{}) {
			t.Fatalf("a failed decode returned data: %+v", r)
		}
		return
	}
	enc, err := r.MarshalBinary()
	if err != nil {
		t.Fatalf("decoded record does not re-encode: %v", err)
	}
	if !bytes.Equal(enc, b) {
		t.Fatalf("re-encoding differs:\n in  %x\n out %x", b, enc)
	}
	again, err := UnmarshalRecord(enc)
	if err != nil || !reflect.DeepEqual(again, r) {
		t.Fatalf("second decode = %+v, %v; want %+v", again, err, r)
	}
}
