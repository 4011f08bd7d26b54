// Package seal turns a module that imports WASI preview1 functions (as Go's
// GOOS=wasip1 builds always do) into a module with no imports at all, by
// replacing every import with an internal function of fixed, deterministic
// behaviour: a counter for the clock, a seeded generator for randomness,
// stdout and stderr that swallow output, no files, no arguments, no
// environment.
//
// It owns that rewrite and the "reprise.sealed" record it leaves in the
// module. It must never let a sealed module reach anything outside its own
// memory, never depend on time, randomness or map order, and never accept an
// import it cannot virtualise: anything but a preview1 function with its
// exact signature is refused, every offender named.
package seal
