package nan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/reprise-dev/reprise/host/wasmbin"
)

// Version identifies the set of rewritten instructions and the canonical NaN
// values. It is part of the host fingerprint: bump it whenever either changes.
const Version = 1

// The canonical NaNs every rewritten result is mapped to: positive, quiet,
// with no other payload bit set.
const (
	CanonicalF32 uint32 = 0x7fc00000
	CanonicalF64 uint64 = 0x7ff8000000000000
)

// ErrTooManyLocals is returned, wrapped, when adding the scratch locals would
// overflow a function's local index space.
var ErrTooManyLocals = errors.New("too many locals")

// Canonicalize returns a copy of the module in with every NaN result of float
// arithmetic replaced by the canonical NaN of its type (see the package
// documentation). A module with no such instruction comes back unchanged.
// The output depends only on in; in is not modified.
func Canonicalize(in []byte) ([]byte, error) {
	m, err := wasmbin.Parse(in)
	if err != nil {
		return nil, fmt.Errorf("nan: %w", err)
	}
	if len(m.Code) != len(m.Funcs) {
		return nil, fmt.Errorf("nan: function section declares %d functions but the code section has %d bodies", len(m.Funcs), len(m.Code))
	}
	changed := false
	code := make([]wasmbin.FuncBody, len(m.Code))
	for i := range m.Code {
		funcIndex := m.NumImportedFuncs() + uint32(i)
		typ, ok := m.FuncType(funcIndex)
		if !ok {
			return nil, fmt.Errorf("nan: function %d: type index %d out of range", funcIndex, m.Funcs[i])
		}
		body, rewritten, err := canonicalizeBody(m.Code[i], uint64(len(typ.Params)))
		if err != nil {
			return nil, fmt.Errorf("nan: function %d: %w", funcIndex, err)
		}
		code[i] = body
		changed = changed || rewritten
	}
	if !changed {
		return bytes.Clone(in), nil
	}
	m.Code = code
	return m.Encode(), nil
}

// site is a place in the original code, just after a rewritten instruction,
// where a check of a value of type typ is inserted.
type site struct {
	at  int
	typ wasmbin.ValType
}

// canonicalizeBody returns body with a check after every rewritten
// instruction, and whether it changed anything. numParams is the number of
// parameters of the function.
func canonicalizeBody(body wasmbin.FuncBody, numParams uint64) (wasmbin.FuncBody, bool, error) {
	var sites []site
	var pending site // the last rewritten instruction, until the next one is seen
	var need32, need64 bool
	err := wasmbin.DecodeInstrs(body.Code, func(in wasmbin.Instr) error {
		typ, rewritten := resultType(in.Op)
		// A rewritten instruction right after another one consumes its
		// result and yields NaN from a NaN operand; its own check covers
		// both.
		if pending.typ != 0 && !rewritten {
			sites = append(sites, pending)
			need32 = need32 || pending.typ == wasmbin.F32
			need64 = need64 || pending.typ == wasmbin.F64
		}
		pending = site{}
		if rewritten {
			pending = site{at: in.Offset + in.Len, typ: typ}
		}
		return nil
	})
	if err != nil {
		return wasmbin.FuncBody{}, false, err
	}
	// DecodeInstrs ends with the function's final end, which is not
	// rewritten, so no site is left pending.
	if len(sites) == 0 {
		return body, false, nil
	}

	// The scratch locals go after every existing local, so no index changes.
	next := numParams
	for _, g := range body.Locals {
		next += uint64(g.Count)
	}
	added := 0
	if need32 {
		added++
	}
	if need64 {
		added++
	}
	// The count of locals must stay below 2^32.
	if next+uint64(added) > math.MaxUint32 {
		return wasmbin.FuncBody{}, false, fmt.Errorf("%w: %d parameters and locals leave no room for %d scratch locals", ErrTooManyLocals, next, added)
	}
	locals := make([]wasmbin.LocalGroup, len(body.Locals), len(body.Locals)+added)
	copy(locals, body.Locals)
	var e emitter
	if need32 {
		e.f32 = uint32(next)
		locals = append(locals, wasmbin.LocalGroup{Count: 1, Type: wasmbin.F32})
		next++
	}
	if need64 {
		e.f64 = uint32(next)
		locals = append(locals, wasmbin.LocalGroup{Count: 1, Type: wasmbin.F64})
	}

	code := body.Code
	out := make([]byte, 0, len(code)+checkSize*len(sites))
	prev := 0
	for _, s := range sites {
		out = append(out, code[prev:s.at]...)
		prev = s.at
		out = e.check(out, s.typ)
	}
	out = append(out, code[prev:]...)
	return wasmbin.FuncBody{Locals: locals, Code: out}, true, nil
}

// resultType returns the type of the result of a rewritten instruction, and
// false for every other instruction. Each of these yields a NaN whenever an
// operand is NaN, which the omission of consecutive checks relies on.
func resultType(op wasmbin.Opcode) (wasmbin.ValType, bool) {
	switch op {
	case wasmbin.OpF32Add, wasmbin.OpF32Sub, wasmbin.OpF32Mul, wasmbin.OpF32Div,
		wasmbin.OpF32Sqrt, wasmbin.OpF32Min, wasmbin.OpF32Max,
		wasmbin.OpF32Ceil, wasmbin.OpF32Floor, wasmbin.OpF32Trunc, wasmbin.OpF32Nearest,
		wasmbin.OpF32DemoteF64:
		return wasmbin.F32, true
	case wasmbin.OpF64Add, wasmbin.OpF64Sub, wasmbin.OpF64Mul, wasmbin.OpF64Div,
		wasmbin.OpF64Sqrt, wasmbin.OpF64Min, wasmbin.OpF64Max,
		wasmbin.OpF64Ceil, wasmbin.OpF64Floor, wasmbin.OpF64Trunc, wasmbin.OpF64Nearest,
		wasmbin.OpF64PromoteF32:
		return wasmbin.F64, true
	}
	return 0, false
}

// checkSize is the size of an inserted check for a local index below 128,
// for preallocation.
const checkSize = 19

// emitter writes the inserted checks.
type emitter struct {
	f32, f64 uint32 // scratch locals
}

// check appends, for a value of type typ on top of the stack:
//
//	local.tee $t; local.get $t; fN.eq
//	if (result fN) local.get $t else fN.const canonical end
//
// The value equals itself unless it is NaN. The stack is left with one value
// of type typ, as the rewritten instruction left it, so the check is valid
// anywhere, unreachable code included.
func (e emitter) check(out []byte, typ wasmbin.ValType) []byte {
	t, eq := e.f64, wasmbin.OpF64Eq
	if typ == wasmbin.F32 {
		t, eq = e.f32, wasmbin.OpF32Eq
	}
	out = wasmbin.AppendULEB128(append(out, byte(wasmbin.OpLocalTee)), uint64(t))
	out = wasmbin.AppendULEB128(append(out, byte(wasmbin.OpLocalGet)), uint64(t))
	out = append(out, byte(eq), byte(wasmbin.OpIf), byte(typ))
	out = wasmbin.AppendULEB128(append(out, byte(wasmbin.OpLocalGet)), uint64(t))
	out = append(out, byte(wasmbin.OpElse))
	if typ == wasmbin.F32 {
		out = append(out, byte(wasmbin.OpF32Const))
		out = binary.LittleEndian.AppendUint32(out, CanonicalF32)
	} else {
		out = append(out, byte(wasmbin.OpF64Const))
		out = binary.LittleEndian.AppendUint64(out, CanonicalF64)
	}
	return append(out, byte(wasmbin.OpEnd))
}
