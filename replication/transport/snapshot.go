package transport

import (
	"errors"
	"fmt"
	"io"

	"github.com/reprise-dev/reprise/replication"
)

// snapshotChunkSize is the payload of one SnapshotChunk: large enough that
// framing costs nothing, small enough that Ships and acks interleaved with a
// rebuild's stream are not held up for long.
const snapshotChunkSize = 256 << 10

// SendSnapshot streams the snapshot file r yields (Store.Raw) to the peer as
// SnapshotChunks of session, then a SnapshotEnd with the number of bytes sent.
// If reading r fails, it ends the stream with a SnapshotEnd whose Err says
// why (the receiver then discards what it got) and returns the read error.
// progress, when not nil, is called with the running total after each chunk.
// Other Sends may go on concurrently: their envelopes interleave between
// chunks.
func SendSnapshot(c *Conn, session replication.SessionID, r io.Reader, progress func(sent uint64)) (uint64, error) {
	size := min(snapshotChunkSize, c.fw.maxFrame-16)
	buf := make([]byte, size)
	var sent uint64
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			if err := c.Send(Envelope{Msg: SnapshotChunk{Session: session, Data: buf[:n]}}); err != nil {
				return sent, err
			}
			sent += uint64(n)
			if progress != nil {
				progress(sent)
			}
		}
		switch {
		case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
			return sent, c.Send(Envelope{Msg: SnapshotEnd{Session: session, Size: sent}})
		case rerr != nil:
			err := fmt.Errorf("transport: reading snapshot of session %d after %d bytes: %w", session, sent, rerr)
			if serr := c.Send(Envelope{Msg: SnapshotEnd{Session: session, Size: sent, Err: rerr.Error()}}); serr != nil {
				return sent, errors.Join(err, serr)
			}
			return sent, err
		}
	}
}

// errReceiverClosed is what a Deliver gets once the reading side is done.
var errReceiverClosed = errors.New("transport: snapshot receiver closed")

// SnapshotReceiver turns one session's SnapshotChunk and SnapshotEnd
// envelopes into the byte stream Store.Install reads. The goroutine that
// calls Recv hands them to Deliver while another runs Install on the
// receiver. Deliver returns once Install has taken the bytes: a slow disk
// holds the sender back through TCP rather than filling memory.
type SnapshotReceiver struct {
	session replication.SessionID
	pr      *io.PipeReader
	pw      *io.PipeWriter
	got     uint64
	ended   bool
}

// NewSnapshotReceiver returns a receiver for the snapshot of session.
func NewSnapshotReceiver(session replication.SessionID) *SnapshotReceiver {
	pr, pw := io.Pipe()
	return &SnapshotReceiver{session: session, pr: pr, pw: pw}
}

// Read reads the snapshot bytes. It returns io.EOF after a SnapshotEnd whose
// Size matched what arrived, and an error after any other end.
func (s *SnapshotReceiver) Read(p []byte) (int, error) { return s.pr.Read(p) }

// Received is the number of snapshot bytes delivered so far.
func (s *SnapshotReceiver) Received() uint64 { return s.got }

// Deliver hands over a SnapshotChunk or SnapshotEnd received for the
// session. It returns done after the SnapshotEnd, and an error when the
// stream failed: the sender gave up (SnapshotEnd.Err), Size does not match
// the bytes delivered, a message of another session or after the end
// arrived, or the reading side was closed. A failure also reaches the reader.
func (s *SnapshotReceiver) Deliver(msg any) (done bool, err error) {
	if s.ended {
		return true, fmt.Errorf("%w: snapshot message for session %d after its end", ErrProtocol, s.session)
	}
	switch m := msg.(type) {
	case SnapshotChunk:
		if m.Session != s.session {
			return false, s.fail(fmt.Errorf("%w: snapshot chunk of session %d in the stream of session %d", ErrProtocol, m.Session, s.session))
		}
		n, err := s.pw.Write(m.Data)
		s.got += uint64(n)
		return false, err
	case SnapshotEnd:
		s.ended = true
		switch {
		case m.Session != s.session:
			return true, s.fail(fmt.Errorf("%w: snapshot end of session %d in the stream of session %d", ErrProtocol, m.Session, s.session))
		case m.Err != "":
			return true, s.fail(fmt.Errorf("transport: sender abandoned the snapshot of session %d after %d bytes: %s", s.session, m.Size, m.Err))
		case m.Size != s.got:
			return true, s.fail(fmt.Errorf("%w: snapshot of session %d ended at %d bytes but %d arrived", ErrProtocol, s.session, m.Size, s.got))
		}
		return true, s.pw.Close()
	}
	return false, fmt.Errorf("transport: %T is not part of a snapshot stream", msg)
}

func (s *SnapshotReceiver) fail(err error) error {
	s.pw.CloseWithError(err)
	return err
}

// Abort ends the stream with err for the reader (the connection broke, the
// session was superseded).
func (s *SnapshotReceiver) Abort(err error) {
	s.ended = true
	s.pw.CloseWithError(err)
}

// Close ends the reading side. Call it once Install has returned, so that a
// Deliver pending or still to come fails instead of waiting for a reader.
func (s *SnapshotReceiver) Close() error { return s.pr.CloseWithError(errReceiverClosed) }
