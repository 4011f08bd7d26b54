package node_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/catalogs/builtin"
	"github.com/reprise-dev/reprise/guest/build"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/host/state"
	"github.com/reprise-dev/reprise/replication"
	"github.com/reprise-dev/reprise/replication/node"
	"github.com/reprise-dev/reprise/replication/transport"
)

var counter struct {
	once sync.Once
	mod  *host.Module
	err  error
}

func counterModule(t testing.TB) *host.Module {
	t.Helper()
	counter.once.Do(func() {
		wasm, ok := builtin.Lookup("counter")
		if !ok {
			counter.err = errors.New("the counter catalog is not built in")
			return
		}
		engine, err := host.NewEngine(context.Background(), host.EngineConfig{})
		if err != nil {
			counter.err = err
			return
		}
		counter.mod, counter.err = engine.Load(context.Background(), wasm)
	})
	if counter.err != nil {
		t.Fatal(counter.err)
	}
	return counter.mod
}

func inc(key string, by int64, idem string) executor.Submission {
	return executor.Submission{Proposal: abi.Proposal{Transition: "TRANSITION_INCREMENT", IdemKey: idem,
		Inputs: fmt.Appendf(nil, `{"by":%d,"key":%q}`, by, key)}}
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("REPRISE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// member is one node of an in-process cluster: a real executor on real
// Badger in a temp dir and a real replication listener on loopback.
type member struct {
	id   replication.ReplicaID
	dir  string
	exec *executor.Executor
	node *node.Node
	addr string
	// module, when set, replaces the counter catalog on this member.
	module *host.Module
}

type cluster struct {
	t         testing.TB
	mode      replication.Mode
	budgets   replication.Budgets
	members   []*member
	snapEvery uint64
}

func newCluster(t testing.TB, mode replication.Mode, ids ...string) *cluster {
	return newClusterSnapshotting(t, mode, 1000, ids...)
}

// newClusterSnapshotting starts nodes that take a snapshot every snapEvery
// records and keep two (so the WAL is compacted behind them).
func newClusterSnapshotting(t testing.TB, mode replication.Mode, snapEvery uint64, ids ...string) *cluster {
	c := &cluster{t: t, mode: mode, snapEvery: snapEvery}
	for _, id := range ids {
		m := &member{id: replication.ReplicaID(id), dir: t.TempDir()}
		c.members = append(c.members, m)
	}
	for _, m := range c.members {
		c.start(m, "127.0.0.1:0")
	}
	t.Cleanup(func() {
		for _, m := range c.members {
			c.stop(m)
		}
	})
	return c
}

func (c *cluster) start(m *member, listen string) {
	t := c.t
	t.Helper()
	module := counterModule(t)
	if m.module != nil {
		module = m.module
	}
	exec, err := executor.Open(context.Background(), executor.Config{DataDir: m.dir, Module: module, Follower: true,
		SnapshotEvery: c.snapEvery, SnapshotKeep: 2, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Start(context.Background(), node.Config{ID: m.id, Listen: listen, Mode: c.mode, Budgets: c.budgets, Tick: 5 * time.Millisecond,
		Transport: transport.Config{Cluster: "test", Token: "secret"}, Exec: exec, Logger: testLogger(t)})
	if err != nil {
		exec.Close(context.Background())
		t.Fatal(err)
	}
	m.exec, m.node, m.addr = exec, n, n.Endpoint()
}

func (c *cluster) stop(m *member) {
	if m.node != nil {
		m.node.Close()
		m.node = nil
	}
	if m.exec != nil {
		m.exec.Close(context.Background())
		m.exec = nil
	}
}

func (c *cluster) assign(epoch uint64, primary string, committed uint64) {
	var ms []node.Member
	for _, m := range c.members {
		ms = append(ms, node.Member{ID: m.id, Endpoint: m.addr})
	}
	for _, m := range c.members {
		if m.node != nil {
			m.node.Assign(node.Assignment{Epoch: epoch, Primary: replication.ReplicaID(primary), Committed: committed, Members: ms})
		}
	}
}

func (c *cluster) get(id string) *member {
	for _, m := range c.members {
		if string(m.id) == id {
			return m
		}
	}
	c.t.Fatalf("no member %s", id)
	return nil
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		ok, why := cond()
		if ok {
			return
		}
		last = why
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: still not true after 60s: %s", what, last)
}

// submitUntilAccepted submits until the primary takes writes.
func submit(t testing.TB, m *member, sub executor.Submission) executor.Verdict {
	t.Helper()
	var v executor.Verdict
	eventually(t, "primary accepts a write", func() (bool, string) {
		var err error
		v, err = m.exec.Submit(context.Background(), sub)
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	if !v.Accepted {
		t.Fatalf("submission rejected: %s %s", v.Code.Slug(), v.Detail)
	}
	return v
}

// converged waits until every running member's state is at index with the
// primary's hash.
func (c *cluster) converged(primary *member) {
	t := c.t
	t.Helper()
	want := primary.exec.Status()
	eventually(t, "replicas converge", func() (bool, string) {
		for _, m := range c.members {
			if m.exec == nil {
				continue
			}
			st := m.exec.Status()
			if st.Index != want.Index || st.StateHash != want.StateHash {
				return false, fmt.Sprintf("%s at %d (%s), primary at %d (%s); %+v", m.id, st.Index, st.StateHash, want.Index, want.StateHash, m.node.Status().ReplicaStatus)
			}
		}
		return true, ""
	})
}

func TestReplicasApplyEveryRecordThroughTheCatalog(t *testing.T) {
	c := newCluster(t, replication.SyncAll, "a", "b", "c")
	c.assign(1, "a", 0)
	a := c.get("a")
	for i := range 50 {
		submit(t, a, inc(fmt.Sprintf("k%d", i%5), 1, fmt.Sprintf("w%d", i)))
	}
	c.converged(a)
	st := a.node.Status()
	if st.Role != node.RolePrimary || st.PrimaryStatus == nil || st.PrimaryStatus.Committed != a.exec.Status().Index {
		t.Fatalf("primary status: %+v", st)
	}
	for _, id := range []string{"b", "c"} {
		rs := c.get(id).node.Status()
		if rs.Role != node.RoleReplica || !rs.Readable || rs.ReadIndex != a.exec.Status().Index {
			t.Fatalf("replica %s status: %+v %+v", id, rs, rs.ReplicaStatus)
		}
		if _, err := c.get(id).exec.Submit(context.Background(), inc("x", 1, "")); !errors.Is(err, executor.ErrNotPrimary) {
			t.Fatalf("a write on replica %s: %v, want ErrNotPrimary", id, err)
		}
	}
}

func TestReplicaRestartCatchesUp(t *testing.T) {
	c := newCluster(t, replication.BestEffort, "a", "b")
	c.assign(1, "a", 0)
	a, b := c.get("a"), c.get("b")
	for i := range 20 {
		submit(t, a, inc("k", 1, fmt.Sprintf("w%d", i)))
	}
	c.converged(a)
	c.stop(b)
	for i := range 30 {
		submit(t, a, inc("k", 1, fmt.Sprintf("x%d", i)))
	}
	c.start(b, b.addr)
	c.assign(1, "a", 0)
	c.converged(a)
}

func TestReplicaDownPastRetentionIsRebuilt(t *testing.T) {
	c := newClusterSnapshotting(t, replication.BestEffort, 20, "a", "b")
	c.assign(1, "a", 0)
	a, b := c.get("a"), c.get("b")
	for i := range 10 {
		submit(t, a, inc("k", 1, fmt.Sprintf("w%d", i)))
	}
	c.converged(a)
	c.stop(b)
	for i := range 120 {
		submit(t, a, inc("k", 1, fmt.Sprintf("x%d", i)))
	}
	if first := a.exec.WAL().FirstIndex(); first <= 12 {
		t.Fatalf("the primary's WAL still starts at %d; the test needs it compacted", first)
	}
	c.start(b, b.addr)
	c.assign(1, "a", 0)
	c.converged(a)
	if b.node.Metrics().SnapshotsInstalled == 0 {
		t.Fatalf("replica b caught up without a snapshot: %+v", b.node.Metrics())
	}
}

func TestFailoverKeepsEveryAcknowledgedWrite(t *testing.T) {
	c := newCluster(t, replication.SyncAll, "a", "b", "c")
	c.assign(1, "a", 0)
	a := c.get("a")
	var acked []executor.Verdict
	for i := range 40 {
		acked = append(acked, submit(t, a, inc("k", 1, fmt.Sprintf("w%d", i))))
	}
	c.converged(a)
	last := acked[len(acked)-1]
	c.stop(a)
	var cands []replication.Candidate
	for _, id := range []string{"b", "c"} {
		cands = append(cands, c.get(id).node.Candidate())
	}
	succ, err := replication.ChooseSuccessor(replication.SyncAll, 3, 1, cands)
	if err != nil {
		t.Fatal(err, cands)
	}
	if succ.Committed < last.Index {
		t.Fatalf("successor boundary %d is below the last acknowledged write %d", succ.Committed, last.Index)
	}
	c.assign(2, string(succ.Primary), succ.Committed)
	p := c.get(string(succ.Primary))
	eventually(t, "new primary serves", func() (bool, string) {
		st := p.node.Status()
		return st.Role == node.RolePrimary && st.Readable, fmt.Sprintf("%+v", st)
	})
	if st := p.exec.Status(); st.StateHash != last.StateHash && st.Index == last.Index {
		t.Fatalf("new primary hash %s at %d, old primary acknowledged %s", st.StateHash, st.Index, last.StateHash)
	}
	// Acknowledged writes are duplicates on the new primary.
	for i := range 40 {
		v, err := p.exec.Submit(context.Background(), inc("k", 1, fmt.Sprintf("w%d", i)))
		if err == nil && !v.Duplicate {
			// Under sync_all a write may fail while the old primary is
			// still a member; that is fine, but never a second apply.
			t.Fatalf("write w%d applied again on the new primary: %+v", i, v)
		}
	}
	// The old primary rejoins as a replica and converges.
	c.start(a, a.addr)
	c.assign(2, string(succ.Primary), succ.Committed)
	submit(t, p, inc("k", 1, "after"))
	c.converged(p)
}

// TestReplicaWhoseStateDivergesStopsAndIsNotServed: a replica whose catalog
// code differs under the same hash (a test double for a host that does not
// reproduce a record) stops at the first record whose recorded state hash
// it does not reproduce, with an error naming that index, and serves
// nothing from then on; the primary rebuilds it rather than let it serve.
func TestReplicaWhoseStateDivergesStopsAndIsNotServed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a catalog with the Go toolchain")
	}
	res, err := build.Build(context.Background(), filepath.Join("..", "..", "catalogs", "counterdiverge"), build.Options{})
	if err != nil {
		t.Fatal(err)
	}
	diverge, err := counterModule(t).Engine().Load(context.Background(), res.Wasm)
	if err != nil {
		t.Fatal(err)
	}
	substituted := *diverge
	substituted.Hash = counterModule(t).Hash

	c := newCluster(t, replication.BestEffort, "a", "b")
	b := c.get("b")
	c.stop(b)
	b.module = &substituted
	c.start(b, b.addr)
	c.assign(1, "a", 0)
	a := c.get("a")
	submit(t, a, inc("k1", 5, "i1"))
	c.converged(a) // increments agree
	reset := submit(t, a, executor.Submission{Proposal: abi.Proposal{Transition: "TRANSITION_RESET", Inputs: []byte(`{"key":"k1"}`)}})
	submit(t, a, inc("k2", 1, "i2"))
	eventually(t, "replica b stops at the reset record", func() (bool, string) {
		st := b.exec.Status()
		if st.Failure == nil {
			return false, fmt.Sprintf("b at %d, no failure", st.Index)
		}
		return strings.Contains(st.Failure.Error(), fmt.Sprintf("index %d", reset.Index)), st.Failure.Error()
	})
	if st := b.exec.Status(); st.Index >= reset.Index {
		t.Fatalf("b applied through %d, past the divergent record %d", st.Index, reset.Index)
	}
	if err := b.exec.Read(func(*state.State, uint64, *abi.Descriptor) {}); err == nil {
		t.Fatal("the diverged replica still serves reads")
	}
	eventually(t, "the primary rebuilds the diverged replica", func() (bool, string) {
		m := a.node.Metrics()
		st := a.node.Status().PrimaryStatus
		for _, r := range st.Replicas {
			if r.ID == "b" && r.Session != nil && r.Session.Kind == replication.KindRebuild {
				return true, ""
			}
		}
		for k := range m.Sessions {
			if strings.HasPrefix(k, "rebuild/") {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v %+v", st.Replicas, m.Sessions)
	})
}
