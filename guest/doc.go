// Package guest is the SDK a catalog author imports. A catalog declares its
// name and version, its state fields and its transitions (each a guard and a
// mutation) in plain Go; the SDK supplies the wasm exports of the abi
// contract, keeps the state inside the module between calls, rolls back
// everything a rejected transition wrote, and reports each accepted
// transition's delta so that a transition costs in proportion to what it
// touches.
//
// The same catalog code runs natively through Runner, so catalog tests are
// ordinary `go test` and the host can run a catalog natively and in wasm
// side by side.
//
// It must never reach the outside world: no clock, no randomness, no I/O, no
// dependence on map iteration order in anything it returns.
package guest
