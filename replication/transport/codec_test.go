package transport

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/replication"
)

// every message type, each at its zero value and at its maximum (every
// integer at its largest, every hash all ones, long strings with bytes that
// are not UTF-8, every flag set).
func allMessages() []any {
	const u = math.MaxUint64
	var h [32]byte
	for i := range h {
		h[i] = 0xff
	}
	long := strings.Repeat("\x00\xff\xc3(é", 200)
	rid := replication.ReplicaID(long)
	sid := replication.SessionID(u)
	return []any{
		replication.Connect{},
		replication.Connect{Replica: rid, Endpoint: long, Session: sid, Epoch: u, Committed: u},
		replication.Ship{},
		replication.Ship{Replica: rid, Session: sid, Epoch: u, From: u, Through: u, FirstEpoch: u, LastEpoch: u, Committed: u},
		replication.Barrier{},
		replication.Barrier{Replica: rid, Session: sid, Epoch: u, ID: replication.BarrierID(u), Index: u, Committed: u},
		replication.Truncate{},
		replication.Truncate{Replica: rid, Session: sid, Epoch: u, After: u},
		replication.Rebuild{},
		replication.Rebuild{Replica: rid, Session: sid, Epoch: u, SnapshotIndex: u, SnapshotEpoch: u, StateHash: h, Target: u},
		replication.Rebuild{StateHash: [32]byte{0: 1, 17: 0x80, 31: 0xfe}},
		replication.ReplicaUp{},
		replication.ReplicaUp{Replica: rid, Endpoint: long},
		replication.Hello{},
		replication.Hello{Replica: rid, Session: sid, Epoch: u, Durable: u, DurableEpoch: u, Applied: u, KnownCommitted: u, LineageEpoch: u, NeedsRebuild: true},
		replication.Ack{},
		replication.Ack{Replica: rid, Session: sid, Epoch: u, Received: u},
		replication.BarrierAck{},
		replication.BarrierAck{Replica: rid, Session: sid, Epoch: u, ID: replication.BarrierID(u), Durable: u, HasDurable: true},
		replication.Truncated{},
		replication.Truncated{Replica: rid, Session: sid, Epoch: u, LastIndex: u, LastEpoch: u},
		replication.Installed{},
		replication.Installed{Replica: rid, Session: sid, Epoch: u, Index: u, StateHash: h},
		replication.RebuildFailed{},
		replication.RebuildFailed{Replica: rid, Session: sid, Epoch: u, Reason: long},
		replication.EpochMismatch{},
		replication.EpochMismatch{Replica: rid, Session: sid, Epoch: u},
		SnapshotChunk{},
		SnapshotChunk{Session: sid, Data: []byte(long)},
		SnapshotEnd{},
		SnapshotEnd{Session: sid, Size: u, Err: long},
	}
}

// TestCodecRoundTrip covers the payload encoding of every message, the Ship
// header included at values no real Ship has (Send refuses those).
func TestCodecRoundTrip(t *testing.T) {
	for _, msg := range allMessages() {
		kind, payload, err := appendMessage(nil, msg)
		if err != nil {
			t.Fatalf("%#v: encode: %v", msg, err)
		}
		if c, ok := msg.(SnapshotChunk); ok {
			payload = append(payload, c.Data...)
		}
		got, err := decodeMessage(kind, payload)
		if err != nil {
			t.Fatalf("%T: decode: %v", msg, err)
		}
		if !reflect.DeepEqual(got, msg) {
			t.Errorf("%T: round trip changed it:\n got %#v\nwant %#v", msg, got, msg)
		}
		// Every proper prefix of a payload is refused, and so is a byte more.
		if _, chunk := msg.(SnapshotChunk); !chunk {
			for n := range len(payload) {
				if _, err := decodeMessage(kind, payload[:n]); !errors.Is(err, ErrProtocol) {
					t.Fatalf("%T cut to %d of %d bytes: got %v, want ErrProtocol", msg, n, len(payload), err)
				}
			}
			if _, err := decodeMessage(kind, append(payload, 0)); !errors.Is(err, ErrProtocol) {
				t.Fatalf("%T with a trailing byte: got %v, want ErrProtocol", msg, err)
			}
		}
	}
}

func TestCodecRefusesWhatIsNotAMessage(t *testing.T) {
	for _, msg := range []any{nil, &replication.Ack{}, replication.Tick{}, replication.Pin{}, "ack"} {
		if _, _, err := appendMessage(nil, msg); err == nil {
			t.Errorf("%T: encoded, want an error", msg)
		}
	}
	_, payload, _ := appendMessage(nil, replication.BarrierAck{HasDurable: true})
	payload[len(payload)-1] = 2
	if _, err := decodeMessage(kindBarrierAck, payload); !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "HasDurable") {
		t.Errorf("boolean 2: got %v, want ErrProtocol naming HasDurable", err)
	}
}

// encodeStream is what a sender puts on the wire for envs after the
// handshake.
func encodeStream(t testing.TB, envs ...Envelope) []byte {
	t.Helper()
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	fw := frameWriter{w: bw, maxFrame: defaultMaxFrame}
	for _, env := range envs {
		if _, err := fw.write(env); err != nil {
			t.Fatalf("encode %T: %v", env.Msg, err)
		}
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func frameBytes(kind byte, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
	return append(append(b, kind), payload...)
}

func readAll(b []byte, maxFrame int) ([]Envelope, error) {
	fr := frameReader{r: bufio.NewReader(bytes.NewReader(b)), maxFrame: maxFrame}
	var out []Envelope
	for {
		env, err := fr.next()
		if err != nil {
			return out, err
		}
		out = append(out, env)
	}
}

// TestDecoderRefusesGarbage feeds streams that are not valid: each must fail
// with the named error and never panic.
func TestDecoderRefusesGarbage(t *testing.T) {
	ship := encodeStream(t, testShip(5, 7, 3, 40))
	shipHeader := ship[:frameHeaderLen+int(binary.BigEndian.Uint32(ship))]
	ack := encodeStream(t, Envelope{Msg: replication.Ack{Replica: "r", Received: 9}})
	flipped := bytes.Clone(ship)
	flipped[len(flipped)-10] ^= 0x40
	_, wrongEpochHeader, _ := appendMessage(nil, replication.Ship{From: 5, Through: 7, FirstEpoch: 3, LastEpoch: 4})
	cases := []struct {
		name   string
		stream []byte
		want   error
		says   string
	}{
		{"unknown kind", frameBytes(99, []byte{1, 2, 3}), ErrProtocol, "unknown kind 99"},
		{"handshake kind zero", frameBytes(0, nil), ErrProtocol, "unknown kind 0"},
		{"oversized frame", []byte{0xff, 0xff, 0xff, 0xff, kindAck}, ErrFrameTooLarge, "over the"},
		{"record outside a ship", frameBytes(kindRecord, []byte{1, 2, 3}), ErrProtocol, "outside a Ship"},
		{"truncated message", frameBytes(kindAck, []byte{5, 'a'}), ErrProtocol, "Replica"},
		{"trailing bytes", frameBytes(kindEpochMismatch, []byte{0, 0, 0, 7}), ErrProtocol, "unexpected bytes"},
		{"ship of no records", frameBytes(kindShip, []byte{0, 0, 0, 5, 4, 0, 0, 0}), ErrProtocol, "not a range"},
		{"ship cut short", shipHeader, io.ErrUnexpectedEOF, "before record 5"},
		{"ship interrupted", append(bytes.Clone(shipHeader), ack...), ErrProtocol, "Ack frame where record 5 was due"},
		{"record corrupted", flipped, ErrProtocol, "checksum"},
		{"record out of order", append(bytes.Clone(shipHeader), ship[len(shipHeader)+frameHeaderLen+int(binary.BigEndian.Uint32(ship[len(shipHeader):])):]...), ErrProtocol, "want 5"},
		{"ship epochs lie", append(frameBytes(kindShip, wrongEpochHeader), ship[len(shipHeader):]...), ErrProtocol, "LastEpoch 4"},
		{"header cut", []byte{0, 0}, io.ErrUnexpectedEOF, "frame header"},
		{"payload cut", []byte{0, 0, 0, 9, kindAck, 1}, io.ErrUnexpectedEOF, "9-byte Ack frame"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAll(tc.stream, 1<<20)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("got %v, want %v saying %q", err, tc.want, tc.says)
			}
		})
	}
	if envs, err := readAll(append(bytes.Clone(ship), ack...), 1<<20); err != io.EOF || len(envs) != 2 {
		t.Fatalf("valid stream: %d envelopes, %v; want 2 and io.EOF", len(envs), err)
	}
}

// FuzzRecv feeds arbitrary bytes to the receiving side: it must return
// envelopes that re-encode to themselves, or an error, never panic.
func FuzzRecv(f *testing.F) {
	for _, msg := range allMessages() {
		if _, ship := msg.(replication.Ship); ship {
			continue
		}
		f.Add(encodeStream(f, Envelope{Msg: msg}))
	}
	f.Add(encodeStream(f, testShip(1, 3, 1, 10), Envelope{Msg: replication.Ack{Received: 3}}))
	f.Add(encodeStream(f, testShip(math.MaxUint64, math.MaxUint64, 2, 0)))
	f.Add([]byte{0, 0, 0, 0, kindRecord})
	f.Fuzz(func(t *testing.T, b []byte) {
		envs, err := readAll(b, 64<<10)
		if err == nil {
			t.Fatal("stream ended without an error")
		}
		for _, env := range envs {
			again, err := readAll(encodeStream(t, env), 64<<10)
			if err != io.EOF || len(again) != 1 {
				t.Fatalf("re-decoding %T: %d envelopes, %v", env.Msg, len(again), err)
			}
			if !reflect.DeepEqual(normalize(again[0]), normalize(env)) {
				t.Fatalf("re-encoding changed %#v", env.Msg)
			}
		}
	})
}

// normalize makes an empty SnapshotChunk payload compare equal however it
// was produced.
func normalize(env Envelope) Envelope {
	if c, ok := env.Msg.(SnapshotChunk); ok && len(c.Data) == 0 {
		c.Data = nil
		env.Msg = c
	}
	return env
}
