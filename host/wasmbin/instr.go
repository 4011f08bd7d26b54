package wasmbin

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Opcode identifies an instruction: the opcode byte, or 0xFC00|sub for
// instructions behind the 0xFC prefix.
type Opcode uint16

// prefixFC is the high byte of prefixed (0xFC) opcodes.
const prefixFC Opcode = 0xFC00

type immKind uint8

const (
	immNone         immKind = iota
	immBlock                // block type
	immLabel                // label index
	immBrTable              // label vector and default label
	immFunc                 // function index
	immCallIndirect         // type index, table index
	immSelectTyped          // vector of value types
	immLocal                // local index
	immGlobal               // global index
	immTable                // table index
	immMemArg               // alignment and offset
	immZeroByte             // one reserved 0x00 byte (memory index 0)
	immI32                  // signed LEB128, 32 bits
	immI64                  // signed LEB128, 64 bits
	immF32                  // 4 little-endian bytes
	immF64                  // 8 little-endian bytes
	immRefType              // reference type byte
	immMemoryInit           // data index, reserved 0x00
	immData                 // data index
	immMemoryCopy           // two reserved 0x00 bytes
	immTableInit            // element index, table index
	immElem                 // element index
	immTableCopy            // destination table, source table
)

type opInfo struct {
	name string
	imm  immKind
}

type opEntry struct {
	op   Opcode
	name string
	imm  immKind
}

// singleByteOps and prefixedFCOps index opcodeList for O(1) lookup while
// decoding; a zero name means the opcode is not supported.
var singleByteOps, prefixedFCOps = buildOpTables()

const numFCOps = 18

func buildOpTables() (single [256]opInfo, fc [numFCOps]opInfo) {
	for _, e := range opcodeList {
		if e.op >= prefixFC {
			fc[e.op-prefixFC] = opInfo{e.name, e.imm}
		} else {
			single[e.op] = opInfo{e.name, e.imm}
		}
	}
	return single, fc
}

func lookupOp(op Opcode) (opInfo, bool) {
	switch {
	case op < 0x100:
		info := singleByteOps[op]
		return info, info.name != ""
	case op >= prefixFC && op < prefixFC+numFCOps:
		info := prefixedFCOps[op-prefixFC]
		return info, info.name != ""
	}
	return opInfo{}, false
}

// String returns the text-format name of op ("i32.add", "memory.copy"), or
// its encoding in hex when op is not a supported instruction.
func (op Opcode) String() string {
	if info, ok := lookupOp(op); ok {
		return info.name
	}
	if op >= prefixFC {
		return fmt.Sprintf("0xfc %d", op-prefixFC)
	}
	return fmt.Sprintf("0x%02x", uint16(op))
}

// BlockKind says which form a block type takes.
type BlockKind uint8

// Block type forms.
const (
	BlockEmpty     BlockKind = iota // no parameters, no results (0x40)
	BlockValue                      // no parameters, one result of type Value
	BlockTypeIndex                  // the signature Types[TypeIndex] (multi-value)
)

// BlockType is the signature of a block, loop or if.
type BlockType struct {
	Kind      BlockKind
	Value     ValType
	TypeIndex uint32
}

// MemArg is the immediate of a load or store.
type MemArg struct {
	Align  uint32 // log2 of the alignment
	Offset uint32
}

// Instr is one decoded instruction. Only the immediate fields that apply to
// Op are set; Code[Offset:Offset+Len] is its exact encoding.
type Instr struct {
	Op     Opcode
	Offset int // offset of the first byte within the function's Code
	Len    int // length in bytes, including immediates

	// Block is the signature of block, loop and if.
	Block BlockType
	// Index is the label of br and br_if, the default label of br_table,
	// the function of call and ref.func, the type of call_indirect, the
	// local or global of local.* and global.*, the table of table.get,
	// table.set, table.grow, table.size and table.fill, the destination
	// table of table.copy, the data segment of memory.init and data.drop
	// and the element segment of table.init and elem.drop.
	Index uint32
	// Index2 is the table of call_indirect and table.init, and the source
	// table of table.copy.
	Index2 uint32
	// Labels are the targets of br_table, without the default (in Index).
	Labels []uint32
	// Mem is the immediate of loads and stores.
	Mem MemArg
	// I32 and I64 are the values of i32.const and i64.const; F32Bits and
	// F64Bits the IEEE 754 bits of f32.const and f64.const.
	I32     int32
	I64     int64
	F32Bits uint32
	F64Bits uint64
	// Ref is the reference type of ref.null.
	Ref ValType
	// Types are the operand types of a typed select.
	Types []ValType
}

// Errors wrapped in InstrError.
var (
	ErrUnknownOpcode   = errors.New("unknown opcode")
	ErrUnsupported     = errors.New("unsupported instruction")
	ErrTruncatedInstr  = errors.New("instruction runs past the end of the code")
	ErrBadImmediate    = errors.New("malformed immediate")
	ErrBadStructure    = errors.New("malformed block structure")
	ErrTrailingCode    = errors.New("bytes after the function's final end")
	ErrMissingFinalEnd = errors.New("code ends before the function's final end")
)

// InstrError reports an instruction that cannot be decoded. Offset is
// relative to the start of the code that was being decoded.
type InstrError struct {
	Offset int
	Op     Opcode
	Detail string
	Err    error
}

func (e *InstrError) Error() string {
	msg := fmt.Sprintf("opcode %s at offset %d: %v", e.opText(), e.Offset, e.Err)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *InstrError) opText() string {
	if _, ok := lookupOp(e.Op); ok {
		return fmt.Sprintf("%s (0x%02x)", e.Op, uint16(e.Op))
	}
	if e.Op >= prefixFC {
		return fmt.Sprintf("0xfc %d", e.Op-prefixFC)
	}
	return fmt.Sprintf("0x%02x", uint16(e.Op))
}

func (e *InstrError) Unwrap() error { return e.Err }

// DecodeInstrs decodes a function body's code (as in FuncBody.Code) and calls
// fn for every instruction in order, including the final end. It checks that
// blocks nest properly (else only inside if, every block closed) and that
// nothing follows the final end. SIMD (0xFD), threads (0xFE), tail calls,
// exceptions and unknown opcodes are refused with an error naming the
// opcode and its offset. An error returned by fn stops the walk and is
// returned unchanged.
func DecodeInstrs(code []byte, fn func(Instr) error) error {
	// open holds, for every enclosing block, whether it is an if that has
	// not yet seen its else; its length is the nesting depth.
	var open []bool
	off := 0
	for off < len(code) {
		in, err := DecodeInstr(code, off)
		if err != nil {
			return err
		}
		switch in.Op {
		case OpBlock, OpLoop:
			open = append(open, false)
		case OpIf:
			open = append(open, true)
		case OpElse:
			if len(open) == 0 || !open[len(open)-1] {
				return &InstrError{Offset: off, Op: in.Op, Err: ErrBadStructure, Detail: "else outside an if"}
			}
			open[len(open)-1] = false
		case OpEnd:
			if len(open) == 0 {
				if err := fn(in); err != nil {
					return err
				}
				if next := off + in.Len; next != len(code) {
					return &InstrError{Offset: next, Op: Opcode(code[next]), Err: ErrTrailingCode,
						Detail: fmt.Sprintf("%d bytes follow the end at offset %d", len(code)-next, off)}
				}
				return nil
			}
			open = open[:len(open)-1]
		}
		if err := fn(in); err != nil {
			return err
		}
		off += in.Len
	}
	op := Opcode(0)
	if len(code) > 0 {
		op = Opcode(code[len(code)-1])
	}
	return &InstrError{Offset: len(code), Op: op, Err: ErrMissingFinalEnd,
		Detail: fmt.Sprintf("%d blocks still open", len(open))}
}

// DecodeInstr decodes the single instruction that starts at code[offset].
func DecodeInstr(code []byte, offset int) (Instr, error) {
	if offset < 0 || offset >= len(code) {
		return Instr{}, &InstrError{Offset: offset, Err: ErrTruncatedInstr, Detail: "no opcode byte"}
	}
	d := decoder{code: code, pos: offset + 1}
	in := Instr{Op: Opcode(code[offset]), Offset: offset}
	switch code[offset] {
	case 0xFC:
		sub, err := d.u32()
		if err != nil {
			return Instr{}, &InstrError{Offset: offset, Op: prefixFC, Err: err, Detail: "reading the 0xfc sub-opcode"}
		}
		if sub >= numFCOps {
			return Instr{}, &InstrError{Offset: offset, Op: prefixFC | Opcode(min(sub, 0xFF)), Err: ErrUnknownOpcode,
				Detail: fmt.Sprintf("0xfc sub-opcode %d", sub)}
		}
		in.Op = prefixFC | Opcode(sub)
	case 0xFD:
		return Instr{}, &InstrError{Offset: offset, Op: in.Op, Err: ErrUnsupported, Detail: "SIMD (0xfd prefix) is not supported"}
	case 0xFE:
		return Instr{}, &InstrError{Offset: offset, Op: in.Op, Err: ErrUnsupported, Detail: "threads and atomics (0xfe prefix) are not supported"}
	case 0x06, 0x07, 0x08, 0x09, 0x18, 0x19, 0x1F:
		return Instr{}, &InstrError{Offset: offset, Op: in.Op, Err: ErrUnsupported, Detail: "exception handling is not supported"}
	case 0x12, 0x13:
		return Instr{}, &InstrError{Offset: offset, Op: in.Op, Err: ErrUnsupported, Detail: "tail calls are not supported"}
	}
	info, ok := lookupOp(in.Op)
	if !ok {
		return Instr{}, &InstrError{Offset: offset, Op: in.Op, Err: ErrUnknownOpcode}
	}
	if err := d.immediates(&in, info.imm); err != nil {
		return Instr{}, &InstrError{Offset: offset, Op: in.Op, Err: err}
	}
	in.Len = d.pos - offset
	return in, nil
}

type decoder struct {
	code []byte
	pos  int
}

func (d *decoder) u32() (uint32, error) {
	v, n, err := ReadU32(d.code[d.pos:])
	if err != nil {
		return 0, lebErr(err)
	}
	d.pos += n
	return v, nil
}

// lebErr maps a truncated number to the instruction-level error, so callers
// can test for ErrTruncatedInstr whatever was being read.
func lebErr(err error) error {
	if errors.Is(err, ErrLEBTruncated) {
		return fmt.Errorf("%w: %w", ErrTruncatedInstr, err)
	}
	return fmt.Errorf("%w: %w", ErrBadImmediate, err)
}

func (d *decoder) byte() (byte, error) {
	if d.pos >= len(d.code) {
		return 0, ErrTruncatedInstr
	}
	b := d.code[d.pos]
	d.pos++
	return b, nil
}

func (d *decoder) zeroByte() error {
	b, err := d.byte()
	if err != nil {
		return err
	}
	if b != 0 {
		return fmt.Errorf("%w: reserved byte is 0x%02x, want 0x00 (multiple memories are not supported)", ErrUnsupported, b)
	}
	return nil
}

func (d *decoder) immediates(in *Instr, kind immKind) error {
	var err error
	switch kind {
	case immNone:
	case immBlock:
		in.Block, err = d.blockType()
	case immLabel, immFunc, immLocal, immGlobal, immTable, immData, immElem:
		in.Index, err = d.u32()
	case immBrTable:
		err = d.brTable(in)
	case immCallIndirect, immTableInit, immTableCopy:
		if in.Index, err = d.u32(); err == nil {
			in.Index2, err = d.u32()
		}
	case immSelectTyped:
		err = d.selectTypes(in)
	case immMemArg:
		err = d.memArg(in)
	case immZeroByte:
		err = d.zeroByte()
	case immMemoryInit:
		if in.Index, err = d.u32(); err == nil {
			err = d.zeroByte()
		}
	case immMemoryCopy:
		if err = d.zeroByte(); err == nil {
			err = d.zeroByte()
		}
	case immI32:
		var n int
		in.I32, n, err = ReadS32(d.code[d.pos:])
		if err != nil {
			return lebErr(err)
		}
		d.pos += n
	case immI64:
		var n int
		in.I64, n, err = ReadSLEB128(d.code[d.pos:])
		if err != nil {
			return lebErr(err)
		}
		d.pos += n
	case immF32:
		if len(d.code)-d.pos < 4 {
			return ErrTruncatedInstr
		}
		in.F32Bits = binary.LittleEndian.Uint32(d.code[d.pos:])
		d.pos += 4
	case immF64:
		if len(d.code)-d.pos < 8 {
			return ErrTruncatedInstr
		}
		in.F64Bits = binary.LittleEndian.Uint64(d.code[d.pos:])
		d.pos += 8
	case immRefType:
		var b byte
		if b, err = d.byte(); err == nil {
			in.Ref = ValType(b)
			if !in.Ref.isRef() {
				err = fmt.Errorf("%w: ref.null of %s, want funcref or externref", ErrBadImmediate, in.Ref)
			}
		}
	default:
		err = fmt.Errorf("%w: immediate kind %d", ErrUnknownOpcode, kind)
	}
	return err
}

func (d *decoder) blockType() (BlockType, error) {
	if d.pos >= len(d.code) {
		return BlockType{}, ErrTruncatedInstr
	}
	b := d.code[d.pos]
	if b == 0x40 {
		d.pos++
		return BlockType{Kind: BlockEmpty}, nil
	}
	if ValType(b).valid() {
		d.pos++
		return BlockType{Kind: BlockValue, Value: ValType(b)}, nil
	}
	v, n, err := ReadS33(d.code[d.pos:])
	if err != nil {
		return BlockType{}, lebErr(err)
	}
	if v < 0 {
		return BlockType{}, fmt.Errorf("%w: block type 0x%02x is neither empty, a value type nor a type index", ErrBadImmediate, b)
	}
	if v > int64(^uint32(0)) {
		return BlockType{}, fmt.Errorf("%w: block type index %d overflows 32 bits", ErrBadImmediate, v)
	}
	d.pos += n
	return BlockType{Kind: BlockTypeIndex, TypeIndex: uint32(v)}, nil
}

func (d *decoder) brTable(in *Instr) error {
	count, err := d.u32()
	if err != nil {
		return err
	}
	// Every label takes at least one byte, so a larger count is a lie
	// and must not drive the allocation.
	if uint64(count) >= uint64(len(d.code)-d.pos) {
		return fmt.Errorf("%w: br_table declares %d labels but only %d bytes remain", ErrTruncatedInstr, count, len(d.code)-d.pos)
	}
	in.Labels = make([]uint32, count)
	for i := range in.Labels {
		if in.Labels[i], err = d.u32(); err != nil {
			return err
		}
	}
	in.Index, err = d.u32()
	return err
}

func (d *decoder) selectTypes(in *Instr) error {
	count, err := d.u32()
	if err != nil {
		return err
	}
	if uint64(count) > uint64(len(d.code)-d.pos) {
		return fmt.Errorf("%w: select declares %d types but only %d bytes remain", ErrTruncatedInstr, count, len(d.code)-d.pos)
	}
	in.Types = make([]ValType, count)
	for i := range in.Types {
		t := ValType(d.code[d.pos])
		if !t.valid() {
			return fmt.Errorf("%w: select operand type 0x%02x", ErrBadImmediate, byte(t))
		}
		in.Types[i] = t
		d.pos++
	}
	return nil
}

func (d *decoder) memArg(in *Instr) error {
	var err error
	if in.Mem.Align, err = d.u32(); err != nil {
		return err
	}
	if in.Mem.Align&0x40 != 0 {
		return fmt.Errorf("%w: alignment flag 0x%x selects a memory index (multiple memories are not supported)", ErrUnsupported, in.Mem.Align)
	}
	in.Mem.Offset, err = d.u32()
	return err
}
