// Package host runs catalog modules in wazero as deterministic reducers. It
// admits a module (size, zero imports, the abi exports and version, memory,
// table and local-count limits, no start function), rewrites every float
// operation that can produce a NaN so that its NaN is the canonical one
// (host/nan), injects fuel and call-stack metering (host/meter: both
// engines stop a deep recursion at the same instruction, and all tables
// together are capped), compiles it once (with an on-disk compilation cache),
// reads its descriptor without running any transition, and applies
// transitions through a Reducer that keeps the native read model
// (host/state) and the state hash in step with the guest.
//
// A guest trap, running out of fuel, of call stack or of memory rejects that one
// transition, leaves state unchanged, and retires the instance: the next
// transition runs on a fresh instance rebuilt from committed state.
//
// It must never let a module reach anything but its own memory, never reuse
// an instance that failed, and never make an outcome depend on wall-clock
// time: the per-transition limit is fuel, which is deterministic.
package host
