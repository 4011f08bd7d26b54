package wasmbin

import "errors"

// Errors returned by the LEB128 readers. They are wrapped with the position
// by Parse and DecodeInstrs, so callers test them with errors.Is.
var (
	ErrLEBTruncated = errors.New("LEB128 number runs past the end of input")
	ErrLEBOverflow  = errors.New("LEB128 number overflows its type")
)

// AppendULEB128 appends the minimal unsigned LEB128 encoding of v to dst.
func AppendULEB128(dst []byte, v uint64) []byte {
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(dst, b)
		}
		dst = append(dst, b|0x80)
	}
}

// AppendSLEB128 appends the minimal signed LEB128 encoding of v to dst.
func AppendSLEB128(dst []byte, v int64) []byte {
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && b&0x40 == 0) || (v == -1 && b&0x40 != 0) {
			return append(dst, b)
		}
		dst = append(dst, b|0x80)
	}
}

// ReadULEB128 decodes an unsigned 64-bit LEB128 number from the start of b and
// returns it with the number of bytes it used.
func ReadULEB128(b []byte) (v uint64, n int, err error) { return readULEB(b, 64) }

// ReadSLEB128 decodes a signed 64-bit LEB128 number from the start of b and
// returns it with the number of bytes it used.
func ReadSLEB128(b []byte) (v int64, n int, err error) { return readSLEB(b, 64) }

// ReadU32 decodes an unsigned LEB128 number that must fit in 32 bits (the
// encoding of every count, index and size in a module).
func ReadU32(b []byte) (v uint32, n int, err error) {
	u, n, err := readULEB(b, 32)
	return uint32(u), n, err
}

// ReadS32 decodes a signed LEB128 number that must fit in 32 bits (the
// immediate of i32.const).
func ReadS32(b []byte) (v int32, n int, err error) {
	s, n, err := readSLEB(b, 32)
	return int32(s), n, err
}

// ReadS33 decodes a signed LEB128 number that must fit in 33 bits (the
// encoding of a block type's type index).
func ReadS33(b []byte) (v int64, n int, err error) { return readSLEB(b, 33) }

// readULEB accepts at most ceil(bits/7) bytes and requires the unused high
// bits of the last byte to be zero, as the binary format does.
func readULEB(b []byte, bits uint) (uint64, int, error) {
	maxBytes := int((bits + 6) / 7)
	var v uint64
	var shift uint
	for i := 0; ; i++ {
		if i >= len(b) {
			return 0, 0, ErrLEBTruncated
		}
		if i >= maxBytes {
			return 0, 0, ErrLEBOverflow
		}
		c := b[i]
		if i == maxBytes-1 {
			// Only bits-shift payload bits remain; the rest (and the
			// continuation bit) must be clear.
			if c>>(bits-shift) != 0 {
				return 0, 0, ErrLEBOverflow
			}
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, i + 1, nil
		}
		shift += 7
	}
}

// readSLEB accepts at most ceil(bits/7) bytes and requires the unused high
// bits of the last byte to be a sign extension of the value.
func readSLEB(b []byte, bits uint) (int64, int, error) {
	maxBytes := int((bits + 6) / 7)
	var v int64
	var shift uint
	for i := 0; ; i++ {
		if i >= len(b) {
			return 0, 0, ErrLEBTruncated
		}
		if i >= maxBytes {
			return 0, 0, ErrLEBOverflow
		}
		c := b[i]
		if i == maxBytes-1 {
			if c&0x80 != 0 {
				return 0, 0, ErrLEBOverflow
			}
			// The sign bit of the value and every payload bit above it
			// must be equal.
			used := bits - shift // payload bits that carry value, 1..7
			signAndAbove := (c & 0x7f) >> (used - 1)
			if signAndAbove != 0 && signAndAbove != (1<<(8-used))-1 {
				return 0, 0, ErrLEBOverflow
			}
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, i + 1, nil
		}
	}
}
