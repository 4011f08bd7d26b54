// Package state is the host's native read model of a catalog's state: the
// entries the guest reported through its deltas, kept sorted on demand, and
// the state hash, maintained incrementally.
//
// The state hash is a multiset hash (LtHash over 1024 16-bit lanes): each
// entry (field, key, value) is expanded to 2 KiB by SHA-256 then AES-256-CTR
// and added lane-wise modulo 2^16; removing an entry subtracts it. The
// published hash is SHA-256 of the lane vector. So a transition costs in
// proportion to the entries it changed, the hash depends only on the
// state's content (never on history, order or map iteration), and a
// snapshot's or replica's state can be verified on its own.
//
// It must never call the guest or do I/O: it is pure data.
package state
