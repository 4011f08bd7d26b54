package wasmbin

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"
)

// ParseError reports a malformed module: the section being read ("header"
// for the preamble) and the absolute byte offset in the module where the
// problem was found.
type ParseError struct {
	Section string
	Offset  int
	Err     error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("wasm: %s section, byte offset %d (0x%x): %v", e.Section, e.Offset, e.Offset, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Errors wrapped in ParseError, for errors.Is.
var (
	ErrTruncated    = errors.New("unexpected end of input")
	ErrBadHeader    = errors.New("not a WebAssembly binary module")
	ErrSectionOrder = errors.New("section out of order")
	ErrMalformed    = errors.New("malformed")
	ErrNotSupported = errors.New("not supported")
)

var magic = []byte{0x00, 0x61, 0x73, 0x6D}

const version1 = 1

// Parse decodes a binary module. It checks the header, the order and sizes
// of sections, the encoding of every entry in the sections it decodes, and
// that type, function and export indices are in range; every error is a
// *ParseError naming the section and byte offset. The module does not alias
// b. Shared and 64-bit memories, and sections of proposals outside the
// supported set, are refused.
func Parse(b []byte) (*Module, error) {
	if len(b) < 8 {
		return nil, &ParseError{Section: "header", Offset: 0,
			Err: fmt.Errorf("%w: %d bytes is shorter than the 8-byte header", ErrBadHeader, len(b))}
	}
	if !bytes.Equal(b[:4], magic) {
		return nil, &ParseError{Section: "header", Offset: 0,
			Err: fmt.Errorf("%w: magic is % x, want 00 61 73 6d", ErrBadHeader, b[:4])}
	}
	if v := uint32(b[4]) | uint32(b[5])<<8 | uint32(b[6])<<16 | uint32(b[7])<<24; v != version1 {
		return nil, &ParseError{Section: "header", Offset: 4,
			Err: fmt.Errorf("%w: version bytes % x, want 01 00 00 00 (core module version 1)", ErrBadHeader, b[4:8])}
	}
	p := parser{buf: bytes.Clone(b), pos: 8, m: &Module{}}
	if err := p.sections(); err != nil {
		return nil, err
	}
	if err := p.crossCheck(); err != nil {
		return nil, err
	}
	return p.m, nil
}

type parser struct {
	buf     []byte
	pos     int    // absolute read position in buf
	end     int    // end of the section being read
	section string // name of the section being read, for errors
	m       *Module

	// where each non-custom section's payload starts, for errors found
	// after reading
	sectionStart [13]int
}

func (p *parser) fail(at int, err error) error {
	return &ParseError{Section: p.section, Offset: at, Err: err}
}

func (p *parser) failf(at int, format string, args ...any) error {
	return p.fail(at, fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...))
}

func (p *parser) remaining() int { return p.end - p.pos }

func (p *parser) u32(what string) (uint32, error) {
	v, n, err := ReadU32(p.buf[p.pos:p.end])
	if err != nil {
		if errors.Is(err, ErrLEBTruncated) {
			return 0, p.fail(p.pos, fmt.Errorf("%w reading %s: %w", ErrTruncated, what, err))
		}
		return 0, p.fail(p.pos, fmt.Errorf("%w: %s: %w", ErrMalformed, what, err))
	}
	p.pos += n
	return v, nil
}

func (p *parser) byte(what string) (byte, error) {
	if p.pos >= p.end {
		return 0, p.fail(p.pos, fmt.Errorf("%w reading %s", ErrTruncated, what))
	}
	c := p.buf[p.pos]
	p.pos++
	return c, nil
}

// count reads a vector length and refuses one that the remaining bytes
// cannot hold, given the smallest encoding of an element, so that no
// allocation is sized by an unchecked number.
func (p *parser) count(what string, minElemSize int) (int, error) {
	at := p.pos
	n, err := p.u32(what + " count")
	if err != nil {
		return 0, err
	}
	if uint64(n)*uint64(minElemSize) > uint64(p.remaining()) {
		return 0, p.fail(at, fmt.Errorf("%w: %s count %d needs at least %d bytes but only %d remain",
			ErrTruncated, what, n, uint64(n)*uint64(minElemSize), p.remaining()))
	}
	return int(n), nil
}

// bytesN returns the next n bytes, capped so appending to them cannot
// overwrite what follows.
func (p *parser) bytesN(n int, what string) ([]byte, error) {
	if n < 0 || n > p.remaining() {
		return nil, p.fail(p.pos, fmt.Errorf("%w: %s is %d bytes but only %d remain", ErrTruncated, what, n, p.remaining()))
	}
	b := p.buf[p.pos : p.pos+n : p.pos+n]
	p.pos += n
	return b, nil
}

func (p *parser) name(what string) (string, error) {
	at := p.pos
	n, err := p.u32(what + " length")
	if err != nil {
		return "", err
	}
	b, err := p.bytesN(int(n), what)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", p.failf(at, "%s %q is not valid UTF-8", what, b)
	}
	return string(b), nil
}

func (p *parser) valType(what string) (ValType, error) {
	at := p.pos
	c, err := p.byte(what)
	if err != nil {
		return 0, err
	}
	t := ValType(c)
	if !t.valid() {
		return 0, p.failf(at, "%s: 0x%02x is not a value type", what, c)
	}
	return t, nil
}

func (p *parser) sections() error {
	m := p.m
	lastID := byte(0) // last non-custom section id, for Custom.After
	lastRank := 0
	for p.pos < len(p.buf) {
		headerAt := p.pos
		p.section = "section header"
		p.end = len(p.buf)
		id := p.buf[p.pos]
		p.pos++
		if id != SectionCustom {
			p.section = SectionName(id) + " section header"
		}
		size, err := p.u32("section size")
		if err != nil {
			return err
		}
		if uint64(size) > uint64(len(p.buf)-p.pos) {
			return p.fail(headerAt, fmt.Errorf("%w: %s section declares %d bytes but only %d remain",
				ErrTruncated, SectionName(id), size, len(p.buf)-p.pos))
		}
		p.end = p.pos + int(size)
		p.section = SectionName(id)
		if id == SectionCustom {
			c, err := p.custom(lastID)
			if err != nil {
				return err
			}
			m.Customs = append(m.Customs, c)
			continue
		}
		rank := sectionRank(id)
		if rank == 0 {
			return p.fail(headerAt, fmt.Errorf("%w: unknown section id %d", ErrNotSupported, id))
		}
		if rank <= lastRank {
			if id == lastID {
				return p.fail(headerAt, fmt.Errorf("%w: duplicate %s section", ErrSectionOrder, SectionName(id)))
			}
			return p.fail(headerAt, fmt.Errorf("%w: %s section after %s section", ErrSectionOrder, SectionName(id), SectionName(lastID)))
		}
		lastRank, lastID = rank, id
		p.sectionStart[id] = p.pos
		if err := p.section1(id); err != nil {
			return err
		}
		if p.pos != p.end {
			return p.failf(p.pos, "%d unexpected bytes at the end of the section", p.end-p.pos)
		}
	}
	return nil
}

func (p *parser) custom(after byte) (Custom, error) {
	name, err := p.name("custom section name")
	if err != nil {
		return Custom{}, err
	}
	data, err := p.bytesN(p.remaining(), "custom section data")
	if err != nil {
		return Custom{}, err
	}
	return Custom{Name: name, Data: data, After: after}, nil
}

func (p *parser) section1(id byte) error {
	m := p.m
	var err error
	switch id {
	case SectionType:
		m.Types, err = p.typeSection()
	case SectionImport:
		m.Imports, err = p.importSection()
	case SectionFunction:
		m.Funcs, err = p.indexVector("function type index")
	case SectionTable:
		var n int
		if n, err = p.count("table", 2); err != nil {
			return err
		}
		m.Tables = make([]Table, n)
		for i := range m.Tables {
			if m.Tables[i], err = p.table(); err != nil {
				return err
			}
		}
	case SectionMemory:
		var n int
		if n, err = p.count("memory", 2); err != nil {
			return err
		}
		m.Memories = make([]Limits, n)
		for i := range m.Memories {
			if m.Memories[i], err = p.limits(true); err != nil {
				return err
			}
		}
	case SectionGlobal:
		m.Globals, err = p.globalSection()
	case SectionExport:
		m.Exports, err = p.exportSection()
	case SectionStart:
		var v uint32
		if v, err = p.u32("start function index"); err == nil {
			m.Start = &v
		}
	case SectionElement:
		m.Elements, err = p.bytesN(p.remaining(), "element section")
		m.HasElements = true
	case SectionDataCount:
		var v uint32
		if v, err = p.u32("data count"); err == nil {
			m.DataCount = &v
		}
	case SectionCode:
		m.Code, err = p.codeSection()
	case SectionData:
		m.Data, err = p.bytesN(p.remaining(), "data section")
		m.HasData = true
	}
	return err
}

func (p *parser) typeSection() ([]FuncType, error) {
	n, err := p.count("type", 3)
	if err != nil {
		return nil, err
	}
	types := make([]FuncType, n)
	for i := range types {
		at := p.pos
		form, err := p.byte("function type form")
		if err != nil {
			return nil, err
		}
		if form != 0x60 {
			return nil, p.failf(at, "type %d has form 0x%02x, want 0x60 (function type)", i, form)
		}
		if types[i].Params, err = p.valTypes("parameter"); err != nil {
			return nil, err
		}
		if types[i].Results, err = p.valTypes("result"); err != nil {
			return nil, err
		}
	}
	return types, nil
}

func (p *parser) valTypes(what string) ([]ValType, error) {
	n, err := p.count(what, 1)
	if err != nil || n == 0 {
		return nil, err
	}
	ts := make([]ValType, n)
	for i := range ts {
		if ts[i], err = p.valType(what + " type"); err != nil {
			return nil, err
		}
	}
	return ts, nil
}

func (p *parser) importSection() ([]Import, error) {
	n, err := p.count("import", 4)
	if err != nil {
		return nil, err
	}
	imports := make([]Import, n)
	for i := range imports {
		im := &imports[i]
		if im.Module, err = p.name("import module name"); err != nil {
			return nil, err
		}
		if im.Name, err = p.name("import name"); err != nil {
			return nil, err
		}
		at := p.pos
		kind, err := p.byte("import kind")
		if err != nil {
			return nil, err
		}
		im.Kind = ExternKind(kind)
		switch im.Kind {
		case KindFunc:
			im.Func, err = p.u32("imported function type index")
		case KindTable:
			im.Table, err = p.table()
		case KindMemory:
			im.Memory, err = p.limits(true)
		case KindGlobal:
			im.Global, err = p.globalType()
		default:
			return nil, p.fail(at, fmt.Errorf("%w: import %q.%q has kind 0x%02x (only func, table, memory and global)",
				ErrNotSupported, im.Module, im.Name, kind))
		}
		if err != nil {
			return nil, err
		}
	}
	return imports, nil
}

func (p *parser) indexVector(what string) ([]uint32, error) {
	n, err := p.count(what, 1)
	if err != nil || n == 0 {
		return nil, err
	}
	v := make([]uint32, n)
	for i := range v {
		if v[i], err = p.u32(what); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (p *parser) table() (Table, error) {
	at := p.pos
	t, err := p.valType("table element type")
	if err != nil {
		return Table{}, err
	}
	if !t.isRef() {
		return Table{}, p.failf(at, "table element type %s is not a reference type", t)
	}
	l, err := p.limits(false)
	return Table{Elem: t, Limits: l}, err
}

func (p *parser) limits(memory bool) (Limits, error) {
	at := p.pos
	flags, err := p.byte("limits flags")
	if err != nil {
		return Limits{}, err
	}
	switch {
	case flags <= 1:
	case memory && (flags == 2 || flags == 3):
		return Limits{}, p.fail(at, fmt.Errorf("%w: shared memory (limits flags 0x%02x)", ErrNotSupported, flags))
	case memory && flags >= 4 && flags <= 7:
		return Limits{}, p.fail(at, fmt.Errorf("%w: 64-bit memory (limits flags 0x%02x)", ErrNotSupported, flags))
	default:
		return Limits{}, p.failf(at, "limits flags 0x%02x", flags)
	}
	var l Limits
	if l.Min, err = p.u32("limits minimum"); err != nil {
		return Limits{}, err
	}
	if flags == 1 {
		l.HasMax = true
		if l.Max, err = p.u32("limits maximum"); err != nil {
			return Limits{}, err
		}
	}
	return l, nil
}

func (p *parser) globalType() (GlobalType, error) {
	t, err := p.valType("global type")
	if err != nil {
		return GlobalType{}, err
	}
	at := p.pos
	mut, err := p.byte("global mutability")
	if err != nil {
		return GlobalType{}, err
	}
	if mut > 1 {
		return GlobalType{}, p.failf(at, "global mutability flag 0x%02x, want 0x00 or 0x01", mut)
	}
	return GlobalType{Type: t, Mutable: mut == 1}, nil
}

func (p *parser) globalSection() ([]Global, error) {
	n, err := p.count("global", 3)
	if err != nil {
		return nil, err
	}
	globals := make([]Global, n)
	for i := range globals {
		if globals[i].Type, err = p.globalType(); err != nil {
			return nil, err
		}
		if globals[i].Init, err = p.constExpr(fmt.Sprintf("global %d initialiser", i)); err != nil {
			return nil, err
		}
	}
	return globals, nil
}

// constExpr returns the bytes of an expression up to and including the end
// that closes it.
func (p *parser) constExpr(what string) ([]byte, error) {
	code := p.buf[p.pos:p.end]
	depth := 0
	for off := 0; off < len(code); {
		in, err := DecodeInstr(code, off)
		if err != nil {
			return nil, p.fail(p.pos+off, fmt.Errorf("%w: %s: %w", ErrMalformed, what, err))
		}
		off += in.Len
		switch in.Op {
		case OpBlock, OpLoop, OpIf:
			depth++
		case OpEnd:
			if depth == 0 {
				return p.bytesN(off, what)
			}
			depth--
		}
	}
	return nil, p.fail(p.end, fmt.Errorf("%w: %s has no end", ErrTruncated, what))
}

func (p *parser) exportSection() ([]Export, error) {
	n, err := p.count("export", 3)
	if err != nil {
		return nil, err
	}
	exports := make([]Export, n)
	for i := range exports {
		e := &exports[i]
		if e.Name, err = p.name("export name"); err != nil {
			return nil, err
		}
		at := p.pos
		kind, err := p.byte("export kind")
		if err != nil {
			return nil, err
		}
		if kind > byte(KindGlobal) {
			return nil, p.fail(at, fmt.Errorf("%w: export %q has kind 0x%02x (only func, table, memory and global)", ErrNotSupported, e.Name, kind))
		}
		e.Kind = ExternKind(kind)
		if e.Index, err = p.u32("export index"); err != nil {
			return nil, err
		}
	}
	return exports, nil
}

func (p *parser) codeSection() ([]FuncBody, error) {
	n, err := p.count("function body", 2)
	if err != nil {
		return nil, err
	}
	bodies := make([]FuncBody, n)
	for i := range bodies {
		at := p.pos
		size, err := p.u32("function body size")
		if err != nil {
			return nil, err
		}
		if uint64(size) > uint64(p.remaining()) {
			return nil, p.fail(at, fmt.Errorf("%w: body of defined function %d declares %d bytes but only %d remain",
				ErrTruncated, i, size, p.remaining()))
		}
		sectionEnd := p.end
		p.end = p.pos + int(size)
		if bodies[i], err = p.body(i); err != nil {
			return nil, err
		}
		p.end = sectionEnd
	}
	return bodies, nil
}

func (p *parser) body(i int) (FuncBody, error) {
	var fb FuncBody
	groups, err := p.count("local group", 2)
	if err != nil {
		return fb, err
	}
	if groups > 0 {
		fb.Locals = make([]LocalGroup, groups)
	}
	var total uint64
	for g := range fb.Locals {
		at := p.pos
		if fb.Locals[g].Count, err = p.u32("local count"); err != nil {
			return fb, err
		}
		total += uint64(fb.Locals[g].Count)
		if total > uint64(^uint32(0)) {
			return fb, p.failf(at, "defined function %d declares more than 2^32-1 locals", i)
		}
		if fb.Locals[g].Type, err = p.valType("local type"); err != nil {
			return fb, err
		}
	}
	if p.remaining() == 0 || p.buf[p.end-1] != byte(OpEnd) {
		return fb, p.failf(p.end, "body of defined function %d does not finish with end (0x0b)", i)
	}
	fb.Code, err = p.bytesN(p.remaining(), "function code")
	return fb, err
}

// crossCheck verifies what spans sections: function and code counts agree,
// and every type, function and export index is in range.
func (p *parser) crossCheck() error {
	m := p.m
	numTypes := uint32(len(m.Types))
	p.section = "import"
	for i, im := range m.Imports {
		if im.Kind == KindFunc && im.Func >= numTypes {
			return p.failf(p.sectionStart[SectionImport], "import %d (%s.%s) has type index %d but there are %d types",
				i, im.Module, im.Name, im.Func, numTypes)
		}
	}
	p.section = "function"
	for i, t := range m.Funcs {
		if t >= numTypes {
			return p.failf(p.sectionStart[SectionFunction], "defined function %d has type index %d but there are %d types", i, t, numTypes)
		}
	}
	if len(m.Funcs) != len(m.Code) {
		p.section = "code"
		at := p.sectionStart[SectionCode]
		if at == 0 {
			p.section, at = "function", p.sectionStart[SectionFunction]
		}
		return p.failf(at, "function section declares %d functions but code section has %d bodies", len(m.Funcs), len(m.Code))
	}
	if m.Start != nil && *m.Start >= m.NumFuncs() {
		p.section = "start"
		return p.failf(p.sectionStart[SectionStart], "start function %d out of range (%d functions)", *m.Start, m.NumFuncs())
	}
	p.section = "export"
	for _, e := range m.Exports {
		var limit uint32
		switch e.Kind {
		case KindFunc:
			limit = m.NumFuncs()
		case KindTable:
			limit = m.NumImportedTables() + uint32(len(m.Tables))
		case KindMemory:
			limit = m.NumImportedMemories() + uint32(len(m.Memories))
		case KindGlobal:
			limit = m.NumGlobals()
		}
		if e.Index >= limit {
			return p.failf(p.sectionStart[SectionExport], "export %q refers to %s %d but there are %d", e.Name, e.Kind, e.Index, limit)
		}
	}
	if m.DataCount != nil {
		segments := uint32(0)
		if m.HasData {
			p.section = "data"
			p.pos, p.end = p.sectionStart[SectionData], p.sectionStart[SectionData]+len(m.Data)
			var err error
			if segments, err = p.u32("data segment count"); err != nil {
				return err
			}
		}
		if segments != *m.DataCount {
			p.section = "data count"
			return p.failf(p.sectionStart[SectionDataCount], "data count is %d but the data section has %d segments", *m.DataCount, segments)
		}
	}
	return nil
}
