package wasmbin

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeEveryGoFunction(t *testing.T) {
	m, err := Parse(goGuest(t))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[Opcode]int{}
	total := 0
	numFuncs := m.NumFuncs()
	for i, body := range m.Code {
		next := 0
		var last Opcode
		err := DecodeInstrs(body.Code, func(in Instr) error {
			if in.Offset != next || in.Len <= 0 {
				t.Fatalf("function %d: instruction at %d has offset %d, length %d", i, next, in.Offset, in.Len)
			}
			if in.Op == OpCall && in.Index >= numFuncs {
				t.Fatalf("function %d: call %d past the %d functions", i, in.Index, numFuncs)
			}
			next += in.Len
			seen[in.Op]++
			last = in.Op
			total++
			return nil
		})
		if err != nil {
			t.Fatalf("defined function %d: %v", i, err)
		}
		if next != len(body.Code) || last != OpEnd {
			t.Fatalf("function %d: decoded %d of %d bytes, last opcode %s", i, next, len(body.Code), last)
		}
	}
	for _, op := range []Opcode{OpLoop, OpBrTable, OpCallIndirect, OpI64Load, OpF64Add, OpMemoryCopy, OpI64Extend32S, OpI64TruncSatF64S} {
		if seen[op] == 0 {
			t.Errorf("the Go module was expected to use %s", op)
		}
	}
	t.Logf("decoded %d instructions in %d functions, %d distinct opcodes", total, len(m.Code), len(seen))
}

func TestDecodeImmediates(t *testing.T) {
	code := cat(
		[]byte{0x02, 0x40},                   // block (empty)
		[]byte{0x03, 0x7F},                   // loop (result i32)
		[]byte{0x04, 0x02},                   // if (type 2)
		[]byte{0x0E, 0x02, 0x00, 0x01, 0x02}, // br_table 0 1 default 2
		[]byte{0x05},                         // else
		[]byte{0x11, 0x03, 0x01},             // call_indirect type 3 table 1
		[]byte{0x0B, 0x0B, 0x0B},             // end end end
		[]byte{0x1C, 0x01, 0x7E},             // select (result i64)
		[]byte{0x29, 0x03, 0x90, 0x4E},       // i64.load align=3 offset=10000
		[]byte{0x41}, sleb(-5),               // i32.const -5
		[]byte{0x42}, sleb(-1<<40), // i64.const
		[]byte{0x43, 0x00, 0x00, 0x80, 0x3F},       // f32.const 1
		[]byte{0x44, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F}, // f64.const 1
		[]byte{0xD0, 0x70},                         // ref.null func
		[]byte{0xD2, 0x07},                         // ref.func 7
		[]byte{0xFC, 0x08, 0x01, 0x00},             // memory.init 1
		[]byte{0xFC, 0x0A, 0x00, 0x00},             // memory.copy
		[]byte{0xFC, 0x0C, 0x04, 0x02},             // table.init elem 4 table 2
		[]byte{0xFC, 0x0E, 0x01, 0x00},             // table.copy 1 0
		[]byte{0xFC, 0x11, 0x03},                   // table.fill 3
		[]byte{0x3F, 0x00},                         // memory.size
		[]byte{0x0B},
	)
	var got []Instr
	if err := DecodeInstrs(code, func(in Instr) error { got = append(got, in); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []Instr{
		{Op: OpBlock, Block: BlockType{Kind: BlockEmpty}},
		{Op: OpLoop, Block: BlockType{Kind: BlockValue, Value: I32}},
		{Op: OpIf, Block: BlockType{Kind: BlockTypeIndex, TypeIndex: 2}},
		{Op: OpBrTable, Labels: []uint32{0, 1}, Index: 2},
		{Op: OpElse},
		{Op: OpCallIndirect, Index: 3, Index2: 1},
		{Op: OpEnd}, {Op: OpEnd}, {Op: OpEnd},
		{Op: OpSelectTyped, Types: []ValType{I64}},
		{Op: OpI64Load, Mem: MemArg{Align: 3, Offset: 10000}},
		{Op: OpI32Const, I32: -5},
		{Op: OpI64Const, I64: -1 << 40},
		{Op: OpF32Const, F32Bits: 0x3F800000},
		{Op: OpF64Const, F64Bits: 0x3FF0000000000000},
		{Op: OpRefNull, Ref: FuncRef},
		{Op: OpRefFunc, Index: 7},
		{Op: OpMemoryInit, Index: 1},
		{Op: OpMemoryCopy},
		{Op: OpTableInit, Index: 4, Index2: 2},
		{Op: OpTableCopy, Index: 1, Index2: 0},
		{Op: OpTableFill, Index: 3},
		{Op: OpMemorySize},
		{Op: OpEnd},
	}
	if len(got) != len(want) {
		t.Fatalf("decoded %d instructions, want %d", len(got), len(want))
	}
	for i := range want {
		g := got[i]
		g.Offset, g.Len = 0, 0
		if !reflect.DeepEqual(g, want[i]) {
			t.Errorf("instruction %d: got %+v, want %+v", i, g, want[i])
		}
	}
}

func TestDecodeRefusals(t *testing.T) {
	cases := []struct {
		name    string
		code    []byte
		want    error
		mention []string
	}{
		{"SIMD", []byte{0x01, 0xFD, 0x0C, 0x00, 0x0B}, ErrUnsupported, []string{"0xfd", "offset 1", "SIMD"}},
		{"atomics", []byte{0xFE, 0x00, 0x0B}, ErrUnsupported, []string{"0xfe", "offset 0"}},
		{"unknown", []byte{0x41, 0x00, 0xC5, 0x0B}, ErrUnknownOpcode, []string{"0xc5", "offset 2"}},
		{"unknown 0xfc", []byte{0xFC, 0x20, 0x0B}, ErrUnknownOpcode, []string{"sub-opcode 32", "offset 0"}},
		{"tail call", []byte{0x12, 0x00, 0x0B}, ErrUnsupported, []string{"tail calls"}},
		{"truncated immediate", []byte{0x41, 0x80}, ErrTruncatedInstr, []string{"i32.const", "offset 0"}},
		{"truncated f64", []byte{0x44, 0x00, 0x00}, ErrTruncatedInstr, []string{"f64.const"}},
		{"no final end", []byte{0x02, 0x40, 0x0B}, ErrMissingFinalEnd, []string{"offset 3"}},
		{"trailing bytes", []byte{0x0B, 0x01}, ErrTrailingCode, []string{"offset 1"}},
		{"else outside if", []byte{0x02, 0x40, 0x05, 0x0B, 0x0B}, ErrBadStructure, []string{"else"}},
		{"memory index", []byte{0x3F, 0x01, 0x0B}, ErrUnsupported, []string{"memory.size"}},
		{"multi-memory memarg", []byte{0x28, 0x40, 0x00, 0x00, 0x0B}, ErrUnsupported, []string{"i32.load"}},
		{"absurd br_table", cat([]byte{0x0E}, uleb(0xFFFFFFFF), []byte{0x00, 0x0B}), ErrTruncatedInstr, []string{"br_table"}},
		{"bad block type", []byte{0x02, 0x50, 0x0B, 0x0B}, ErrBadImmediate, []string{"block"}},
		{"bad ref.null", []byte{0xD0, 0x7F, 0x0B}, ErrBadImmediate, []string{"ref.null"}},
		{"empty", nil, ErrMissingFinalEnd, nil},
	}
	for _, c := range cases {
		err := DecodeInstrs(c.code, func(Instr) error { return nil })
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
			continue
		}
		var ie *InstrError
		if !errors.As(err, &ie) {
			t.Errorf("%s: error %T is not an *InstrError", c.name, err)
		}
		for _, s := range c.mention {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: error %q does not mention %q", c.name, err, s)
			}
		}
	}
}

func TestDecodeCallbackErrorStops(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := DecodeInstrs([]byte{0x01, 0x01, 0x0B}, func(Instr) error { n++; return stop })
	if err != stop || n != 1 {
		t.Fatalf("got %v after %d calls, want the callback's error after 1", err, n)
	}
}

func TestOpcodeString(t *testing.T) {
	for op, want := range map[Opcode]string{OpI32Add: "i32.add", OpMemoryFill: "memory.fill", OpI64TruncSatF64U: "i64.trunc_sat_f64_u",
		OpSelectTyped: "select", Opcode(0xFD): "0xfd", prefixFC | 40: "0xfc 40"} {
		if got := op.String(); got != want {
			t.Errorf("Opcode(%#x).String() = %q, want %q", uint16(op), got, want)
		}
	}
}
