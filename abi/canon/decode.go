package canon

import (
	"encoding/base64"
	"math"
	"reflect"
	"strconv"
	"unsafe"
)

// Unmarshal decodes the JSON text data into the value v points to.
//
// Decoding is strict; see the package documentation for the rules. It
// overwrites *v entirely: the result depends on data only, never on what *v
// held before, and slices, maps and pointers inside it are freshly
// allocated, never reused. On error *v may hold a partly decoded value.
func Unmarshal(data []byte, v any) error {
	p := lastDecode.load()
	if p == nil || p.typeWord != typeWord(v) {
		var err error
		if p, err = decodePlan(v); err != nil {
			return err
		}
	}
	// v holds a pointer, which an interface stores in its data word.
	target := (*eface)(unsafe.Pointer(&v)).data
	if target == nil {
		return notPointer(v)
	}
	d := decodeState{data: data}
	var err error
	if len(data) > 0 && data[0] == '{' && p.elem.kind == kStruct {
		err = d.decodeStruct(target, p.elem) // the common case, one call less
	} else {
		err = d.decode(target, p.elem)
	}
	if err == nil && d.pos != len(data) {
		err = d.consumeEnd()
	}
	if err != nil {
		return finish(err)
	}
	return nil
}

func notPointer(v any) error {
	return newError("Unmarshal needs a non-nil pointer, got " + describeTarget(v))
}

// decodePlan returns the plan for v, which must be a pointer, and makes it
// the one Unmarshal tries first.
func decodePlan(v any) (*plan, error) {
	if v == nil || reflect.TypeOf(v).Kind() != reflect.Pointer {
		return nil, notPointer(v)
	}
	return cachedPlan(&lastDecode, v)
}

func describeTarget(v any) string {
	if v == nil {
		return "nil"
	}
	t := reflect.TypeOf(v)
	if t.Kind() == reflect.Pointer {
		return "nil " + t.String()
	}
	return t.String()
}

var (
	mapStringAnyType = reflect.TypeFor[map[string]any]()
	sliceAnyType     = reflect.TypeFor[[]any]()
)

// sliceHeader is the memory layout of every Go slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// mismatch reports the JSON value starting with c as not decodable into p's
// type, or as a syntax error if c starts no value.
func (d *decodeState) mismatch(c byte, p *plan) error {
	k := valueKind(c)
	if k == "" {
		return d.unexpected("looking for beginning of value")
	}
	if p.kind == kIface {
		return newError("cannot decode " + k + " into interface type " + p.typ.String() + " (only null)")
	}
	return newError("cannot decode " + k + " into " + p.typ.String())
}

// plainByte marks the bytes that stand for themselves in a string literal
// and need no UTF-8 check: printable ASCII except '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// quickString reads the string literal at pos when it is plain ASCII
// without escapes, the common case, returning its content. Otherwise it
// consumes nothing and reports false, and readString must be used.
func (d *decodeState) quickString() ([]byte, bool) {
	data := d.data
	start := d.pos + 1
	i := start
	for i < len(data) && plainByte[data[i]] {
		i++
	}
	if i < len(data) && data[i] == '"' {
		d.pos = i + 1
		return data[start:i], true
	}
	return nil, false
}

// quickInt reads the integer literal at pos when it has at most 18
// digits, the common case. Otherwise it consumes nothing and reports false.
func (d *decodeState) quickInt() (int64, bool) {
	n, end := quickIntAt(d.data, d.pos)
	if end < 0 {
		return 0, false
	}
	d.pos = end
	return n, true
}

// quickIntAt parses an integer literal of at most 18 digits at i, returning
// it and its end, or end -1 for anything else (which the exact path
// handles, with its errors).
func quickIntAt(data []byte, i int) (n int64, end int) {
	neg := i < len(data) && data[i] == '-'
	if neg {
		i++
	}
	start := i
	for i < len(data) && data[i]-'0' <= 9 {
		n = n*10 + int64(data[i]-'0')
		i++
	}
	digits := i - start
	if digits == 0 || digits > 18 || digits > 1 && data[start] == '0' ||
		i < len(data) && (data[i] == '.' || data[i]|0x20 == 'e') {
		return 0, -1
	}
	if neg {
		n = -n
	}
	return n, i
}

// decode decodes the value at pos into the variable at ptr, whose type has
// plan p.
func (d *decodeState) decode(ptr unsafe.Pointer, p *plan) error {
	d.skipWS()
	if d.pos >= len(d.data) {
		return d.unexpected("")
	}
	c := d.data[d.pos]
	if c == 'n' {
		if err := d.literal("null"); err != nil {
			return err
		}
		if p.kind == kRaw {
			*(*[]byte)(ptr) = append([]byte(nil), "null"...)
		} else {
			zeroValue(ptr, p)
		}
		return nil
	}
	switch p.kind {
	case kString:
		if c == '"' {
			s, ok := d.quickString()
			if !ok {
				var err error
				if s, _, err = d.readString(); err != nil {
					return err
				}
			}
			*(*string)(ptr) = string(s)
			return nil
		}
	case kInt:
		if c == '-' || isDigit(c) {
			start := d.pos
			n, ok := d.quickInt()
			if !ok {
				var err error
				if n, err = d.decodeInt(p); err != nil {
					return err
				}
			} else if p.bits < 64 && (n >= 1<<(p.bits-1) || n < -1<<(p.bits-1)) {
				return newError("number " + string(d.data[start:d.pos]) + " overflows " + p.typ.String())
			}
			storeInt(ptr, p.bits, uint64(n))
			return nil
		}
	case kUint:
		if c == '-' || isDigit(c) {
			n, err := d.decodeUint(p)
			if err != nil {
				return err
			}
			storeInt(ptr, p.bits, n)
			return nil
		}
	case kBool:
		switch c {
		case 't':
			*(*bool)(ptr) = true
			return d.literal("true")
		case 'f':
			*(*bool)(ptr) = false
			return d.literal("false")
		}
	case kFloat:
		if c == '-' || isDigit(c) {
			f, err := d.decodeFloat(p)
			if err != nil {
				return err
			}
			if p.bits == 32 {
				*(*float32)(ptr) = float32(f)
			} else {
				*(*float64)(ptr) = f
			}
			return nil
		}
	case kStruct:
		if c == '{' {
			return d.decodeStruct(ptr, p)
		}
	case kSlice:
		if c == '[' {
			return d.decodeSlice(ptr, p)
		}
	case kArray:
		if c == '[' {
			return d.decodeArray(ptr, p)
		}
	case kMap:
		if c == '{' {
			if p.typ == mapStringAnyType {
				m, err := d.decodeAnyObject()
				*(*map[string]any)(ptr) = m
				return err
			}
			return d.decodeMap(ptr, p)
		}
	case kPtr:
		target := reflect.New(p.elem.typ).UnsafePointer()
		if err := d.decode(target, p.elem); err != nil {
			return err
		}
		*(*unsafe.Pointer)(ptr) = target
		return nil
	case kAny:
		x, err := d.decodeAny()
		*(*any)(ptr) = x
		return err
	case kNumber:
		if c == '-' || isDigit(c) {
			n, err := d.decodeNumber()
			*(*string)(ptr) = string(n)
			return err
		}
	case kRaw:
		bufs := d.buffers()
		out, err := d.canon(bufs.raw[:0])
		bufs.raw = out[:0]
		if err != nil {
			return err
		}
		*(*[]byte)(ptr) = append([]byte(nil), out...)
		return nil
	case kBytes:
		if c == '"' {
			b, err := d.decodeBytes(p)
			*(*[]byte)(ptr) = b
			return err
		}
	case kIface:
	default:
		return p.err()
	}
	return d.mismatch(c, p)
}

// storeInt stores n, truncated to bits, at ptr.
func storeInt(ptr unsafe.Pointer, bits int, n uint64) {
	switch bits {
	case 8:
		*(*uint8)(ptr) = uint8(n)
	case 16:
		*(*uint16)(ptr) = uint16(n)
	case 32:
		*(*uint32)(ptr) = uint32(n)
	default:
		*(*uint64)(ptr) = n
	}
}

// zeroValue sets the variable at ptr to the zero value of p's type.
func zeroValue(ptr unsafe.Pointer, p *plan) {
	switch p.kind {
	case kBool:
		*(*bool)(ptr) = false
	case kInt, kUint:
		storeInt(ptr, p.bits, 0)
	case kFloat:
		if p.bits == 32 {
			*(*float32)(ptr) = 0
		} else {
			*(*float64)(ptr) = 0
		}
	case kString, kNumber:
		*(*string)(ptr) = ""
	case kBytes, kRaw, kSlice:
		*(*sliceHeader)(ptr) = sliceHeader{}
	case kPtr, kMap:
		*(*unsafe.Pointer)(ptr) = nil
	case kAny:
		*(*any)(ptr) = nil
	default:
		reflect.NewAt(p.typ, ptr).Elem().SetZero()
	}
}

// decodeInt reads an integer literal that fits p's signed type.
func (d *decodeState) decodeInt(p *plan) (int64, error) {
	lit, isInt, err := d.scanNumber()
	if err != nil {
		return 0, err
	}
	if !isInt {
		return 0, newError("cannot decode non-integer number " + shorten(lit) + " into " + p.typ.String())
	}
	neg, mag, ok := parseMagnitude(lit)
	limit := uint64(1) << (p.bits - 1) // |min|; max is limit-1
	if !ok || !neg && mag >= limit || neg && mag > limit {
		return 0, newError("number " + shorten(lit) + " overflows " + p.typ.String())
	}
	if neg {
		return int64(-mag), nil
	}
	return int64(mag), nil
}

// decodeUint reads an integer literal that fits p's unsigned type.
func (d *decodeState) decodeUint(p *plan) (uint64, error) {
	lit, isInt, err := d.scanNumber()
	if err != nil {
		return 0, err
	}
	if !isInt {
		return 0, newError("cannot decode non-integer number " + shorten(lit) + " into " + p.typ.String())
	}
	neg, mag, ok := parseMagnitude(lit)
	if !ok || neg && mag != 0 || p.bits < 64 && mag >= uint64(1)<<p.bits {
		return 0, newError("number " + shorten(lit) + " overflows " + p.typ.String())
	}
	return mag, nil
}

// parseMagnitude splits an integer literal checked by scanNumberAt into sign
// and magnitude; ok is false when the magnitude exceeds uint64.
func parseMagnitude(lit []byte) (neg bool, mag uint64, ok bool) {
	if lit[0] == '-' {
		neg, lit = true, lit[1:]
	}
	for _, c := range lit {
		if mag > (math.MaxUint64-9)/10 {
			// Slow, exact check only near the limit.
			if mag > math.MaxUint64/10 || mag*10 > math.MaxUint64-uint64(c-'0') {
				return neg, 0, false
			}
		}
		mag = mag*10 + uint64(c-'0')
	}
	return neg, mag, true
}

func (d *decodeState) decodeFloat(p *plan) (float64, error) {
	lit, _, err := d.scanNumber()
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(string(lit), p.bits)
	if err != nil {
		return 0, newError("number " + shorten(lit) + " overflows " + p.typ.String())
	}
	return f, nil
}

// decodeNumber reads a number literal and returns its canonical form.
func (d *decodeState) decodeNumber() ([]byte, error) {
	lit, isInt, err := d.scanNumber()
	if err != nil {
		return nil, err
	}
	if isInt && lit[0] != '-' {
		return lit, nil
	}
	var buf [32]byte
	return appendNumber(buf[:0], lit, isInt)
}

func (d *decodeState) decodeBytes(p *plan) ([]byte, error) {
	s, _, err := d.readString()
	if err != nil {
		return nil, err
	}
	// Strict decoding rejects non-zero padding bits, so each byte string has
	// one accepted text; base64 would otherwise skip CR and LF silently.
	for _, c := range s {
		if c == '\r' || c == '\n' {
			return nil, newError("cannot decode string into " + p.typ.String() + ": line break in base64 data")
		}
	}
	b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Strict().Decode(b, s)
	if err != nil {
		return nil, newError("cannot decode string into " + p.typ.String() + ": " + err.Error())
	}
	return b[:n:n], nil
}

func (d *decodeState) decodeSlice(ptr unsafe.Pointer, p *plan) error {
	if err := d.enter(); err != nil {
		return err
	}
	d.pos++
	if p.typ == sliceAnyType {
		a, err := d.decodeAnyArrayBody()
		*(*[]any)(ptr) = a
		return err
	}
	if c, err := d.peek(); err != nil {
		return err
	} else if c == ']' {
		d.pos++
		d.depth--
		// An empty slice, not nil, as encoding/json decodes [].
		*(*sliceHeader)(ptr) = sliceHeader{data: reflect.MakeSlice(p.typ, 0, 0).UnsafePointer()}
		return nil
	}
	backing := reflect.MakeSlice(p.typ, 4, 4)
	base, capacity, n := backing.UnsafePointer(), 4, 0
	for {
		if n == capacity {
			grown := reflect.MakeSlice(p.typ, 2*capacity, 2*capacity)
			reflect.Copy(grown, backing)
			backing, base, capacity = grown, grown.UnsafePointer(), 2*capacity
		}
		if err := d.decode(unsafe.Add(base, uintptr(n)*p.elemSize), p.elem); err != nil {
			return atIndex(err, n)
		}
		n++
		c, err := d.peek()
		if err != nil {
			return err
		}
		d.pos++
		switch c {
		case ',':
		case ']':
			d.depth--
			*(*sliceHeader)(ptr) = sliceHeader{data: base, len: n, cap: n}
			return nil
		default:
			d.pos--
			return d.unexpected("after array element (expecting ',' or ']')")
		}
	}
}

func (d *decodeState) decodeArray(ptr unsafe.Pointer, p *plan) error {
	if err := d.enter(); err != nil {
		return err
	}
	d.pos++
	want := p.length
	if c, err := d.peek(); err != nil {
		return err
	} else if c == ']' {
		d.pos++
		d.depth--
		if want != 0 {
			return newError("cannot decode array of 0 elements into " + p.typ.String())
		}
		return nil
	}
	for i := 0; ; i++ {
		if i == want {
			return newError("cannot decode array of more than " + strconv.Itoa(want) + " elements into " + p.typ.String())
		}
		if err := d.decode(unsafe.Add(ptr, uintptr(i)*p.elemSize), p.elem); err != nil {
			return atIndex(err, i)
		}
		c, err := d.peek()
		if err != nil {
			return err
		}
		d.pos++
		switch c {
		case ',':
		case ']':
			d.depth--
			if i+1 != want {
				return newError("cannot decode array of " + strconv.Itoa(i+1) + " elements into " + p.typ.String())
			}
			return nil
		default:
			d.pos--
			return d.unexpected("after array element (expecting ',' or ']')")
		}
	}
}

// objectKey reads `"key"` and the following ':'. The key is valid until
// the next string is read.
func (d *decodeState) objectKey() ([]byte, error) {
	if c, err := d.peek(); err != nil {
		return nil, err
	} else if c != '"' {
		return nil, d.unexpected("looking for beginning of object key string")
	}
	key, _, err := d.readString()
	if err != nil {
		return nil, err
	}
	if c, err := d.peek(); err != nil {
		return nil, err
	} else if c != ':' {
		return nil, d.unexpected("after object key (expecting ':')")
	}
	d.pos++
	return key, nil
}

// objectNext consumes the ',' or '}' after a member and reports whether
// the object ended.
func (d *decodeState) objectNext() (bool, error) {
	c, err := d.peek()
	if err != nil {
		return false, err
	}
	d.pos++
	switch c {
	case ',':
		return false, nil
	case '}':
		d.depth--
		return true, nil
	}
	d.pos--
	return false, d.unexpected("after object member (expecting ',' or '}')")
}

// objectStart consumes '{' and reports whether the object is empty.
func (d *decodeState) objectStart() (bool, error) {
	if err := d.enter(); err != nil {
		return false, err
	}
	d.pos++
	c, err := d.peek()
	if err != nil {
		return false, err
	}
	if c == '}' {
		d.pos++
		d.depth--
		return true, nil
	}
	return false, nil
}

// decodeStruct decodes an object into the struct at ptr. It is the hot
// path of every transition input, so it reads keys and the common field
// kinds (strings without escapes, integers up to 18 digits) in place and
// calls decode only for everything else, and it handles whitespace only
// where an expected byte is missing. In wasm every call and every branch
// between basic blocks is expensive, which is what this shape avoids.
func (d *decodeState) decodeStruct(ptr unsafe.Pointer, p *plan) error {
	if !p.covered {
		reflect.NewAt(p.typ, ptr).Elem().SetZero()
	}
	if d.depth++; d.depth > maxDepth {
		return tooDeep()
	}
	var seen uint64
	var seenLarge []bool
	if len(p.fields) > 64 {
		seenLarge = make([]bool, len(p.fields))
	}
	data := d.data
	i := skipSpace(data, d.pos+1)
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		for {
			if i >= len(data) || data[i] != '"' {
				if i = skipSpace(data, i); i >= len(data) || data[i] != '"' {
					d.pos = i
					return d.unexpected("looking for beginning of object key string")
				}
			}
			// The key: in place when plain ASCII, else unescaped.
			start := i + 1
			j := start
			for j < len(data) && plainByte[data[j]] {
				j++
			}
			var key []byte
			var word uint64
			if j < len(data) && data[j] == '"' {
				key = data[start:j]
				if start+8 <= len(data) {
					word = loadWord(data[start : start+8])
					if len(key) < 8 {
						word &= 1<<(8*len(key)) - 1
					}
				} else {
					word = prefixWord(key)
				}
				i = j + 1
			} else {
				d.pos = i
				var err error
				if key, _, err = d.readString(); err != nil {
					return err
				}
				word = prefixWord(key)
				i = d.pos
			}
			k := p.fieldIndex(key, word)
			if k < 0 {
				return newError("unknown field " + string(appendEscaped(nil, key)))
			}
			if i >= len(data) || data[i] != ':' {
				if i = skipSpace(data, i); i >= len(data) || data[i] != ':' {
					d.pos = i
					return d.unexpected("after object key (expecting ':')")
				}
			}
			i++

			if seenLarge == nil {
				if seen&(1<<k) != 0 {
					return duplicateKey(key)
				}
				seen |= 1 << k
			} else {
				if seenLarge[k] {
					return duplicateKey(key)
				}
				seenLarge[k] = true
			}
			f := &p.fields[k]
			fp := unsafe.Add(ptr, f.offset)
			if f.ptrSteps != nil {
				fp, _ = fieldPtrThroughEmbedded(ptr, f, true)
			}

			// The value: common cases here, the rest through decode
			// (which also skips whitespace).
			done := false
			if i < len(data) {
				switch fk := f.plan.kind; {
				case fk == kString && data[i] == '"':
					j := i + 1
					for j < len(data) && plainByte[data[j]] {
						j++
					}
					if j < len(data) && data[j] == '"' {
						*(*string)(fp) = string(data[i+1 : j])
						i, done = j+1, true
					}
				case fk == kInt:
					// quickIntAt, written out: a call costs more than the
					// parse in wasm.
					j := i
					neg := data[j] == '-'
					if neg {
						j++
					}
					digitsStart := j
					var n int64
					for j < len(data) && data[j]-'0' <= 9 {
						n = n*10 + int64(data[j]-'0')
						j++
					}
					digits := j - digitsStart
					if digits > 0 && digits <= 18 && (digits == 1 || data[digitsStart] != '0') &&
						(j >= len(data) || data[j] != '.' && data[j]|0x20 != 'e') {
						if neg {
							n = -n
						}
						if bits := f.plan.bits; bits == 64 || -1<<(bits-1) <= n && n < 1<<(bits-1) {
							storeInt(fp, bits, uint64(n))
							i, done = j, true
						}
					}
				}
			}
			if !done {
				d.pos = i
				if err := d.decode(fp, f.plan); err != nil {
					return atKey(err, f.name)
				}
				i = d.pos
			}

			if i >= len(data) || data[i] != ',' && data[i] != '}' {
				i = skipSpace(data, i)
			}
			if i < len(data) && data[i] == ',' {
				i++
				continue
			}
			if i < len(data) && data[i] == '}' {
				i++
				break
			}
			d.pos = i
			return d.unexpected("after object member (expecting ',' or '}')")
		}
	}
	d.pos = i
	d.depth--
	if p.covered && (seenLarge != nil || seen != 1<<len(p.fields)-1) {
		d.zeroAbsent(ptr, p, seen, seenLarge)
	}
	return nil
}

// zeroAbsent gives the members absent from the input their zero value,
// which for a covered struct replaces zeroing the whole struct first.
func (d *decodeState) zeroAbsent(ptr unsafe.Pointer, p *plan, seen uint64, seenLarge []bool) {
	for k := range p.fields {
		if seenLarge != nil && !seenLarge[k] || seenLarge == nil && seen&(1<<k) == 0 {
			zeroValue(unsafe.Add(ptr, p.fields[k].offset), p.fields[k].plan)
		}
	}
}

// skipSpace returns the index of the first byte from i that is not JSON
// whitespace.
func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool { return c <= ' ' && (c == ' ' || c == '\t' || c == '\n' || c == '\r') }

func tooDeep() error {
	return newError("nesting deeper than " + strconv.Itoa(maxDepth) + " levels")
}

func (d *decodeState) decodeMap(ptr unsafe.Pointer, p *plan) error {
	empty, err := d.objectStart()
	if err != nil {
		return err
	}
	m := reflect.MakeMap(p.typ)
	*(*unsafe.Pointer)(ptr) = m.UnsafePointer()
	if empty {
		return nil
	}
	kv := reflect.New(p.typ.Key()).Elem()
	ev := reflect.New(p.elem.typ)
	evPtr, evElem := ev.UnsafePointer(), ev.Elem()
	for {
		key, err := d.objectKey()
		if err != nil {
			return err
		}
		keyStr := string(key)
		switch p.keyKind {
		case kString:
			kv.SetString(keyStr)
		case kInt:
			n, err := parseIntKey(key, p.keyBits)
			if err != nil {
				return atKey(err, keyStr)
			}
			kv.SetInt(n)
		default:
			n, err := parseUintKey(key, p.keyBits)
			if err != nil {
				return atKey(err, keyStr)
			}
			kv.SetUint(n)
		}
		if m.MapIndex(kv).IsValid() {
			return duplicateKey([]byte(keyStr))
		}
		if err := d.decode(evPtr, p.elem); err != nil {
			return atKey(err, keyStr)
		}
		m.SetMapIndex(kv, evElem)
		if end, err := d.objectNext(); end || err != nil {
			return err
		}
	}
}

// parseIntKey reads an integer map key. Only the canonical decimal form is
// accepted, so distinct keys in the text are distinct map keys and the map
// encodes back to the same text.
func parseIntKey(key []byte, bits int) (int64, error) {
	end, isInt, ok := scanNumberAt(key, 0)
	if !ok || !isInt || end != len(key) || string(key) == "-0" {
		return 0, newError("map key is not a canonical decimal integer")
	}
	neg, mag, ok := parseMagnitude(key)
	limit := uint64(1) << (bits - 1)
	if !ok || !neg && mag >= limit || neg && mag > limit {
		return 0, newError("map key overflows int" + strconv.Itoa(bits))
	}
	if neg {
		return int64(-mag), nil
	}
	return int64(mag), nil
}

func parseUintKey(key []byte, bits int) (uint64, error) {
	end, isInt, ok := scanNumberAt(key, 0)
	if !ok || !isInt || end != len(key) || key[0] == '-' {
		return 0, newError("map key is not a canonical decimal unsigned integer")
	}
	_, mag, ok := parseMagnitude(key)
	if !ok || bits < 64 && mag >= uint64(1)<<bits {
		return 0, newError("map key overflows uint" + strconv.Itoa(bits))
	}
	return mag, nil
}

// decodeAny decodes the value at pos into the generic form: map[string]any,
// []any, Number, string, bool or nil.
func (d *decodeState) decodeAny() (any, error) {
	c, err := d.peek()
	if err != nil {
		return nil, err
	}
	switch c {
	case '{':
		return d.decodeAnyObject()
	case '[':
		if err := d.enter(); err != nil {
			return nil, err
		}
		d.pos++
		return d.decodeAnyArrayBody()
	case '"':
		s, _, err := d.readString()
		if err != nil {
			return nil, err
		}
		return string(s), nil
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	}
	if c == '-' || isDigit(c) {
		n, err := d.decodeNumber()
		return Number(n), err
	}
	return nil, d.unexpected("looking for beginning of value")
}

func (d *decodeState) decodeAnyObject() (map[string]any, error) {
	empty, err := d.objectStart()
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if empty {
		return m, nil
	}
	for {
		key, err := d.objectKey()
		if err != nil {
			return nil, err
		}
		k := string(key)
		if _, dup := m[k]; dup {
			return nil, duplicateKey(key)
		}
		x, err := d.decodeAny()
		if err != nil {
			return nil, atKey(err, k)
		}
		m[k] = x
		if end, err := d.objectNext(); end || err != nil {
			return m, err
		}
	}
}

// decodeAnyArrayBody decodes the elements after '[' (already counted by
// enter) and the closing ']'.
func (d *decodeState) decodeAnyArrayBody() ([]any, error) {
	a := []any{}
	if c, err := d.peek(); err != nil {
		return nil, err
	} else if c == ']' {
		d.pos++
		d.depth--
		return a, nil
	}
	for {
		x, err := d.decodeAny()
		if err != nil {
			return nil, atIndex(err, len(a))
		}
		a = append(a, x)
		c, err := d.peek()
		if err != nil {
			return nil, err
		}
		d.pos++
		switch c {
		case ',':
		case ']':
			d.depth--
			return a, nil
		default:
			d.pos--
			return nil, d.unexpected("after array element (expecting ',' or ']')")
		}
	}
}
