package transport

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/reprise-dev/reprise/replication"
	"github.com/reprise-dev/reprise/snapshot"
)

// writeSnapshot stores a snapshot of size payload bytes (seeded, so the same
// every run) at index in a new Store.
func writeSnapshot(t *testing.T, index uint64, size int) (*snapshot.Store, snapshot.Info, []byte) {
	t.Helper()
	st, err := snapshot.Open(t.TempDir(), snapshot.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	payload := make([]byte, size)
	rng := rand.New(rand.NewPCG(index, 42))
	for i := range payload {
		payload[i] = byte(rng.Uint32())
	}
	meta := snapshot.Meta{Index: index, Epoch: 3, StateHash: sha256.Sum256(payload), Entries: 17}
	info, err := st.Write(meta, func(w io.Writer) error { _, err := w.Write(payload); return err })
	if err != nil {
		t.Fatal(err)
	}
	return st, info, payload
}

// receiveSnapshot runs what a replica's runtime does with a rebuild's stream:
// Recv hands the chunks to a SnapshotReceiver while Install reads it. Other
// envelopes received meanwhile are returned.
func receiveSnapshot(t *testing.T, c *Conn, session replication.SessionID, st *snapshot.Store, meta snapshot.Meta) (snapshot.Info, []Envelope, error) {
	t.Helper()
	rcv := NewSnapshotReceiver(session)
	type installed struct {
		info snapshot.Info
		err  error
	}
	done := make(chan installed, 1)
	go func() {
		info, err := st.Install(meta, rcv)
		rcv.Close()
		done <- installed{info, err}
	}()
	var others []Envelope
	for {
		env := recvOne(t, c)
		switch env.Msg.(type) {
		case SnapshotChunk, SnapshotEnd:
			end, _ := rcv.Deliver(env.Msg)
			if end {
				r := <-done
				return r.info, others, r.err
			}
		default:
			others = append(others, env)
		}
	}
}

// TestSnapshotStreaming moves a 3 MiB snapshot from one real Store to
// another over a connection, with Ships and Acks sent while it streams.
func TestSnapshotStreaming(t *testing.T) {
	client, server := pair(t, testConfig("primary"), testConfig("replica"))
	src, info, payload := writeSnapshot(t, 40, 3<<20+123)
	raw, err := src.Raw(info)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()

	var wg sync.WaitGroup
	var sent uint64
	var sendErr error
	var progress []uint64
	wg.Go(func() {
		sent, sendErr = SendSnapshot(client, 9, raw, func(n uint64) { progress = append(progress, n) })
	})
	wg.Go(func() {
		for i := uint64(41); i <= 45; i++ {
			if err := client.Send(testShip(i, i, 3, 100)); err != nil {
				t.Errorf("Send ship: %v", err)
			}
		}
	})

	dst, err := snapshot.Open(t.TempDir(), snapshot.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	got, others, err := receiveSnapshot(t, server, 9, dst, info.Meta)
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	wg.Wait()
	if sendErr != nil {
		t.Fatalf("SendSnapshot: %v", sendErr)
	}
	if sent != uint64(info.Size) || got.Size != info.Size || progress[len(progress)-1] != sent {
		t.Fatalf("sent %d bytes (progress ends at %d), installed %d, file is %d", sent, progress[len(progress)-1], got.Size, info.Size)
	}
	// The ships sent meanwhile are all there, in order, before or after the end.
	for len(others) < 5 {
		others = append(others, recvOne(t, server))
	}
	for i, env := range others {
		if s, ok := env.Msg.(replication.Ship); !ok || s.From != 41+uint64(i) {
			t.Fatalf("envelope %d beside the snapshot: %#v", i, env.Msg)
		}
	}
	r, err := dst.OpenAt(40)
	if err != nil {
		t.Fatalf("OpenAt on the receiver: %v", err)
	}
	defer r.Close()
	installed, err := io.ReadAll(r.Payload())
	if err != nil || !bytes.Equal(installed, payload) {
		t.Fatalf("installed payload differs (%v)", err)
	}
}

// failingReader stands in for a snapshot file whose read fails partway
// (a disk error), which a test cannot cause on a real file.
type failingReader struct {
	r     io.Reader
	after int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("read error: input/output error")
	}
	n, err := f.r.Read(p[:min(len(p), f.after)])
	f.after -= n
	return n, err
}

func TestSnapshotSenderFailureDiscards(t *testing.T) {
	client, server := pair(t, testConfig("primary"), testConfig("replica"))
	src, info, _ := writeSnapshot(t, 12, 1<<20)
	raw, err := src.Raw(info)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := SendSnapshot(client, 3, &failingReader{r: raw, after: 600 << 10}, nil)
		errc <- err
	}()
	dst, err := snapshot.Open(t.TempDir(), snapshot.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	_, _, err = receiveSnapshot(t, server, 3, dst, info.Meta)
	if err == nil || !strings.Contains(err.Error(), "sender abandoned") {
		t.Fatalf("Install: got %v, want the sender's failure", err)
	}
	if serr := <-errc; serr == nil || !strings.Contains(serr.Error(), "input/output error") {
		t.Fatalf("SendSnapshot: got %v, want the read error", serr)
	}
	if list, _ := dst.List(); len(list) != 0 {
		t.Fatalf("a failed stream left %d snapshots", len(list))
	}
}

func TestSnapshotReceiverChecksTheStream(t *testing.T) {
	cases := []struct {
		name string
		msgs []any
		says string
	}{
		{"size mismatch", []any{SnapshotChunk{Session: 1, Data: []byte("abc")}, SnapshotEnd{Session: 1, Size: 4}}, "ended at 4 bytes but 3 arrived"},
		{"other session", []any{SnapshotChunk{Session: 2, Data: []byte("abc")}}, "session 2 in the stream of session 1"},
		{"sender failed", []any{SnapshotEnd{Session: 1, Err: "disk gone"}}, "disk gone"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rcv := NewSnapshotReceiver(1)
			readErr := make(chan error, 1)
			go func() {
				_, err := io.ReadAll(rcv)
				readErr <- err
			}()
			var err error
			for _, m := range tc.msgs {
				_, err = rcv.Deliver(m)
			}
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Deliver: got %v, want %q", err, tc.says)
			}
			if rerr := <-readErr; rerr == nil || rerr.Error() != err.Error() {
				t.Fatalf("reader got %v, want %v", rerr, err)
			}
		})
	}
	// A reader that gave up early does not leave Deliver waiting.
	rcv := NewSnapshotReceiver(1)
	rcv.Close()
	if _, err := rcv.Deliver(SnapshotChunk{Session: 1, Data: []byte("x")}); !errors.Is(err, errReceiverClosed) {
		t.Fatalf("Deliver after Close: got %v", err)
	}
}
