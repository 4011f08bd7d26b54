// Package replay applies WAL records to a reducer: transition records by
// re-running the recorded proposal under the catalog that produced it,
// activation records by handing the state over to the catalog they name.
// It is the one way records are re-applied, used by the executor's
// recovery, by offline replay of a data directory, by online and shadow
// replays beside a running writer, and to rebuild the state at a past
// index (StateAt).
//
// Every re-applied record is checked against what the WAL recorded (result
// code, output, state hash) and a difference is reported, never repaired.
// A record is never run under a catalog other than the one it names unless
// the caller forced a catalog version for the replay; then the record's own
// catalog runs in lockstep as the reference.
//
// It must never write to the WAL or the snapshot store, never hold WAL
// records against compaction longer than one Run, and never let the state
// it reports depend on anything but the records, the catalogs and the
// engine that runs them.
package replay
