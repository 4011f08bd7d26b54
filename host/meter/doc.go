// Package meter injects deterministic fuel metering into an import-free
// WebAssembly module, so that the host can bound the work of any call
// without wall-clock limits: a call that runs out of fuel traps at the same
// instruction on every engine, replica and replay.
//
// Inject appends one mutable i64 global, exported as "reprise_fuel" (initial
// value 0). The host sets it to the budget before a call and reads it after;
// fuel used is budget minus remaining. Every charge subtracts its cost from
// the global and traps (unreachable) when the result is negative, so after an
// out-of-fuel trap the global holds the negative value of the failing charge,
// which tells it apart from every other trap. No import is added and no
// existing function, global, type or local index changes.
//
// Cost model (Version 1), in units of fuel:
//
//   - Every instruction of the original code costs 1, structural ones
//     (block, loop, if, else, end, br*) included; injected code costs nothing.
//   - On function entry the function is charged for its instructions that
//     are not inside any loop: each instruction is counted once, whichever
//     branch runs, so the charge bounds the work of the call outside loops.
//   - At each loop header (every iteration, the first included) the loop is
//     charged for the instructions directly inside it. A loop's own loop and
//     end instructions belong to the enclosing code (they run once per entry
//     into the loop); instructions of nested loops are charged at their own
//     headers. A loop with nothing inside cannot repeat and is not charged.
//   - Bulk operations also pay for the data they touch, charged from their
//     length operand just before they run: memory.fill, memory.copy and
//     memory.init 1 unit per whole 32 bytes; memory.grow 2048 units per page
//     (64 KiB at the same rate); table.fill, table.copy, table.init and
//     table.grow 1 unit per whole 4 elements (a table element is a pointer,
//     so again about 32 bytes). The charge is made even if the operation
//     then fails.
//
// The result is a deterministic upper bound of the instructions executed.
// It is exact for code without branches and coarse for loops with many
// branches inside: a Go function compiled to wasm is one loop around a
// br_table dispatch, and every iteration of a Go loop goes round it, so each
// costs the whole function body.
//
// A charge is global.get, i64.const, i64.sub, global.set, then global.get,
// i64.const 0, i64.lt_s, if unreachable end: wazero's compiler forwards the
// stored value, so it costs one load, one store, a compare and a branch. A
// bulk operation's length is kept in one i32 local appended to the
// function's locals; no other local is added.
//
// A module with a start function is refused: fuel is 0 until the host sets
// it after instantiation, so the start function would always trap. Go and
// TinyGo reactors export _initialize instead. Debug sections that refer to
// code offsets (DWARF) are kept as they are and go stale.
//
// Version is part of the host fingerprint: any change to the cost model, or
// to where charges are placed, changes fuel figures and trap points, and must
// bump it. This package must never parse or encode the binary format itself
// (host/wasmbin does), and must never make its output depend on anything but
// the input bytes.
package meter
