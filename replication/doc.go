// Package replication is the WAL shipping and replica recovery protocol of
// REPLICATION.md, written as two pure, deterministic state machines: Primary
// (one per epoch on the node that writes) and Replica (on every other node).
// Each takes events through Step (local facts, messages from the peer, Tick
// for the passage of time) and hands back, through Ready, the commands its
// executor must carry out in order: ship records, run barriers, pin and
// unpin WAL ranges, truncate or rebuild a replica, acknowledge or fail client
// writes, step down. Messages between the two engines are values that are
// both a command of one and an event of the other, so a transport only moves
// them.
//
// It owns senders per stable replica ID, recovery sessions with frozen
// targets and budgets, classification on reconnect, epoch fencing, barriers,
// the durability modes and the choice of a successor primary. It never does
// I/O, starts goroutines, reads the clock or randomness, or iterates a map
// into its output; time enters only as Tick. It never decides identity or
// epochs (the control plane does), never lets a replica decide its own
// recovery, never lets a replica store or apply a record from a stale epoch,
// and never leaves a WAL pin held after the session that took it has ended.
package replication
