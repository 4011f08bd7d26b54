package host_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/internal/wasmtest"
	"github.com/reprise-dev/reprise/host/meter"
	"github.com/reprise-dev/reprise/host/nan"
	"github.com/reprise-dev/reprise/host/wasmbin"
)

// asm assembles function code, one instruction per call.
type asm []byte

func (a asm) op(ops ...wasmbin.Opcode) asm {
	for _, o := range ops {
		a = append(a, byte(o))
	}
	return a
}

// imm is an instruction with one unsigned immediate (call, br, local.get,
// global.set, ...).
func (a asm) imm(o wasmbin.Opcode, v uint32) asm {
	return wasmbin.AppendULEB128(append(a, byte(o)), uint64(v))
}

func (a asm) i32(v int32) asm {
	return wasmbin.AppendSLEB128(append(a, byte(wasmbin.OpI32Const)), int64(v))
}
func (a asm) i64(v int64) asm { return wasmbin.AppendSLEB128(append(a, byte(wasmbin.OpI64Const)), v) }

func (a asm) f32(bits uint32) asm {
	return binary.LittleEndian.AppendUint32(append(a, byte(wasmbin.OpF32Const)), bits)
}

func (a asm) f64(bits uint64) asm {
	return binary.LittleEndian.AppendUint64(append(a, byte(wasmbin.OpF64Const)), bits)
}

// mem is a load or store with alignment 0 and the given offset.
func (a asm) mem(o wasmbin.Opcode, offset uint32) asm {
	return wasmbin.AppendULEB128(append(a, byte(o), 0x00), uint64(offset))
}

// block opens a block, loop or if; bt is 0x40 (empty) or a value type.
func (a asm) block(o wasmbin.Opcode, bt byte) asm { return append(a, byte(o), bt) }

func (a asm) end() asm { return a.op(wasmbin.OpEnd) }

// raw is an instruction followed by raw immediate bytes.
func (a asm) raw(o wasmbin.Opcode, imm ...byte) asm { return append(append(a, byte(o)), imm...) }

// tableGrow grows table 0 by n null function references, leaving the old
// size or -1.
func (a asm) tableGrow(n int32) asm {
	a = append(a, byte(wasmbin.OpRefNull), byte(wasmbin.FuncRef))
	a = a.i32(n)
	return append(a, 0xFC, byte(wasmbin.OpTableGrow&0xFF), 0x00)
}

// The hostile module's memory layout.
const (
	hDescAt     = 1024
	hHitAt      = 2048 // the answer to TRANSITION_HIT
	hStateAt    = 2560
	hImportAt   = 3072
	hNaNAt      = 3584 // the answer to TRANSITION_BAD in the NaN module
	hHostCodeAt = 5120 // an answer that claims a host code
	hBufferAt   = 8192 // where the host writes requests
)

// Function indices of the hostile module: the six ABI functions, then any
// extra ones a case adds.
const (
	fnABIVersion = iota
	fnBuffer
	fnDescribe
	fnApply
	fnExport
	fnImport
	fnExtra
)

// Type indices of the hostile module.
const (
	tyI32 = iota // () -> i32
	tyI32I32
	tyI64
	tyI32I64
	tyVoid // () -> ()
)

var (
	hostileDesc = []byte(`{"abi":1,"fields":[{"kind":"map","name":"bits"},{"kind":"value","name":"hits"}],"name":"hostile",` +
		`"transitions":[{"name":"TRANSITION_BAD"},{"name":"TRANSITION_HIT"}],"version":"0.1.0"}`)
	hitResult, hitValueAt = resultWithMarkers(&abi.Result{Delta: []abi.Change{{Field: "hits", Value: []byte("1")}}})
	hostileState          = abi.AppendState(nil, []abi.Entry{{Field: "hits", Value: []byte("1")}})
	importResult          = abi.AppendResult(nil, &abi.Result{})
	hostCodeResult        = abi.AppendResult(nil, &abi.Result{Code: abi.OutOfFuel})
)

// resultWithMarkers encodes r and returns, for each change of its delta in
// order, the offset of its value within the encoding.
func resultWithMarkers(r *abi.Result) ([]byte, []int) {
	enc := abi.AppendResult(nil, r)
	var at []int
	from := 0
	for _, c := range r.Delta {
		i := bytes.Index(enc[from:], c.Value)
		at = append(at, from+i)
		from += i + len(c.Value)
	}
	return enc, at
}

func packed(ptr, n int) int64 { return int64(abi.Pack(uint32(ptr), uint32(n))) }

// hostileModule assembles an import-free module that speaks the ABI with
// two transitions. TRANSITION_HIT answers hits = 1. TRANSITION_BAD first
// overwrites that answer in memory with hits = 7 (so an instance reused
// after a failure would be caught), then runs bad, then answers with the
// packed result that answer leaves on the stack (the HIT answer when
// answer is nil). mutate changes the module further.
func hostileModule(bad, answer asm, mutate func(m *wasmbin.Module)) []byte {
	i32, i64 := wasmbin.I32, wasmbin.I64
	m := &wasmbin.Module{
		Types: []wasmbin.FuncType{
			{Results: []wasmbin.ValType{i32}},
			{Params: []wasmbin.ValType{i32}, Results: []wasmbin.ValType{i32}},
			{Results: []wasmbin.ValType{i64}},
			{Params: []wasmbin.ValType{i32}, Results: []wasmbin.ValType{i64}},
			{},
		},
		Funcs:    []uint32{tyI32, tyI32I32, tyI64, tyI32I64, tyI64, tyI32I64},
		Memories: []wasmbin.Limits{{Min: 1}},
	}
	if answer == nil {
		answer = asm{}.i64(packed(hHitAt, len(hitResult)))
	}
	apply := asm{}.i32(hBufferAt).mem(wasmbin.OpI32Load8U, uint32(2+len("TRANSITION_"))).i32('B').op(wasmbin.OpI32Eq).
		block(wasmbin.OpIf, byte(i64)).
		i32(int32(hHitAt+hitValueAt[0])).i32('7').mem(wasmbin.OpI32Store8, 0)
	apply = append(apply, bad...)
	apply = append(apply, answer...)
	apply = apply.op(wasmbin.OpElse).i64(packed(hHitAt, len(hitResult))).end().end()
	m.Code = []wasmbin.FuncBody{
		{Code: asm{}.i32(abi.Version).end()},
		{Code: asm{}.i32(hBufferAt).end()},
		{Code: asm{}.i64(packed(hDescAt, len(hostileDesc))).end()},
		{Code: apply},
		{Code: asm{}.i64(packed(hStateAt, len(hostileState))).end()},
		{Code: asm{}.i64(packed(hImportAt, len(importResult))).end()},
	}
	for i, n := range []string{abi.ExportABIVersion, abi.ExportBuffer, abi.ExportDescribe, abi.ExportApply, abi.ExportExportState, abi.ExportImportState} {
		m.Exports = append(m.Exports, wasmbin.Export{Name: n, Kind: wasmbin.KindFunc, Index: uint32(i)})
	}
	m.Exports = append(m.Exports, wasmbin.Export{Name: abi.ExportMemory, Kind: wasmbin.KindMemory})
	m.Data, m.HasData = dataSegments(map[int][]byte{
		hDescAt: hostileDesc, hHitAt: hitResult, hStateAt: hostileState, hImportAt: importResult,
		hNaNAt: nanResult, hHostCodeAt: hostCodeResult,
	}), true
	if mutate != nil {
		mutate(m)
	}
	return m.Encode()
}

// dataSegments encodes active data segments for memory 0, in address order.
func dataSegments(at map[int][]byte) []byte {
	addrs := make([]int, 0, len(at))
	for a := range at {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	data := wasmbin.AppendULEB128(nil, uint64(len(addrs)))
	for _, a := range addrs {
		data = append(data, 0x00)
		data = asm(data).i32(int32(a)).end()
		data = wasmbin.AppendULEB128(data, uint64(len(at[a])))
		data = append(data, at[a]...)
	}
	return data
}

// addFunc appends a function of type ty and returns its index.
func addFunc(m *wasmbin.Module, ty uint32, locals []wasmbin.LocalGroup, code asm) uint32 {
	m.Funcs = append(m.Funcs, ty)
	m.Code = append(m.Code, wasmbin.FuncBody{Locals: locals, Code: code})
	return uint32(len(m.Funcs) - 1)
}

// heavyLoop loops forever with a body of 1,000 nops, so that it burns fuel
// a thousand times faster than it burns time, on either engine.
func heavyLoop() asm {
	a := asm{}.block(wasmbin.OpLoop, 0x40)
	for range 1000 {
		a = a.op(wasmbin.OpNop)
	}
	return a.imm(wasmbin.OpBr, 0).end()
}

// NaN tricks: each computes float bits that an engine may choose, leaves
// them as an i64 (f32 bits zero-extended), and says what they must be once
// canonicalised.
type nanTrick struct {
	key  string
	code asm
	want uint64
	f32  bool
}

const (
	payloadF64    = 0x7ff4000000000001 // a signalling NaN with a payload
	negCanonF64   = 0xfff8000000000000 // what x86 makes of 0/0
	payloadF32    = 0x7fa00001
	canonicalF64  = uint64(nan.CanonicalF64)
	canonicalF32  = uint64(nan.CanonicalF32)
	plusInfF64    = 0x7ff0000000000000
	minusOneF64   = 0xbff0000000000000
	oneF64        = 0x3ff0000000000000
	twoF64        = 0x4000000000000000
	minusOneF32   = 0xbf800000
	oneF32        = 0x3f800000
	reinterpret64 = wasmbin.OpI64ReinterpretF64
	reinterpret32 = wasmbin.OpI32ReinterpretF32
)

var nanTricks = []nanTrick{
	{key: "f32.add_payload", code: asm{}.f32(payloadF32).f32(oneF32).op(wasmbin.OpF32Add, reinterpret32), want: canonicalF32, f32: true},
	{key: "f32.demote_payload", code: asm{}.f64(payloadF64).op(wasmbin.OpF32DemoteF64, reinterpret32), want: canonicalF32, f32: true},
	{key: "f32.div_zero_zero", code: asm{}.f32(0).f32(0).op(wasmbin.OpF32Div, reinterpret32), want: canonicalF32, f32: true},
	{key: "f32.sqrt_minus_one", code: asm{}.f32(minusOneF32).op(wasmbin.OpF32Sqrt, reinterpret32), want: canonicalF32, f32: true},
	{key: "f64.add_payload", code: asm{}.f64(payloadF64).f64(oneF64).op(wasmbin.OpF64Add, reinterpret64), want: canonicalF64},
	{key: "f64.ceil_payload", code: asm{}.f64(payloadF64).op(wasmbin.OpF64Ceil, reinterpret64), want: canonicalF64},
	{key: "f64.div_zero_zero", code: asm{}.f64(0).f64(0).op(wasmbin.OpF64Div, reinterpret64), want: canonicalF64},
	{key: "f64.inf_minus_inf", code: asm{}.f64(plusInfF64).f64(plusInfF64).op(wasmbin.OpF64Sub, reinterpret64), want: canonicalF64},
	{key: "f64.min_payload", code: asm{}.f64(oneF64).f64(payloadF64).op(wasmbin.OpF64Min, reinterpret64), want: canonicalF64},
	{key: "f64.mul_negative_nan", code: asm{}.f64(negCanonF64).f64(twoF64).op(wasmbin.OpF64Mul, reinterpret64), want: canonicalF64},
	// neg only flips the sign bit, the same way everywhere.
	{key: "f64.neg_of_nan", code: asm{}.f64(0).f64(0).op(wasmbin.OpF64Div, wasmbin.OpF64Neg, reinterpret64), want: negCanonF64},
	{key: "f64.promote_payload", code: asm{}.f32(payloadF32).op(wasmbin.OpF64PromoteF32, reinterpret64), want: canonicalF64},
	// A constant moved without arithmetic keeps its bits.
	{key: "f64.reinterpret_payload", code: asm{}.f64(payloadF64).op(reinterpret64), want: payloadF64},
	{key: "f64.sqrt_minus_one", code: asm{}.f64(minusOneF64).op(wasmbin.OpF64Sqrt, reinterpret64), want: canonicalF64},
}

// nanResult is the answer of the NaN module's TRANSITION_BAD: one "bits"
// entry per trick, its value a JSON string of hex digits that the guest
// fills in (nanValueAt are their offsets).
var nanResult, nanValueAt = func() ([]byte, []int) {
	r := &abi.Result{}
	for _, tr := range nanTricks {
		digits := 16
		if tr.f32 {
			digits = 8
		}
		r.Delta = append(r.Delta, abi.Change{Field: "bits", Key: tr.key, Value: []byte(`"` + strings.Repeat("X", digits) + `"`)})
	}
	return resultWithMarkers(r)
}()

// nanModule runs every trick in TRANSITION_BAD and writes the bits it got
// into its answer, as hex digits.
func nanModule() []byte {
	const bits, nibble = 1, 2 // apply's locals: i64 bits, i32 nibble
	var code asm
	for i, tr := range nanTricks {
		code = append(code, tr.code...)
		digits := 16
		if tr.f32 {
			code = code.op(wasmbin.OpI64ExtendI32U)
			digits = 8
		}
		code = code.imm(wasmbin.OpLocalSet, bits)
		for d := range digits {
			addr := hNaNAt + nanValueAt[i] + 1 + d // after the opening quote
			code = code.i32(int32(addr)).
				imm(wasmbin.OpLocalGet, bits).i64(int64(4*(digits-1-d))).op(wasmbin.OpI64ShrU).i64(15).op(wasmbin.OpI64And, wasmbin.OpI32WrapI64).
				imm(wasmbin.OpLocalTee, nibble).i32('0').op(wasmbin.OpI32Add).
				imm(wasmbin.OpLocalGet, nibble).i32(9).op(wasmbin.OpI32GtU).i32('a'-'0'-10).op(wasmbin.OpI32Mul, wasmbin.OpI32Add).
				mem(wasmbin.OpI32Store8, 0)
		}
	}
	return hostileModule(code, asm{}.i64(packed(hNaNAt, len(nanResult))), func(m *wasmbin.Module) {
		m.Code[fnApply].Locals = []wasmbin.LocalGroup{{Count: 1, Type: wasmbin.I64}, {Count: 1, Type: wasmbin.I32}}
	})
}

// hostileLimits keep every case quick on both engines while leaving room
// for the counter catalog that shows the host still serves.
var hostileLimits = host.Limits{
	MaxModuleBytes: 8 << 20,
	MemoryPages:    1024, // 64 MiB
	InitFuel:       100_000_000,
	TransitionFuel: 20_000_000,
}

// hostileCase is one module built to misbehave. When refused is set, the
// module must be refused at admission with a reason containing each of its
// strings. Otherwise it is admitted and TRANSITION_BAD must be rejected with
// code and a detail containing detail, or, when check is set, pass check
// instead (the NaN module's BAD is accepted).
type hostileCase struct {
	name    string
	wasm    func() []byte
	refused []string
	code    abi.Code
	detail  string
	check   func(t *testing.T, o host.Outcome)
}

func hostileCases() []hostileCase {
	shiftFuncExports := func(m *wasmbin.Module) {
		for i := range m.Exports {
			if m.Exports[i].Kind == wasmbin.KindFunc {
				m.Exports[i].Index++
			}
		}
	}
	good := func() []byte { return hostileModule(nil, nil, nil) }
	recursion := func(locals uint32) func() []byte {
		return func() []byte {
			return hostileModule(asm{}.imm(wasmbin.OpCall, fnExtra), nil, func(m *wasmbin.Module) {
				var ls []wasmbin.LocalGroup
				if locals > 0 {
					ls = []wasmbin.LocalGroup{{Count: locals, Type: wasmbin.I64}}
				}
				addFunc(m, tyVoid, ls, asm{}.imm(wasmbin.OpCall, fnExtra).end())
			})
		}
	}
	stackDetail := fmt.Sprintf("stack overflow: nested calls used all %d units of call stack", meter.StackUnits)
	return []hostileCase{
		// Rejected per transition.
		{name: "infinite loop", code: abi.OutOfFuel, detail: fmt.Sprintf("used all %d units of fuel", hostileLimits.TransitionFuel),
			wasm: func() []byte {
				return hostileModule(asm{}.block(wasmbin.OpLoop, 0x40).imm(wasmbin.OpBr, 0).end(), nil, nil)
			}},
		{name: "unbounded recursion", code: abi.Trap, detail: stackDetail, wasm: recursion(0)},
		{name: "unbounded recursion with large frames", code: abi.Trap, detail: stackDetail, wasm: recursion(host.MaxFunctionLocals)},
		{name: "memory bomb", code: abi.OutOfMemory, detail: "memory limit is 64 MiB",
			wasm: func() []byte {
				grow := asm{}.block(wasmbin.OpLoop, 0x40).
					i32(16).raw(wasmbin.OpMemoryGrow, 0).i32(-1).op(wasmbin.OpI32Eq).
					block(wasmbin.OpIf, 0x40).op(wasmbin.OpUnreachable).end().
					imm(wasmbin.OpBr, 0).end()
				return hostileModule(grow, nil, nil)
			}},
		// The grow fails (-1), is charged 2048 units per page all the same,
		// and the store traps.
		{name: "memory.grow past the cap, then a store past the end", code: abi.Trap, detail: "out of bounds memory access",
			wasm: func() []byte {
				bomb := asm{}.i32(2000).raw(wasmbin.OpMemoryGrow, 0).op(wasmbin.OpDrop).
					i32(-16).i64(1).mem(wasmbin.OpI64Store, 0)
				return hostileModule(bomb, nil, nil)
			}},
		{name: "table bomb", code: abi.Trap, detail: "unreachable",
			wasm: func() []byte {
				grow := asm{}.block(wasmbin.OpLoop, 0x40).
					tableGrow(65536).i32(-1).op(wasmbin.OpI32Eq).
					block(wasmbin.OpIf, 0x40).op(wasmbin.OpUnreachable).end().
					imm(wasmbin.OpBr, 0).end()
				return hostileModule(grow, nil, func(m *wasmbin.Module) {
					m.Tables = []wasmbin.Table{{Elem: wasmbin.FuncRef, Limits: wasmbin.Limits{Min: 1}}}
				})
			}},
		{name: "integer divide by zero", code: abi.Trap, detail: "integer divide by zero",
			wasm: func() []byte {
				return hostileModule(asm{}.i32(1).i32(0).op(wasmbin.OpI32DivS, wasmbin.OpDrop), nil, nil)
			}},
		{name: "answer outside memory", code: abi.ABIViolation, detail: "apply result at 0xffff0000 (+100) is outside memory",
			wasm: func() []byte { return hostileModule(nil, asm{}.i64(packed(0xFFFF0000, 100)), nil) }},
		{name: "answer that does not decode", code: abi.ABIViolation, detail: "malformed",
			wasm: func() []byte { return hostileModule(nil, asm{}.i64(packed(hDescAt, len(hostileDesc))), nil) }},
		{name: "answer claiming a host code", code: abi.ABIViolation, detail: "guest answered with host code out_of_fuel",
			wasm: func() []byte { return hostileModule(nil, asm{}.i64(packed(hHostCodeAt, len(hostCodeResult))), nil) }},
		{name: "float NaN tricks", wasm: nanModule, check: checkNaNTricks},

		// Refused at admission.
		{name: "start function", refused: []string{"module has a start function (function 6)"},
			wasm: func() []byte {
				return hostileModule(nil, nil, func(m *wasmbin.Module) {
					start := addFunc(m, tyVoid, nil, asm{}.end())
					m.Start = &start
				})
			}},
		{name: "huge module", refused: []string{fmt.Sprintf("the limit is %d", hostileLimits.MaxModuleBytes)},
			wasm: func() []byte {
				return hostileModule(nil, nil, func(m *wasmbin.Module) {
					m.Customs = append(m.Customs, wasmbin.Custom{Name: "padding", Data: make([]byte, hostileLimits.MaxModuleBytes)})
				})
			}},
		{name: "malformed: not wasm", refused: []string{"not a valid wasm module"},
			wasm: func() []byte { return []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00") }},
		{name: "malformed: unknown binary version", refused: []string{"not a valid wasm module", "version"},
			wasm: func() []byte { return append([]byte("\x00asm\x02\x00\x00\x00"), good()[8:]...) }},
		{name: "malformed: truncated", refused: []string{"not a valid wasm module"},
			wasm: func() []byte { b := good(); return b[:len(b)*2/3] }},
		{name: "malformed: section out of order", refused: []string{"not a valid wasm module", "type"},
			wasm: func() []byte { return append(good(), byte(wasmbin.SectionType), 1, 0) }},
		{name: "malformed: SIMD instruction", refused: []string{"function 3", "unsupported instruction"},
			wasm: func() []byte { return hostileModule(asm{0xFD, 0x0C}, nil, nil) }},
		{name: "malformed: code that does not type-check", refused: []string{"wazero refused the module", "function[3]"},
			wasm: func() []byte { return hostileModule(asm{}.op(wasmbin.OpI32Add), nil, nil) }},
		{name: "function import", refused: []string{"imports env.clock (function): catalog modules must have no imports"},
			wasm: func() []byte {
				return hostileModule(nil, nil, func(m *wasmbin.Module) {
					m.Imports = []wasmbin.Import{{Module: "env", Name: "clock", Kind: wasmbin.KindFunc, Func: tyI64}}
					shiftFuncExports(m)
				})
			}},
		{name: "memory import", refused: []string{"imports env.memory (memory): catalog modules must have no imports"},
			wasm: func() []byte {
				return hostileModule(nil, nil, func(m *wasmbin.Module) {
					m.Imports = []wasmbin.Import{{Module: "env", Name: "memory", Kind: wasmbin.KindMemory, Memory: wasmbin.Limits{Min: 1}}}
					m.Memories = nil
				})
			}},
		{name: "table import", refused: []string{"imports env.table (table): catalog modules must have no imports"},
			wasm: func() []byte {
				return hostileModule(nil, nil, func(m *wasmbin.Module) {
					m.Imports = []wasmbin.Import{{Module: "env", Name: "table", Kind: wasmbin.KindTable,
						Table: wasmbin.Table{Elem: wasmbin.FuncRef, Limits: wasmbin.Limits{Min: 1}}}}
				})
			}},
		{name: "global import", refused: []string{"imports env.seed (global): catalog modules must have no imports"},
			wasm: func() []byte {
				return hostileModule(nil, nil, func(m *wasmbin.Module) {
					m.Imports = []wasmbin.Import{{Module: "env", Name: "seed", Kind: wasmbin.KindGlobal, Global: wasmbin.GlobalType{Type: wasmbin.I64}}}
				})
			}},
		{name: "four billion locals", refused: []string{"function 6 declares 4000000000 locals, the limit is 50000"},
			wasm: func() []byte {
				return hostileModule(nil, nil, func(m *wasmbin.Module) {
					addFunc(m, tyVoid, []wasmbin.LocalGroup{{Count: 4_000_000_000, Type: wasmbin.I64}}, asm{}.end())
				})
			}},
		{name: "table too large at start", refused: []string{"tables start with 2000000 elements in all, the limit is 1048576"},
			wasm: func() []byte {
				return hostileModule(nil, nil, func(m *wasmbin.Module) {
					m.Tables = []wasmbin.Table{{Elem: wasmbin.FuncRef, Limits: wasmbin.Limits{Min: 2_000_000}}}
				})
			}},
		{name: "memory too large at start", refused: []string{"memory 0 starts at 2000 pages, the limit is 1024"},
			wasm: func() []byte {
				return hostileModule(nil, nil, func(m *wasmbin.Module) { m.Memories[0].Min = 2000 })
			}},
		{name: "data segment past the end of memory", refused: []string{"out of bounds memory access"},
			wasm: func() []byte {
				return hostileModule(nil, nil, func(m *wasmbin.Module) {
					extra := dataSegments(map[int][]byte{70_000: []byte("x")})
					n, k, _ := wasmbin.ReadULEB128(m.Data)
					m.Data = append(wasmbin.AppendULEB128(nil, n+1), append(m.Data[k:], extra[1:]...)...)
				})
			}},
		{name: "code that sets its own fuel", refused: []string{"cannot meter module", "global index out of range: global.set 0"},
			wasm: func() []byte { return hostileModule(asm{}.i64(math.MaxInt64).imm(wasmbin.OpGlobalSet, 0), nil, nil) }},
		{name: "export of the fuel global's name", refused: []string{"module already exports reprise_fuel"},
			wasm: func() []byte {
				return hostileModule(nil, nil, func(m *wasmbin.Module) {
					m.Exports = append(m.Exports, wasmbin.Export{Name: meter.FuelGlobal, Kind: wasmbin.KindFunc, Index: fnBuffer})
				})
			}},
		{name: "start-up that never returns", refused: []string{"catalog start-up (_initialize) failed", fmt.Sprintf("used all %d units of fuel", hostileLimits.InitFuel)},
			wasm: func() []byte {
				return hostileModule(nil, nil, func(m *wasmbin.Module) {
					init := addFunc(m, tyVoid, nil, heavyLoop().end())
					m.Exports = append(m.Exports, wasmbin.Export{Name: abi.ExportInitialize, Kind: wasmbin.KindFunc, Index: init})
				})
			}},
		{name: "describe that never returns", refused: []string{"reprise_describe failed", fmt.Sprintf("used all %d units of fuel", hostileLimits.InitFuel)},
			wasm: func() []byte {
				return hostileModule(nil, nil, func(m *wasmbin.Module) {
					m.Code[fnDescribe].Code = append(heavyLoop(), asm{}.i64(0).end()...)
				})
			}},
	}
}

func checkNaNTricks(t *testing.T, o host.Outcome) {
	t.Helper()
	if !o.Result.Accepted() || len(o.Result.Delta) != len(nanTricks) {
		t.Fatalf("NaN tricks: %s %q with %d changes, want accepted with %d", o.Result.Code, o.Result.Detail, len(o.Result.Delta), len(nanTricks))
	}
	for i, tr := range nanTricks {
		c := o.Result.Delta[i]
		digits := 16
		if tr.f32 {
			digits = 8
		}
		want := fmt.Sprintf(`"%0*x"`, digits, tr.want)
		if c.Key != tr.key || string(c.Value) != want {
			t.Errorf("%s: got %s = %s, want %s", tr.key, c.Key, c.Value, want)
		}
	}
}

// hostEngine is one engine of the suite, with a counter catalog that must
// keep serving whatever the hostile modules do.
type hostEngine struct {
	kind    host.EngineKind
	engine  *host.Engine
	counter *host.Reducer
	served  int
}

// stillServes applies one more counter increment and checks the total.
func (he *hostEngine) stillServes(t *testing.T) {
	t.Helper()
	o, err := he.counter.Apply(context.Background(), &abi.Proposal{Transition: "TRANSITION_INCREMENT", Inputs: []byte(`{"by":1,"key":"alive"}`)})
	if err != nil || !o.Result.Accepted() {
		t.Fatalf("%s: the counter no longer serves: %v %s %q", he.kind, err, o.Result.Code, o.Result.Detail)
	}
	he.served++
	if v, _ := he.counter.State().Get("counts", "alive"); string(v) != fmt.Sprint(he.served) {
		t.Fatalf("%s: counter total %s, want %d", he.kind, v, he.served)
	}
}

// run admits the case's module and, when admitted, applies HIT, BAD, HIT.
// It returns a summary of what happened that must be the same on every
// engine.
func (c hostileCase) run(t *testing.T, he *hostEngine) string {
	t.Helper()
	ctx := context.Background()
	wasm := c.wasm()
	m, err := he.engine.Load(ctx, wasm)
	if c.refused != nil {
		var refused *host.RefusedError
		if !errors.As(err, &refused) {
			t.Fatalf("%s: admitted (err %v), want a refusal", he.kind, err)
		}
		for _, want := range c.refused {
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("%s: refusal %q does not say %q", he.kind, err, want)
			}
		}
		return err.Error()
	}
	if err != nil {
		t.Fatalf("%s: refused: %v", he.kind, err)
	}
	// What it does wrong, it does at run time: the module itself is valid.
	wasmtest.Validate(t, wasm, c.name)
	r, err := host.NewReducer(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	hit := func(when string) host.Outcome {
		o, err := r.Apply(ctx, &abi.Proposal{Transition: "TRANSITION_HIT"})
		if err != nil || !o.Result.Accepted() || len(o.Result.Delta) != 1 || string(o.Result.Delta[0].Value) != "1" {
			t.Fatalf("%s: HIT %s: %v %+v (hits = 7 would be an instance reused after a failure)", he.kind, when, err, o.Result)
		}
		return o
	}
	before := hit("before BAD").StateHash
	o, err := r.Apply(ctx, &abi.Proposal{Transition: "TRANSITION_BAD"})
	if err != nil {
		t.Fatalf("%s: BAD stopped the host: %v", he.kind, err)
	}
	summary := fmt.Sprintf("%s %q, fuel %d", o.Result.Code, o.Result.Detail, o.Fuel)
	if c.check != nil {
		c.check(t, o)
		return summary
	}
	if o.Result.Code != c.code || !strings.Contains(o.Result.Detail, c.detail) {
		t.Fatalf("%s: BAD gave %s, want %s containing %q", he.kind, summary, c.code, c.detail)
	}
	if len(o.Result.Delta) != 0 || o.StateHash != before || r.State().Hash() != before {
		t.Fatalf("%s: the rejected BAD changed the state", he.kind)
	}
	if c.code == abi.OutOfFuel && o.Fuel != r.Fuel {
		t.Fatalf("%s: out of fuel after %d units, the budget is %d", he.kind, o.Fuel, r.Fuel)
	}
	hit("after BAD")
	if r.Rebuilds() != 1 {
		t.Fatalf("%s: %d rebuilds after one failure, want 1", he.kind, r.Rebuilds())
	}
	return summary
}

// TestHostileModules admits, under both engines, modules built to
// misbehave, one way each. Each is refused at admission with a reason that
// names the problem, or its bad transition is rejected with a stable code,
// leaving state as it was, and the next transition succeeds on a fresh
// instance. Both engines must say exactly the same thing (fuel included),
// and after every case the same engine still serves the counter catalog.
func TestHostileModules(t *testing.T) {
	var engines []*hostEngine
	for _, kind := range []host.EngineKind{host.EngineCompiler, host.EngineInterpreter} {
		e := newEngine(t, kind, hostileLimits)
		he := &hostEngine{kind: kind, engine: e, counter: wasmReducer(t, e, counterWasm(t))}
		he.stillServes(t)
		engines = append(engines, he)
	}
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			var summaries []string
			for _, he := range engines {
				summaries = append(summaries, c.run(t, he))
				he.stillServes(t)
			}
			if summaries[0] != summaries[1] {
				t.Fatalf("the engines disagree:\n %s: %s\n %s: %s", engines[0].kind, summaries[0], engines[1].kind, summaries[1])
			}
			t.Logf("%s", summaries[0])
		})
	}
}
