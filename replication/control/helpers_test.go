package control

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/reprise-dev/reprise/replication"
)

// pollDeadline is how long a test waits for the cluster to reach a state
// before failing; it is a give-up bound, never a measured threshold.
const pollDeadline = 60 * time.Second

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(pollDeadline)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s; last state: %s", what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer collects the cluster's logs; they are printed only when a test
// fails.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// recorder keeps every assignment OnAssignment delivered to one node.
type recorder struct {
	mu   sync.Mutex
	seen []Assignment
}

func (r *recorder) record(a Assignment) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, a)
}

func (r *recorder) all() []Assignment {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

func (r *recorder) last() Assignment {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) == 0 {
		return Assignment{}
	}
	return r.seen[len(r.seen)-1]
}

// facts is what a test says of a node's data; its epoch comes from the
// assignments the node applied, as the node runtime would report it.
type facts struct {
	Durable, KnownCommitted uint64
	NeedsRebuild            bool
}

// testCluster runs real raft nodes over TCP on loopback with bolt stores in
// temporary directories. Candidates are computed from the test's facts and
// from what each node applied; a closed node is not reachable.
type testCluster struct {
	t     *testing.T
	mode  replication.Mode
	peers []Peer
	dirs  map[string]string
	logs  *syncBuffer

	mu    sync.Mutex
	nodes map[string]*Raft
	recs  map[string]*recorder
	facts map[string]facts
	calls map[string]int // Candidates calls per node
}

func newTestCluster(t *testing.T, n int, mode replication.Mode) *testCluster {
	t.Helper()
	c := &testCluster{
		t: t, mode: mode, dirs: map[string]string{}, logs: &syncBuffer{},
		nodes: map[string]*Raft{}, recs: map[string]*recorder{}, facts: map[string]facts{}, calls: map[string]int{},
	}
	listeners := map[string]net.Listener{}
	for i := range n {
		id := fmt.Sprintf("n%d", i+1)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		listeners[id] = ln
		c.peers = append(c.peers, Peer{
			ID: id, RaftAddr: ln.Addr().String(),
			ReplAddr: fmt.Sprintf("127.0.0.1:%d", 7100+i), APIAddr: fmt.Sprintf("127.0.0.1:%d", 8100+i),
		})
		c.dirs[id] = filepath.Join(t.TempDir(), id)
	}
	t.Cleanup(func() {
		c.closeAll()
		if t.Failed() {
			t.Logf("cluster logs:\n%s", c.logs.String())
		}
	})
	for _, p := range c.peers {
		c.start(p.ID, listeners[p.ID])
	}
	return c
}

func (c *testCluster) config(id string, ln net.Listener, rec *recorder) Config {
	return Config{
		NodeID: id, Dir: c.dirs[id], Peers: c.peers, Mode: c.mode,
		Candidates:   func(ctx context.Context) []replication.Candidate { return c.candidates(id) },
		OnAssignment: rec.record,
		Logger: slog.New(slog.NewTextHandler(c.logs, &slog.HandlerOptions{Level: slog.LevelInfo})).
			With("test", c.t.Name()),
		Listener:         ln,
		HeartbeatTimeout: 400 * time.Millisecond, ElectionTimeout: 400 * time.Millisecond,
		LeaderLeaseTimeout: 200 * time.Millisecond, RetryInterval: 50 * time.Millisecond,
	}
}

// start starts node id on ln (nil: listen again on its configured address)
// with a fresh recorder, and returns the recorder.
func (c *testCluster) start(id string, ln net.Listener) *recorder {
	c.t.Helper()
	if ln == nil {
		addr := c.peer(id).RaftAddr
		eventually(c.t, "the raft port "+addr+" to be free again", func() (bool, string) {
			var err error
			ln, err = net.Listen("tcp", addr)
			return err == nil, fmt.Sprint(err)
		})
	}
	rec := &recorder{}
	c.mu.Lock()
	c.recs[id] = rec
	c.mu.Unlock()
	r, err := Start(context.Background(), c.config(id, ln, rec))
	if err != nil {
		c.t.Fatalf("starting %s: %v", id, err)
	}
	c.mu.Lock()
	c.nodes[id] = r
	c.mu.Unlock()
	return rec
}

func (c *testCluster) stop(id string) {
	c.t.Helper()
	c.mu.Lock()
	r := c.nodes[id]
	delete(c.nodes, id)
	c.mu.Unlock()
	if r == nil {
		c.t.Fatalf("node %s is not running", id)
	}
	if err := r.Close(); err != nil {
		c.t.Errorf("closing %s: %v", id, err)
	}
}

func (c *testCluster) closeAll() {
	for _, id := range c.running() {
		c.stop(id)
	}
}

func (c *testCluster) peer(id string) Peer {
	for _, p := range c.peers {
		if p.ID == id {
			return p
		}
	}
	c.t.Fatalf("no peer %s", id)
	return Peer{}
}

func (c *testCluster) running() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for _, p := range c.peers {
		if c.nodes[p.ID] != nil {
			ids = append(ids, p.ID)
		}
	}
	return ids
}

func (c *testCluster) node(id string) *Raft {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

func (c *testCluster) rec(id string) *recorder {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recs[id]
}

func (c *testCluster) setFacts(id string, f facts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.facts[id] = f
}

func (c *testCluster) callCount(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[id]
}

// candidates is what the runtime of node caller would report: every running
// node, at the epoch it applied last, its log verified in that epoch.
func (c *testCluster) candidates(caller string) []replication.Candidate {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[caller]++
	var out []replication.Candidate
	for _, p := range c.peers {
		if c.nodes[p.ID] == nil && p.ID != caller {
			continue
		}
		epoch := c.recs[p.ID].last().Epoch
		f := c.facts[p.ID]
		out = append(out, replication.Candidate{
			ID: replication.ReplicaID(p.ID), Running: true,
			Epoch: epoch, LineageEpoch: epoch,
			Durable: f.Durable, KnownCommitted: f.KnownCommitted, NeedsRebuild: f.NeedsRebuild,
		})
	}
	return out
}

// settled waits until every running node has applied the same latest
// assignment, one that want accepts (nil accepts any), its primary is the
// raft leader every running node sees, and returns that assignment.
func (c *testCluster) settled(what string, want func(Assignment) bool) Assignment {
	c.t.Helper()
	var got Assignment
	eventually(c.t, what, func() (bool, string) {
		ids := c.running()
		first := c.node(ids[0]).Assignment()
		state := ""
		for _, id := range ids {
			a, leader := c.node(id).Assignment(), c.node(id).LeaderID()
			state += fmt.Sprintf("%s: epoch %d primary %q leader %q; ", id, a.Epoch, a.Primary, leader)
			if a.Epoch == 0 || a.Epoch != first.Epoch || a.Primary != first.Primary || leader != a.Primary ||
				c.rec(id).last().Epoch != a.Epoch || (want != nil && !want(a)) {
				return false, state
			}
		}
		got = first
		return true, state
	})
	return got
}

// checkHistories checks that every node saw consecutive epochs, each one
// the same assignment as the other nodes saw for that epoch.
func (c *testCluster) checkHistories(ids ...string) {
	c.t.Helper()
	byEpoch := map[uint64]Assignment{}
	for _, id := range ids {
		seen := c.rec(id).all()
		for i, a := range seen {
			if i > 0 && a.Epoch != seen[i-1].Epoch+1 {
				c.t.Errorf("%s saw epoch %d after epoch %d", id, a.Epoch, seen[i-1].Epoch)
			}
			if prev, ok := byEpoch[a.Epoch]; ok && (prev.Primary != a.Primary || prev.Committed != a.Committed) {
				c.t.Errorf("epoch %d assigned differently: %+v on one node, %+v on %s", a.Epoch, prev, a, id)
			}
			byEpoch[a.Epoch] = a
		}
	}
}
