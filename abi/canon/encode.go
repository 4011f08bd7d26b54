package canon

import (
	"encoding/base64"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// Marshal returns the canonical JSON encoding of v.
func Marshal(v any) ([]byte, error) {
	return AppendMarshal(nil, v)
}

// AppendString appends s as a canonical JSON string. It fails on invalid
// UTF-8, which has no canonical form.
func AppendString(dst []byte, s string) ([]byte, error) { return appendString(dst, s) }

// AppendMarshal appends the canonical JSON encoding of v to dst and returns
// the extended slice. On error it returns dst with its original length.
func AppendMarshal(dst []byte, v any) ([]byte, error) {
	var e encodeState
	var out []byte
	var err error
	if p := lastEncode.load(); p != nil && p.typeWord == typeWord(v) {
		// The type encoded last time, typically the state value type.
		out, err = e.encodePlanned(dst, v, p)
	} else {
		out, err = e.encodeAny(dst, v)
	}
	if err != nil {
		return dst, finish(err)
	}
	return out, nil
}

// maxIndirections bounds the pointers and interfaces followed in a row
// without an array or object in between, which only a cyclic value (an
// interface holding a pointer to itself) can exceed.
const maxIndirections = 512

type encodeState struct {
	depth int // open arrays and objects
	indir int // pointers and interfaces followed since the innermost container
}

// enter opens an array or object. It returns the indirection count to hand
// back to leave.
func (e *encodeState) enter() (int, error) {
	if e.depth++; e.depth > maxDepth {
		return 0, tooDeepToEncode()
	}
	saved := e.indir
	e.indir = 0
	return saved, nil
}

func tooDeepToEncode() error {
	return newError("nesting deeper than " + strconv.Itoa(maxDepth) + " levels (is the value cyclic?)")
}

func (e *encodeState) leave(saved int) {
	e.depth--
	e.indir = saved
}

func (e *encodeState) follow() error {
	if e.indir++; e.indir > maxIndirections {
		return tooManyIndirections()
	}
	return nil
}

func tooManyIndirections() error {
	return newError("more than " + strconv.Itoa(maxIndirections) + " pointers or interfaces in a row (is the value cyclic?)")
}

// encodeAny encodes the dynamic value x, without reflection for the types
// that generic JSON trees and hot paths use.
func (e *encodeState) encodeAny(dst []byte, x any) ([]byte, error) {
	switch x := x.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendString(dst, x)
	case bool:
		if x {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case float64:
		return appendFloat(dst, x, 64)
	case Number:
		return appendNumberValue(dst, x)
	case Raw:
		return e.appendRaw(dst, x)
	case map[string]any:
		return e.encodeGenericObject(dst, x)
	case []any:
		return e.encodeGenericArray(dst, x)
	}
	return e.encodeDynamic(dst, x)
}

// encodeDynamic encodes x through the plan of its dynamic type. The
// encoders read values through pointers, and an interface holds a pointer
// to its value, except for the types it stores directly in its data word
// (see plan.direct): pointers and maps are handled as such, and the rare
// structs and arrays wrapping one are copied to get an address.
func (e *encodeState) encodeDynamic(dst []byte, x any) ([]byte, error) {
	p, err := cachedPlan(&lastEncode, x)
	if err != nil {
		return dst, err
	}
	return e.encodePlanned(dst, x, p)
}

// encodePlanned encodes x, whose dynamic type has plan p.
func (e *encodeState) encodePlanned(dst []byte, x any, p *plan) ([]byte, error) {
	data := (*eface)(unsafe.Pointer(&x)).data
	switch {
	case p.kind == kPtr:
		if data == nil {
			return append(dst, "null"...), nil
		}
		if err := e.follow(); err != nil {
			return dst, err
		}
		var err error
		if p.elem.kind == kStruct {
			dst, err = e.encodeStruct(dst, data, p.elem) // the common case, one call less
		} else {
			dst, err = e.encode(dst, data, p.elem)
		}
		e.indir--
		return dst, err
	case p.kind == kMap:
		m := reflect.ValueOf(x)
		if m.IsNil() {
			return append(dst, "null"...), nil
		}
		return e.encodeMap(dst, m, p)
	case p.direct:
		c := reflect.New(p.typ)
		c.Elem().Set(reflect.ValueOf(x))
		return e.encode(dst, c.UnsafePointer(), p)
	}
	return e.encode(dst, data, p)
}

func (e *encodeState) encodeGenericObject(dst []byte, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(dst, "null"...), nil
	}
	saved, err := e.enter()
	if err != nil {
		return dst, err
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = appendString(dst, k); err != nil {
			return dst, atKey(err, k)
		}
		dst = append(dst, ':')
		if dst, err = e.encodeAny(dst, m[k]); err != nil {
			return dst, atKey(err, k)
		}
	}
	e.leave(saved)
	return append(dst, '}'), nil
}

func (e *encodeState) encodeGenericArray(dst []byte, a []any) ([]byte, error) {
	if a == nil {
		return append(dst, "null"...), nil
	}
	saved, err := e.enter()
	if err != nil {
		return dst, err
	}
	dst = append(dst, '[')
	for i, x := range a {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = e.encodeAny(dst, x); err != nil {
			return dst, atIndex(err, i)
		}
	}
	e.leave(saved)
	return append(dst, ']'), nil
}

// encode appends the canonical encoding of the variable at ptr, whose type
// has plan p.
func (e *encodeState) encode(dst []byte, ptr unsafe.Pointer, p *plan) ([]byte, error) {
	switch p.kind {
	case kString:
		return appendString(dst, *(*string)(ptr))
	case kInt:
		return strconv.AppendInt(dst, loadInt(ptr, p.bits), 10), nil
	case kUint:
		return strconv.AppendUint(dst, loadUint(ptr, p.bits), 10), nil
	case kBool:
		if *(*bool)(ptr) {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case kFloat:
		if p.bits == 32 {
			return appendFloat(dst, float64(*(*float32)(ptr)), 32)
		}
		return appendFloat(dst, *(*float64)(ptr), 64)
	case kStruct:
		return e.encodeStruct(dst, ptr, p)
	case kSlice:
		h := (*sliceHeader)(ptr)
		if h.data == nil {
			return append(dst, "null"...), nil
		}
		return e.encodeElems(dst, h.data, h.len, p)
	case kArray:
		return e.encodeElems(dst, ptr, p.length, p)
	case kMap:
		if *(*unsafe.Pointer)(ptr) == nil {
			return append(dst, "null"...), nil
		}
		if p.typ == mapStringAnyType {
			return e.encodeGenericObject(dst, *(*map[string]any)(ptr))
		}
		return e.encodeMap(dst, reflect.NewAt(p.typ, ptr).Elem(), p)
	case kPtr:
		target := *(*unsafe.Pointer)(ptr)
		if target == nil {
			return append(dst, "null"...), nil
		}
		if err := e.follow(); err != nil {
			return dst, err
		}
		dst, err := e.encode(dst, target, p.elem)
		e.indir--
		return dst, err
	case kAny, kIface:
		var x any
		if p.kind == kAny {
			x = *(*any)(ptr)
		} else {
			x = reflect.NewAt(p.typ, ptr).Elem().Interface()
		}
		if x == nil {
			return append(dst, "null"...), nil
		}
		if err := e.follow(); err != nil {
			return dst, err
		}
		dst, err := e.encodeAny(dst, x)
		e.indir--
		return dst, err
	case kNumber:
		return appendNumberValue(dst, *(*Number)(ptr))
	case kRaw:
		return e.appendRaw(dst, *(*Raw)(ptr))
	case kBytes:
		b := *(*[]byte)(ptr)
		if b == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, b)
		return append(dst, '"'), nil
	}
	return dst, p.err()
}

func loadInt(ptr unsafe.Pointer, bits int) int64 {
	switch bits {
	case 8:
		return int64(*(*int8)(ptr))
	case 16:
		return int64(*(*int16)(ptr))
	case 32:
		return int64(*(*int32)(ptr))
	}
	return *(*int64)(ptr)
}

func loadUint(ptr unsafe.Pointer, bits int) uint64 {
	switch bits {
	case 8:
		return uint64(*(*uint8)(ptr))
	case 16:
		return uint64(*(*uint16)(ptr))
	case 32:
		return uint64(*(*uint32)(ptr))
	}
	return *(*uint64)(ptr)
}

// encodeElems encodes n elements of p's element type stored from base.
func (e *encodeState) encodeElems(dst []byte, base unsafe.Pointer, n int, p *plan) ([]byte, error) {
	saved, err := e.enter()
	if err != nil {
		return dst, err
	}
	dst = append(dst, '[')
	for i := range n {
		if i > 0 {
			dst = append(dst, ',')
		}
		ptr := unsafe.Add(base, uintptr(i)*p.elemSize)
		var ok bool
		if dst, ok = appendSimple(dst, ptr, p.elem); ok {
			continue
		}
		if dst, err = e.encode(dst, ptr, p.elem); err != nil {
			return dst, atIndex(err, i)
		}
	}
	e.leave(saved)
	return append(dst, ']'), nil
}

// appendSimple appends the values that need neither checks nor recursion:
// integers, booleans and plain ASCII strings. It reports false, having
// appended nothing, for anything else. Callers on hot paths try it before
// encode, which costs much more to call in wasm.
func appendSimple(dst []byte, ptr unsafe.Pointer, p *plan) ([]byte, bool) {
	switch p.kind {
	case kString:
		s := *(*string)(ptr)
		for i := 0; i < len(s); i++ {
			if !plainByte[s[i]] {
				return dst, false
			}
		}
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"'), true
	case kInt:
		return strconv.AppendInt(dst, loadInt(ptr, p.bits), 10), true
	case kUint:
		return strconv.AppendUint(dst, loadUint(ptr, p.bits), 10), true
	case kBool:
		if *(*bool)(ptr) {
			return append(dst, "true"...), true
		}
		return append(dst, "false"...), true
	}
	return dst, false
}

// mapEntry is one map member awaiting sorting by its JSON key; its value is
// element index of the copied values.
type mapEntry struct {
	key   string
	index int
}

// encodeMap encodes the non-nil map m. Its values are copied into one
// slice, so that they have addresses, and its members sorted by key.
func (e *encodeState) encodeMap(dst []byte, m reflect.Value, p *plan) ([]byte, error) {
	saved, err := e.enter()
	if err != nil {
		return dst, err
	}
	n := m.Len()
	entries := make([]mapEntry, 0, n)
	values := reflect.MakeSlice(p.valuesType, n, n)
	base := values.UnsafePointer()
	key := reflect.New(p.typ.Key()).Elem()
	for it := m.MapRange(); it.Next(); {
		key.SetIterKey(it)
		var k string
		switch p.keyKind {
		case kString:
			k = key.String()
		case kInt:
			k = strconv.FormatInt(key.Int(), 10)
		default:
			k = strconv.FormatUint(key.Uint(), 10)
		}
		i := len(entries)
		values.Index(i).SetIterValue(it)
		entries = append(entries, mapEntry{key: k, index: i})
	}
	slices.SortFunc(entries, func(a, b mapEntry) int { return strings.Compare(a.key, b.key) })
	dst = append(dst, '{')
	for i := range entries {
		if i > 0 {
			dst = append(dst, ',')
		}
		k := entries[i].key
		if dst, err = appendString(dst, k); err != nil {
			return dst, atKey(err, k)
		}
		dst = append(dst, ':')
		if dst, err = e.encode(dst, unsafe.Add(base, uintptr(entries[i].index)*p.elemSize), p.elem); err != nil {
			return dst, atKey(err, k)
		}
	}
	e.leave(saved)
	return append(dst, '}'), nil
}

func (e *encodeState) encodeStruct(dst []byte, ptr unsafe.Pointer, p *plan) ([]byte, error) {
	saved, err := e.enter()
	if err != nil {
		return dst, err
	}
	dst = append(dst, '{')
	first := true
	for i := range p.fields {
		f := &p.fields[i]
		fp := unsafe.Add(ptr, f.offset)
		ok := true
		if f.ptrSteps != nil {
			fp, ok = fieldPtrThroughEmbedded(ptr, f, false)
		}
		if !ok || f.omitEmpty && isEmpty(fp, f.plan) || f.omitZero && reflect.NewAt(f.plan.typ, fp).Elem().IsZero() {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, f.keyJSON...)
		var simple bool
		if dst, simple = appendSimple(dst, fp, f.plan); simple {
			continue
		}
		if dst, err = e.encode(dst, fp, f.plan); err != nil {
			return dst, atKey(err, f.name)
		}
	}
	e.leave(saved)
	return append(dst, '}'), nil
}

// isEmpty is the omitempty test of encoding/json: false, 0, "", nil, and
// empty arrays, slices and maps.
func isEmpty(ptr unsafe.Pointer, p *plan) bool {
	switch p.kind {
	case kBool:
		return !*(*bool)(ptr)
	case kInt:
		return loadInt(ptr, p.bits) == 0
	case kUint:
		return loadUint(ptr, p.bits) == 0
	case kFloat:
		if p.bits == 32 {
			return *(*float32)(ptr) == 0
		}
		return *(*float64)(ptr) == 0
	case kString, kNumber:
		return len(*(*string)(ptr)) == 0
	case kSlice, kBytes, kRaw:
		return (*sliceHeader)(ptr).len == 0
	case kMap:
		return *(*unsafe.Pointer)(ptr) == nil || reflect.NewAt(p.typ, ptr).Elem().Len() == 0
	case kPtr:
		return *(*unsafe.Pointer)(ptr) == nil
	case kAny:
		return *(*any)(ptr) == nil
	case kIface:
		return reflect.NewAt(p.typ, ptr).Elem().IsNil()
	case kArray:
		return p.length == 0
	}
	return false
}

// appendNumberValue appends the canonical form of n, which must be a JSON
// number literal; the empty Number encodes as 0, as in encoding/json.
func appendNumberValue(dst []byte, n Number) ([]byte, error) {
	if n == "" {
		return append(dst, '0'), nil
	}
	end, isInt, ok := scanNumberAt(n, 0)
	if !ok || end != len(n) {
		q, _ := appendString(nil, string(n))
		if q == nil {
			q = []byte(strconv.Quote(string(n)))
		}
		return dst, newError("invalid number literal " + shorten(q))
	}
	return appendNumber(dst, n, isInt)
}

// appendRaw appends the canonical form of raw; an empty Raw encodes as null.
func (e *encodeState) appendRaw(dst []byte, raw Raw) ([]byte, error) {
	if len(raw) == 0 {
		return append(dst, "null"...), nil
	}
	d := decodeState{data: raw, depth: e.depth}
	out, err := d.canon(dst)
	if err == nil {
		err = d.consumeEnd()
	}
	if err != nil {
		if ce, ok := err.(*Error); ok {
			ce.Msg = "invalid Raw value: " + ce.Msg
		}
		return dst, err
	}
	return out, nil
}
