package seal

import "github.com/reprise-dev/reprise/host/wasmbin"

// asm assembles the instructions of one virtual function. It emits only MVP
// instructions, so sealing adds no feature the input did not already need.
type asm struct{ code []byte }

func (a *asm) op(ops ...wasmbin.Opcode) {
	for _, op := range ops {
		a.code = append(a.code, byte(op))
	}
}

func (a *asm) idx(op wasmbin.Opcode, i uint32) {
	a.code = append(a.code, byte(op))
	a.code = wasmbin.AppendULEB128(a.code, uint64(i))
}

func (a *asm) i32(v int32) {
	a.code = append(a.code, byte(wasmbin.OpI32Const))
	a.code = wasmbin.AppendSLEB128(a.code, int64(v))
}

func (a *asm) i64(v int64) {
	a.code = append(a.code, byte(wasmbin.OpI64Const))
	a.code = wasmbin.AppendSLEB128(a.code, v)
}

// u64 emits i64.const with the two's complement reading of v.
func (a *asm) u64(v uint64) { a.i64(int64(v)) }

func (a *asm) get(local uint32)   { a.idx(wasmbin.OpLocalGet, local) }
func (a *asm) set(local uint32)   { a.idx(wasmbin.OpLocalSet, local) }
func (a *asm) gget(global uint32) { a.idx(wasmbin.OpGlobalGet, global) }
func (a *asm) gset(global uint32) { a.idx(wasmbin.OpGlobalSet, global) }
func (a *asm) br(label uint32)    { a.idx(wasmbin.OpBr, label) }
func (a *asm) brIf(label uint32)  { a.idx(wasmbin.OpBrIf, label) }

// mem emits a load or store with its natural alignment and a fixed offset.
func (a *asm) mem(op wasmbin.Opcode, offset uint32) {
	a.code = append(a.code, byte(op))
	a.code = wasmbin.AppendULEB128(a.code, uint64(naturalAlign[op]))
	a.code = wasmbin.AppendULEB128(a.code, uint64(offset))
}

var naturalAlign = map[wasmbin.Opcode]uint32{
	wasmbin.OpI32Load: 2, wasmbin.OpI64Load: 3, wasmbin.OpI32Load8U: 0, wasmbin.OpI32Load16U: 1,
	wasmbin.OpI64Load8U: 0, wasmbin.OpI32Store: 2, wasmbin.OpI64Store: 3, wasmbin.OpI64Store8: 0,
}

// Structured control with no parameters and no results.
func (a *asm) block() { a.code = append(a.code, byte(wasmbin.OpBlock), 0x40) }
func (a *asm) loop()  { a.code = append(a.code, byte(wasmbin.OpLoop), 0x40) }
func (a *asm) if_()   { a.code = append(a.code, byte(wasmbin.OpIf), 0x40) }
func (a *asm) else_() { a.op(wasmbin.OpElse) }
func (a *asm) end()   { a.op(wasmbin.OpEnd) }

// ret returns errno from the middle of a function.
func (a *asm) ret(errno int32) {
	a.i32(errno)
	a.op(wasmbin.OpReturn)
}

// returnUnlessFdBelow returns errno unless the fd in local 0 is one of
// 0..n-1 (compared unsigned, so negative fds are refused too).
func (a *asm) returnUnlessFdBelow(n int32, errno int32) {
	a.get(0)
	a.i32(n)
	a.op(wasmbin.OpI32GeU)
	a.if_()
	a.ret(errno)
	a.end()
}

// body finishes the code with the final end.
func (a *asm) body(locals ...wasmbin.LocalGroup) wasmbin.FuncBody {
	return wasmbin.FuncBody{Locals: locals, Code: append(a.code, byte(wasmbin.OpEnd))}
}
