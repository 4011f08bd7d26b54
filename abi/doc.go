// Package abi is the contract between the Reprise host and a catalog module:
// export names, the ABI version, the binary encoding of requests, results and
// state, the catalog descriptor, and the rejection codes with their
// client-visible texts.
//
// It compiles natively and for GOOS=wasip1, and both sides import it, so the
// contract has exactly one source. It must never depend on the host, the
// guest SDK or anything with side effects: encoding and decoding only.
package abi
