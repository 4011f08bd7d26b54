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
// # Catalog versions
//
// The WAL decides which catalog is in force. A fresh data directory starts
// with an activation record of the configured catalog as record 1; every
// transition record names the catalog that produced it; Activate appends
// another activation record ("from here on, catalog H"), and recovery
// follows the snapshot's catalog and the activation records after it
// (replaying them with host/replay, the same code that replays records
// offline). Activate compiles and instantiates the new catalog first, then
// swaps it in through the writer's queue, so the swap is a pause between
// two transitions: the state is handed over (the new catalog imports it,
// running its declared migration once), checked, and the activation record
// made durable before the new catalog serves anything. A catalog that
// cannot take the state changes nothing. Rolling back is activating the
// previous catalog again.
//
// In-flight proposals: the writer takes requests in queue order. Every
// proposal that entered the queue before the activation request is applied
// under the old catalog (in a batch made durable before the swap); every
// proposal queued after it is applied under the new one, with the new
// catalog's transitions and guards (a transition the new catalog lacks is
// rejected as unknown). A proposal carrying an expected state hash computed
// before a migrating swap is refused as a conflict. Idempotency keys span
// catalogs: a key applied under the old catalog is answered as a duplicate
// under the new one.
//
// It must never acknowledge a proposal before its record is durable, never
// let a reader see state that is not durable, never serve state whose
// recorded hashes did not verify, and never run a record under a catalog
// other than the one it names.
package executor
