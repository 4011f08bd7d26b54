package wasmbin

import (
	"bytes"
	"reflect"
	"testing"
)

// canonicalSectionSizes re-encodes every section size of a module with a
// minimal LEB128, leaving everything else as it is. Go's linker pads section
// sizes to five bytes; Encode writes them minimally, and this is the only
// difference expected after a round trip.
func canonicalSectionSizes(tb testing.TB, b []byte) []byte {
	tb.Helper()
	out := append([]byte(nil), b[:8]...)
	for pos := 8; pos < len(b); {
		id := b[pos]
		size, n, err := ReadU32(b[pos+1:])
		if err != nil {
			tb.Fatalf("section at %d: %v", pos, err)
		}
		start := pos + 1 + n
		out = append(out, id)
		out = AppendULEB128(out, uint64(size))
		out = append(out, b[start:start+int(size)]...)
		pos = start + int(size)
	}
	return out
}

func TestGoModuleRoundTrip(t *testing.T) {
	wasm := goGuest(t)
	m, err := Parse(wasm)
	if err != nil {
		t.Fatal(err)
	}
	if m.NumImportedFuncs() == 0 || len(m.Funcs) < 100 || len(m.Code) != len(m.Funcs) {
		t.Fatalf("unexpected shape: %d imported funcs, %d funcs, %d bodies", m.NumImportedFuncs(), len(m.Funcs), len(m.Code))
	}
	if !m.HasData || !m.HasElements || len(m.Memories) != 1 {
		t.Fatalf("Go module lacks data, elements or memory: data=%v elements=%v memories=%d", m.HasData, m.HasElements, len(m.Memories))
	}
	for _, name := range []string{"add", "hypot", "count", "memory", "_initialize"} {
		if _, ok := m.Export(name); !ok {
			t.Errorf("export %q not found", name)
		}
	}
	if c, ok := m.Custom("go:buildid"); !ok || c.After != 0 {
		t.Errorf("go:buildid custom = %+v, %v; want it before every section", c, ok)
	}
	if c, ok := m.Custom("name"); !ok || c.After != SectionData {
		t.Errorf("name custom = After %d, %v; want after data", c.After, ok)
	}

	enc := m.Encode()
	if want := canonicalSectionSizes(t, wasm); !bytes.Equal(enc, want) {
		t.Fatalf("Encode differs from the input with minimal section sizes (%d vs %d bytes)", len(enc), len(want))
	}
	m2, err := Parse(enc)
	if err != nil {
		t.Fatalf("re-parsing the encoding: %v", err)
	}
	if !reflect.DeepEqual(m, m2) {
		t.Fatal("Parse(Encode(m)) differs from m")
	}
	if !bytes.Equal(m2.Encode(), enc) {
		t.Fatal("second Encode differs from the first")
	}
}

func TestSampleModuleRoundTrip(t *testing.T) {
	m := sampleModule()
	enc := m.Encode()
	got, err := Parse(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("Parse(Encode(m)) differs:\n got %+v\nwant %+v", got, m)
	}
	if again := got.Encode(); !bytes.Equal(again, enc) {
		t.Fatal("Encode of the re-parsed module differs")
	}
	// Minimal input round-trips byte for byte.
	m3, _ := Parse(enc)
	if !bytes.Equal(m3.Encode(), enc) {
		t.Fatal("Parse(b).Encode() != b for a minimal module")
	}
}

func TestCustomPlacement(t *testing.T) {
	m := sampleModule()
	enc := m.Encode()
	// Walk the sections and record the order of ids and custom names.
	var order []string
	for pos := 8; pos < len(enc); {
		id := enc[pos]
		size, n, _ := ReadU32(enc[pos+1:])
		start := pos + 1 + n
		if id == SectionCustom {
			nameLen, k, _ := ReadU32(enc[start:])
			order = append(order, "custom:"+string(enc[start+k:start+k+int(nameLen)]))
		} else {
			order = append(order, SectionName(id))
		}
		pos = start + int(size)
	}
	want := []string{"custom:first", "type", "custom:after-type", "import", "function", "table", "memory",
		"global", "export", "start", "element", "data count", "custom:after-datacount", "code", "data",
		"custom:meta", "custom:last"}
	if !reflect.DeepEqual(order, want) {
		t.Fatalf("section order\n got %v\nwant %v", order, want)
	}
}

func TestEncodeDeterministicAfterEdits(t *testing.T) {
	// A custom whose After names an absent section is written where that
	// section would be.
	m := &Module{
		Types:   []FuncType{{}},
		Funcs:   []uint32{0},
		Code:    []FuncBody{{Code: []byte{0x0B}}},
		Customs: []Custom{{Name: "x", Data: []byte{9}, After: SectionGlobal}},
	}
	enc := m.Encode()
	want := rawModule(
		sec(SectionType, 0x01, 0x60, 0x00, 0x00),
		sec(SectionFunction, 0x01, 0x00),
		sec(SectionCustom, 0x01, 'x', 9),
		sec(SectionCode, 0x01, 0x02, 0x00, 0x0B),
	)
	if !bytes.Equal(enc, want) {
		t.Fatalf("Encode = % x\nwant     % x", enc, want)
	}
	if !bytes.Equal(m.Encode(), enc) {
		t.Fatal("Encode is not deterministic")
	}
}

func TestModuleLookups(t *testing.T) {
	m := sampleModule()
	if m.NumImportedFuncs() != 2 || m.NumImportedGlobals() != 1 || m.NumImportedTables() != 1 || m.NumImportedMemories() != 0 {
		t.Fatalf("import counts: funcs %d globals %d tables %d memories %d",
			m.NumImportedFuncs(), m.NumImportedGlobals(), m.NumImportedTables(), m.NumImportedMemories())
	}
	wantTypes := []string{"() -> ()", "(i32, i64) -> (i32)", "(i32, i64) -> (i32)", "() -> ()", "(f32, f64) -> (i32, i64)"}
	for i, want := range wantTypes {
		ft, ok := m.FuncType(uint32(i))
		if !ok || ft.String() != want {
			t.Errorf("FuncType(%d) = %v, %v; want %s", i, ft, ok, want)
		}
	}
	if _, ok := m.FuncType(5); ok {
		t.Error("FuncType(5) found a function past the end")
	}
	if g, ok := m.GlobalType(0); !ok || g.Type != I64 || g.Mutable {
		t.Errorf("GlobalType(0) = %+v, %v", g, ok)
	}
	if g, ok := m.GlobalType(1); !ok || g.Type != I32 || !g.Mutable {
		t.Errorf("GlobalType(1) = %+v, %v", g, ok)
	}
	if _, ok := m.Custom("absent"); ok {
		t.Error("Custom found an absent section")
	}
	if got := (FuncType{Params: []ValType{FuncRef, ExternRef, V128}}).String(); got != "(funcref, externref, v128) -> ()" {
		t.Errorf("String = %q", got)
	}
}
