// Package nan makes the NaN results of float arithmetic deterministic. The
// WebAssembly specification leaves the sign and payload of a NaN produced by
// an arithmetic instruction partly to the engine (a canonical NaN of either
// sign, or any arithmetic NaN when an operand was a non-canonical NaN), so
// two engines, or one engine on two CPUs, can compute different bits that
// then reach memory and state through a store or a reinterpret.
//
// Canonicalize inserts, right after every instruction whose result may be
// such a NaN, a check that replaces any NaN with the positive quiet NaN
// without payload of its type: f32 0x7fc00000, f64 0x7ff8000000000000. Rewritten (Version 1):
// f32 and f64 add, sub, mul, div, sqrt, min, max, ceil, floor, trunc and
// nearest, f32.demote_f64 and f64.promote_f32. The check is
//
//	local.tee $t; local.get $t; fN.eq
//	if (result fN) local.get $t else fN.const canonical end
//
// which keeps the value when it equals itself (is not NaN). Under wazero's
// compiler the branch is always predicted, NaNs being rare, and stays off
// the data dependency chain: on a loop of float arithmetic it cost about 5%
// against 30% for the branch-free form with select, whose conditional move
// lengthens every loop-carried dependency. $t is one scratch local per type,
// appended after a function's existing locals, so no index changes.
//
// The check after an instruction is left out when the very next instruction
// is itself rewritten: that instruction consumes the value, returns a NaN
// whenever an operand is NaN, and is checked in turn: sqrt(c + a*b),
// evaluated as c a b mul add sqrt, costs one check.
//
// The other float instructions only move or test bits, deterministically:
// abs, neg and copysign are defined on the sign bit alone; loads, stores,
// consts, reinterpret, local, global and select move bits unchanged;
// comparisons, trunc and trunc_sat give integers (NaN compares the same
// whatever its payload, traps, or becomes 0); convert_i* of an integer is
// never NaN. So once arithmetic results are canonical, every float bit
// pattern in a run is the same on every engine. (neg or copysign can still
// turn the canonical NaN into 0xffc00000; that is the same everywhere.)
// Constant expressions cannot do float arithmetic, so globals and segments
// are left alone. SIMD is refused by host/wasmbin.
//
// A module with nothing to rewrite is returned byte for byte. Otherwise only
// rewritten function bodies change; debug sections that refer to code offsets
// (DWARF) go stale. Imports are allowed (what an imported function returns is
// the host's business). The rewrite is not idempotent: a second pass adds a
// second, redundant check. Composed with host/meter either way round the
// result is correct, but fuel differs: checks inserted before metering are
// charged like original code, checks inserted after it are free. Version is part of the host fingerprint: a change to the
// set of rewritten instructions or to the canonical values must bump it. This
// package must never parse or encode the binary format itself (host/wasmbin
// does), and must never make its output depend on anything but the input.
package nan
