package wasmbin

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func TestULEB128RoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 1, 63, 64, 127, 128, 255, 624485, math.MaxUint32, math.MaxUint32 + 1, math.MaxUint64} {
		enc := AppendULEB128(nil, v)
		got, n, err := ReadULEB128(enc)
		if err != nil || got != v || n != len(enc) {
			t.Errorf("ReadULEB128(% x) = %d, %d, %v; want %d, %d, nil", enc, got, n, err, v, len(enc))
		}
	}
	if got := AppendULEB128(nil, 624485); !bytes.Equal(got, []byte{0xE5, 0x8E, 0x26}) {
		t.Errorf("AppendULEB128(624485) = % x, want e5 8e 26", got)
	}
}

func TestSLEB128RoundTrip(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, 64, -64, -65, 127, -128, -123456, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64} {
		enc := AppendSLEB128(nil, v)
		got, n, err := ReadSLEB128(enc)
		if err != nil || got != v || n != len(enc) {
			t.Errorf("ReadSLEB128(% x) = %d, %d, %v; want %d, %d, nil", enc, got, n, err, v, len(enc))
		}
		if v >= math.MinInt32 && v <= math.MaxInt32 {
			got32, n, err := ReadS32(enc)
			if err != nil || int64(got32) != v || n != len(enc) {
				t.Errorf("ReadS32(% x) = %d, %d, %v; want %d", enc, got32, n, err, v)
			}
		}
	}
	if got := AppendSLEB128(nil, -123456); !bytes.Equal(got, []byte{0xC0, 0xBB, 0x78}) {
		t.Errorf("AppendSLEB128(-123456) = % x, want c0 bb 78", got)
	}
}

func TestLEB128NonMinimalAccepted(t *testing.T) {
	// Padded encodings (as Go's linker writes section sizes) are valid.
	v, n, err := ReadU32([]byte{0x85, 0x80, 0x80, 0x80, 0x00})
	if err != nil || v != 5 || n != 5 {
		t.Fatalf("ReadU32(padded 5) = %d, %d, %v", v, n, err)
	}
	s, n, err := ReadS32([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0x7F})
	if err != nil || s != -1 || n != 5 {
		t.Fatalf("ReadS32(padded -1) = %d, %d, %v", s, n, err)
	}
}

func TestLEB128Errors(t *testing.T) {
	cases := []struct {
		name string
		read func([]byte) error
		in   []byte
		want error
	}{
		{"u32 empty", readU32Err, nil, ErrLEBTruncated},
		{"u32 unterminated", readU32Err, []byte{0x80, 0x80}, ErrLEBTruncated},
		{"u32 six bytes", readU32Err, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, ErrLEBOverflow},
		{"u32 high bits in last byte", readU32Err, []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x1F}, ErrLEBOverflow},
		{"u32 max", readU32Err, []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x0F}, nil},
		{"u64 eleven bytes", readU64Err, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, ErrLEBOverflow},
		{"u64 bit 64", readU64Err, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02}, ErrLEBOverflow},
		{"s32 too big", readS32Err, []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x0F}, ErrLEBOverflow},
		{"s32 bad sign extension", readS32Err, []byte{0x80, 0x80, 0x80, 0x80, 0x70}, ErrLEBOverflow},
		{"s32 min", readS32Err, []byte{0x80, 0x80, 0x80, 0x80, 0x78}, nil},
		{"s64 bad last byte", readS64Err, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, ErrLEBOverflow},
		{"s64 min", readS64Err, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7F}, nil},
		{"s33 type index too big", readS33Err, []byte{0x80, 0x80, 0x80, 0x80, 0x20}, ErrLEBOverflow},
	}
	for _, c := range cases {
		err := c.read(c.in)
		if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func readU32Err(b []byte) error { _, _, err := ReadU32(b); return err }
func readU64Err(b []byte) error { _, _, err := ReadULEB128(b); return err }
func readS32Err(b []byte) error { _, _, err := ReadS32(b); return err }
func readS64Err(b []byte) error { _, _, err := ReadSLEB128(b); return err }
func readS33Err(b []byte) error { _, _, err := ReadS33(b); return err }
