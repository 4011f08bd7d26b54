package wal

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound: the index is above LastIndex (or 0).
	ErrNotFound = errors.New("wal: record not found")
	// ErrCompacted: the index is below FirstIndex; head truncation or a reset
	// removed it.
	ErrCompacted = errors.New("wal: record compacted")
	// ErrClosed: the Log was closed.
	ErrClosed = errors.New("wal: log closed")
	// ErrFailed: an earlier commit failed, so what is durable is unknown; the
	// Log refuses writes until it is reopened, which reloads the durable truth.
	ErrFailed = errors.New("wal: log failed on an earlier write; reopen it")
	// ErrNotContiguous: an appended record's index does not continue the log.
	ErrNotContiguous = errors.New("wal: index not contiguous")
	// ErrEpochRegression: an appended record's epoch is lower than the epoch
	// of the record before it.
	ErrEpochRegression = errors.New("wal: epoch regression")
	// ErrDuplicateIdemKey: an appended record's idempotency key is already
	// recorded (or appears twice in the batch).
	ErrDuplicateIdemKey = errors.New("wal: duplicate idempotency key")
)

// CorruptError reports a record (or an idempotency entry or metadata value)
// that cannot be trusted: checksum mismatch, truncation, malformed field, a
// record stored under another index, or a record missing inside the log.
// Index is the log index concerned, or 0 when it is unknown (a standalone
// UnmarshalRecord of bytes whose checksum does not match).
type CorruptError struct {
	Index  uint64
	Reason string
}

func (e *CorruptError) Error() string {
	if e.Index == 0 {
		return "wal: corrupt record: " + e.Reason
	}
	return fmt.Sprintf("wal: record %d is corrupt: %s", e.Index, e.Reason)
}

// VersionError reports a record whose checksum is valid but whose format
// version is newer than this build can read. It is not corruption: a newer
// build wrote it.
type VersionError struct {
	Index   uint64
	Version uint8
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("wal: record %d uses format version %d; this build reads versions 1 to %d",
		e.Index, e.Version, RecordFormatVersion)
}
