package wasmbin

import (
	"testing"

	"github.com/reprise-dev/reprise/host/internal/wasmtest"
)

// goGuest returns the testdata/guest program built with the real Go
// toolchain for wasip1, built once per test binary.
func goGuest(tb testing.TB) []byte {
	tb.Helper()
	return wasmtest.Reactor(tb, "testdata/guest")
}

// sec encodes one section with a minimal size prefix.
func sec(id byte, payload ...byte) []byte {
	out := []byte{id}
	out = AppendULEB128(out, uint64(len(payload)))
	return append(out, payload...)
}

// rawModule concatenates the header and the given encoded sections.
func rawModule(sections ...[]byte) []byte {
	out := []byte{0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00}
	for _, s := range sections {
		out = append(out, s...)
	}
	return out
}

// cat concatenates byte slices; it keeps hand-written encodings readable.
func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func uleb(v uint64) []byte { return AppendULEB128(nil, v) }
func sleb(v int64) []byte  { return AppendSLEB128(nil, v) }

func u32p(v uint32) *uint32 { return &v }

// sampleModule builds, through the Module type, a module that uses every
// section and every kind of import, export and custom placement.
func sampleModule() *Module {
	return &Module{
		Types: []FuncType{
			{Params: []ValType{I32, I64}, Results: []ValType{I32}},
			{},
			{Params: []ValType{F32, F64}, Results: []ValType{I32, I64}}, // multi-value
			{Params: []ValType{FuncRef, ExternRef}},
		},
		Imports: []Import{
			{Module: "env", Name: "f", Kind: KindFunc, Func: 1},
			{Module: "env", Name: "t", Kind: KindTable, Table: Table{Elem: ExternRef, Limits: Limits{Min: 1}}},
			{Module: "env", Name: "g", Kind: KindGlobal, Global: GlobalType{Type: I64}},
			{Module: "env", Name: "h", Kind: KindFunc, Func: 0},
		},
		Funcs:    []uint32{0, 1, 2},
		Tables:   []Table{{Elem: FuncRef, Limits: Limits{Min: 2, Max: 10, HasMax: true}}},
		Memories: []Limits{{Min: 1, Max: 65536, HasMax: true}},
		Globals: []Global{
			{Type: GlobalType{Type: I32, Mutable: true}, Init: cat([]byte{0x41}, sleb(-123456), []byte{0x0B})},
			{Type: GlobalType{Type: I64}, Init: []byte{0x23, 0x00, 0x0B}},                         // global.get 0
			{Type: GlobalType{Type: F64}, Init: []byte{0x44, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0x0B}}, // f64.const 1
			{Type: GlobalType{Type: FuncRef}, Init: []byte{0xD2, 0x03, 0x0B}},                     // ref.func 3
			{Type: GlobalType{Type: ExternRef, Mutable: true}, Init: []byte{0xD0, 0x6F, 0x0B}},    // ref.null extern
		},
		Exports: []Export{
			{Name: "run", Kind: KindFunc, Index: 2},
			{Name: "memory", Kind: KindMemory, Index: 0},
			{Name: "table", Kind: KindTable, Index: 1},
			{Name: "counter", Kind: KindGlobal, Index: 1},
			{Name: "imported", Kind: KindFunc, Index: 0},
		},
		Start: u32p(3),
		// one active segment: table 1, offset i32.const 0, funcs 2 and 3
		Elements:    []byte{0x01, 0x02, 0x01, 0x41, 0x00, 0x0B, 0x00, 0x02, 0x02, 0x03},
		HasElements: true,
		DataCount:   u32p(2),
		Code: []FuncBody{
			{Locals: []LocalGroup{{Count: 2, Type: I32}, {Count: 1, Type: F64}},
				Code: []byte{0x20, 0x00, 0x0B}}, // local.get 0
			{Code: []byte{0x0B}},
			{Code: []byte{0x41, 0x07, 0x42, 0x09, 0x0B}},
		},
		// an active segment and a passive one
		Data:    []byte{0x02, 0x00, 0x41, 0x08, 0x0B, 0x03, 'a', 'b', 'c', 0x01, 0x02, 'x', 'y'},
		HasData: true,
		Customs: []Custom{
			{Name: "first", Data: []byte{1, 2, 3}, After: 0},
			{Name: "after-type", Data: []byte{}, After: SectionType},
			{Name: "after-datacount", Data: []byte("dc"), After: SectionDataCount},
			{Name: "meta", Data: []byte{0x00, 0x02, 0x01, 'm'}, After: SectionData},
			{Name: "last", Data: []byte("z"), After: SectionData},
		},
	}
}
