// Package transport carries replication between Reprise nodes over TCP: the
// messages of package replication, the records of a Ship and the bytes of a
// rebuild's snapshot, as length-prefixed frames on one connection per
// session. A connection opens with a handshake that checks the protocol
// version and the cluster name and has each side prove, without sending it,
// that it holds the shared token.
//
// It owns framing, the wire encoding of every message, the handshake, and
// the checks that make what Recv returns well formed: every record's checksum
// and a Ship's records exactly From..Through, in order, with the epochs the
// Ship names. It never interprets a message beyond that, never decides
// anything about sessions, epochs or recovery (the replication engines do),
// never retries or reconnects on its own, and never panics on bytes from the
// network: anything malformed closes the connection with an error that names
// what was wrong.
package transport
