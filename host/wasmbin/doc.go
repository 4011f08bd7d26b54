// Package wasmbin parses and re-encodes WebAssembly binary modules and decodes
// function bodies instruction by instruction.
//
// It owns the binary format (MVP plus sign-extension, saturating truncation,
// bulk memory, reference types and multi-value) and nothing else: it does not
// validate types, instantiate or run code. Tools that rewrite modules (the
// sealer, the fuel meter) build on it.
//
// Its input arrives over HTTP, so it must never panic, never allocate from a
// declared count that the remaining bytes cannot hold, and must name the
// section and byte offset of every malformation it reports.
package wasmbin
