package transport

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"log/slog"
	"testing"

	"github.com/reprise-dev/reprise/replication"
	"github.com/reprise-dev/reprise/wal"
)

func testConfig(node string) Config {
	return Config{NodeID: node, Cluster: "test-cluster", Token: "s3cret"}
}

// pair returns the two ends of a real loopback connection: the dialer's
// (client, configured by dcfg) and the listener's (server, lcfg).
func pair(t testing.TB, dcfg, lcfg Config) (client, server *Conn) {
	t.Helper()
	l, err := Listen("127.0.0.1:0", lcfg)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	type accepted struct {
		c   *Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := l.Accept()
		ch <- accepted{c, err}
	}()
	client, err = Dial(context.Background(), l.Addr(), dcfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	a := <-ch
	if a.err != nil {
		t.Fatalf("Accept: %v", a.err)
	}
	t.Cleanup(func() { client.Close(); a.c.Close() })
	return client, a.c
}

// testRecord is a transition record like a counter's, with an input of
// inputSize bytes.
func testRecord(index, epoch uint64, inputSize int) wal.Record {
	var in []byte // empty and nil encode alike, and decode as nil
	if inputSize > 0 {
		in = make([]byte, inputSize)
	}
	for i := range in {
		in[i] = byte('a' + (int(index)+i)%26)
	}
	var idx [8]byte
	binary.BigEndian.PutUint64(idx[:], index)
	return wal.Record{
		Index:       index,
		Epoch:       epoch,
		Kind:        wal.KindTransition,
		Timestamp:   1_700_000_000_000_000_000 + int64(index),
		CatalogHash: sha256.Sum256([]byte("catalog")),
		Transition:  "counter.add",
		Inputs:      in,
		InputsHash:  "sha256:inputs",
		IdemKey:     "key-" + string(rune('a'+index%26)),
		Signer:      "client-1",
		Fuel:        1234,
		StateHash:   sha256.Sum256(idx[:]),
	}
}

// testShip returns a Ship of records from..through of epoch epoch.
func testShip(from, through, epoch uint64, inputSize int) Envelope {
	recs := make([]wal.Record, 0, through-from+1)
	for i := uint64(0); i <= through-from; i++ {
		recs = append(recs, testRecord(from+i, epoch, inputSize))
	}
	return Envelope{
		Msg: replication.Ship{Replica: "r1", Session: 7, Epoch: epoch, From: from, Through: through,
			FirstEpoch: epoch, LastEpoch: epoch, Committed: from - 1},
		Records: recs,
	}
}

// chanHandler is a slog handler that hands every record's "err" attribute to
// a channel, so a test can wait for what a listener logged.
type chanHandler struct{ errs chan error }

func (h chanHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h chanHandler) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			if err, ok := a.Value.Any().(error); ok {
				h.errs <- err
			}
		}
		return true
	})
	return nil
}
func (h chanHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h chanHandler) WithGroup(string) slog.Handler      { return h }
