package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Bounds of the cluster tests. Each only turns a hang into a failure that
// says what was awaited; none is a performance claim.
const (
	clusterWait       = 3 * time.Minute // an election, a rejoin, a convergence
	clusterOpDeadline = 3 * time.Minute // one operation, resubmitted until it is answered
	clusterPoll       = 50 * time.Millisecond
	clusterProbe      = 3 * time.Second  // one status request to one node
	clusterRequest    = 30 * time.Second // one POST; above the nodes' submit timeout
	clusterSubmit     = "10s"            // the nodes' http.submit_timeout
	clusterLogTail    = 40               // stderr lines shown per node on failure
	clusterKeys       = 2                // keys per load client
)

// member is one node of a process-level cluster: its stable ID, its three
// loopback ports and its data directory, which outlive its processes.
type member struct {
	id              string
	api, raft, repl int
	apiAddr         string
	dataDir         string
	snapshotEvery   int
	proc            *node   // the current process; nil before the first start
	past            []*node // the earlier processes
	restarts        int
}

// cluster runs real `reprise serve` processes that form one replication
// cluster on loopback.
type cluster struct {
	t       *testing.T
	bin     string
	members []*member
	flags   []string // cluster flags shared by every node
	client  *http.Client
	mu      sync.Mutex // guards members' proc against the load clients' probes
	dumped  atomic.Bool
	started time.Time
	marks   []string // the test's milestones and when they were reached
}

// mark records a milestone with the time since the cluster was laid out,
// for the test log (figures only, never asserted).
func (cl *cluster) mark(what string) {
	cl.marks = append(cl.marks, fmt.Sprintf("%s at %v", what, time.Since(cl.started).Round(100*time.Millisecond)))
}

// timeline is the milestones so far.
func (cl *cluster) timeline() string { return strings.Join(cl.marks, ", ") }

// freePorts reserves n distinct loopback ports by listening on them all at
// once, then releases them for the nodes to bind.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("reserving a loopback port: %v", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// newCluster builds the binary and lays out the members; extra flags go to
// every node (mode, control, raft timings, snapshot.keep).
func newCluster(t *testing.T, ids []string, snapshotEvery int, extra ...string) *cluster {
	t.Helper()
	dir := t.TempDir()
	cl := &cluster{t: t, bin: buildReprise(t, dir), client: &http.Client{
		Timeout: clusterRequest,
		// Redirects are followed by hand, so that a 307 is seen and counted.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{MaxIdleConnsPerHost: 32, DisableCompression: true},
	}}
	cl.started = time.Now()
	ports := freePorts(t, 3*len(ids))
	var peers []string
	for i, id := range ids {
		m := &member{id: id, api: ports[3*i], raft: ports[3*i+1], repl: ports[3*i+2],
			dataDir: filepath.Join(dir, "node-"+id), snapshotEvery: snapshotEvery}
		m.apiAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(m.api))
		cl.members = append(cl.members, m)
		peers = append(peers, fmt.Sprintf("%s=127.0.0.1:%d/%d/%d", id, m.api, m.raft, m.repl))
	}
	cl.flags = append([]string{"--cluster-peers", strings.Join(peers, ","), "--cluster-token", "process-test",
		"--http-submit-timeout", clusterSubmit}, extra...)
	t.Cleanup(func() {
		cl.client.CloseIdleConnections()
		if t.Failed() && !cl.dumped.Load() {
			t.Logf("node logs at the failure:\n%s", cl.logTails())
		}
	})
	return cl
}

// start starts the members' processes on their data directories, all at
// once (each compiles the catalog on its first start), and waits for
// every one to listen.
func (cl *cluster) start(ms ...*member) {
	cl.t.Helper()
	for _, m := range ms {
		args := append([]string{"--listen", m.apiAddr, "--cluster-node-id", m.id}, cl.flags...)
		p := startNode(cl.t, cl.bin, m.dataDir, m.snapshotEvery, args...)
		cl.mu.Lock()
		if m.proc != nil {
			m.past = append(m.past, m.proc)
			m.restarts++
		}
		m.proc = p
		cl.mu.Unlock()
	}
	for _, m := range ms {
		if err := m.proc.waitListening(startTimeout); err != nil {
			cl.fatalf("node %s did not come up: %v", m.id, err)
		}
	}
}

// kill SIGKILLs m's process.
func (cl *cluster) kill(m *member) {
	cl.t.Helper()
	if err := m.proc.kill(); err != nil {
		cl.fatalf("kill -9 node %s: %v", m.id, err)
	}
}

// terminate stops m's process with SIGTERM and requires a clean exit.
func (cl *cluster) terminate(m *member) {
	cl.t.Helper()
	if err := m.proc.terminate(); err != nil {
		cl.fatalf("SIGTERM node %s: %v", m.id, err)
	}
}

// running are the members whose process is up.
func (cl *cluster) running() []*member {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var out []*member
	for _, m := range cl.members {
		if m.proc != nil && !m.proc.hasExited() {
			out = append(out, m)
		}
	}
	return out
}

// fatalf fails the test with the message, each node's GET /v1/replication
// and the tail of each node's stderr.
func (cl *cluster) fatalf(format string, args ...any) {
	cl.t.Helper()
	cl.dumped.Store(true)
	cl.t.Fatalf("%s\n\nmilestones: %s\n%s\n%s", fmt.Sprintf(format, args...), cl.timeline(), cl.replicationDump(), cl.logTails())
}

// replicationDump is every running node's GET /v1/replication, as served.
func (cl *cluster) replicationDump() string {
	var b strings.Builder
	for _, m := range cl.members {
		fmt.Fprintf(&b, "GET /v1/replication on %s (%s): ", m.id, m.apiAddr)
		raw, err := cl.get(context.Background(), m.apiAddr, "/v1/replication")
		if err != nil {
			fmt.Fprintf(&b, "%v\n", err)
			continue
		}
		fmt.Fprintf(&b, "%s\n", bytes.TrimSpace(raw))
	}
	return b.String()
}

// logTails is the last lines of every node's stderr.
func (cl *cluster) logTails() string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var b strings.Builder
	for _, m := range cl.members {
		if m.proc == nil {
			continue
		}
		state := "running"
		if m.proc.hasExited() {
			state = fmt.Sprintf("exited: %v", m.proc.waitErr)
		}
		fmt.Fprintf(&b, "--- node %s, process %d (%s), last %d stderr lines:\n%s\n", m.id, m.restarts+1, state, clusterLogTail,
			lastLines(m.proc.log.String(), clusterLogTail))
	}
	return b.String()
}

// errorLines summarizes the level=ERROR lines every process of every
// member logged: each distinct message (with its route, status and error
// when it has them) and its count, in order of first appearance. Raft's
// own complaints about a peer that is down are left out. For the test
// log; never asserted.
func (cl *cluster) errorLines() string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var parts []string
	for _, m := range cl.members {
		counts := map[string]int{}
		var order []string
		for _, p := range append(slices.Clone(m.past), m.proc) {
			if p == nil {
				continue
			}
			for _, line := range strings.Split(p.log.String(), "\n") {
				if !strings.Contains(line, " level=ERROR ") || strings.Contains(line, " module=raft ") {
					continue
				}
				key := logValue(line, "msg")
				for _, f := range []string{"route", "status", "err"} {
					if v := logValue(line, f); v != "" {
						key += " " + f + "=" + v
					}
				}
				if counts[key] == 0 {
					order = append(order, key)
				}
				counts[key]++
			}
		}
		for _, key := range order {
			parts = append(parts, fmt.Sprintf("%s: %dx %s", m.id, counts[key], key))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

// logValue is the value of key in a text-format slog line, quoted values
// kept whole (logField splits them at spaces).
func logValue(line, key string) string {
	i := strings.Index(line, " "+key+"=")
	if i < 0 {
		return ""
	}
	rest := line[i+len(key)+2:]
	if strings.HasPrefix(rest, `"`) {
		if v, err := strconv.QuotedPrefix(rest); err == nil {
			return v
		}
	}
	v, _, _ := strings.Cut(rest, " ")
	return v
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// get reads one endpoint of one node with a short deadline; any status
// but 200 is an error carrying the body.
func (cl *cluster) get(ctx context.Context, addr, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, clusterProbe)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := cl.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return raw, fmt.Errorf("GET %s: HTTP %d: %s", path, resp.StatusCode, bytes.TrimSpace(raw))
	}
	return raw, nil
}

// replicationView is the part of GET /v1/replication the tests read.
type replicationView struct {
	NodeID     string `json:"node_id"`
	Role       string `json:"role"`
	Epoch      uint64 `json:"epoch"`
	Primary    string `json:"primary"`
	PrimaryAPI string `json:"primary_api"`
	Committed  uint64 `json:"committed"`
	ReadIndex  uint64 `json:"read_index"`
	Readable   bool   `json:"readable"`
	Replicas   []struct {
		ID      string `json:"id"`
		State   string `json:"state"`
		Durable uint64 `json:"durable"`
		Lag     uint64 `json:"lag"`
		Session *struct {
			Kind  string `json:"kind"`
			Phase string `json:"phase"`
		} `json:"session"`
	} `json:"replicas"`
	Replica *struct {
		Applied    uint64 `json:"applied"`
		Durable    uint64 `json:"durable"`
		Rebuilding bool   `json:"rebuilding"`
	} `json:"replica"`
	Metrics struct {
		SnapshotsInstalled uint64            `json:"snapshots_installed"`
		Sessions           map[string]uint64 `json:"sessions"`
	} `json:"metrics"`
}

func (cl *cluster) replication(ctx context.Context, m *member) (replicationView, error) {
	var v replicationView
	raw, err := cl.get(ctx, m.apiAddr, "/v1/replication")
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("GET /v1/replication on %s: %v: %s", m.id, err, raw)
	}
	return v, nil
}

// sessions renders a sessions metric in key order.
func sessions(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// await polls cond until it holds, failing the test with what was awaited
// and the last state cond described when clusterWait passes.
func (cl *cluster) await(what string, cond func() (bool, string)) {
	cl.t.Helper()
	deadline := time.Now().Add(clusterWait)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			cl.fatalf("waited %v for %s; last seen: %s", clusterWait, what, state)
		}
		time.Sleep(clusterPoll)
	}
}

// settled describes the running nodes once exactly one is a readable
// primary and every other is a replica of the same epoch.
type settled struct {
	primary *member
	epoch   uint64
	views   map[string]replicationView
}

// awaitSettled waits until the running nodes agree on one primary and
// epoch, with every other running node a replica of it, and accept (if
// any) holds.
func (cl *cluster) awaitSettled(what string, accept func(settled) (bool, string)) settled {
	cl.t.Helper()
	var out settled
	cl.await(what, func() (bool, string) {
		ctx := context.Background()
		s := settled{views: map[string]replicationView{}}
		var seen []string
		ok := true
		for _, m := range cl.running() {
			v, err := cl.replication(ctx, m)
			if err != nil {
				seen = append(seen, fmt.Sprintf("%s: %v", m.id, err))
				ok = false
				continue
			}
			s.views[m.id] = v
			seen = append(seen, fmt.Sprintf("%s: role %s epoch %d primary %q readable %t read index %d committed %d",
				m.id, v.Role, v.Epoch, v.Primary, v.Readable, v.ReadIndex, v.Committed))
			// A replica's reads may pause under load (its state ahead of
			// the committed index it knows), so only the primary must be
			// readable here; convergence requires every node to be.
			switch {
			case v.Role == "primary" && v.Readable && s.primary == nil:
				s.primary, s.epoch = m, v.Epoch
			case v.Role == "replica":
			default:
				ok = false
			}
		}
		state := strings.Join(seen, "; ")
		if !ok || s.primary == nil {
			return false, state
		}
		for id, v := range s.views {
			if v.Epoch != s.epoch || v.Primary != s.primary.id {
				return false, state + fmt.Sprintf(" (%s is not on the primary's epoch %d)", id, s.epoch)
			}
		}
		if accept != nil {
			if ok, why := accept(s); !ok {
				return false, state + " (" + why + ")"
			}
		}
		out = s
		return true, state
	})
	return out
}

// findPrimary is the API address of the running node that says it is a
// readable primary, the one of the highest epoch if several do; "" when
// none does.
func (cl *cluster) findPrimary(ctx context.Context) string {
	best, epoch := "", uint64(0)
	for _, m := range cl.running() {
		v, err := cl.replication(ctx, m)
		if err == nil && v.Role == "primary" && v.Readable && v.Epoch >= epoch {
			best, epoch = m.apiAddr, v.Epoch
		}
	}
	return best
}

// stateHashView is GET /v1/state/hash.
type stateHashView struct {
	Index     uint64 `json:"index"`
	StateHash string `json:"state_hash"`
}

// awaitConverged stops nothing: with the load stopped, it waits until the
// primary sees every replica in sync with lag 0 and durable at its
// committed index, and every running node serves the same state hash at
// that index. It returns that index and hash.
func (cl *cluster) awaitConverged(what string) (uint64, string) {
	cl.t.Helper()
	var index uint64
	var hash string
	cl.await(what, func() (bool, string) {
		ctx := context.Background()
		addr := cl.findPrimary(ctx)
		if addr == "" {
			return false, "no readable primary"
		}
		var p *member
		for _, m := range cl.members {
			if m.apiAddr == addr {
				p = m
			}
		}
		pv, err := cl.replication(ctx, p)
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		ok := len(pv.Replicas) == len(cl.members)-1
		for _, r := range pv.Replicas {
			seen = append(seen, fmt.Sprintf("primary %s sees %s %s durable %d lag %d", p.id, r.ID, r.State, r.Durable, r.Lag))
			if r.State != "in_sync" || r.Lag != 0 || r.Durable != pv.Committed {
				ok = false
			}
		}
		hashes := map[string]bool{}
		for _, m := range cl.running() {
			raw, err := cl.get(ctx, m.apiAddr, "/v1/state/hash")
			if err != nil {
				seen = append(seen, fmt.Sprintf("%s: %v", m.id, err))
				ok = false
				continue
			}
			var h stateHashView
			if err := json.Unmarshal(raw, &h); err != nil {
				cl.fatalf("GET /v1/state/hash on %s: %v: %s", m.id, err, raw)
			}
			seen = append(seen, fmt.Sprintf("%s serves index %d hash %s", m.id, h.Index, h.StateHash))
			if h.Index != pv.Committed {
				ok = false
			}
			hashes[h.StateHash] = true
		}
		state := fmt.Sprintf("primary %s epoch %d committed %d; %s", p.id, pv.Epoch, pv.Committed, strings.Join(seen, "; "))
		if !ok {
			return false, state
		}
		if len(hashes) != 1 {
			cl.fatalf("%s: the nodes serve different state hashes at the same index %d: %s", what, pv.Committed, state)
		}
		index = pv.Committed
		for h := range hashes {
			hash = h // the only one
		}
		return true, state
	})
	return index, hash
}

// clusterOp is one increment a load client submitted.
type clusterOp struct {
	idem     string
	key      int
	by       int64
	acked    bool
	index    uint64 // the index its acknowledgement named
	attempts int
}

// loadClient submits increments to whichever node is primary, one at a
// time, resubmitting each with its idempotency key until it is
// acknowledged. One goroutine owns it while the load runs.
type loadClient struct {
	id        int
	keys      []string
	rng       *rand.Rand // the operations' keys and increments
	route     *rand.Rand // which node a resubmission goes to
	ops       []clusterOp
	submitted []int64 // per key: the sum of every increment submitted
	target    string  // the API address this client sends to
	// Figures for the summary: retries by reason, redirects followed,
	// operations acknowledged as duplicates of an earlier unanswered
	// submission.
	retries    map[string]int
	redirects  int
	duplicates int
}

// clusterLoad is the load clients and their shared progress.
type clusterLoad struct {
	cl      *cluster
	clients []*loadClient
	acked   atomic.Int64
	stop    atomic.Bool
	wg      sync.WaitGroup
	errs    []error
	errMu   sync.Mutex
}

func newClusterLoad(cl *cluster, clients int, seed uint64) *clusterLoad {
	l := &clusterLoad{cl: cl}
	for id := range clients {
		c := &loadClient{id: id, rng: rand.New(rand.NewPCG(seed, uint64(id))), route: rand.New(rand.NewPCG(seed, uint64(1000+id))),
			submitted: make([]int64, clusterKeys), retries: map[string]int{}}
		for k := range clusterKeys {
			c.keys = append(c.keys, fmt.Sprintf("c%02d-k%d", id, k))
		}
		l.clients = append(l.clients, c)
	}
	return l
}

// start runs every client until stopLoad. Client i first sends to member
// i (modulo their number), so writes to replicas meet their redirects.
func (l *clusterLoad) start() {
	l.stop.Store(false)
	for i, c := range l.clients {
		c.target = l.cl.members[i%len(l.cl.members)].apiAddr
		l.wg.Go(func() {
			if err := l.run(c); err != nil {
				l.errMu.Lock()
				l.errs = append(l.errs, fmt.Errorf("client %d: %w", c.id, err))
				l.errMu.Unlock()
			}
		})
	}
}

// stopLoad lets every client finish the operation it is settling and
// waits for them; it fails the test if any client failed.
func (l *clusterLoad) stopLoad() {
	l.cl.t.Helper()
	l.stop.Store(true)
	l.wg.Wait()
	if len(l.errs) > 0 {
		l.cl.fatalf("load clients failed:\n%v", errors.Join(l.errs...))
	}
}

// awaitAcked waits until n operations in all have been acknowledged.
func (l *clusterLoad) awaitAcked(what string, n int64) {
	l.cl.t.Helper()
	l.cl.await(what, func() (bool, string) {
		l.errMu.Lock()
		failed := len(l.errs)
		l.errMu.Unlock()
		if failed > 0 {
			l.stopLoad() // reports the errors
		}
		return l.acked.Load() >= n, fmt.Sprintf("%d operations acknowledged", l.acked.Load())
	})
}

func (l *clusterLoad) run(c *loadClient) error {
	for !l.stop.Load() {
		op := clusterOp{idem: fmt.Sprintf("c%02d-op%06d", c.id, len(c.ops)), key: c.rng.IntN(clusterKeys), by: 1 + c.rng.Int64N(1000)}
		c.ops = append(c.ops, op)
		c.submitted[op.key] += op.by
		if err := l.settle(c, &c.ops[len(c.ops)-1]); err != nil {
			return err
		}
		l.acked.Add(1)
	}
	return nil
}

// submitOutcome is what one POST of an operation came to.
type submitOutcome struct {
	answer   incrementAnswer
	acked    bool
	redirect string // the primary's API address a 307 named
	retry    string // why the operation must be sent again (its fate may be unknown)
}

// settle submits op until it is acknowledged: it follows redirects, and on
// anything that leaves its fate unknown or says nothing was applied it
// resubmits with the same idempotency key, alternately to the node that
// says it is primary and to any running node (which redirects). A verdict
// a correct cluster never gives is an error.
func (l *clusterLoad) settle(c *loadClient, op *clusterOp) error {
	ctx := context.Background()
	deadline := time.Now().Add(clusterOpDeadline)
	last := ""
	for backoff := 10 * time.Millisecond; ; backoff = min(2*backoff, 250*time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s unacknowledged after %d attempts over %v; last outcome: %s", op.idem, op.attempts, clusterOpDeadline, last)
		}
		if c.target == "" && op.attempts%2 == 1 {
			if up := l.cl.running(); len(up) > 0 {
				c.target = up[c.route.IntN(len(up))].apiAddr
			}
		}
		if c.target == "" {
			c.target = l.cl.findPrimary(ctx)
			if c.target == "" {
				last = "no node says it is a readable primary"
				time.Sleep(backoff)
				continue
			}
		}
		op.attempts++
		out, err := l.cl.post(ctx, c.target, c.keys[op.key], op.by, op.idem)
		switch {
		case err != nil:
			return fmt.Errorf("%s (attempt %d, to %s): %w", op.idem, op.attempts, c.target, err)
		case out.acked:
			op.acked, op.index = true, out.answer.Index
			if out.answer.Duplicate {
				if op.attempts == 1 {
					return fmt.Errorf("%s: its first submission was answered as a duplicate of index %d", op.idem, op.index)
				}
				c.duplicates++
			}
			return nil
		case out.redirect != "":
			c.redirects++
			last = "307 to " + out.redirect
			c.target = out.redirect
		default:
			c.retries[out.retry]++
			last = fmt.Sprintf("%s from %s", out.retry, c.target)
			c.target = ""
			time.Sleep(backoff)
		}
	}
}

// post sends one increment and classifies the answer. The error is a
// verdict a correct cluster never gives.
func (cl *cluster) post(ctx context.Context, addr, key string, by int64, idem string) (submitOutcome, error) {
	req, err := incrementRequest(ctx, addr, key, by, idem)
	if err != nil {
		return submitOutcome{}, err
	}
	resp, err := cl.client.Do(req)
	if err != nil {
		return submitOutcome{retry: "no answer"}, nil
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return submitOutcome{retry: "answer cut"}, nil
	}
	switch resp.StatusCode {
	case http.StatusOK:
		var a incrementAnswer
		if err := json.Unmarshal(raw, &a); err != nil || !a.Success || a.Index == 0 {
			return submitOutcome{}, fmt.Errorf("HTTP 200 without success and an index (%v): %s", err, raw)
		}
		return submitOutcome{answer: a, acked: true}, nil
	case http.StatusTemporaryRedirect:
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || loc.Host == "" {
			return submitOutcome{}, fmt.Errorf("307 without a usable Location (%q): %s", resp.Header.Get("Location"), raw)
		}
		return submitOutcome{redirect: loc.Host}, nil
	case http.StatusServiceUnavailable:
		var p struct {
			Code string `json:"code"`
		}
		if err := json.Unmarshal(raw, &p); err != nil || p.Code == "" {
			return submitOutcome{}, fmt.Errorf("HTTP 503 without a problem code: %s", raw)
		}
		// not_primary and replicas_unavailable applied nothing;
		// not_acknowledged and timeout leave the fate unknown; a node
		// shutting down or stopped is left for another. All are
		// resubmitted with the same idempotency key.
		return submitOutcome{retry: "503 " + p.Code}, nil
	}
	return submitOutcome{}, fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(raw))
}

// redirects is how many 307s the clients followed.
func (l *clusterLoad) redirects() int {
	n := 0
	for _, c := range l.clients {
		n += c.redirects
	}
	return n
}

// summary is the load's figures, for the test log.
func (l *clusterLoad) summary() string {
	ops, redirects, dups := 0, 0, 0
	retries := map[string]int{}
	for _, c := range l.clients {
		ops += len(c.ops)
		redirects += c.redirects
		dups += c.duplicates
		for k, v := range c.retries {
			retries[k] += v
		}
	}
	reasons := make([]string, 0, len(retries))
	for k := range retries {
		reasons = append(reasons, k)
	}
	sort.Strings(reasons)
	parts := make([]string, len(reasons))
	for i, k := range reasons {
		parts[i] = fmt.Sprintf("%q=%d", k, retries[k])
	}
	return fmt.Sprintf("operations=%d redirects_followed=%d acknowledged_as_duplicate_on_resubmission=%d resubmissions_by_reason={%s}",
		ops, redirects, dups, strings.Join(parts, " "))
}

// verify checks the cluster, converged at index with hash, against every
// operation the load submitted (each acknowledged once the load stopped):
// on every node each key's total is the sum of its increments and nothing
// else was applied; distinct operations were acknowledged at distinct
// indexes; then every operation resubmitted to the primary is answered as
// a duplicate of the index it was acknowledged at, and the state does not
// move.
func (l *clusterLoad) verify(index uint64, hash string) {
	cl := l.cl
	cl.t.Helper()
	ctx := context.Background()
	ops := 0
	byIndex := map[uint64]string{}
	var bad []string
	for _, c := range l.clients {
		for _, op := range c.ops {
			ops++
			if !op.acked {
				bad = append(bad, fmt.Sprintf("%s was never acknowledged", op.idem))
				continue
			}
			if other, dup := byIndex[op.index]; dup {
				bad = append(bad, fmt.Sprintf("%s and %s were both acknowledged at index %d", other, op.idem, op.index))
			}
			byIndex[op.index] = op.idem
		}
	}
	if len(bad) > 0 {
		cl.fatalf("acknowledgements:\n%s", firstLines(bad))
	}
	if want := genesisRecords + uint64(ops); index != want {
		cl.fatalf("the cluster converged at index %d, but %d operations were acknowledged after the genesis record, each to be applied exactly once (index %d)",
			index, ops, want)
	}
	for _, m := range cl.running() {
		st, err := getState(ctx, cl.client, m.apiAddr)
		if err != nil {
			cl.fatalf("node %s: %v", m.id, err)
		}
		if st.Index != index || st.ReadIndex != index || st.StateHash != hash {
			cl.fatalf("node %s: GET /state reflects index %d (Reprise-Read-Index %d) hash %s; the cluster converged at index %d hash %s",
				m.id, st.Index, st.ReadIndex, st.StateHash, index, hash)
		}
		bad = bad[:0]
		known := map[string]bool{}
		for _, c := range l.clients {
			for k, name := range c.keys {
				known[name] = true
				if got := st.Counts[name]; got != c.submitted[k] {
					bad = append(bad, fmt.Sprintf("key %s: total %d, expected %d (the sum of its acknowledged increments; %+d)",
						name, got, c.submitted[k], got-c.submitted[k]))
				}
			}
		}
		var unknown []string
		for name := range st.Counts {
			if !known[name] {
				unknown = append(unknown, name)
			}
		}
		slices.Sort(unknown)
		for _, name := range unknown {
			bad = append(bad, fmt.Sprintf("key %s: total %d, but no client incremented it", name, st.Counts[name]))
		}
		if len(bad) > 0 {
			cl.fatalf("node %s at index %d:\n%s", m.id, index, firstLines(bad))
		}
	}

	// Every acknowledged operation comes back as a duplicate of its
	// record: none was lost and re-applied.
	primary := cl.findPrimary(ctx)
	if primary == "" {
		cl.fatalf("no readable primary to resubmit the acknowledged operations to")
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	bad = bad[:0]
	for _, c := range l.clients {
		wg.Go(func() {
			for _, op := range c.ops {
				out, err := cl.post(ctx, primary, c.keys[op.key], op.by, op.idem)
				var why string
				switch {
				case err != nil:
					why = err.Error()
				case !out.acked:
					why = fmt.Sprintf("not answered (%s%s)", out.retry, out.redirect)
				case !out.answer.Duplicate:
					why = fmt.Sprintf("applied afresh at index %d: the acknowledged record at index %d was lost", out.answer.Index, op.index)
				case out.answer.Index != op.index:
					why = fmt.Sprintf("a duplicate of index %d, but it was acknowledged at index %d", out.answer.Index, op.index)
				default:
					continue
				}
				mu.Lock()
				bad = append(bad, fmt.Sprintf("resubmitting %s to the primary %s: %s", op.idem, primary, why))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(bad)
	if len(bad) > 0 {
		cl.fatalf("acknowledged operations resubmitted:\n%s", firstLines(bad))
	}
	raw, err := cl.get(ctx, primary, "/v1/state/hash")
	if err != nil {
		cl.fatalf("after the resubmissions: %v", err)
	}
	var h stateHashView
	if err := json.Unmarshal(raw, &h); err != nil || h.Index != index || h.StateHash != hash {
		cl.fatalf("resubmitting acknowledged operations moved the primary from index %d hash %s to %s", index, hash, raw)
	}
}
