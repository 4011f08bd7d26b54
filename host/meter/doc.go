// Package meter injects deterministic fuel metering and a deterministic call
// stack limit into an import-free WebAssembly module, so that the host can
// bound the work and the recursion of any call without wall-clock limits: a
// call that runs out of fuel or of stack traps at the same instruction on
// every engine, replica and replay.
//
// Inject appends two mutable i64 globals. The first, exported as
// "reprise_fuel" (initial value 0), is the fuel: the host sets it to the
// budget before a call and reads it after; fuel used is budget minus
// remaining. Every charge subtracts its cost from the global and traps
// (unreachable) when the result is negative, so after an out-of-fuel trap
// the global holds the negative value of the failing charge, which tells it
// apart from every other trap. The second, exported as "reprise_stack", is
// the call stack left (see below); it is negative after a call failed for
// want of stack. No import is added and no existing function, global or
// local index changes; a type may be appended (see below).
//
// Cost model, in units of fuel (unchanged since Version 1):
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
// Call stack model (Version 2). wazero's engines run out of stack at
// different depths (the interpreter at 2,000 frames, the compiler when its
// stack reaches 400 MB), so an unbounded or merely deep recursion would end
// differently, or not at all, depending on the engine. Instead every
// function takes a frame of FrameUnits plus one unit per parameter, per
// local and per instruction of its body (a call counts once per result it
// returns, at least once) from the stack counter on entry, after its entry
// charge of fuel, and traps if the counter goes negative; it gives the frame
// back when it returns. The instruction count bounds the height of the
// operand stack, so a frame's units bound the values the interpreter keeps
// for it, and keeps the compiler's frames for the same code far inside its
// 400 MB (the tests take recursions with 50,000 locals or 20,000 live
// operands per frame to the limit on both engines). A call
// from the host has StackUnits: at most MaxFrames frames (1,900, below the
// interpreter's 2,000), and fewer when functions are large, which keeps the
// host memory a recursion can use to StackUnits values (about 60 MB). The
// body of each function runs inside an added block with the function's
// results (its type is appended to the type section if the module has
// none), so a branch to the function's own label reaches the point where
// the frame is given back; a return gives it back just before returning.
//
// Tables. Table elements live in host memory, outside the cap on linear
// memory, and table.grow could otherwise add up to 2^32 of them. Inject
// gives every table a maximum so that all of them together never hold more
// than TableElements (1,048,576): the room above the sum of the minimums is
// shared equally, and a smaller declared maximum is kept. A module whose
// tables start with more than that is refused.
//
// Code that names a global the module does not have is refused: it is
// invalid, but would become valid once the metering globals are appended,
// and could then set its own fuel.
//
// The result is a deterministic upper bound of the instructions executed.
// It is exact for code without branches and coarse for loops with many
// branches inside: a Go function compiled to wasm is one loop around a
// br_table dispatch, and every iteration of a Go loop goes round it, so each
// costs the whole function body.
//
// A charge is global.get, i64.const, i64.sub, global.set, then global.get,
// i64.const 0, i64.lt_s, if unreachable end: wazero's compiler forwards the
// stored value, so it costs one load, one store, a compare and a branch. The
// stack counter is taken the same way on entry and given back with
// global.get, i64.const, i64.add, global.set. A bulk operation's length is
// kept in one i32 local appended to the function's locals; no other local is
// added.
//
// A module with a start function is refused: fuel is 0 until the host sets
// it after instantiation, so the start function would always trap. Go and
// TinyGo reactors export _initialize instead. Debug sections that refer to
// code offsets (DWARF) are kept as they are and go stale.
//
// Version is part of the host fingerprint: any change to the cost model, the
// stack model, the table cap, or to where charges are placed, changes fuel
// figures or trap points, and must bump it. This package must never parse or
// encode the binary format itself (host/wasmbin does), and must never make
// its output depend on anything but the input bytes.
package meter
