package canon

import (
	"strconv"
	"unicode/utf8"
)

// maxDepth is the deepest nesting of arrays and objects accepted, when
// decoding and when encoding.
const maxDepth = 512

// decodeState is the hand-written scanner over one JSON text. Every parse
// routine reads at pos and leaves pos after what it consumed.
type decodeState struct {
	data  []byte
	pos   int
	depth int
	// bufs is allocated on first need: most inputs need none of it, and a
	// small decodeState is cheaper to set up in wasm.
	bufs *decodeBuffers
}

// decodeBuffers are the working buffers of a decodeState.
type decodeBuffers struct {
	// scratch holds the unescaped content of the last string read when it
	// contained escape sequences.
	scratch []byte

	// Canonicalization bookkeeping, used as stacks shared by all nesting
	// levels: member records and escaped key bytes of the open objects, and
	// a buffer to reorder one object's members.
	members []pendingMember
	keys    []byte
	tmp     []byte
	raw     []byte // decoding into Raw canonicalizes here first
}

func (d *decodeState) buffers() *decodeBuffers {
	if d.bufs == nil {
		d.bufs = new(decodeBuffers)
	}
	return d.bufs
}

func (d *decodeState) syntaxError(off int, msg string) error {
	return newError("syntax error at offset " + strconv.Itoa(off) + ": " + msg)
}

// unexpected reports the byte at pos (or the end of input) as a syntax
// error; context says what the parser was doing.
func (d *decodeState) unexpected(context string) error {
	if d.pos >= len(d.data) {
		return d.syntaxError(d.pos, "unexpected end of input")
	}
	return d.syntaxError(d.pos, "invalid character "+describeByte(d.data[d.pos])+" "+context)
}

func (d *decodeState) skipWS() {
	for d.pos < len(d.data) && isSpace(d.data[d.pos]) {
		d.pos++
	}
}

// enter accounts for one more level of nesting.
func (d *decodeState) enter() error {
	if d.depth++; d.depth > maxDepth {
		return tooDeep()
	}
	return nil
}

// peek skips whitespace and returns the next byte, or a syntax error at the
// end of input.
func (d *decodeState) peek() (byte, error) {
	d.skipWS()
	if d.pos >= len(d.data) {
		return 0, d.unexpected("")
	}
	return d.data[d.pos], nil
}

// consumeEnd checks that only whitespace follows the top-level value.
func (d *decodeState) consumeEnd() error {
	d.skipWS()
	if d.pos < len(d.data) {
		return d.unexpected("after top-level value")
	}
	return nil
}

// literal consumes word (true, false or null) at pos.
func (d *decodeState) literal(word string) error {
	if len(d.data)-d.pos >= len(word) && string(d.data[d.pos:d.pos+len(word)]) == word {
		d.pos += len(word)
		return nil
	}
	for i := 0; i < len(word); i++ {
		p := d.pos + i
		if p >= len(d.data) {
			return d.syntaxError(p, "unexpected end of input")
		}
		if d.data[p] != word[i] {
			return d.syntaxError(p, "invalid character "+describeByte(d.data[p])+" in literal "+word)
		}
	}
	return nil // unreachable: the fast path matched
}

// readString reads the string literal at pos, which holds '"'. It returns
// the content: a subslice of data when the literal has no escape sequence
// (escaped is false), else the unescaped bytes in scratch, valid until the
// next call. The content is checked to be valid UTF-8 without lone
// surrogates.
func (d *decodeState) readString() (s []byte, escaped bool, err error) {
	data := d.data
	start := d.pos + 1
	i := start
	ascii := true
	for ; i < len(data); i++ {
		c := data[i]
		if c == '"' {
			s = data[start:i]
			if !ascii && !utf8.Valid(s) {
				return nil, false, d.invalidUTF8(start)
			}
			d.pos = i + 1
			return s, false, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return nil, false, d.syntaxError(i, "control character "+describeByte(c)+" in string (must be escaped)")
		}
		if c >= 0x80 {
			ascii = false
		}
	}
	if i >= len(data) {
		return nil, false, d.syntaxError(len(data), "unexpected end of input in string")
	}
	if !ascii && !utf8.Valid(data[start:i]) {
		return nil, false, d.invalidUTF8(start)
	}
	bufs := d.buffers()
	buf := append(bufs.scratch[:0], data[start:i]...)
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			bufs.scratch = buf
			d.pos = i + 1
			return buf, true, nil
		case c == '\\':
			if i+1 >= len(data) {
				return nil, false, d.syntaxError(len(data), "unexpected end of input in string")
			}
			switch e := data[i+1]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := hex4(data, i+2)
				if !ok {
					return nil, false, d.syntaxError(i, "invalid \\u escape in string")
				}
				if r >= 0xd800 && r < 0xe000 {
					lo, ok := rune(0), false
					if r < 0xdc00 && i+12 <= len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
						lo, ok = hex4(data, i+8)
						ok = ok && lo >= 0xdc00 && lo < 0xe000
					}
					if !ok {
						return nil, false, d.syntaxError(i, "lone surrogate \\u"+strconv.FormatInt(int64(r), 16)+" in string")
					}
					r = 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00)
					i += 6
				}
				buf = utf8.AppendRune(buf, r)
				i += 6
				continue
			default:
				return nil, false, d.syntaxError(i, "invalid escape character "+describeByte(e)+" after backslash in string")
			}
			i += 2
		case c < 0x20:
			return nil, false, d.syntaxError(i, "control character "+describeByte(c)+" in string (must be escaped)")
		case c < 0x80:
			buf = append(buf, c)
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return nil, false, d.syntaxError(i, "invalid UTF-8 in string")
			}
			buf = append(buf, data[i:i+size]...)
			i += size
		}
	}
	return nil, false, d.syntaxError(len(data), "unexpected end of input in string")
}

// invalidUTF8 locates the first invalid UTF-8 sequence from start.
func (d *decodeState) invalidUTF8(start int) error {
	i := start
	for i < len(d.data) {
		r, size := utf8.DecodeRune(d.data[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	return d.syntaxError(i, "invalid UTF-8 in string")
}

func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// scanNumber reads the number literal at pos. isInt reports a literal with
// neither fraction nor exponent.
func (d *decodeState) scanNumber() (lit []byte, isInt bool, err error) {
	end, isInt, ok := scanNumberAt(d.data, d.pos)
	if !ok {
		if end >= len(d.data) {
			return nil, false, d.syntaxError(end, "unexpected end of input in number")
		}
		return nil, false, d.syntaxError(end, "invalid character "+describeByte(d.data[end])+" in number")
	}
	lit = d.data[d.pos:end]
	d.pos = end
	return lit, isInt, nil
}

// scanNumberAt scans the JSON number grammar in s from i. It returns the end
// of the literal, or with ok false the offset of the offending byte.
func scanNumberAt[S ~string | ~[]byte](s S, i int) (end int, isInt bool, ok bool) {
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i >= len(s):
		return i, false, false
	case s[i] == '0':
		i++
	case '1' <= s[i] && s[i] <= '9':
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return i, false, false
	}
	isInt = true
	if i < len(s) && s[i] == '.' {
		isInt = false
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return i, false, false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		isInt = false
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			return i, false, false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return i, isInt, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// valueKind names the JSON value starting with c, for type mismatch errors.
func valueKind(c byte) string {
	switch {
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == '"':
		return "string"
	case c == 't' || c == 'f':
		return "bool"
	case c == 'n':
		return "null"
	case c == '-' || isDigit(c):
		return "number"
	}
	return ""
}

// shorten renders a literal for an error message, cutting very long ones.
func shorten(lit []byte) string {
	const limit = 40
	if len(lit) <= limit {
		return string(lit)
	}
	return string(lit[:limit]) + "..."
}
