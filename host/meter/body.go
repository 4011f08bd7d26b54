package meter

import (
	"fmt"
	"math"

	"github.com/reprise-dev/reprise/host/wasmbin"
)

// Rates of the dynamic charges of bulk operations, as right shifts of the
// length operand (one unit per 2^shift bytes or elements) or, for
// memory.grow, a left shift (units per page).
const (
	bulkByteShift  = 5  // 1 unit per 32 bytes
	tableElemShift = 2  // 1 unit per 4 table elements
	growPageShift  = 11 // 2048 units per 64 KiB page
)

// frame is one open block of the function being scanned.
type frame struct {
	region int  // index into the costs of the code this block's instructions are charged to
	loop   bool // whether the block is a loop (its end belongs to the enclosing region)
}

// site is a place in the original code where metering code is inserted
// before the byte at offset at: the charge of a loop region (loop >= 0), the
// dynamic charge of a bulk operation (op), or the release of the frame's
// stack before a return (ret).
type site struct {
	at   int
	loop int
	op   wasmbin.Opcode
	ret  bool
}

// meterBody returns body with charges inserted. typ is the function's
// signature.
func meterBody(body wasmbin.FuncBody, typ wasmbin.FuncType, mod *moduleInfo) (wasmbin.FuncBody, error) {
	code := body.Code
	// costs[0] is the code outside any loop, charged on entry; costs[r]
	// for r > 0 the code directly inside the r-th loop.
	costs := []uint64{0}
	stack := []frame{{region: 0}}
	var sites []site
	bulk := false
	// pushes bounds the height of the operand stack: every instruction
	// pushes at most one value, except calls, which push their results.
	var pushes uint64
	err := wasmbin.DecodeInstrs(code, func(in wasmbin.Instr) error {
		if len(stack) == 0 {
			return fmt.Errorf("instruction %s at offset %d follows the function's final end", in.Op, in.Offset)
		}
		pushes += uint64(max(1, mod.callResults(in)))
		cur := stack[len(stack)-1]
		switch in.Op {
		case wasmbin.OpBlock, wasmbin.OpIf:
			costs[cur.region]++
			stack = append(stack, frame{region: cur.region})
		case wasmbin.OpLoop:
			costs[cur.region]++
			r := len(costs)
			costs = append(costs, 0)
			stack = append(stack, frame{region: r, loop: true})
			sites = append(sites, site{at: in.Offset + in.Len, loop: r})
		case wasmbin.OpEnd:
			stack = stack[:len(stack)-1]
			if cur.loop {
				costs[stack[len(stack)-1].region]++
			} else {
				costs[cur.region]++
			}
		case wasmbin.OpGlobalGet, wasmbin.OpGlobalSet:
			if in.Index >= mod.fuel {
				return fmt.Errorf("%w: %s %d at offset %d, the module has %d globals", ErrGlobalIndex, in.Op, in.Index, in.Offset, mod.fuel)
			}
			costs[cur.region]++
		case wasmbin.OpReturn:
			costs[cur.region]++
			sites = append(sites, site{at: in.Offset, loop: -1, ret: true})
		default:
			costs[cur.region]++
			if _, ok := bulkShift(in.Op); ok {
				bulk = true
				sites = append(sites, site{at: in.Offset, loop: -1, op: in.Op})
			}
		}
		return nil
	})
	if err != nil {
		return wasmbin.FuncBody{}, err
	}
	if len(stack) != 0 {
		return wasmbin.FuncBody{}, fmt.Errorf("%d blocks left open", len(stack))
	}

	numLocals := uint64(len(typ.Params))
	for _, g := range body.Locals {
		numLocals += uint64(g.Count)
	}
	// A bulk operation's length needs a scratch i32 local. It goes after
	// every existing local, so no index changes.
	locals := body.Locals
	var length uint64
	if bulk {
		length = numLocals
		// The new local's index is length; the count of locals must stay
		// below 2^32.
		if length >= math.MaxUint32 {
			return wasmbin.FuncBody{}, fmt.Errorf("%w: %d parameters and locals leave no room for a metering local", ErrTooManyLocals, length)
		}
		locals = make([]wasmbin.LocalGroup, len(body.Locals), len(body.Locals)+1)
		copy(locals, body.Locals)
		locals = append(locals, wasmbin.LocalGroup{Count: 1, Type: wasmbin.I32})
	}

	e := emitter{fuel: mod.fuel, stack: mod.stack, length: uint32(length),
		frame: FrameUnits + numLocals + pushes}
	// The original body, less its final end, runs inside a block with the
	// function's results: a branch to the function's own label then lands
	// on the block's end, where the frame is released, instead of leaving
	// the function. No label index changes.
	out := make([]byte, 0, len(code)+chargeSize*(len(sites)+3))
	out = e.charge(out, costs[0])
	out = e.enter(out)
	out = append(out, byte(wasmbin.OpBlock))
	out = append(out, mod.resultBlockType(typ.Results)...)
	prev := 0
	for _, s := range sites {
		out = append(out, code[prev:s.at]...)
		prev = s.at
		switch {
		case s.ret:
			out = e.leave(out)
		case s.loop >= 0:
			out = e.charge(out, costs[s.loop])
		default:
			out = e.bulkCharge(out, s.op)
		}
	}
	out = append(out, code[prev:]...) // ends with the block's end
	out = e.leave(out)
	out = append(out, byte(wasmbin.OpEnd))
	return wasmbin.FuncBody{Locals: locals, Code: out}, nil
}

// bulkShift returns how the length operand of a bulk operation converts to
// fuel: a right shift (positive) or a left shift (negative). ok is false for
// other instructions.
func bulkShift(op wasmbin.Opcode) (shift int, ok bool) {
	switch op {
	case wasmbin.OpMemoryFill, wasmbin.OpMemoryCopy, wasmbin.OpMemoryInit:
		return bulkByteShift, true
	case wasmbin.OpTableFill, wasmbin.OpTableCopy, wasmbin.OpTableInit, wasmbin.OpTableGrow:
		return tableElemShift, true
	case wasmbin.OpMemoryGrow:
		return -growPageShift, true
	}
	return 0, false
}

// chargeSize is a typical size of an injected charge, for preallocation.
const chargeSize = 20

// emitter writes the injected instruction sequences.
type emitter struct {
	fuel   uint32 // global index of the fuel counter
	stack  uint32 // global index of the stack counter
	length uint32 // i32 local holding a bulk operation's length
	frame  uint64 // stack units of one frame of the function
}

// charge appends a static charge of cost units (nothing for 0):
//
//	global.get fuel; i64.const cost; i64.sub; global.set fuel
//	global.get fuel; i64.const 0; i64.lt_s; if; unreachable; end
//
// The sequence leaves the operand stack as it found it, so it is valid at a
// loop header whatever the loop's parameters. Reading the global back costs
// nothing in wazero's optimizing compiler, which forwards the stored value
// (one load, one store, a compare and a branch in all); it measured as fast
// as keeping the new value in a scratch local, and needs no local.
func (e emitter) charge(out []byte, cost uint64) []byte {
	if cost == 0 {
		return out
	}
	out = e.op(out, wasmbin.OpGlobalGet, uint64(e.fuel))
	out = append(out, byte(wasmbin.OpI64Const))
	out = wasmbin.AppendSLEB128(out, int64(cost))
	out = append(out, byte(wasmbin.OpI64Sub))
	return e.commit(out)
}

// bulkCharge appends the dynamic charge of a bulk operation op, whose length
// operand (an i32) is on top of the stack; the length is put back for op:
//
//	local.set length; global.get fuel; local.get length; i64.extend_i32_u
//	i64.const shift; i64.shr_u (or i64.shl); i64.sub; <commit>; local.get length
func (e emitter) bulkCharge(out []byte, op wasmbin.Opcode) []byte {
	shift, _ := bulkShift(op)
	out = e.op(out, wasmbin.OpLocalSet, uint64(e.length))
	out = e.op(out, wasmbin.OpGlobalGet, uint64(e.fuel))
	out = e.op(out, wasmbin.OpLocalGet, uint64(e.length))
	out = append(out, byte(wasmbin.OpI64ExtendI32U), byte(wasmbin.OpI64Const))
	if shift >= 0 {
		out = wasmbin.AppendSLEB128(out, int64(shift))
		out = append(out, byte(wasmbin.OpI64ShrU))
	} else {
		out = wasmbin.AppendSLEB128(out, int64(-shift))
		out = append(out, byte(wasmbin.OpI64Shl))
	}
	out = append(out, byte(wasmbin.OpI64Sub))
	out = e.commit(out)
	return e.op(out, wasmbin.OpLocalGet, uint64(e.length))
}

// enter takes the function's frame from the stack counter and traps if the
// counter goes negative, leaving the negative value in it:
//
//	global.get stack; i64.const frame; i64.sub; global.set stack
//	global.get stack; i64.const 0; i64.lt_s; if; unreachable; end
func (e emitter) enter(out []byte) []byte {
	out = e.op(out, wasmbin.OpGlobalGet, uint64(e.stack))
	out = append(out, byte(wasmbin.OpI64Const))
	out = wasmbin.AppendSLEB128(out, int64(e.frame))
	out = append(out, byte(wasmbin.OpI64Sub))
	return e.commitTo(out, e.stack)
}

// leave gives the frame back: global.get stack; i64.const frame; i64.add;
// global.set stack. It leaves the operand stack as it found it, so it is
// valid before a return whatever the function's results.
func (e emitter) leave(out []byte) []byte {
	out = e.op(out, wasmbin.OpGlobalGet, uint64(e.stack))
	out = append(out, byte(wasmbin.OpI64Const))
	out = wasmbin.AppendSLEB128(out, int64(e.frame))
	out = append(out, byte(wasmbin.OpI64Add))
	return e.op(out, wasmbin.OpGlobalSet, uint64(e.stack))
}

// commit stores the new fuel value on top of the stack into the global and
// traps if it is negative, leaving the negative value in the global.
func (e emitter) commit(out []byte) []byte { return e.commitTo(out, e.fuel) }

// commitTo stores the value on top of the stack into global g and traps if
// it is negative.
func (e emitter) commitTo(out []byte, g uint32) []byte {
	out = e.op(out, wasmbin.OpGlobalSet, uint64(g))
	out = e.op(out, wasmbin.OpGlobalGet, uint64(g))
	out = append(out,
		byte(wasmbin.OpI64Const), 0x00,
		byte(wasmbin.OpI64LtS),
		byte(wasmbin.OpIf), 0x40,
		byte(wasmbin.OpUnreachable),
		byte(wasmbin.OpEnd))
	return out
}

// op appends a single-byte opcode with one unsigned LEB128 immediate.
func (emitter) op(out []byte, op wasmbin.Opcode, imm uint64) []byte {
	return wasmbin.AppendULEB128(append(out, byte(op)), imm)
}
