package canon

import (
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"
)

// kind selects how a plan encodes and decodes its Go type. Encoders and
// decoders switch on it instead of calling through function values, which
// keeps the state structs on the stack and the dispatch cheap in wasm.
type kind uint8

const (
	kBool kind = iota + 1
	kInt
	kUint
	kFloat
	kString
	kNumber
	kRaw
	kBytes
	kSlice
	kArray
	kMap
	kPtr
	kAny   // empty interface
	kIface // interface with methods: encodable, decodable from null only
	kStruct
)

// plan is what the codec knows about one Go type, computed once.
type plan struct {
	typ      reflect.Type
	typeWord unsafe.Pointer // type word of interfaces holding this type
	kind     kind
	bits     int   // kInt, kUint, kFloat: size in bits
	elem     *plan // kSlice, kArray, kPtr, kMap (value)
	keyKind  kind  // kMap: kString, kInt or kUint
	keyBits  int   // kMap with integer keys

	fields   []field        // kStruct: sorted bytewise by JSON name
	fieldMap map[string]int // kStruct with many fields: name → index in fields
	// covered is set for a struct whose every field is a JSON member
	// reached without an embedded pointer: decoding then only needs to zero
	// the members absent from the input instead of the whole struct first.
	covered bool

	length   int     // kArray: number of elements
	elemSize uintptr // kSlice, kArray, kMap: size of one element (value)
	// valuesType is []V for a map with values V, to copy values into.
	valuesType reflect.Type
	// direct is set when an interface holds a value of this type in its
	// data word instead of a pointer to it: pointers, maps, and structs
	// and arrays wrapping a single such value.
	direct bool

	// errMsg is set when the type cannot be encoded or decoded. It is a
	// string, not an error, because errors handed to callers are mutated
	// while their path is built and plans are shared.
	errMsg string
}

// field is one JSON object member of a struct, possibly promoted from an
// embedded struct.
type field struct {
	name      string
	nameWord  uint64    // first 8 bytes of name, little-endian, for quick matching
	keyJSON   []byte    // `"name":` in canonical form, ready to append
	offset    uintptr   // from the struct, or from the target of the last ptrSteps
	ptrSteps  []ptrStep // embedded pointers to follow first, outermost first
	plan      *plan
	omitEmpty bool
	omitZero  bool
	goName    string // dotted Go field path, for error messages
}

// ptrStep is an embedded pointer on the way to a promoted field.
type ptrStep struct {
	offset uintptr      // of the pointer field, from the current base
	elem   reflect.Type // the struct it points to, allocated when decoding
}

// linearFieldLimit is the field count up to which decoding finds a member's
// field by comparing names in order; above it a map lookup is cheaper.
const linearFieldLimit = 32

var (
	numberType = reflect.TypeFor[Number]()
	rawType    = reflect.TypeFor[Raw]()

	// plans maps reflect.Type to *plan. It is replaced wholesale (copy on
	// write) under plansMu, so lookups take no lock.
	plans   atomic.Pointer[map[reflect.Type]*plan]
	plansMu sync.Mutex
)

// planFor returns the plan for t, building and caching it on first use.
func planFor(t reflect.Type) (*plan, error) {
	if m := plans.Load(); m != nil {
		if p, ok := (*m)[t]; ok {
			return p, p.err()
		}
	}
	return buildPlan(t)
}

func (p *plan) err() error {
	if p.errMsg == "" {
		return nil
	}
	return newError(p.errMsg)
}

func buildPlan(t reflect.Type) (*plan, error) {
	plansMu.Lock()
	defer plansMu.Unlock()
	var published map[reflect.Type]*plan
	if m := plans.Load(); m != nil {
		published = *m
		if p, ok := published[t]; ok {
			return p, p.err()
		}
	}
	b := planBuilder{published: published, building: map[reflect.Type]*plan{}}
	p := b.plan(t)
	b.propagateErrors()
	next := make(map[reflect.Type]*plan, len(published)+len(b.order))
	for k, v := range published {
		next[k] = v
	}
	for _, q := range b.order {
		next[q.typ] = q
	}
	plans.Store(&next)
	return p, p.err()
}

// planBuilder builds the plans of a type and of every type it reaches that
// has no plan yet. Recursive types refer to the plan under construction, so
// nothing is published until the whole group is complete.
type planBuilder struct {
	published map[reflect.Type]*plan
	building  map[reflect.Type]*plan
	order     []*plan // building, in creation order, for deterministic error propagation
}

func (b *planBuilder) plan(t reflect.Type) *plan {
	if p, ok := b.published[t]; ok {
		return p
	}
	if p, ok := b.building[t]; ok {
		return p
	}
	p := &plan{typ: t}
	if t.Kind() != reflect.Interface {
		// No value has an interface as its dynamic type, so only other
		// types are ever looked up by type word. An interface holding the
		// zero value has a nil data word exactly when the type is stored
		// in the word itself rather than behind a pointer.
		zero := reflect.New(t).Elem().Interface()
		p.typeWord = typeWord(zero)
		p.direct = (*eface)(unsafe.Pointer(&zero)).data == nil
	}
	b.building[t] = p
	b.order = append(b.order, p)

	switch t {
	case numberType:
		p.kind = kNumber
		return p
	case rawType:
		p.kind = kRaw
		return p
	}
	switch t.Kind() {
	case reflect.Bool:
		p.kind = kBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		p.kind, p.bits = kInt, t.Bits()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		p.kind, p.bits = kUint, t.Bits()
	case reflect.Float32, reflect.Float64:
		p.kind, p.bits = kFloat, t.Bits()
	case reflect.String:
		p.kind = kString
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			p.kind = kBytes
		} else {
			p.kind = kSlice
			p.elemSize = t.Elem().Size()
			p.elem = b.plan(t.Elem())
		}
	case reflect.Array:
		p.kind = kArray
		p.length = t.Len()
		p.elemSize = t.Elem().Size()
		p.elem = b.plan(t.Elem())
	case reflect.Map:
		p.kind = kMap
		p.elemSize = t.Elem().Size()
		p.valuesType = reflect.SliceOf(t.Elem())
		kt := t.Key()
		switch kt.Kind() {
		case reflect.String:
			p.keyKind = kString
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			p.keyKind, p.keyBits = kInt, kt.Bits()
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			p.keyKind, p.keyBits = kUint, kt.Bits()
		default:
			p.errMsg = "unsupported map key type " + kt.String() + " in " + t.String() + " (keys must be strings or integers)"
			return p
		}
		p.elem = b.plan(t.Elem())
	case reflect.Pointer:
		if pointerCycle(t) {
			p.errMsg = "unsupported recursive pointer type " + t.String()
			return p
		}
		p.kind = kPtr
		p.elem = b.plan(t.Elem())
	case reflect.Interface:
		if t.NumMethod() == 0 {
			p.kind = kAny
		} else {
			p.kind = kIface
		}
	case reflect.Struct:
		p.kind = kStruct
		b.structPlan(p)
	default:
		p.errMsg = "unsupported type " + t.String()
	}
	return p
}

// pointerCycle reports whether following Elem from pointer type t loops
// through pointer types only (type P *P), which no JSON value can fill.
func pointerCycle(t reflect.Type) bool {
	seen := map[reflect.Type]bool{}
	for t.Kind() == reflect.Pointer {
		if seen[t] {
			return true
		}
		seen[t] = true
		t = t.Elem()
	}
	return false
}

// propagateErrors marks every new plan that reaches an unusable type as
// unusable itself, so that an error depends on the type only, never on the
// data (a nil pointer to a bad type is as much an error as a non-nil one).
func (b *planBuilder) propagateErrors() {
	for changed := true; changed; {
		changed = false
		for _, p := range b.order {
			if p.errMsg != "" {
				continue
			}
			if msg := p.childError(); msg != "" {
				p.errMsg = msg
				changed = true
			}
		}
	}
}

func (p *plan) childError() string {
	switch p.kind {
	case kSlice, kArray, kPtr, kMap:
		return p.elem.errMsg
	case kStruct:
		for i := range p.fields {
			if msg := p.fields[i].plan.errMsg; msg != "" {
				return p.typ.String() + " field " + p.fields[i].goName + ": " + msg
			}
		}
	}
	return ""
}

func (b *planBuilder) structPlan(p *plan) {
	c := fieldCollector{b: b, visiting: map[reflect.Type]bool{p.typ: true}, covered: true}
	if msg := c.collect(p.typ, 0, nil, ""); msg != "" {
		p.errMsg = p.typ.String() + ": " + msg
		return
	}
	fields := c.fields
	p.covered = c.covered
	slices.SortStableFunc(fields, func(a, b field) int { return strings.Compare(a.name, b.name) })
	for i := 1; i < len(fields); i++ {
		if fields[i].name == fields[i-1].name {
			q, _ := appendString(nil, fields[i].name)
			p.errMsg = p.typ.String() + ": fields " + fields[i-1].goName + " and " + fields[i].goName +
				" both have the JSON name " + string(q)
			return
		}
	}
	for i := range fields {
		f := &fields[i]
		f.keyJSON = append(appendEscaped(nil, f.name), ':')
		f.nameWord = prefixWord([]byte(f.name))
	}
	p.fields = fields
	if len(fields) > linearFieldLimit {
		p.fieldMap = make(map[string]int, len(fields))
		for i := range fields {
			p.fieldMap[fields[i].name] = i
		}
	}
}

// fieldCollector gathers the JSON members of a struct type, flattening
// untagged embedded structs the way encoding/json does.
type fieldCollector struct {
	b        *planBuilder
	visiting map[reflect.Type]bool // embedded struct types on the current path
	fields   []field
	covered  bool
}

// collect adds the members of struct type t, whose fields are at base from
// the target of the last of steps. It returns a problem description, or "".
func (c *fieldCollector) collect(t reflect.Type, base uintptr, steps []ptrStep, goPrefix string) string {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			c.covered = false
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		var omitEmpty, omitZero bool
		for opt := range strings.SplitSeq(opts, ",") {
			switch opt {
			case "":
			case "omitempty":
				omitEmpty = true
			case "omitzero":
				omitZero = true
			default:
				return "field " + goPrefix + sf.Name + ": unsupported json tag option \"" + opt + "\""
			}
		}
		offset := base + sf.Offset
		if sf.Anonymous && name == "" {
			ft := sf.Type
			isPtr := false
			if ft.Kind() == reflect.Pointer && ft.Name() == "" {
				ft, isPtr = ft.Elem(), true
			}
			if ft.Kind() == reflect.Struct {
				if isPtr && !sf.IsExported() {
					return "embedded field " + goPrefix + sf.Name + " is a pointer to an unexported struct type, which cannot be allocated when decoding"
				}
				if c.visiting[ft] {
					return "embedded field " + goPrefix + sf.Name + " embeds " + ft.String() + " in itself"
				}
				innerBase, innerSteps := offset, steps
				if isPtr {
					c.covered = false
					innerBase = 0
					innerSteps = append(slices.Clip(steps), ptrStep{offset: offset, elem: ft})
				}
				c.visiting[ft] = true
				msg := c.collect(ft, innerBase, innerSteps, goPrefix+sf.Name+".")
				delete(c.visiting, ft)
				if msg != "" {
					return msg
				}
				continue
			}
		}
		if !sf.IsExported() {
			c.covered = false
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if !utf8.ValidString(name) {
			return "field " + goPrefix + sf.Name + ": JSON name is not valid UTF-8"
		}
		c.fields = append(c.fields, field{
			name:      name,
			offset:    offset,
			ptrSteps:  steps,
			plan:      c.b.plan(sf.Type),
			omitEmpty: omitEmpty,
			omitZero:  omitZero,
			goName:    goPrefix + sf.Name,
		})
	}
	return ""
}

// prefixWord packs the first 8 bytes of s (fewer if s is shorter) into a
// little-endian word.
func prefixWord(s []byte) uint64 {
	var w uint64
	for i := min(len(s), 8) - 1; i >= 0; i-- {
		w = w<<8 | uint64(s[i])
	}
	return w
}

// fieldIndex returns the index in p.fields of the member named key, or -1.
// word is prefixWord(key).
func (p *plan) fieldIndex(key []byte, word uint64) int {
	if p.fieldMap != nil {
		if i, ok := p.fieldMap[string(key)]; ok {
			return i
		}
		return -1
	}
	for i := range p.fields {
		f := &p.fields[i]
		if f.nameWord == word && len(f.name) == len(key) && (len(key) <= 8 || f.name[8:] == string(key[8:])) {
			return i
		}
	}
	return -1
}

// fieldPtrThroughEmbedded returns the address of f, which is promoted
// through embedded pointers, inside the struct at base. Through a nil
// embedded pointer it allocates when alloc is set, and otherwise reports
// false.
func fieldPtrThroughEmbedded(base unsafe.Pointer, f *field, alloc bool) (unsafe.Pointer, bool) {
	for _, s := range f.ptrSteps {
		slot := (*unsafe.Pointer)(unsafe.Add(base, s.offset))
		if *slot == nil {
			if !alloc {
				return nil, false
			}
			*slot = reflect.New(s.elem).UnsafePointer()
		}
		base = *slot
	}
	return unsafe.Add(base, f.offset), true
}

// lastDecode and lastEncode remember the latest top-level plan of each
// direction. A guest handles the same few types on every call, and
// comparing type words is far cheaper in wasm than a map lookup.
var lastDecode, lastEncode lastPlan

// typeWord returns the type word of an interface value, which identifies
// its dynamic type and compares without a call.
func typeWord(x any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&x)).typ }

// eface is the memory layout of an empty interface value.
type eface struct {
	typ, data unsafe.Pointer
}

// cachedPlan returns the plan for the dynamic type of x, which is not nil.
func cachedPlan(last *lastPlan, x any) (*plan, error) {
	if p := last.load(); p != nil && p.typeWord == typeWord(x) {
		return p, nil
	}
	p, err := planFor(reflect.TypeOf(x))
	if err != nil {
		return nil, err
	}
	last.store(p)
	return p, nil
}
