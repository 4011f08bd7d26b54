package transport

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/reprise-dev/reprise/replication"
	"github.com/reprise-dev/reprise/wal"
)

// Envelope is one unit on the wire.
type Envelope struct {
	// Msg is one of the replication message values (not pointers):
	// replication.Connect, Ship, Barrier, Truncate, Rebuild, ReplicaUp, Hello,
	// Ack, BarrierAck, Truncated, Installed, RebuildFailed, EpochMismatch; or
	// one of this package's SnapshotChunk, SnapshotEnd.
	Msg any
	// Records are the records of a Ship (From..Through, in order); nil
	// otherwise.
	Records []wal.Record
}

// frameHeaderLen is the 4-byte big-endian payload length and the kind byte
// in front of every frame's payload.
const frameHeaderLen = 5

// keepReadBuffer bounds the read buffer a connection keeps between frames:
// larger frames (big records) get a buffer of their own, so one large record
// does not pin its size in memory for the life of the connection.
const keepReadBuffer = 1 << 20

// frameWriter encodes envelopes as frames into a buffered writer. It does not
// flush: the caller flushes once per envelope.
type frameWriter struct {
	w        *bufio.Writer
	maxFrame int
	scratch  []byte
	hdr      [frameHeaderLen]byte
}

// write buffers env. An error with broken false was found before anything
// was written, and the stream is intact; with broken true, part of the
// envelope may be written and the stream can no longer be used.
func (fw *frameWriter) write(env Envelope) (broken bool, err error) {
	var extra []byte // bytes sent after the encoded prefix, from the caller's slice
	switch m := env.Msg.(type) {
	case replication.Ship:
		if err := checkShip(m, env.Records, "send"); err != nil {
			return false, err
		}
	case SnapshotChunk:
		extra = m.Data
	}
	if _, isShip := env.Msg.(replication.Ship); !isShip && len(env.Records) > 0 {
		return false, fmt.Errorf("transport: cannot send %T with %d records: records travel only with a Ship", env.Msg, len(env.Records))
	}
	kind, payload, err := appendMessage(fw.scratch[:0], env.Msg)
	fw.scratch = payload[:0]
	if err != nil {
		return false, err
	}
	if size := len(payload) + len(extra); size > fw.maxFrame {
		return false, fmt.Errorf("%w: %s of %d bytes is over the %d-byte frame limit", ErrFrameTooLarge, kindName(kind), size, fw.maxFrame)
	}
	if err := fw.frame(kind, payload, extra); err != nil {
		return true, err
	}
	for i := range env.Records {
		r := &env.Records[i]
		b, err := r.MarshalBinary()
		if err != nil {
			return true, fmt.Errorf("transport: ship %d..%d cannot be sent past record %d: %w", r.Index-uint64(i), r.Index-uint64(i)+uint64(len(env.Records))-1, r.Index, err)
		}
		if len(b) > fw.maxFrame {
			return true, fmt.Errorf("%w: record %d encodes to %d bytes, over the %d-byte frame limit", ErrFrameTooLarge, r.Index, len(b), fw.maxFrame)
		}
		if err := fw.frame(kindRecord, b, nil); err != nil {
			return true, err
		}
	}
	return false, nil
}

func (fw *frameWriter) frame(kind byte, payload, extra []byte) error {
	binary.BigEndian.PutUint32(fw.hdr[:4], uint32(len(payload)+len(extra)))
	fw.hdr[4] = kind
	if _, err := fw.w.Write(fw.hdr[:]); err != nil {
		return err
	}
	if _, err := fw.w.Write(payload); err != nil {
		return err
	}
	_, err := fw.w.Write(extra)
	return err
}

// checkShip checks that records are exactly the records m describes:
// From..Through in order, the first of epoch FirstEpoch, the last of
// LastEpoch, epochs never decreasing (as in a WAL). The replica engine fences
// on the Ship's epochs, so they must be the records' own.
func checkShip(m replication.Ship, records []wal.Record, side string) error {
	if m.From == 0 || m.Through < m.From {
		return fmt.Errorf("transport: cannot %s ship %d..%d: not a range of records", side, m.From, m.Through)
	}
	if n := m.Through - m.From + 1; uint64(len(records)) != n {
		return fmt.Errorf("transport: cannot %s ship %d..%d: it has %d records, want %d", side, m.From, m.Through, len(records), n)
	}
	for i := range records {
		if err := checkShipRecord(m, &records[i], uint64(i), records); err != nil {
			return fmt.Errorf("transport: cannot %s %w", side, err)
		}
	}
	return nil
}

// checkShipRecord checks the record at position i of a ship (prev records
// are those before it).
func checkShipRecord(m replication.Ship, r *wal.Record, i uint64, prev []wal.Record) error {
	want := m.From + i
	switch {
	case r.Index != want:
		return fmt.Errorf("ship %d..%d: record %d of the ship holds index %d, want %d", m.From, m.Through, i+1, r.Index, want)
	case r.Kind == 0:
		return fmt.Errorf("ship %d..%d: record %d has kind 0", m.From, m.Through, r.Index)
	case i == 0 && r.Epoch != m.FirstEpoch:
		return fmt.Errorf("ship %d..%d: first record carries epoch %d, the ship says FirstEpoch %d", m.From, m.Through, r.Epoch, m.FirstEpoch)
	case i > 0 && r.Epoch < prev[i-1].Epoch:
		return fmt.Errorf("ship %d..%d: record %d carries epoch %d after a record of epoch %d", m.From, m.Through, r.Index, r.Epoch, prev[i-1].Epoch)
	case r.Index == m.Through && r.Epoch != m.LastEpoch:
		return fmt.Errorf("ship %d..%d: last record carries epoch %d, the ship says LastEpoch %d", m.From, m.Through, r.Epoch, m.LastEpoch)
	}
	return nil
}

// frameReader decodes envelopes from a buffered reader.
type frameReader struct {
	r        *bufio.Reader
	maxFrame int
	buf      []byte
	hdr      [frameHeaderLen]byte
}

// next reads one envelope. It returns io.EOF only when the stream ends
// cleanly between envelopes; any other error means the stream is unusable.
func (fr *frameReader) next() (Envelope, error) {
	kind, payload, err := fr.frame()
	if err != nil {
		return Envelope{}, err
	}
	if kind == kindRecord {
		return Envelope{}, fmt.Errorf("%w: record frame outside a Ship", ErrProtocol)
	}
	msg, err := decodeMessage(kind, payload)
	if err != nil {
		return Envelope{}, err
	}
	ship, ok := msg.(replication.Ship)
	if !ok {
		return Envelope{Msg: msg}, nil
	}
	if ship.From == 0 || ship.Through < ship.From {
		return Envelope{}, fmt.Errorf("%w: ship %d..%d is not a range of records", ErrProtocol, ship.From, ship.Through)
	}
	// The count comes from the peer: grow as records arrive rather than
	// trusting it for one allocation.
	records := make([]wal.Record, 0, min(ship.Through-ship.From+1, 1024))
	for i := uint64(0); ship.From+i <= ship.Through && ship.From+i != 0; i++ {
		kind, payload, err := fr.frame()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return Envelope{}, fmt.Errorf("transport: ship %d..%d broken before record %d: %w", ship.From, ship.Through, ship.From+i, err)
		}
		if kind != kindRecord {
			return Envelope{}, fmt.Errorf("%w: ship %d..%d: %s frame where record %d was due", ErrProtocol, ship.From, ship.Through, kindName(kind), ship.From+i)
		}
		r, err := wal.UnmarshalRecord(payload)
		if err != nil {
			return Envelope{}, fmt.Errorf("%w: ship %d..%d: record %d: %w", ErrProtocol, ship.From, ship.Through, ship.From+i, err)
		}
		if err := checkShipRecord(ship, &r, i, records); err != nil {
			return Envelope{}, fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		records = append(records, r)
	}
	return Envelope{Msg: ship, Records: records}, nil
}

// frame reads one frame. The payload is valid until the next call.
func (fr *frameReader) frame() (byte, []byte, error) {
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, fmt.Errorf("transport: stream ended inside a frame header: %w", err)
		}
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(fr.hdr[:4])
	kind := fr.hdr[4]
	if !knownKind(kind) {
		return 0, nil, fmt.Errorf("%w: frame of unknown kind %d (%d bytes)", ErrProtocol, kind, n)
	}
	if uint64(n) > uint64(fr.maxFrame) {
		return 0, nil, fmt.Errorf("%w: %s frame of %d bytes is over the %d-byte limit", ErrFrameTooLarge, kindName(kind), n, fr.maxFrame)
	}
	var buf []byte
	switch {
	case int(n) <= cap(fr.buf):
		buf = fr.buf[:n]
	case n <= keepReadBuffer:
		fr.buf = make([]byte, max(n, 64<<10))
		buf = fr.buf[:n]
	default:
		buf = make([]byte, n)
	}
	if _, err := io.ReadFull(fr.r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, fmt.Errorf("transport: stream ended inside a %d-byte %s frame: %w", n, kindName(kind), err)
	}
	return kind, buf, nil
}
