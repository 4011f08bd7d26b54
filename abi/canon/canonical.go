package canon

import (
	"bytes"
	"slices"
	"sync"
)

// Canonicalize returns the canonical form of the JSON text data (see the
// package documentation). It fails on anything that is not exactly one JSON
// value (surrounding whitespace allowed), on duplicate object keys, on
// invalid UTF-8 or lone surrogate escapes, on non-integer numbers outside
// the float64 range, and on nesting deeper than 512 levels.
func Canonicalize(data []byte) ([]byte, error) {
	d := decodeState{data: data}
	out, err := d.canonDocument(make([]byte, 0, len(data)))
	if err != nil {
		return nil, err
	}
	return out, nil
}

var validBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBuffer keeps one huge text from pinning its buffer in the pool.
const maxPooledBuffer = 1 << 20

// Valid reports whether Canonicalize accepts data.
func Valid(data []byte) bool {
	buf := validBuffers.Get().(*[]byte)
	d := decodeState{data: data}
	out, err := d.canonDocument((*buf)[:0])
	if cap(out) <= maxPooledBuffer {
		*buf = out[:0]
		validBuffers.Put(buf)
	}
	return err == nil
}

// canonDocument appends the canonical form of the whole text to dst.
func (d *decodeState) canonDocument(dst []byte) ([]byte, error) {
	out, err := d.canon(dst)
	if err == nil {
		err = d.consumeEnd()
	}
	if err != nil {
		return dst, finish(err)
	}
	return out, nil
}

// pendingMember records one object member written to the output while its object
// is open: where its key is (in data, or in keys when it had escapes) and
// where its `"key":value` text is in the output.
type pendingMember struct {
	keyStart, keyEnd int
	keyEscaped       bool
	start, end       int
}

func (d *decodeState) memberKey(m *pendingMember) []byte {
	if m.keyEscaped {
		return d.bufs.keys[m.keyStart:m.keyEnd]
	}
	return d.data[m.keyStart:m.keyEnd]
}

// canon appends the canonical form of the value at pos to dst.
func (d *decodeState) canon(dst []byte) ([]byte, error) {
	c, err := d.peek()
	if err != nil {
		return dst, err
	}
	switch c {
	case '{':
		return d.canonObject(dst)
	case '[':
		return d.canonArray(dst)
	case '"':
		start := d.pos
		s, escaped, err := d.readString()
		if err != nil {
			return dst, err
		}
		if !escaped {
			// Without escapes the literal is already canonical: it cannot
			// hold '"', '\' or control characters.
			return append(dst, d.data[start:d.pos]...), nil
		}
		return appendEscaped(dst, s), nil
	case 't':
		return append(dst, "true"...), d.literal("true")
	case 'f':
		return append(dst, "false"...), d.literal("false")
	case 'n':
		return append(dst, "null"...), d.literal("null")
	}
	if c == '-' || isDigit(c) {
		lit, isInt, err := d.scanNumber()
		if err != nil {
			return dst, err
		}
		return appendNumber(dst, lit, isInt)
	}
	return dst, d.unexpected("looking for beginning of value")
}

func (d *decodeState) canonArray(dst []byte) ([]byte, error) {
	if err := d.enter(); err != nil {
		return dst, err
	}
	d.pos++
	dst = append(dst, '[')
	if c, err := d.peek(); err != nil {
		return dst, err
	} else if c == ']' {
		d.pos++
		d.depth--
		return append(dst, ']'), nil
	}
	for i := 0; ; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = d.canon(dst); err != nil {
			return dst, atIndex(err, i)
		}
		c, err := d.peek()
		if err != nil {
			return dst, err
		}
		d.pos++
		switch c {
		case ',':
		case ']':
			d.depth--
			return append(dst, ']'), nil
		default:
			d.pos--
			return dst, d.unexpected("after array element (expecting ',' or ']')")
		}
	}
}

func (d *decodeState) canonObject(dst []byte) ([]byte, error) {
	if err := d.enter(); err != nil {
		return dst, err
	}
	d.pos++
	dst = append(dst, '{')
	if c, err := d.peek(); err != nil {
		return dst, err
	} else if c == '}' {
		d.pos++
		d.depth--
		return append(dst, '}'), nil
	}
	contentStart := len(dst)
	b := d.buffers()
	membersBase, keysBase := len(b.members), len(b.keys)
	defer func() {
		b.members = b.members[:membersBase]
		b.keys = b.keys[:keysBase]
	}()
	sorted := true
	for {
		if c, err := d.peek(); err != nil {
			return dst, err
		} else if c != '"' {
			return dst, d.unexpected("looking for beginning of object key string")
		}
		if len(b.members) > membersBase {
			dst = append(dst, ',')
		}
		m := pendingMember{start: len(dst)}
		litStart := d.pos
		key, escaped, err := d.readString()
		if err != nil {
			return dst, err
		}
		if escaped {
			m.keyEscaped = true
			m.keyStart = len(b.keys)
			b.keys = append(b.keys, key...)
			m.keyEnd = len(b.keys)
			dst = appendEscaped(dst, key)
		} else {
			m.keyStart, m.keyEnd = litStart+1, d.pos-1
			dst = append(dst, d.data[litStart:d.pos]...)
		}
		key = d.memberKey(&m)
		if sorted && len(b.members) > membersBase {
			switch bytes.Compare(d.memberKey(&b.members[len(b.members)-1]), key) {
			case 0:
				return dst, duplicateKey(key)
			case 1:
				sorted = false
			}
		}
		if c, err := d.peek(); err != nil {
			return dst, err
		} else if c != ':' {
			return dst, d.unexpected("after object key (expecting ':')")
		}
		d.pos++
		dst = append(dst, ':')
		if dst, err = d.canon(dst); err != nil {
			return dst, atKey(err, string(d.memberKey(&m)))
		}
		m.end = len(dst)
		b.members = append(b.members, m)

		c, err := d.peek()
		if err != nil {
			return dst, err
		}
		d.pos++
		if c == '}' {
			break
		}
		if c != ',' {
			d.pos--
			return dst, d.unexpected("after object member (expecting ',' or '}')")
		}
	}
	if !sorted {
		ms := b.members[membersBase:]
		slices.SortFunc(ms, func(a, b pendingMember) int { return bytes.Compare(d.memberKey(&a), d.memberKey(&b)) })
		for i := 1; i < len(ms); i++ {
			if k := d.memberKey(&ms[i]); bytes.Equal(d.memberKey(&ms[i-1]), k) {
				return dst, duplicateKey(k)
			}
		}
		tmp := b.tmp[:0]
		for i := range ms {
			if i > 0 {
				tmp = append(tmp, ',')
			}
			tmp = append(tmp, dst[ms[i].start:ms[i].end]...)
		}
		copy(dst[contentStart:], tmp)
		b.tmp = tmp
	}
	d.depth--
	return append(dst, '}'), nil
}

func duplicateKey(key []byte) error {
	return newError("duplicate key " + string(appendEscaped(nil, key)))
}
