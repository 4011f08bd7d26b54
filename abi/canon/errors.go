package canon

import (
	"strconv"
	"strings"
)

// Error is the error returned by every function of this package. It names
// where the problem is, as a path from the root of the JSON value, and what
// the problem is.
type Error struct {
	// Path locates the offending value: object members as .name (or
	// ["name"] when the name is not a plain identifier), array elements as
	// [i]. It is empty for the root value and for errors about a Go type.
	Path string
	// Msg describes the problem, e.g. `cannot decode string into int64`.
	Msg string

	// segs collects path segments innermost first while the error unwinds
	// the recursion; finish turns them into Path. Building the path only on
	// failure keeps the success path free of bookkeeping.
	segs []pathSeg
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

type pathSeg struct {
	key   string
	index int
	isKey bool
}

func newError(msg string) *Error { return &Error{Msg: msg} }

// atKey records that err happened inside the object member named key.
func atKey(err error, key string) error {
	if e, ok := err.(*Error); ok {
		e.segs = append(e.segs, pathSeg{key: key, isKey: true})
	}
	return err
}

// atIndex records that err happened inside array element i.
func atIndex(err error, i int) error {
	if e, ok := err.(*Error); ok {
		e.segs = append(e.segs, pathSeg{index: i})
	}
	return err
}

// finish renders the collected path segments into Path. It is called once,
// by the exported entry points.
func finish(err error) error {
	e, ok := err.(*Error)
	if !ok || len(e.segs) == 0 {
		return err
	}
	var b strings.Builder
	for i := len(e.segs) - 1; i >= 0; i-- {
		s := e.segs[i]
		switch {
		case !s.isKey:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		case isPlainName(s.key):
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key)
		default:
			b.WriteByte('[')
			// The key came from valid UTF-8 (decoded input or a checked Go
			// string), so quoting cannot fail; fall back to Go quoting anyway.
			q, qerr := appendString(nil, s.key)
			if qerr != nil {
				q = []byte(strconv.Quote(s.key))
			}
			b.Write(q)
			b.WriteByte(']')
		}
	}
	e.Path = b.String()
	e.segs = nil
	return e
}

// isPlainName reports whether key can be shown in a path without quoting.
func isPlainName(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '$') {
			return false
		}
	}
	return true
}

// describeByte renders an input byte for a syntax error message.
func describeByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return "byte 0x" + strconv.FormatUint(uint64(c)|0x100, 16)[1:]
}
