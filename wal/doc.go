// Package wal is Reprise's write-ahead log: one checksummed record per
// accepted transition (and per catalog activation), stored in BadgerDB under
// its 8-byte big-endian index so that Badger's key order is log order.
//
// It owns the record encoding (replication ships encoded records as they
// are), durable batch appends (one Badger transaction, hence one fsync, per
// batch), head truncation for retention, tail truncation and reset for
// replicas, pins that hold records against retention, the idempotency table
// that makes proposals exactly-once across restarts, and small durable
// metadata.
//
// It never interprets a transition, runs a reducer, or decides which index is
// committed or which epoch is current: those belong to host/ and
// replication/. It never returns a record that fails its checksum or sits
// under the wrong index.
package wal
