package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reprise-dev/reprise/catalogs/builtin"
	"github.com/reprise-dev/reprise/host/catalogstore"
	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/replication"
	replnode "github.com/reprise-dev/reprise/replication/node"
	"github.com/reprise-dev/reprise/replication/transport"
)

// clusterMember is one node of an in-process cluster over real loopback
// connections: a real executor (on Badger in a temporary directory) opened
// as a follower, its replication node, and the API serving both.
type clusterMember struct {
	*node
	id      replication.ReplicaID
	repl    *replnode.Node
	apiAddr string
}

type apiCluster struct {
	t       testing.TB
	members []*clusterMember
}

// startCluster starts one member per id; none follows anything until
// assign.
func startCluster(t testing.TB, mode replication.Mode, ids ...string) *apiCluster {
	t.Helper()
	c := &apiCluster{t: t}
	for _, id := range ids {
		c.members = append(c.members, startMember(t, mode, replication.ReplicaID(id)))
	}
	return c
}

func startMember(t testing.TB, mode replication.Mode, id replication.ReplicaID) *clusterMember {
	t.Helper()
	n := &node{t: t, dir: t.TempDir(), module: builtinModule(t, "counter"), metrics: NewMetrics()}
	exec, err := executor.Open(context.Background(), executor.Config{DataDir: n.dir, Module: n.module, Follower: true,
		Observer: n.metrics, SnapshotEvery: 1 << 40, SnapshotKeep: 10, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("open executor %s: %v", id, err)
	}
	repl, err := replnode.Start(context.Background(), replnode.Config{ID: id, Listen: "127.0.0.1:0", Mode: mode, Tick: 5 * time.Millisecond,
		Transport: transport.Config{Cluster: "api-test", Token: "replication-secret"}, Exec: exec, Logger: quietLogger()})
	if err != nil {
		exec.Close(context.Background())
		t.Fatalf("start replication %s: %v", id, err)
	}
	n.cfg = Config{Cluster: repl, Metrics: n.metrics, Logger: quietLogger()}
	a, err := New(exec, n.cfg)
	if err != nil {
		repl.Close()
		exec.Close(context.Background())
		t.Fatalf("api %s: %v", id, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n.exec, n.api, n.srv = exec, a, a.HTTPServer()
	n.url = "http://" + ln.Addr().String()
	n.served = make(chan error, 1)
	go func() { n.served <- n.srv.Serve(ln) }()
	// Redirects are the subject of these tests: never follow them.
	n.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	m := &clusterMember{node: n, id: id, repl: repl, apiAddr: ln.Addr().String()}
	t.Cleanup(m.stop)
	return m
}

// stopReplication closes the member's replication node: its peers see it
// gone while its API keeps serving.
func (m *clusterMember) stopReplication() {
	if m.repl != nil {
		_ = m.repl.Close()
	}
}

func (m *clusterMember) stop() {
	m.stopReplication()
	m.node.stop()
}

func (c *apiCluster) get(id string) *clusterMember {
	for _, m := range c.members {
		if string(m.id) == id {
			return m
		}
	}
	c.t.Fatalf("no member %s", id)
	return nil
}

// assign hands every member the same static assignment.
func (c *apiCluster) assign(epoch uint64, primary string) {
	var members []replnode.Member
	for _, m := range c.members {
		members = append(members, replnode.Member{ID: m.id, Endpoint: m.repl.Endpoint(), API: m.apiAddr})
	}
	for _, m := range c.members {
		m.repl.Assign(replnode.Assignment{Epoch: epoch, Primary: replication.ReplicaID(primary), Members: members})
	}
}

// waitFor polls cond until it holds; the deadline only bounds a hang.
func waitUntil(t testing.TB, what string, cond func() (bool, string)) {
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
	t.Fatalf("gave up waiting for %s: %s", what, last)
}

// replicationStatus reads GET /v1/replication strictly.
func (m *clusterMember) replicationStatus() replicationJSON {
	m.t.Helper()
	r := m.get("/v1/replication")
	if r.status != http.StatusOK {
		m.t.Fatalf("GET /v1/replication on %s: %s", m.id, r)
	}
	var st replicationJSON
	decode(m.t, r, &st)
	return st
}

func counterValue(t testing.TB, m *clusterMember, key string) (int64, reply) {
	t.Helper()
	r := m.get("/state")
	if r.status != http.StatusOK {
		t.Fatalf("GET /state on %s: %s", m.id, r)
	}
	var st map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &st); err != nil {
		t.Fatalf("state of %s: %v: %s", m.id, err, r.body)
	}
	var counters map[string]int64
	if raw, ok := st["counts"]; ok { // the counter catalog's one map field
		if err := json.Unmarshal(raw, &counters); err != nil {
			t.Fatalf("counters of %s: %v: %s", m.id, err, raw)
		}
	}
	return counters[key], r
}

func incBody(by int, idem string) string {
	return fmt.Sprintf(`{"transition":"TRANSITION_INCREMENT","inputs":{"key":"k","by":%d},"idem_key":%q}`, by, idem)
}

// TestReplicationOverHTTP runs a two-node sync_all cluster behind the API:
// the status endpoint on both roles, a write to the replica redirected to
// the primary and applied there once, the replica's reads saying the index
// they reflect, health and metrics, and a write refused while the replica
// is gone.
func TestReplicationOverHTTP(t *testing.T) {
	c := startCluster(t, replication.SyncAll, "a", "b")
	a, b := c.get("a"), c.get("b")

	// Before any assignment: no primary to redirect to, no state to read.
	p := wantProblem(t, b.post("/transition", incBody(1, "early")), http.StatusServiceUnavailable, "not_primary")
	if p.Primary != "" || p.PrimaryAPI != "" {
		t.Fatalf("not_primary before any assignment names a primary: %+v", p)
	}
	wantProblem(t, b.get("/state"), http.StatusServiceUnavailable, "replica_not_readable")
	if r := b.get("/health"); r.status != http.StatusServiceUnavailable || r.header.Get(RoleHeader) != "none" {
		t.Fatalf("health of an unassigned node: %s (role %q)", r, r.header.Get(RoleHeader))
	}

	c.assign(1, "a")
	waitUntil(t, "replica b in sync", func() (bool, string) {
		st := a.replicationStatus()
		ok := st.Role == "primary" && st.Readable && len(st.Replicas) == 1 && st.Replicas[0].State == "in_sync"
		return ok, fmt.Sprintf("%+v", st)
	})
	var last verdict
	for i := range 5 {
		last = a.mustAccept(incBody(1, fmt.Sprintf("w%d", i)))
	}

	// Status on both roles.
	waitUntil(t, "replica b caught up", func() (bool, string) {
		pa, pb := a.replicationStatus(), b.replicationStatus()
		ok := pa.Committed == last.Index && pa.Replicas[0].Lag == 0 && pa.Replicas[0].Durable == last.Index &&
			pb.Readable && pb.ReadIndex == last.Index
		return ok, fmt.Sprintf("primary %+v; replica %+v", pa, pb)
	})
	pa, pb := a.replicationStatus(), b.replicationStatus()
	wantMembers := []memberJSON{{ID: "a", Endpoint: a.repl.Endpoint(), API: a.apiAddr}, {ID: "b", Endpoint: b.repl.Endpoint(), API: b.apiAddr}}
	for _, st := range []replicationJSON{pa, pb} {
		if st.Epoch != 1 || st.Mode != "sync_all" || st.Primary != "a" || st.PrimaryAPI != a.apiAddr || !slices.Equal(st.Members, wantMembers) {
			t.Fatalf("status of %s: %+v", st.NodeID, st)
		}
	}
	if pa.NodeID != "a" || pa.Role != "primary" || pa.Replica != nil || pa.Replicas[0].ID != "b" || pa.Replicas[0].Endpoint != b.repl.Endpoint() ||
		pa.Replicas[0].Sent < last.Index || pa.Metrics.RecordsShipped == 0 {
		t.Fatalf("primary status: %+v", pa)
	}
	if pb.NodeID != "b" || pb.Role != "replica" || pb.Replicas != nil || pb.Replica == nil || pb.Replica.Epoch != 1 ||
		pb.Replica.Applied != last.Index || pb.Replica.Durable < last.Index || pb.Replica.KnownCommitted < last.Index || pb.Metrics.RecordsReceived == 0 {
		t.Fatalf("replica status: %+v %+v", pb, pb.Replica)
	}
	raw := a.get("/v1/replication")
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw.body, &fields); err != nil {
		t.Fatal(err)
	}
	var replicas []map[string]json.RawMessage
	if err := json.Unmarshal(fields["replicas"], &replicas); err != nil || len(replicas) != 1 {
		t.Fatalf("replicas of %s: %v", raw.body, err)
	}
	for _, key := range []string{"id", "endpoint", "state", "durable", "received", "sent", "lag", "retry_at", "session", "last_outcome", "last_reason"} {
		if _, ok := replicas[0][key]; !ok {
			t.Errorf("replica entry lacks %q: %s", key, raw.body)
		}
	}
	if got := raw.header.Get(RoleHeader); got != "primary" {
		t.Fatalf("%s on the primary: %q", RoleHeader, got)
	}

	// A write on the replica is redirected and applies nothing there.
	before := b.exec.Status()
	r := b.post("/transition?trace=1", incBody(1, "redirected"))
	p = wantProblem(t, r, http.StatusTemporaryRedirect, "not_primary")
	wantLocation := "http://" + a.apiAddr + "/transition?trace=1"
	if loc := r.header.Get("Location"); loc != wantLocation {
		t.Fatalf("Location %q, want %q", loc, wantLocation)
	}
	if p.Primary != "a" || p.PrimaryAPI != a.apiAddr || r.header.Get(RoleHeader) != "replica" {
		t.Fatalf("redirect problem %+v, role %q", p, r.header.Get(RoleHeader))
	}
	for _, path := range []string{"/api/v1/councils/c1/claims", "/v1/catalogs/" + a.module.HashHex() + "/activate"} {
		r := b.post(path, `{"role_name":"r","agent_name":"x"}`)
		wantProblem(t, r, http.StatusTemporaryRedirect, "not_primary")
		if loc := r.header.Get("Location"); loc != "http://"+a.apiAddr+path {
			t.Fatalf("POST %s on the replica: Location %q", path, loc)
		}
	}
	if after := b.exec.Status(); after.Index != before.Index || after.LastWAL != before.LastWAL || after.StateHash != before.StateHash {
		t.Fatalf("the replica changed on a refused write: %+v, before %+v", after, before)
	}

	// Following the redirect by hand applies the write once, on the primary.
	follow := &node{t: t, url: wantLocation[:len(wantLocation)-len("/transition?trace=1")], client: a.client}
	first := follow.mustAccept(incBody(1, "redirected"))
	if first.Index != last.Index+1 {
		t.Fatalf("redirected write at %d, want %d", first.Index, last.Index+1)
	}
	if _, again := follow.submit(incBody(1, "redirected")); !again.Success || !again.Duplicate || again.Index != first.Index {
		t.Fatalf("the write resent: %+v", again)
	}
	if v, _ := counterValue(t, a, "k"); v != 6 {
		t.Fatalf("counter on the primary: %d, want 6", v)
	}

	// The replica serves the write, saying which index its reads reflect.
	waitUntil(t, "the replica reflects the redirected write", func() (bool, string) {
		r := b.get("/state")
		return r.status == http.StatusOK && r.header.Get(ReadIndexHeader) == strconv.FormatUint(first.Index, 10),
			fmt.Sprintf("%s, %s %q", r, ReadIndexHeader, r.header.Get(ReadIndexHeader))
	})
	v, r := counterValue(t, b, "k")
	if v != 6 || r.header.Get(RoleHeader) != "replica" || r.header.Get("Reprise-State-Hash") != first.StateHash {
		t.Fatalf("replica state: counter %d, headers %v", v, r.header)
	}
	for _, path := range []string{"/v1/state", "/v1/state/hash", "/v1/catalog", "/v1/wal", "/health"} {
		r := b.get(path)
		if r.status != http.StatusOK || r.header.Get(ReadIndexHeader) != strconv.FormatUint(first.Index, 10) {
			t.Fatalf("GET %s on the replica: %s, %s %q", path, r, ReadIndexHeader, r.header.Get(ReadIndexHeader))
		}
	}

	// Health says the role, epoch and primary.
	for _, m := range []*clusterMember{a, b} {
		h := m.health()
		if h.Role == "" || h.Epoch == nil || *h.Epoch != 1 || h.Primary == nil || *h.Primary != "a" || !h.Ready {
			t.Fatalf("health of %s: %+v", m.id, h)
		}
	}

	// Metrics carry the replication series.
	waitUntil(t, "lag 0 after the redirected write", func() (bool, string) {
		st := a.replicationStatus()
		return st.Replicas[0].Lag == 0 && st.Replicas[0].Durable == first.Index, fmt.Sprintf("%+v", st.Replicas)
	})
	ma := checkExposition(t, string(a.get("/metrics").body))
	for series, want := range map[string]float64{
		`reprise_replication_epoch`:                              1,
		`reprise_replication_committed_index`:                    float64(first.Index),
		`reprise_replication_role{role="primary"}`:               1,
		`reprise_replication_role{role="replica"}`:               0,
		`reprise_replication_role{role="none"}`:                  0,
		`reprise_replication_replica_lag_records{replica="b"}`:   0,
		`reprise_replication_replica_durable_index{replica="b"}`: float64(first.Index),
		`reprise_replication_records_received_total`:             0,
		`reprise_replication_snapshots_installed_total`:          0,
	} {
		got, ok := ma[series]
		switch {
		case !ok:
			t.Errorf("primary metrics lack %s", series)
		case got != want:
			t.Errorf("primary %s = %v, want %v", series, got, want)
		}
	}
	if ma[`reprise_replication_records_shipped_total`] < float64(first.Index-1) {
		t.Errorf("records shipped %v, want at least %d", ma[`reprise_replication_records_shipped_total`], first.Index-1)
	}
	mb := checkExposition(t, string(b.get("/metrics").body))
	if mb[`reprise_replication_role{role="replica"}`] != 1 || mb[`reprise_replication_records_received_total`] == 0 {
		t.Errorf("replica metrics: role %v, received %v", mb[`reprise_replication_role{role="replica"}`], mb[`reprise_replication_records_received_total`])
	}
	for series := range mb {
		if strings.HasPrefix(series, "reprise_replication_replica_") {
			t.Errorf("replica exposes a per-replica series %s", series)
		}
	}

	// sync_all with the replica gone: writes are refused and nothing is
	// applied.
	b.stopReplication()
	waitUntil(t, "the primary sees replica b gone", func() (bool, string) {
		st := a.replicationStatus()
		return st.Replicas[0].State != "in_sync", fmt.Sprintf("%+v", st.Replicas)
	})
	before = a.exec.Status()
	r = a.post("/transition", incBody(1, "while-b-is-down"))
	p = wantProblem(t, r, http.StatusServiceUnavailable, "replicas_unavailable")
	if !slices.Equal(p.NotInSync, []string{"b"}) {
		t.Fatalf("replicas_unavailable names %v, want [b]: %+v", p.NotInSync, p)
	}
	if after := a.exec.Status(); after.Index != before.Index || after.LastWAL != before.LastWAL || after.StateHash != before.StateHash {
		t.Fatalf("the primary changed on a refused write: %+v, before %+v", after, before)
	}
	if v, _ := counterValue(t, a, "k"); v != 6 {
		t.Fatalf("counter on the primary after a refused write: %d, want 6", v)
	}
}

// TestReplicationOnASingleNode: without a cluster the status says
// "single", every response says so, and writes are taken as before.
func TestReplicationOnASingleNode(t *testing.T) {
	n := startNode(t, "counter", Config{})
	v := n.mustAccept(incBody(2, "s1"))
	r := n.get("/v1/replication")
	if r.status != http.StatusOK || r.header.Get(RoleHeader) != "single" || r.header.Get(ReadIndexHeader) != strconv.FormatUint(v.Index, 10) {
		t.Fatalf("GET /v1/replication: %s, headers %v", r, r.header)
	}
	var st replicationJSON
	decode(t, r, &st)
	if st.Role != "single" || st.Epoch != 0 || st.Replicas != nil || st.Replica != nil || st.Committed != v.Index || !st.Readable ||
		len(st.Members) != 0 || st.Metrics.Sessions == nil {
		t.Fatalf("single-node status: %+v", st)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &fields); err != nil {
		t.Fatal(err)
	}
	if _, ok := fields["replicas"]; ok {
		t.Fatalf("a single node lists replicas: %s", r.body)
	}
	h := n.health()
	if h.Role != "" || h.Epoch != nil || h.Primary != nil || !h.Ready {
		t.Fatalf("single-node health: %+v", h)
	}
	for _, path := range []string{"/health", "/metrics", "/nowhere"} {
		if got := n.get(path).header.Get(RoleHeader); got != "single" {
			t.Fatalf("GET %s: %s %q", path, RoleHeader, got)
		}
	}
	for series := range checkExposition(t, string(n.get("/metrics").body)) {
		if strings.HasPrefix(series, "reprise_replication_") {
			t.Fatalf("a single node exposes replication series: %s", series)
		}
	}
}

// TestCatalogModuleEndpoint: the module bytes of a stored catalog, by full
// hash, hash to it; anything else is catalog_not_found; reads protection
// applies.
func TestCatalogModuleEndpoint(t *testing.T) {
	counter := builtinModule(t, "counter")
	store, err := catalogstore.Open(filepath.Join(t.TempDir(), "catalogs"), catalogstore.Options{Engine: modules.engine, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	wasm, _ := builtin.Lookup("counter")
	if _, _, err := store.Put(context.Background(), wasm); err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, dir: t.TempDir(), module: counter, cfg: Config{Catalogs: store, AuthToken: testToken, ProtectReads: true}}
	n.ecfg.SnapshotEvery, n.ecfg.SnapshotKeep, n.ecfg.Catalogs = 1<<40, 10, store
	n.start()
	t.Cleanup(n.stop)

	path := "/v1/catalogs/" + counter.HashHex() + "/module"
	wantProblem(t, n.get(path), http.StatusUnauthorized, "unauthorized")
	auth := []string{"Authorization", "Bearer " + testToken}
	r := n.get(path, auth...)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/wasm" {
		t.Fatalf("GET %s: %d %s", path, r.status, r.header.Get("Content-Type"))
	}
	if sum := sha256.Sum256(r.body); hex.EncodeToString(sum[:]) != counter.HashHex() {
		t.Fatalf("module bytes hash to %x, want %s", sum, counter.HashHex())
	}
	other := sha256.Sum256([]byte("not a stored catalog"))
	for _, hash := range []string{hex.EncodeToString(other[:]), counter.HashHex()[:16], "zz" + counter.HashHex()[2:]} {
		wantProblem(t, n.get("/v1/catalogs/"+hash+"/module", auth...), http.StatusNotFound, "catalog_not_found")
	}
}
