package transport

import (
	"encoding/binary"
	"fmt"

	"github.com/reprise-dev/reprise/replication"
)

// SnapshotChunk carries the next bytes of a rebuild's snapshot file (as
// Store.Raw yields them).
type SnapshotChunk struct {
	Session replication.SessionID
	Data    []byte
}

// SnapshotEnd ends the snapshot stream: Size bytes were sent in all. Err
// non-empty means the sender failed and the receiver must discard what it
// got.
type SnapshotEnd struct {
	Session replication.SessionID
	Size    uint64
	Err     string
}

// Frame kinds. A frame is a 4-byte big-endian payload length, a kind byte
// and the payload. Kinds are part of the wire format: never renumber one.
const (
	kindConnect       byte = 10
	kindShip          byte = 11
	kindBarrier       byte = 12
	kindTruncate      byte = 13
	kindRebuild       byte = 14
	kindReplicaUp     byte = 15
	kindHello         byte = 16
	kindAck           byte = 17
	kindBarrierAck    byte = 18
	kindTruncated     byte = 19
	kindInstalled     byte = 20
	kindRebuildFailed byte = 21
	kindEpochMismatch byte = 22
	kindSnapshotChunk byte = 30
	kindSnapshotEnd   byte = 31
	// kindRecord is one record of the Ship whose header came before it, as
	// wal.Record.MarshalBinary encodes it.
	kindRecord byte = 40
)

func kindName(k byte) string {
	switch k {
	case kindConnect:
		return "Connect"
	case kindShip:
		return "Ship"
	case kindBarrier:
		return "Barrier"
	case kindTruncate:
		return "Truncate"
	case kindRebuild:
		return "Rebuild"
	case kindReplicaUp:
		return "ReplicaUp"
	case kindHello:
		return "Hello"
	case kindAck:
		return "Ack"
	case kindBarrierAck:
		return "BarrierAck"
	case kindTruncated:
		return "Truncated"
	case kindInstalled:
		return "Installed"
	case kindRebuildFailed:
		return "RebuildFailed"
	case kindEpochMismatch:
		return "EpochMismatch"
	case kindSnapshotChunk:
		return "SnapshotChunk"
	case kindSnapshotEnd:
		return "SnapshotEnd"
	case kindRecord:
		return "record"
	}
	return fmt.Sprintf("unknown kind %d", k)
}

func knownKind(k byte) bool {
	return (k >= kindConnect && k <= kindEpochMismatch) ||
		k == kindSnapshotChunk || k == kindSnapshotEnd || k == kindRecord
}

// appendMessage appends the payload of msg to b and returns its frame kind.
// Every field is encoded in declaration order: integers as uvarints, strings
// as a uvarint length and the bytes, hashes as their 32 bytes, booleans as
// one byte 0 or 1. A SnapshotChunk's Data is not appended (the writer sends
// it straight from the caller's slice); its payload here is the prefix.
func appendMessage(b []byte, msg any) (byte, []byte, error) {
	switch m := msg.(type) {
	case replication.Connect:
		b = appendString(b, string(m.Replica))
		b = appendString(b, m.Endpoint)
		b = appendUints(b, uint64(m.Session), m.Epoch, m.Committed)
		return kindConnect, b, nil
	case replication.Ship:
		b = appendString(b, string(m.Replica))
		b = appendUints(b, uint64(m.Session), m.Epoch, m.From, m.Through, m.FirstEpoch, m.LastEpoch, m.Committed)
		return kindShip, b, nil
	case replication.Barrier:
		b = appendString(b, string(m.Replica))
		b = appendUints(b, uint64(m.Session), m.Epoch, uint64(m.ID), m.Index, m.Committed)
		return kindBarrier, b, nil
	case replication.Truncate:
		b = appendString(b, string(m.Replica))
		b = appendUints(b, uint64(m.Session), m.Epoch, m.After)
		return kindTruncate, b, nil
	case replication.Rebuild:
		b = appendString(b, string(m.Replica))
		b = appendUints(b, uint64(m.Session), m.Epoch, m.SnapshotIndex, m.SnapshotEpoch)
		b = append(b, m.StateHash[:]...)
		b = appendUints(b, m.Target)
		return kindRebuild, b, nil
	case replication.ReplicaUp:
		b = appendString(b, string(m.Replica))
		b = appendString(b, m.Endpoint)
		return kindReplicaUp, b, nil
	case replication.Hello:
		b = appendString(b, string(m.Replica))
		b = appendUints(b, uint64(m.Session), m.Epoch, m.Durable, m.DurableEpoch, m.Applied, m.KnownCommitted, m.LineageEpoch)
		b = appendBool(b, m.NeedsRebuild)
		return kindHello, b, nil
	case replication.Ack:
		b = appendString(b, string(m.Replica))
		b = appendUints(b, uint64(m.Session), m.Epoch, m.Received)
		return kindAck, b, nil
	case replication.BarrierAck:
		b = appendString(b, string(m.Replica))
		b = appendUints(b, uint64(m.Session), m.Epoch, uint64(m.ID), m.Durable)
		b = appendBool(b, m.HasDurable)
		return kindBarrierAck, b, nil
	case replication.Truncated:
		b = appendString(b, string(m.Replica))
		b = appendUints(b, uint64(m.Session), m.Epoch, m.LastIndex, m.LastEpoch)
		return kindTruncated, b, nil
	case replication.Installed:
		b = appendString(b, string(m.Replica))
		b = appendUints(b, uint64(m.Session), m.Epoch, m.Index)
		b = append(b, m.StateHash[:]...)
		return kindInstalled, b, nil
	case replication.RebuildFailed:
		b = appendString(b, string(m.Replica))
		b = appendUints(b, uint64(m.Session), m.Epoch)
		b = appendString(b, m.Reason)
		return kindRebuildFailed, b, nil
	case replication.EpochMismatch:
		b = appendString(b, string(m.Replica))
		b = appendUints(b, uint64(m.Session), m.Epoch)
		return kindEpochMismatch, b, nil
	case SnapshotChunk:
		b = appendUints(b, uint64(m.Session))
		return kindSnapshotChunk, b, nil
	case SnapshotEnd:
		b = appendUints(b, uint64(m.Session), m.Size)
		b = appendString(b, m.Err)
		return kindSnapshotEnd, b, nil
	case nil:
		return 0, b, fmt.Errorf("transport: cannot send an envelope without a message")
	}
	return 0, b, fmt.Errorf("transport: cannot send %T: not a replication message (send the value, not a pointer)", msg)
}

// decodeMessage decodes the payload of a frame of kind k (any kind but
// kindRecord). Nothing of the result aliases payload.
func decodeMessage(k byte, payload []byte) (any, error) {
	d := decoder{b: payload}
	var msg any
	switch k {
	case kindConnect:
		var m replication.Connect
		m.Replica = replication.ReplicaID(d.string("Replica"))
		m.Endpoint = d.string("Endpoint")
		m.Session = replication.SessionID(d.uint("Session"))
		m.Epoch = d.uint("Epoch")
		m.Committed = d.uint("Committed")
		msg = m
	case kindShip:
		var m replication.Ship
		m.Replica = replication.ReplicaID(d.string("Replica"))
		m.Session = replication.SessionID(d.uint("Session"))
		m.Epoch = d.uint("Epoch")
		m.From = d.uint("From")
		m.Through = d.uint("Through")
		m.FirstEpoch = d.uint("FirstEpoch")
		m.LastEpoch = d.uint("LastEpoch")
		m.Committed = d.uint("Committed")
		msg = m
	case kindBarrier:
		var m replication.Barrier
		m.Replica = replication.ReplicaID(d.string("Replica"))
		m.Session = replication.SessionID(d.uint("Session"))
		m.Epoch = d.uint("Epoch")
		m.ID = replication.BarrierID(d.uint("ID"))
		m.Index = d.uint("Index")
		m.Committed = d.uint("Committed")
		msg = m
	case kindTruncate:
		var m replication.Truncate
		m.Replica = replication.ReplicaID(d.string("Replica"))
		m.Session = replication.SessionID(d.uint("Session"))
		m.Epoch = d.uint("Epoch")
		m.After = d.uint("After")
		msg = m
	case kindRebuild:
		var m replication.Rebuild
		m.Replica = replication.ReplicaID(d.string("Replica"))
		m.Session = replication.SessionID(d.uint("Session"))
		m.Epoch = d.uint("Epoch")
		m.SnapshotIndex = d.uint("SnapshotIndex")
		m.SnapshotEpoch = d.uint("SnapshotEpoch")
		m.StateHash = d.hash("StateHash")
		m.Target = d.uint("Target")
		msg = m
	case kindReplicaUp:
		var m replication.ReplicaUp
		m.Replica = replication.ReplicaID(d.string("Replica"))
		m.Endpoint = d.string("Endpoint")
		msg = m
	case kindHello:
		var m replication.Hello
		m.Replica = replication.ReplicaID(d.string("Replica"))
		m.Session = replication.SessionID(d.uint("Session"))
		m.Epoch = d.uint("Epoch")
		m.Durable = d.uint("Durable")
		m.DurableEpoch = d.uint("DurableEpoch")
		m.Applied = d.uint("Applied")
		m.KnownCommitted = d.uint("KnownCommitted")
		m.LineageEpoch = d.uint("LineageEpoch")
		m.NeedsRebuild = d.bool("NeedsRebuild")
		msg = m
	case kindAck:
		var m replication.Ack
		m.Replica = replication.ReplicaID(d.string("Replica"))
		m.Session = replication.SessionID(d.uint("Session"))
		m.Epoch = d.uint("Epoch")
		m.Received = d.uint("Received")
		msg = m
	case kindBarrierAck:
		var m replication.BarrierAck
		m.Replica = replication.ReplicaID(d.string("Replica"))
		m.Session = replication.SessionID(d.uint("Session"))
		m.Epoch = d.uint("Epoch")
		m.ID = replication.BarrierID(d.uint("ID"))
		m.Durable = d.uint("Durable")
		m.HasDurable = d.bool("HasDurable")
		msg = m
	case kindTruncated:
		var m replication.Truncated
		m.Replica = replication.ReplicaID(d.string("Replica"))
		m.Session = replication.SessionID(d.uint("Session"))
		m.Epoch = d.uint("Epoch")
		m.LastIndex = d.uint("LastIndex")
		m.LastEpoch = d.uint("LastEpoch")
		msg = m
	case kindInstalled:
		var m replication.Installed
		m.Replica = replication.ReplicaID(d.string("Replica"))
		m.Session = replication.SessionID(d.uint("Session"))
		m.Epoch = d.uint("Epoch")
		m.Index = d.uint("Index")
		m.StateHash = d.hash("StateHash")
		msg = m
	case kindRebuildFailed:
		var m replication.RebuildFailed
		m.Replica = replication.ReplicaID(d.string("Replica"))
		m.Session = replication.SessionID(d.uint("Session"))
		m.Epoch = d.uint("Epoch")
		m.Reason = d.string("Reason")
		msg = m
	case kindEpochMismatch:
		var m replication.EpochMismatch
		m.Replica = replication.ReplicaID(d.string("Replica"))
		m.Session = replication.SessionID(d.uint("Session"))
		m.Epoch = d.uint("Epoch")
		msg = m
	case kindSnapshotChunk:
		var m SnapshotChunk
		m.Session = replication.SessionID(d.uint("Session"))
		if d.err == "" && d.off < len(d.b) {
			m.Data = append([]byte(nil), d.b[d.off:]...)
		}
		d.off = len(d.b)
		msg = m
	case kindSnapshotEnd:
		var m SnapshotEnd
		m.Session = replication.SessionID(d.uint("Session"))
		m.Size = d.uint("Size")
		m.Err = d.string("Err")
		msg = m
	default:
		return nil, fmt.Errorf("%w: frame of %s", ErrProtocol, kindName(k))
	}
	if d.err != "" {
		return nil, fmt.Errorf("%w: %s frame: %s", ErrProtocol, kindName(k), d.err)
	}
	if d.off != len(d.b) {
		return nil, fmt.Errorf("%w: %s frame: %d unexpected bytes after the last field", ErrProtocol, kindName(k), len(d.b)-d.off)
	}
	return msg, nil
}

func appendUints(b []byte, vs ...uint64) []byte {
	for _, v := range vs {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// decoder reads fields from b. The first failure is kept in err and makes
// every later read a no-op, so a decode reads straight through and checks
// once at the end.
type decoder struct {
	b   []byte
	off int
	err string
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == "" {
		d.err = fmt.Sprintf(format, args...)
	}
}

func (d *decoder) uint(field string) uint64 {
	if d.err != "" {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	switch {
	case n == 0:
		d.fail("truncated in field %s", field)
		return 0
	case n < 0:
		d.fail("varint overflow in field %s", field)
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) string(field string) string {
	n := d.uint(field)
	if d.err != "" {
		return ""
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail("field %s claims %d bytes but only %d remain", field, n, len(d.b)-d.off)
		return ""
	}
	s := string(d.b[d.off : d.off+int(n)])
	d.off += int(n)
	return s
}

func (d *decoder) hash(field string) [32]byte {
	var h [32]byte
	if d.err != "" {
		return h
	}
	if len(d.b)-d.off < len(h) {
		d.fail("truncated in field %s", field)
		return h
	}
	d.off += copy(h[:], d.b[d.off:])
	return h
}

func (d *decoder) bool(field string) bool {
	if d.err != "" {
		return false
	}
	if d.off >= len(d.b) {
		d.fail("truncated in field %s", field)
		return false
	}
	v := d.b[d.off]
	d.off++
	if v > 1 {
		d.fail("field %s holds %d, not a boolean", field, v)
	}
	return v == 1
}
