package wasmbin

// Opcodes of every instruction DecodeInstrs accepts. Prefixed (0xFC)
// instructions are 0xFC00 | sub-opcode.
const (
	OpUnreachable       Opcode = 0x00   // unreachable
	OpNop               Opcode = 0x01   // nop
	OpBlock             Opcode = 0x02   // block
	OpLoop              Opcode = 0x03   // loop
	OpIf                Opcode = 0x04   // if
	OpElse              Opcode = 0x05   // else
	OpEnd               Opcode = 0x0B   // end
	OpBr                Opcode = 0x0C   // br
	OpBrIf              Opcode = 0x0D   // br_if
	OpBrTable           Opcode = 0x0E   // br_table
	OpReturn            Opcode = 0x0F   // return
	OpCall              Opcode = 0x10   // call
	OpCallIndirect      Opcode = 0x11   // call_indirect
	OpDrop              Opcode = 0x1A   // drop
	OpSelect            Opcode = 0x1B   // select
	OpSelectTyped       Opcode = 0x1C   // select (typed)
	OpLocalGet          Opcode = 0x20   // local.get
	OpLocalSet          Opcode = 0x21   // local.set
	OpLocalTee          Opcode = 0x22   // local.tee
	OpGlobalGet         Opcode = 0x23   // global.get
	OpGlobalSet         Opcode = 0x24   // global.set
	OpTableGet          Opcode = 0x25   // table.get
	OpTableSet          Opcode = 0x26   // table.set
	OpI32Load           Opcode = 0x28   // i32.load
	OpI64Load           Opcode = 0x29   // i64.load
	OpF32Load           Opcode = 0x2A   // f32.load
	OpF64Load           Opcode = 0x2B   // f64.load
	OpI32Load8S         Opcode = 0x2C   // i32.load8_s
	OpI32Load8U         Opcode = 0x2D   // i32.load8_u
	OpI32Load16S        Opcode = 0x2E   // i32.load16_s
	OpI32Load16U        Opcode = 0x2F   // i32.load16_u
	OpI64Load8S         Opcode = 0x30   // i64.load8_s
	OpI64Load8U         Opcode = 0x31   // i64.load8_u
	OpI64Load16S        Opcode = 0x32   // i64.load16_s
	OpI64Load16U        Opcode = 0x33   // i64.load16_u
	OpI64Load32S        Opcode = 0x34   // i64.load32_s
	OpI64Load32U        Opcode = 0x35   // i64.load32_u
	OpI32Store          Opcode = 0x36   // i32.store
	OpI64Store          Opcode = 0x37   // i64.store
	OpF32Store          Opcode = 0x38   // f32.store
	OpF64Store          Opcode = 0x39   // f64.store
	OpI32Store8         Opcode = 0x3A   // i32.store8
	OpI32Store16        Opcode = 0x3B   // i32.store16
	OpI64Store8         Opcode = 0x3C   // i64.store8
	OpI64Store16        Opcode = 0x3D   // i64.store16
	OpI64Store32        Opcode = 0x3E   // i64.store32
	OpMemorySize        Opcode = 0x3F   // memory.size
	OpMemoryGrow        Opcode = 0x40   // memory.grow
	OpI32Const          Opcode = 0x41   // i32.const
	OpI64Const          Opcode = 0x42   // i64.const
	OpF32Const          Opcode = 0x43   // f32.const
	OpF64Const          Opcode = 0x44   // f64.const
	OpI32Eqz            Opcode = 0x45   // i32.eqz
	OpI32Eq             Opcode = 0x46   // i32.eq
	OpI32Ne             Opcode = 0x47   // i32.ne
	OpI32LtS            Opcode = 0x48   // i32.lt_s
	OpI32LtU            Opcode = 0x49   // i32.lt_u
	OpI32GtS            Opcode = 0x4A   // i32.gt_s
	OpI32GtU            Opcode = 0x4B   // i32.gt_u
	OpI32LeS            Opcode = 0x4C   // i32.le_s
	OpI32LeU            Opcode = 0x4D   // i32.le_u
	OpI32GeS            Opcode = 0x4E   // i32.ge_s
	OpI32GeU            Opcode = 0x4F   // i32.ge_u
	OpI64Eqz            Opcode = 0x50   // i64.eqz
	OpI64Eq             Opcode = 0x51   // i64.eq
	OpI64Ne             Opcode = 0x52   // i64.ne
	OpI64LtS            Opcode = 0x53   // i64.lt_s
	OpI64LtU            Opcode = 0x54   // i64.lt_u
	OpI64GtS            Opcode = 0x55   // i64.gt_s
	OpI64GtU            Opcode = 0x56   // i64.gt_u
	OpI64LeS            Opcode = 0x57   // i64.le_s
	OpI64LeU            Opcode = 0x58   // i64.le_u
	OpI64GeS            Opcode = 0x59   // i64.ge_s
	OpI64GeU            Opcode = 0x5A   // i64.ge_u
	OpF32Eq             Opcode = 0x5B   // f32.eq
	OpF32Ne             Opcode = 0x5C   // f32.ne
	OpF32Lt             Opcode = 0x5D   // f32.lt
	OpF32Gt             Opcode = 0x5E   // f32.gt
	OpF32Le             Opcode = 0x5F   // f32.le
	OpF32Ge             Opcode = 0x60   // f32.ge
	OpF64Eq             Opcode = 0x61   // f64.eq
	OpF64Ne             Opcode = 0x62   // f64.ne
	OpF64Lt             Opcode = 0x63   // f64.lt
	OpF64Gt             Opcode = 0x64   // f64.gt
	OpF64Le             Opcode = 0x65   // f64.le
	OpF64Ge             Opcode = 0x66   // f64.ge
	OpI32Clz            Opcode = 0x67   // i32.clz
	OpI32Ctz            Opcode = 0x68   // i32.ctz
	OpI32Popcnt         Opcode = 0x69   // i32.popcnt
	OpI32Add            Opcode = 0x6A   // i32.add
	OpI32Sub            Opcode = 0x6B   // i32.sub
	OpI32Mul            Opcode = 0x6C   // i32.mul
	OpI32DivS           Opcode = 0x6D   // i32.div_s
	OpI32DivU           Opcode = 0x6E   // i32.div_u
	OpI32RemS           Opcode = 0x6F   // i32.rem_s
	OpI32RemU           Opcode = 0x70   // i32.rem_u
	OpI32And            Opcode = 0x71   // i32.and
	OpI32Or             Opcode = 0x72   // i32.or
	OpI32Xor            Opcode = 0x73   // i32.xor
	OpI32Shl            Opcode = 0x74   // i32.shl
	OpI32ShrS           Opcode = 0x75   // i32.shr_s
	OpI32ShrU           Opcode = 0x76   // i32.shr_u
	OpI32Rotl           Opcode = 0x77   // i32.rotl
	OpI32Rotr           Opcode = 0x78   // i32.rotr
	OpI64Clz            Opcode = 0x79   // i64.clz
	OpI64Ctz            Opcode = 0x7A   // i64.ctz
	OpI64Popcnt         Opcode = 0x7B   // i64.popcnt
	OpI64Add            Opcode = 0x7C   // i64.add
	OpI64Sub            Opcode = 0x7D   // i64.sub
	OpI64Mul            Opcode = 0x7E   // i64.mul
	OpI64DivS           Opcode = 0x7F   // i64.div_s
	OpI64DivU           Opcode = 0x80   // i64.div_u
	OpI64RemS           Opcode = 0x81   // i64.rem_s
	OpI64RemU           Opcode = 0x82   // i64.rem_u
	OpI64And            Opcode = 0x83   // i64.and
	OpI64Or             Opcode = 0x84   // i64.or
	OpI64Xor            Opcode = 0x85   // i64.xor
	OpI64Shl            Opcode = 0x86   // i64.shl
	OpI64ShrS           Opcode = 0x87   // i64.shr_s
	OpI64ShrU           Opcode = 0x88   // i64.shr_u
	OpI64Rotl           Opcode = 0x89   // i64.rotl
	OpI64Rotr           Opcode = 0x8A   // i64.rotr
	OpF32Abs            Opcode = 0x8B   // f32.abs
	OpF32Neg            Opcode = 0x8C   // f32.neg
	OpF32Ceil           Opcode = 0x8D   // f32.ceil
	OpF32Floor          Opcode = 0x8E   // f32.floor
	OpF32Trunc          Opcode = 0x8F   // f32.trunc
	OpF32Nearest        Opcode = 0x90   // f32.nearest
	OpF32Sqrt           Opcode = 0x91   // f32.sqrt
	OpF32Add            Opcode = 0x92   // f32.add
	OpF32Sub            Opcode = 0x93   // f32.sub
	OpF32Mul            Opcode = 0x94   // f32.mul
	OpF32Div            Opcode = 0x95   // f32.div
	OpF32Min            Opcode = 0x96   // f32.min
	OpF32Max            Opcode = 0x97   // f32.max
	OpF32Copysign       Opcode = 0x98   // f32.copysign
	OpF64Abs            Opcode = 0x99   // f64.abs
	OpF64Neg            Opcode = 0x9A   // f64.neg
	OpF64Ceil           Opcode = 0x9B   // f64.ceil
	OpF64Floor          Opcode = 0x9C   // f64.floor
	OpF64Trunc          Opcode = 0x9D   // f64.trunc
	OpF64Nearest        Opcode = 0x9E   // f64.nearest
	OpF64Sqrt           Opcode = 0x9F   // f64.sqrt
	OpF64Add            Opcode = 0xA0   // f64.add
	OpF64Sub            Opcode = 0xA1   // f64.sub
	OpF64Mul            Opcode = 0xA2   // f64.mul
	OpF64Div            Opcode = 0xA3   // f64.div
	OpF64Min            Opcode = 0xA4   // f64.min
	OpF64Max            Opcode = 0xA5   // f64.max
	OpF64Copysign       Opcode = 0xA6   // f64.copysign
	OpI32WrapI64        Opcode = 0xA7   // i32.wrap_i64
	OpI32TruncF32S      Opcode = 0xA8   // i32.trunc_f32_s
	OpI32TruncF32U      Opcode = 0xA9   // i32.trunc_f32_u
	OpI32TruncF64S      Opcode = 0xAA   // i32.trunc_f64_s
	OpI32TruncF64U      Opcode = 0xAB   // i32.trunc_f64_u
	OpI64ExtendI32S     Opcode = 0xAC   // i64.extend_i32_s
	OpI64ExtendI32U     Opcode = 0xAD   // i64.extend_i32_u
	OpI64TruncF32S      Opcode = 0xAE   // i64.trunc_f32_s
	OpI64TruncF32U      Opcode = 0xAF   // i64.trunc_f32_u
	OpI64TruncF64S      Opcode = 0xB0   // i64.trunc_f64_s
	OpI64TruncF64U      Opcode = 0xB1   // i64.trunc_f64_u
	OpF32ConvertI32S    Opcode = 0xB2   // f32.convert_i32_s
	OpF32ConvertI32U    Opcode = 0xB3   // f32.convert_i32_u
	OpF32ConvertI64S    Opcode = 0xB4   // f32.convert_i64_s
	OpF32ConvertI64U    Opcode = 0xB5   // f32.convert_i64_u
	OpF32DemoteF64      Opcode = 0xB6   // f32.demote_f64
	OpF64ConvertI32S    Opcode = 0xB7   // f64.convert_i32_s
	OpF64ConvertI32U    Opcode = 0xB8   // f64.convert_i32_u
	OpF64ConvertI64S    Opcode = 0xB9   // f64.convert_i64_s
	OpF64ConvertI64U    Opcode = 0xBA   // f64.convert_i64_u
	OpF64PromoteF32     Opcode = 0xBB   // f64.promote_f32
	OpI32ReinterpretF32 Opcode = 0xBC   // i32.reinterpret_f32
	OpI64ReinterpretF64 Opcode = 0xBD   // i64.reinterpret_f64
	OpF32ReinterpretI32 Opcode = 0xBE   // f32.reinterpret_i32
	OpF64ReinterpretI64 Opcode = 0xBF   // f64.reinterpret_i64
	OpI32Extend8S       Opcode = 0xC0   // i32.extend8_s
	OpI32Extend16S      Opcode = 0xC1   // i32.extend16_s
	OpI64Extend8S       Opcode = 0xC2   // i64.extend8_s
	OpI64Extend16S      Opcode = 0xC3   // i64.extend16_s
	OpI64Extend32S      Opcode = 0xC4   // i64.extend32_s
	OpRefNull           Opcode = 0xD0   // ref.null
	OpRefIsNull         Opcode = 0xD1   // ref.is_null
	OpRefFunc           Opcode = 0xD2   // ref.func
	OpI32TruncSatF32S   Opcode = 0xFC00 // i32.trunc_sat_f32_s
	OpI32TruncSatF32U   Opcode = 0xFC01 // i32.trunc_sat_f32_u
	OpI32TruncSatF64S   Opcode = 0xFC02 // i32.trunc_sat_f64_s
	OpI32TruncSatF64U   Opcode = 0xFC03 // i32.trunc_sat_f64_u
	OpI64TruncSatF32S   Opcode = 0xFC04 // i64.trunc_sat_f32_s
	OpI64TruncSatF32U   Opcode = 0xFC05 // i64.trunc_sat_f32_u
	OpI64TruncSatF64S   Opcode = 0xFC06 // i64.trunc_sat_f64_s
	OpI64TruncSatF64U   Opcode = 0xFC07 // i64.trunc_sat_f64_u
	OpMemoryInit        Opcode = 0xFC08 // memory.init
	OpDataDrop          Opcode = 0xFC09 // data.drop
	OpMemoryCopy        Opcode = 0xFC0A // memory.copy
	OpMemoryFill        Opcode = 0xFC0B // memory.fill
	OpTableInit         Opcode = 0xFC0C // table.init
	OpElemDrop          Opcode = 0xFC0D // elem.drop
	OpTableCopy         Opcode = 0xFC0E // table.copy
	OpTableGrow         Opcode = 0xFC0F // table.grow
	OpTableSize         Opcode = 0xFC10 // table.size
	OpTableFill         Opcode = 0xFC11 // table.fill
)

// opcodeList is the text name and immediate layout of each opcode.
var opcodeList = [...]opEntry{
	{OpUnreachable, "unreachable", immNone},
	{OpNop, "nop", immNone},
	{OpBlock, "block", immBlock},
	{OpLoop, "loop", immBlock},
	{OpIf, "if", immBlock},
	{OpElse, "else", immNone},
	{OpEnd, "end", immNone},
	{OpBr, "br", immLabel},
	{OpBrIf, "br_if", immLabel},
	{OpBrTable, "br_table", immBrTable},
	{OpReturn, "return", immNone},
	{OpCall, "call", immFunc},
	{OpCallIndirect, "call_indirect", immCallIndirect},
	{OpDrop, "drop", immNone},
	{OpSelect, "select", immNone},
	{OpSelectTyped, "select", immSelectTyped},
	{OpLocalGet, "local.get", immLocal},
	{OpLocalSet, "local.set", immLocal},
	{OpLocalTee, "local.tee", immLocal},
	{OpGlobalGet, "global.get", immGlobal},
	{OpGlobalSet, "global.set", immGlobal},
	{OpTableGet, "table.get", immTable},
	{OpTableSet, "table.set", immTable},
	{OpI32Load, "i32.load", immMemArg},
	{OpI64Load, "i64.load", immMemArg},
	{OpF32Load, "f32.load", immMemArg},
	{OpF64Load, "f64.load", immMemArg},
	{OpI32Load8S, "i32.load8_s", immMemArg},
	{OpI32Load8U, "i32.load8_u", immMemArg},
	{OpI32Load16S, "i32.load16_s", immMemArg},
	{OpI32Load16U, "i32.load16_u", immMemArg},
	{OpI64Load8S, "i64.load8_s", immMemArg},
	{OpI64Load8U, "i64.load8_u", immMemArg},
	{OpI64Load16S, "i64.load16_s", immMemArg},
	{OpI64Load16U, "i64.load16_u", immMemArg},
	{OpI64Load32S, "i64.load32_s", immMemArg},
	{OpI64Load32U, "i64.load32_u", immMemArg},
	{OpI32Store, "i32.store", immMemArg},
	{OpI64Store, "i64.store", immMemArg},
	{OpF32Store, "f32.store", immMemArg},
	{OpF64Store, "f64.store", immMemArg},
	{OpI32Store8, "i32.store8", immMemArg},
	{OpI32Store16, "i32.store16", immMemArg},
	{OpI64Store8, "i64.store8", immMemArg},
	{OpI64Store16, "i64.store16", immMemArg},
	{OpI64Store32, "i64.store32", immMemArg},
	{OpMemorySize, "memory.size", immZeroByte},
	{OpMemoryGrow, "memory.grow", immZeroByte},
	{OpI32Const, "i32.const", immI32},
	{OpI64Const, "i64.const", immI64},
	{OpF32Const, "f32.const", immF32},
	{OpF64Const, "f64.const", immF64},
	{OpI32Eqz, "i32.eqz", immNone},
	{OpI32Eq, "i32.eq", immNone},
	{OpI32Ne, "i32.ne", immNone},
	{OpI32LtS, "i32.lt_s", immNone},
	{OpI32LtU, "i32.lt_u", immNone},
	{OpI32GtS, "i32.gt_s", immNone},
	{OpI32GtU, "i32.gt_u", immNone},
	{OpI32LeS, "i32.le_s", immNone},
	{OpI32LeU, "i32.le_u", immNone},
	{OpI32GeS, "i32.ge_s", immNone},
	{OpI32GeU, "i32.ge_u", immNone},
	{OpI64Eqz, "i64.eqz", immNone},
	{OpI64Eq, "i64.eq", immNone},
	{OpI64Ne, "i64.ne", immNone},
	{OpI64LtS, "i64.lt_s", immNone},
	{OpI64LtU, "i64.lt_u", immNone},
	{OpI64GtS, "i64.gt_s", immNone},
	{OpI64GtU, "i64.gt_u", immNone},
	{OpI64LeS, "i64.le_s", immNone},
	{OpI64LeU, "i64.le_u", immNone},
	{OpI64GeS, "i64.ge_s", immNone},
	{OpI64GeU, "i64.ge_u", immNone},
	{OpF32Eq, "f32.eq", immNone},
	{OpF32Ne, "f32.ne", immNone},
	{OpF32Lt, "f32.lt", immNone},
	{OpF32Gt, "f32.gt", immNone},
	{OpF32Le, "f32.le", immNone},
	{OpF32Ge, "f32.ge", immNone},
	{OpF64Eq, "f64.eq", immNone},
	{OpF64Ne, "f64.ne", immNone},
	{OpF64Lt, "f64.lt", immNone},
	{OpF64Gt, "f64.gt", immNone},
	{OpF64Le, "f64.le", immNone},
	{OpF64Ge, "f64.ge", immNone},
	{OpI32Clz, "i32.clz", immNone},
	{OpI32Ctz, "i32.ctz", immNone},
	{OpI32Popcnt, "i32.popcnt", immNone},
	{OpI32Add, "i32.add", immNone},
	{OpI32Sub, "i32.sub", immNone},
	{OpI32Mul, "i32.mul", immNone},
	{OpI32DivS, "i32.div_s", immNone},
	{OpI32DivU, "i32.div_u", immNone},
	{OpI32RemS, "i32.rem_s", immNone},
	{OpI32RemU, "i32.rem_u", immNone},
	{OpI32And, "i32.and", immNone},
	{OpI32Or, "i32.or", immNone},
	{OpI32Xor, "i32.xor", immNone},
	{OpI32Shl, "i32.shl", immNone},
	{OpI32ShrS, "i32.shr_s", immNone},
	{OpI32ShrU, "i32.shr_u", immNone},
	{OpI32Rotl, "i32.rotl", immNone},
	{OpI32Rotr, "i32.rotr", immNone},
	{OpI64Clz, "i64.clz", immNone},
	{OpI64Ctz, "i64.ctz", immNone},
	{OpI64Popcnt, "i64.popcnt", immNone},
	{OpI64Add, "i64.add", immNone},
	{OpI64Sub, "i64.sub", immNone},
	{OpI64Mul, "i64.mul", immNone},
	{OpI64DivS, "i64.div_s", immNone},
	{OpI64DivU, "i64.div_u", immNone},
	{OpI64RemS, "i64.rem_s", immNone},
	{OpI64RemU, "i64.rem_u", immNone},
	{OpI64And, "i64.and", immNone},
	{OpI64Or, "i64.or", immNone},
	{OpI64Xor, "i64.xor", immNone},
	{OpI64Shl, "i64.shl", immNone},
	{OpI64ShrS, "i64.shr_s", immNone},
	{OpI64ShrU, "i64.shr_u", immNone},
	{OpI64Rotl, "i64.rotl", immNone},
	{OpI64Rotr, "i64.rotr", immNone},
	{OpF32Abs, "f32.abs", immNone},
	{OpF32Neg, "f32.neg", immNone},
	{OpF32Ceil, "f32.ceil", immNone},
	{OpF32Floor, "f32.floor", immNone},
	{OpF32Trunc, "f32.trunc", immNone},
	{OpF32Nearest, "f32.nearest", immNone},
	{OpF32Sqrt, "f32.sqrt", immNone},
	{OpF32Add, "f32.add", immNone},
	{OpF32Sub, "f32.sub", immNone},
	{OpF32Mul, "f32.mul", immNone},
	{OpF32Div, "f32.div", immNone},
	{OpF32Min, "f32.min", immNone},
	{OpF32Max, "f32.max", immNone},
	{OpF32Copysign, "f32.copysign", immNone},
	{OpF64Abs, "f64.abs", immNone},
	{OpF64Neg, "f64.neg", immNone},
	{OpF64Ceil, "f64.ceil", immNone},
	{OpF64Floor, "f64.floor", immNone},
	{OpF64Trunc, "f64.trunc", immNone},
	{OpF64Nearest, "f64.nearest", immNone},
	{OpF64Sqrt, "f64.sqrt", immNone},
	{OpF64Add, "f64.add", immNone},
	{OpF64Sub, "f64.sub", immNone},
	{OpF64Mul, "f64.mul", immNone},
	{OpF64Div, "f64.div", immNone},
	{OpF64Min, "f64.min", immNone},
	{OpF64Max, "f64.max", immNone},
	{OpF64Copysign, "f64.copysign", immNone},
	{OpI32WrapI64, "i32.wrap_i64", immNone},
	{OpI32TruncF32S, "i32.trunc_f32_s", immNone},
	{OpI32TruncF32U, "i32.trunc_f32_u", immNone},
	{OpI32TruncF64S, "i32.trunc_f64_s", immNone},
	{OpI32TruncF64U, "i32.trunc_f64_u", immNone},
	{OpI64ExtendI32S, "i64.extend_i32_s", immNone},
	{OpI64ExtendI32U, "i64.extend_i32_u", immNone},
	{OpI64TruncF32S, "i64.trunc_f32_s", immNone},
	{OpI64TruncF32U, "i64.trunc_f32_u", immNone},
	{OpI64TruncF64S, "i64.trunc_f64_s", immNone},
	{OpI64TruncF64U, "i64.trunc_f64_u", immNone},
	{OpF32ConvertI32S, "f32.convert_i32_s", immNone},
	{OpF32ConvertI32U, "f32.convert_i32_u", immNone},
	{OpF32ConvertI64S, "f32.convert_i64_s", immNone},
	{OpF32ConvertI64U, "f32.convert_i64_u", immNone},
	{OpF32DemoteF64, "f32.demote_f64", immNone},
	{OpF64ConvertI32S, "f64.convert_i32_s", immNone},
	{OpF64ConvertI32U, "f64.convert_i32_u", immNone},
	{OpF64ConvertI64S, "f64.convert_i64_s", immNone},
	{OpF64ConvertI64U, "f64.convert_i64_u", immNone},
	{OpF64PromoteF32, "f64.promote_f32", immNone},
	{OpI32ReinterpretF32, "i32.reinterpret_f32", immNone},
	{OpI64ReinterpretF64, "i64.reinterpret_f64", immNone},
	{OpF32ReinterpretI32, "f32.reinterpret_i32", immNone},
	{OpF64ReinterpretI64, "f64.reinterpret_i64", immNone},
	{OpI32Extend8S, "i32.extend8_s", immNone},
	{OpI32Extend16S, "i32.extend16_s", immNone},
	{OpI64Extend8S, "i64.extend8_s", immNone},
	{OpI64Extend16S, "i64.extend16_s", immNone},
	{OpI64Extend32S, "i64.extend32_s", immNone},
	{OpRefNull, "ref.null", immRefType},
	{OpRefIsNull, "ref.is_null", immNone},
	{OpRefFunc, "ref.func", immFunc},
	{OpI32TruncSatF32S, "i32.trunc_sat_f32_s", immNone},
	{OpI32TruncSatF32U, "i32.trunc_sat_f32_u", immNone},
	{OpI32TruncSatF64S, "i32.trunc_sat_f64_s", immNone},
	{OpI32TruncSatF64U, "i32.trunc_sat_f64_u", immNone},
	{OpI64TruncSatF32S, "i64.trunc_sat_f32_s", immNone},
	{OpI64TruncSatF32U, "i64.trunc_sat_f32_u", immNone},
	{OpI64TruncSatF64S, "i64.trunc_sat_f64_s", immNone},
	{OpI64TruncSatF64U, "i64.trunc_sat_f64_u", immNone},
	{OpMemoryInit, "memory.init", immMemoryInit},
	{OpDataDrop, "data.drop", immData},
	{OpMemoryCopy, "memory.copy", immMemoryCopy},
	{OpMemoryFill, "memory.fill", immZeroByte},
	{OpTableInit, "table.init", immTableInit},
	{OpElemDrop, "elem.drop", immElem},
	{OpTableCopy, "table.copy", immTableCopy},
	{OpTableGrow, "table.grow", immTable},
	{OpTableSize, "table.size", immTable},
	{OpTableFill, "table.fill", immTable},
}
