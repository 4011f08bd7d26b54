// Package replication will ship the primary's WAL to replicas and recover
// lagging or returning replicas (see REPLICATION.md in the design notes):
// a pure state machine of senders and sessions (events in, decisions and
// commands out) with transport, disk and timers at its edges.
//
// It holds no code yet. It must never decide identity (the control plane
// does), never let a replica decide its own recovery, and never apply a
// record from a stale epoch.
package replication
