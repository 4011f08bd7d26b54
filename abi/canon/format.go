package canon

import (
	"math"
	"strconv"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// appendString appends s as a canonical JSON string, refusing invalid UTF-8
// rather than replacing it.
func appendString(dst []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		i := 0
		for i < len(s) {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			i += size
		}
		return dst, newError("invalid UTF-8 at byte " + strconv.Itoa(i) + " of string")
	}
	return appendEscaped(dst, s), nil
}

// appendEscaped appends s, which must be valid UTF-8, as a canonical JSON
// string: only '"', '\' and control characters are escaped.
func appendEscaped[S ~string | ~[]byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendFloat appends f in canonical form: the shortest decimal that reads
// back as the same value at the given bit size, laid out like ECMAScript's
// Number.prototype.toString (RFC 8785).
func appendFloat(dst []byte, f float64, bits int) ([]byte, error) {
	switch {
	case math.IsNaN(f):
		return dst, newError("unsupported float value NaN")
	case math.IsInf(f, 1):
		return dst, newError("unsupported float value +Inf")
	case math.IsInf(f, -1):
		return dst, newError("unsupported float value -Inf")
	case f == 0: // also -0
		return append(dst, '0'), nil
	}
	// Below 2^mantissa bits every integral value is exact and is its own
	// shortest representation.
	exact := float64(1 << 53)
	if bits == 32 {
		exact = 1 << 24
	}
	if math.Abs(f) < exact && f == math.Trunc(f) {
		return strconv.AppendInt(dst, int64(f), 10), nil
	}

	var buf [32]byte
	sci := strconv.AppendFloat(buf[:0], f, 'e', -1, bits) // -d.ddde±dd
	if sci[0] == '-' {
		dst = append(dst, '-')
		sci = sci[1:]
	}
	var digitBuf [24]byte
	digits := digitBuf[:0]
	i := 0
	for ; sci[i] != 'e'; i++ {
		if sci[i] != '.' {
			digits = append(digits, sci[i])
		}
	}
	exp := 0
	neg := sci[i+1] == '-'
	for _, c := range sci[i+2:] {
		exp = exp*10 + int(c-'0')
	}
	if neg {
		exp = -exp
	}

	// In ECMAScript's terms the value is 0.digits × 10^n.
	k, n := len(digits), exp+1
	switch {
	case k <= n && n <= 21:
		dst = append(dst, digits...)
		for j := k; j < n; j++ {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		dst = append(dst, digits[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for j := n; j < 0; j++ {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	default:
		dst = append(dst, digits[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		if n-1 >= 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(n-1), 10)
	}
	return dst, nil
}

// appendNumber appends the canonical form of the number literal lit, which
// scanNumberAt accepted: integer literals keep their digits (-0 becomes 0),
// any other literal is read as a float64 and printed by appendFloat.
func appendNumber[S ~string | ~[]byte](dst []byte, lit S, isInt bool) ([]byte, error) {
	if isInt {
		if len(lit) == 2 && lit[0] == '-' && lit[1] == '0' {
			return append(dst, '0'), nil
		}
		return append(dst, lit...), nil
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		// The grammar was checked, so only range errors remain; a value
		// that underflows reads as zero without error.
		return dst, newError("number " + shorten([]byte(lit)) + " is out of range for float64")
	}
	return appendFloat(dst, f, 64)
}
