// Package snapshot owns atomic, checksummed snapshots of reducer state: one
// file per WAL index in a directory, written to a temp file, fsynced, renamed
// into place and made durable with a directory fsync, then pruned to the
// newest few. It verifies a snapshot's SHA-256 before handing out its payload,
// skips a corrupt snapshot in favour of an older one, and moves snapshots
// between nodes byte for byte (Raw on the primary, Install on a replica).
//
// The payload is an opaque stream produced and consumed by the host; this
// package never interprets it and never holds it in memory. It must never
// delete the newest valid snapshot, never leave a partly written file under a
// snapshot name, and never return a payload whose checksum it has not checked.
package snapshot
