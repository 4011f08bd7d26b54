package wasmbin

import (
	"fmt"
	"strings"
)

// ValType is a value type as encoded in the binary format.
type ValType byte

// Value types.
const (
	I32       ValType = 0x7F
	I64       ValType = 0x7E
	F32       ValType = 0x7D
	F64       ValType = 0x7C
	V128      ValType = 0x7B
	FuncRef   ValType = 0x70
	ExternRef ValType = 0x6F
)

func (t ValType) valid() bool {
	switch t {
	case I32, I64, F32, F64, V128, FuncRef, ExternRef:
		return true
	}
	return false
}

func (t ValType) isRef() bool { return t == FuncRef || t == ExternRef }

// String returns the text-format name of t ("i32", "funcref"), or its byte in
// hex when t is not a known type.
func (t ValType) String() string {
	switch t {
	case I32:
		return "i32"
	case I64:
		return "i64"
	case F32:
		return "f32"
	case F64:
		return "f64"
	case V128:
		return "v128"
	case FuncRef:
		return "funcref"
	case ExternRef:
		return "externref"
	}
	return fmt.Sprintf("valtype(0x%02x)", byte(t))
}

// FuncType is a function signature.
type FuncType struct{ Params, Results []ValType }

// String formats t like "(i32, i64) -> (i32)".
func (t FuncType) String() string {
	var sb strings.Builder
	writeTypes := func(ts []ValType) {
		sb.WriteByte('(')
		for i, v := range ts {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(v.String())
		}
		sb.WriteByte(')')
	}
	writeTypes(t.Params)
	sb.WriteString(" -> ")
	writeTypes(t.Results)
	return sb.String()
}

// Equal reports whether t and u have the same parameters and results.
func (t FuncType) Equal(u FuncType) bool {
	return equalTypes(t.Params, u.Params) && equalTypes(t.Results, u.Results)
}

func equalTypes(a, b []ValType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Limits are the size bounds of a memory (in 64 KiB pages) or a table (in
// elements).
type Limits struct {
	Min, Max uint32
	HasMax   bool
}

// Table is a table type.
type Table struct {
	Elem   ValType
	Limits Limits
}

// GlobalType is the type of a global.
type GlobalType struct {
	Type    ValType
	Mutable bool
}

// ExternKind says what an import or export refers to.
type ExternKind byte

// Extern kinds.
const (
	KindFunc   ExternKind = 0
	KindTable  ExternKind = 1
	KindMemory ExternKind = 2
	KindGlobal ExternKind = 3
)

// String returns "func", "table", "memory" or "global".
func (k ExternKind) String() string {
	switch k {
	case KindFunc:
		return "func"
	case KindTable:
		return "table"
	case KindMemory:
		return "memory"
	case KindGlobal:
		return "global"
	}
	return fmt.Sprintf("kind(0x%02x)", byte(k))
}

// Import is one entry of the import section. Only the field matching Kind is
// meaningful: Func is a type index.
type Import struct {
	Module, Name string
	Kind         ExternKind
	Func         uint32
	Table        Table
	Memory       Limits
	Global       GlobalType
}

// Export is one entry of the export section.
type Export struct {
	Name  string
	Kind  ExternKind
	Index uint32
}

// Global is a defined global. Init is its constant expression, including the
// trailing end opcode (0x0B).
type Global struct {
	Type GlobalType
	Init []byte
}

// LocalGroup declares Count locals of one type in a function body.
type LocalGroup struct {
	Count uint32
	Type  ValType
}

// FuncBody is one entry of the code section. Code holds the instructions,
// including the final end opcode (0x0B).
type FuncBody struct {
	Locals []LocalGroup
	Code   []byte
}

// Custom is a custom section. After is the id of the last non-custom section
// that preceded it (0 when it came before all of them); Encode puts it back
// at that place in the canonical section order.
type Custom struct {
	Name  string
	Data  []byte
	After byte
}

// Section ids.
const (
	SectionCustom    byte = 0
	SectionType      byte = 1
	SectionImport    byte = 2
	SectionFunction  byte = 3
	SectionTable     byte = 4
	SectionMemory    byte = 5
	SectionGlobal    byte = 6
	SectionExport    byte = 7
	SectionStart     byte = 8
	SectionElement   byte = 9
	SectionCode      byte = 10
	SectionData      byte = 11
	SectionDataCount byte = 12
)

// canonicalOrder lists the non-custom sections in the order the binary format
// requires (data count sits between element and code).
var canonicalOrder = [...]byte{
	SectionType, SectionImport, SectionFunction, SectionTable, SectionMemory,
	SectionGlobal, SectionExport, SectionStart, SectionElement,
	SectionDataCount, SectionCode, SectionData,
}

// sectionRank is the position of a section id in canonicalOrder, counted from
// 1; custom sections and unknown ids have rank 0.
func sectionRank(id byte) int {
	for i, s := range canonicalOrder {
		if s == id {
			return i + 1
		}
	}
	return 0
}

// SectionName returns the name of a section id ("code", "data count").
func SectionName(id byte) string {
	switch id {
	case SectionCustom:
		return "custom"
	case SectionType:
		return "type"
	case SectionImport:
		return "import"
	case SectionFunction:
		return "function"
	case SectionTable:
		return "table"
	case SectionMemory:
		return "memory"
	case SectionGlobal:
		return "global"
	case SectionExport:
		return "export"
	case SectionStart:
		return "start"
	case SectionElement:
		return "element"
	case SectionCode:
		return "code"
	case SectionData:
		return "data"
	case SectionDataCount:
		return "data count"
	}
	return fmt.Sprintf("unknown(%d)", id)
}

// Module is a decoded module. The element and data sections are kept as raw
// payloads (HasElements and HasData say whether they were present), since
// rewriting tools leave them as they are.
type Module struct {
	Types       []FuncType
	Imports     []Import
	Funcs       []uint32 // type index of each defined function
	Tables      []Table
	Memories    []Limits
	Globals     []Global
	Exports     []Export
	Start       *uint32
	Elements    []byte // raw payload of section 9
	DataCount   *uint32
	Code        []FuncBody
	Data        []byte // raw payload of section 11
	HasElements bool
	HasData     bool
	Customs     []Custom
}

// NumImportedFuncs returns how many functions are imported; they take the
// first indices of the function index space.
func (m *Module) NumImportedFuncs() uint32 { return m.countImports(KindFunc) }

// NumImportedGlobals returns how many globals are imported; they take the
// first indices of the global index space.
func (m *Module) NumImportedGlobals() uint32 { return m.countImports(KindGlobal) }

// NumImportedTables returns how many tables are imported.
func (m *Module) NumImportedTables() uint32 { return m.countImports(KindTable) }

// NumImportedMemories returns how many memories are imported.
func (m *Module) NumImportedMemories() uint32 { return m.countImports(KindMemory) }

func (m *Module) countImports(k ExternKind) uint32 {
	var n uint32
	for i := range m.Imports {
		if m.Imports[i].Kind == k {
			n++
		}
	}
	return n
}

// NumFuncs returns the size of the function index space (imported and
// defined functions).
func (m *Module) NumFuncs() uint32 { return m.NumImportedFuncs() + uint32(len(m.Funcs)) }

// NumGlobals returns the size of the global index space.
func (m *Module) NumGlobals() uint32 { return m.NumImportedGlobals() + uint32(len(m.Globals)) }

// FuncType returns the signature of a function in the whole function index
// space, imported functions first. It reports false when the index or its
// type index is out of range.
func (m *Module) FuncType(funcIndex uint32) (FuncType, bool) {
	typeIndex, ok := m.FuncTypeIndex(funcIndex)
	if !ok || typeIndex >= uint32(len(m.Types)) {
		return FuncType{}, false
	}
	return m.Types[typeIndex], true
}

// FuncTypeIndex returns the type index of a function in the whole function
// index space, imported functions first.
func (m *Module) FuncTypeIndex(funcIndex uint32) (uint32, bool) {
	n := funcIndex
	for i := range m.Imports {
		if m.Imports[i].Kind != KindFunc {
			continue
		}
		if n == 0 {
			return m.Imports[i].Func, true
		}
		n--
	}
	if uint64(n) >= uint64(len(m.Funcs)) {
		return 0, false
	}
	return m.Funcs[n], true
}

// GlobalType returns the type of a global in the whole global index space,
// imported globals first.
func (m *Module) GlobalType(globalIndex uint32) (GlobalType, bool) {
	n := globalIndex
	for i := range m.Imports {
		if m.Imports[i].Kind != KindGlobal {
			continue
		}
		if n == 0 {
			return m.Imports[i].Global, true
		}
		n--
	}
	if uint64(n) >= uint64(len(m.Globals)) {
		return GlobalType{}, false
	}
	return m.Globals[n].Type, true
}

// Custom returns the first custom section with the given name.
func (m *Module) Custom(name string) (Custom, bool) {
	for _, c := range m.Customs {
		if c.Name == name {
			return c, true
		}
	}
	return Custom{}, false
}

// Export returns the export with the given name.
func (m *Module) Export(name string) (Export, bool) {
	for _, e := range m.Exports {
		if e.Name == name {
			return e, true
		}
	}
	return Export{}, false
}
