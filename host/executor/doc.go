// Package executor is the single writer of a Reprise node. It recovers the
// node's state at start (newest valid snapshot plus the WAL tail, verifying
// every recorded state hash), then applies proposals one at a time in WAL
// order: concurrent submitters are grouped into batches, each batch's
// accepted records are made durable with one WAL append (one fsync), and
// only then is any submitter of the batch answered. It also owns
// exactly-once (idempotency keys), optimistic concurrency (expected state
// hash), the monotonic HLC rule, periodic snapshots and WAL compaction.
//
// Rejected proposals are not written to the WAL: a rejection changes no
// state, so replay, replication and storage stay proportional to what
// actually changed. They are counted and logged instead.
//
// It must never acknowledge a proposal before its record is durable, never
// let a reader see state that is not durable, and never serve state whose
// recorded hashes did not verify.
package executor
