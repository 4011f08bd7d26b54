package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/reprise-dev/reprise/replication"
)

func recvOne(t *testing.T, c *Conn) Envelope {
	t.Helper()
	env, err := c.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return env
}

// TestEveryMessageOverTCP sends every message, at zero and at maximum
// values, both ways over a real connection.
func TestEveryMessageOverTCP(t *testing.T) {
	client, server := pair(t, testConfig("primary"), testConfig("replica"))
	if client.Peer() != "replica" || server.Peer() != "primary" {
		t.Fatalf("peers: client sees %q, server sees %q", client.Peer(), server.Peer())
	}
	var envs []Envelope
	for _, msg := range allMessages() {
		if _, ship := msg.(replication.Ship); ship {
			continue // a Ship needs its records: below
		}
		envs = append(envs, Envelope{Msg: msg})
	}
	envs = append(envs,
		testShip(1, 1, 1, 0),
		testShip(1, 3, 0, 300),
		testShip(math.MaxUint64-2, math.MaxUint64, math.MaxUint64, 10),
	)
	mixed := testShip(10, 13, 2, 5)
	mixed.Records[2].Epoch, mixed.Records[3].Epoch = 4, 4
	mixed.Msg = replication.Ship{From: 10, Through: 13, FirstEpoch: 2, LastEpoch: 4, Epoch: 4}
	envs = append(envs, mixed)

	for _, dir := range []struct {
		name     string
		from, to *Conn
	}{{"client to server", client, server}, {"server to client", server, client}} {
		t.Run(dir.name, func(t *testing.T) {
			for _, env := range envs {
				if err := dir.from.Send(env); err != nil {
					t.Fatalf("Send %T: %v", env.Msg, err)
				}
				got := recvOne(t, dir.to)
				if !reflect.DeepEqual(normalize(got), normalize(env)) {
					t.Fatalf("%T changed on the way:\n got %#v\nwant %#v", env.Msg, got.Msg, env.Msg)
				}
			}
		})
	}
}

func TestShipOf10000Records(t *testing.T) {
	client, server := pair(t, testConfig("primary"), testConfig("replica"))
	env := testShip(1001, 11000, 5, 300)
	errc := make(chan error, 1)
	go func() { errc <- client.Send(env) }()
	got := recvOne(t, server)
	if err := <-errc; err != nil {
		t.Fatalf("Send: %v", err)
	}
	if !reflect.DeepEqual(got, env) {
		t.Fatalf("ship of %d records arrived changed (%d records)", len(env.Records), len(got.Records))
	}
}

func TestRecordOfOneMiB(t *testing.T) {
	client, server := pair(t, testConfig("primary"), testConfig("replica"))
	env := testShip(1, 2, 1, 1<<20)
	env.Records[1].Body = bytes.Repeat([]byte{0xab}, 1<<20)
	errc := make(chan error, 1)
	go func() { errc <- client.Send(env) }()
	got := recvOne(t, server)
	if err := <-errc; err != nil {
		t.Fatalf("Send: %v", err)
	}
	if !reflect.DeepEqual(got, env) {
		t.Fatal("1 MiB records arrived changed")
	}
}

// TestSendRefusesWhatItCannotSend checks the refusals found before anything
// is written: the connection stays usable after each.
func TestSendRefusesWhatItCannotSend(t *testing.T) {
	client, server := pair(t, testConfig("primary"), testConfig("replica"))
	short := testShip(1, 3, 1, 1)
	short.Records = short.Records[:2]
	gap := testShip(1, 3, 1, 1)
	gap.Records[1].Index = 4
	epochs := testShip(1, 3, 1, 1)
	epochs.Records[2].Epoch = 2
	backwards := testShip(1, 3, 2, 1)
	backwards.Records[1].Epoch = 1
	kind0 := testShip(1, 1, 1, 1)
	kind0.Records[0].Kind = 0
	cases := []struct {
		name string
		env  Envelope
		says string
	}{
		{"zero ship", Envelope{Msg: replication.Ship{}}, "not a range"},
		{"too few records", short, "has 2 records, want 3"},
		{"index gap", gap, "holds index 4, want 2"},
		{"last epoch wrong", epochs, "LastEpoch 1"},
		{"epoch going back", backwards, "epoch 1 after a record of epoch 2"},
		{"kind 0", kind0, "kind 0"},
		{"records without a ship", Envelope{Msg: replication.Ack{}, Records: short.Records}, "only with a Ship"},
		{"pointer", Envelope{Msg: &replication.Ack{}}, "not a pointer"},
		{"no message", Envelope{}, "without a message"},
		{"engine-local command", Envelope{Msg: replication.Pin{}}, "not a replication message"},
	}
	for _, tc := range cases {
		err := client.Send(tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: got %v, want an error saying %q", tc.name, err, tc.says)
		}
	}
	if err := client.Send(Envelope{Msg: replication.Ack{Received: 1}}); err != nil {
		t.Fatalf("Send after refusals: %v", err)
	}
	if got := recvOne(t, server); got.Msg != (replication.Ack{Received: 1}) {
		t.Fatalf("after refusals received %#v, want the Ack", got.Msg)
	}
}

func TestHandshakeRefusals(t *testing.T) {
	other := testConfig("replica")
	other.Cluster = "other-cluster"
	wrongToken := testConfig("replica")
	wrongToken.Token = "guess"
	noToken := testConfig("replica")
	noToken.Token = ""
	cases := []struct {
		name     string
		listener Config
		want     error
		says     string
	}{
		{"wrong cluster", other, ErrWrongCluster, `cluster "other-cluster"`},
		{"wrong token", wrongToken, ErrBadToken, `peer "replica" did not prove`},
		{"token missing on one side", noToken, ErrBadToken, "did not prove"},
		{"same node ID", testConfig("primary"), ErrSelfConnection, `"primary"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logged := make(chan error, 4)
			tc.listener.Logger = slog.New(chanHandler{logged})
			l, err := Listen("127.0.0.1:0", tc.listener)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			c, err := Dial(context.Background(), l.Addr(), testConfig("primary"))
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Dial: got %v, want %v saying %s", err, tc.want, tc.says)
			}
			if lerr := <-logged; !errors.Is(lerr, tc.want) {
				t.Fatalf("listener logged %v, want %v", lerr, tc.want)
			}
		})
	}
}

// rawHello is a handshake opening as another build would send it.
func rawHello(version uint16, cluster, node string) []byte {
	b := append([]byte(nil), handshakeMagic[:]...)
	b = binary.BigEndian.AppendUint16(b, version)
	body := appendString(nil, cluster)
	body = appendString(body, node)
	body = append(body, make([]byte, nonceLen)...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...)
}

func TestUnsupportedVersionRefused(t *testing.T) {
	// A listener refuses a dialer of another version...
	logged := make(chan error, 4)
	cfg := testConfig("replica")
	cfg.Logger = slog.New(chanHandler{logged})
	l, err := Listen("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	nc, err := net.Dial("tcp", l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Write(rawHello(2, "test-cluster", "future")); err != nil {
		t.Fatal(err)
	}
	if lerr := <-logged; !errors.Is(lerr, ErrUnsupportedVersion) || !strings.Contains(lerr.Error(), "version 2") {
		t.Fatalf("listener logged %v, want ErrUnsupportedVersion naming version 2", lerr)
	}

	// ...and a dialer refuses a listener of another version.
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	go func() {
		nc, err := raw.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		nc.Write(rawHello(0, "test-cluster", "ancient"))
		io.Copy(io.Discard, nc)
	}()
	_, err = Dial(context.Background(), raw.Addr().String(), testConfig("primary"))
	if !errors.Is(err, ErrUnsupportedVersion) || !strings.Contains(err.Error(), "version 0") {
		t.Fatalf("Dial: got %v, want ErrUnsupportedVersion naming version 0", err)
	}
}

func TestNotAPeerRefused(t *testing.T) {
	logged := make(chan error, 4)
	cfg := testConfig("replica")
	cfg.Logger = slog.New(chanHandler{logged})
	l, err := Listen("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	nc, err := net.Dial("tcp", l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	if lerr := <-logged; !errors.Is(lerr, ErrNotReplicationPeer) || !strings.Contains(lerr.Error(), "GET / HT") {
		t.Fatalf("listener logged %v, want ErrNotReplicationPeer quoting the bytes", lerr)
	}
	// The listener goes on accepting after a refusal.
	ch := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Close()
		}
		ch <- err
	}()
	c, err := Dial(context.Background(), l.Addr(), testConfig("primary"))
	if err != nil {
		t.Fatalf("Dial after a refusal: %v", err)
	}
	c.Close()
	if err := <-ch; err != nil {
		t.Fatalf("Accept after a refusal: %v", err)
	}
}

func TestOversizedFrameRefused(t *testing.T) {
	small := testConfig("replica")
	small.MaxFrame = 4096
	client, server := pair(t, testConfig("primary"), small)

	// The sender refuses what its own limit forbids, before writing.
	err := server.Send(Envelope{Msg: SnapshotChunk{Session: 1, Data: make([]byte, 5000)}})
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("Send over the limit: got %v, want ErrFrameTooLarge", err)
	}
	if err := server.Send(Envelope{Msg: replication.Ack{Received: 1}}); err != nil {
		t.Fatalf("Send after a refused frame: %v", err)
	}
	recvOne(t, client)

	// The receiver refuses a frame over its limit and closes.
	if err := client.Send(Envelope{Msg: SnapshotChunk{Session: 1, Data: make([]byte, 5000)}}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	_, err = server.Recv()
	if !errors.Is(err, ErrFrameTooLarge) || !strings.Contains(err.Error(), "4096-byte limit") {
		t.Fatalf("Recv: got %v, want ErrFrameTooLarge naming the limit", err)
	}
	if _, again := server.Recv(); again != err {
		t.Fatalf("second Recv: got %v, want the same error", again)
	}
	if _, err := client.Recv(); err != io.EOF {
		t.Fatalf("peer of the refusing side: got %v, want io.EOF", err)
	}
}

// TestGarbageOverTCP writes bytes that are not frames straight onto an
// established connection: the receiver fails with a named error and closes.
func TestGarbageOverTCP(t *testing.T) {
	for _, garbage := range [][]byte{
		[]byte("\x00\x00\x00\x03\x63abc"),
		bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 64),
		frameBytes(kindShip, []byte{0, 0, 0, 1, 1, 0, 0, 0}), // then a record that is not one
	} {
		client, server := pair(t, testConfig("primary"), testConfig("replica"))
		if _, err := client.nc.Write(append(bytes.Clone(garbage), frameBytes(kindRecord, []byte("not a record"))...)); err != nil {
			t.Fatal(err)
		}
		_, err := server.Recv()
		if !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("%q: got %v, want ErrProtocol or ErrFrameTooLarge", garbage, err)
		}
		if err := server.Send(Envelope{Msg: replication.Ack{}}); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Send after a refused stream: got %v, want net.ErrClosed", err)
		}
	}
}

func TestCloseUnblocksRecv(t *testing.T) {
	client, server := pair(t, testConfig("primary"), testConfig("replica"))
	errc := make(chan error, 1)
	go func() {
		_, err := server.Recv()
		errc <- err
	}()
	server.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Recv after Close: got %v, want net.ErrClosed", err)
	}
	if err := server.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := client.Recv(); err != io.EOF {
		t.Fatalf("peer Recv: got %v, want io.EOF", err)
	}
}

func TestCloseUnblocksSend(t *testing.T) {
	cfg := testConfig("primary")
	client, _ := pair(t, cfg, testConfig("replica")) // the replica never reads
	sent := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		chunk := Envelope{Msg: SnapshotChunk{Session: 1, Data: make([]byte, 1<<20)}}
		for i := 0; ; i++ {
			if err := client.Send(chunk); err != nil {
				errc <- err
				return
			}
			if i == 0 {
				close(sent)
			}
		}
	}()
	<-sent
	client.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Send after Close: got %v, want net.ErrClosed", err)
	}
}

func TestPeerGoneMidShip(t *testing.T) {
	client, server := pair(t, testConfig("primary"), testConfig("replica"))
	full := encodeStream(t, testShip(1, 4, 1, 10))
	if _, err := client.nc.Write(full[:len(full)/2]); err != nil {
		t.Fatal(err)
	}
	client.Close()
	_, err := server.Recv()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
	}
}

// TestConcurrentSend has several goroutines send Ships and Acks at once: each
// envelope arrives whole, and each goroutine's in its order.
func TestConcurrentSend(t *testing.T) {
	client, server := pair(t, testConfig("primary"), testConfig("replica"))
	const senders, each = 6, 300
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			id := replication.ReplicaID(fmt.Sprintf("sender-%d", s))
			for i := uint64(1); i <= each; i++ {
				env := Envelope{Msg: replication.Ack{Replica: id, Received: i}}
				if i%3 == 0 {
					env = testShip(i, i+9, 1, 50)
					ship := env.Msg.(replication.Ship)
					ship.Replica = id
					env.Msg = ship
				}
				if err := client.Send(env); err != nil {
					t.Errorf("%s: Send %d: %v", id, i, err)
					return
				}
			}
		})
	}
	next := map[replication.ReplicaID]uint64{}
	for range senders * each {
		env := recvOne(t, server)
		var id replication.ReplicaID
		var n uint64
		switch m := env.Msg.(type) {
		case replication.Ack:
			id, n = m.Replica, m.Received
		case replication.Ship:
			id, n = m.Replica, m.From
			if len(env.Records) != 10 || env.Records[9].Index != m.From+9 {
				t.Fatalf("%s: ship %d..%d arrived with %d records", id, m.From, m.Through, len(env.Records))
			}
		default:
			t.Fatalf("unexpected %T", env.Msg)
		}
		if n != next[id]+1 {
			t.Fatalf("%s: got %d after %d", id, n, next[id])
		}
		next[id] = n
	}
	wg.Wait()
}

func TestDialAbandonedByContext(t *testing.T) {
	// A listener that accepts and then says nothing.
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		nc, err := raw.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		cancel()
		io.Copy(io.Discard, nc)
	}()
	_, err = Dial(ctx, raw.Addr().String(), testConfig("primary"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Dial: got %v, want context.Canceled", err)
	}
}

func TestListenerClose(t *testing.T) {
	l, err := Listen("127.0.0.1:0", testConfig("replica"))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		errc <- err
	}()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: got %v, want net.ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := Dial(context.Background(), l.Addr(), testConfig("primary")); err == nil {
		t.Fatal("Dial to a closed listener succeeded")
	}
}

func TestConfigRefused(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{NodeID: strings.Repeat("n", 256)},
		{NodeID: "a", Cluster: strings.Repeat("c", 256)},
		{NodeID: "a", MaxFrame: 100},
		{NodeID: "a", WriteTimeout: -1},
	} {
		if l, err := Listen("127.0.0.1:0", cfg); err == nil {
			l.Close()
			t.Errorf("Listen accepted %+v", cfg)
		}
	}
}
