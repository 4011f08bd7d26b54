package replication

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// This file is a deterministic simulator of a cluster driven through the two
// engines: nodes with disks (a log with durable and volatile parts,
// snapshots, persisted metadata), FIFO links that can be cut or broken,
// crashes and restarts, a control plane that bumps epochs and promotes with
// ChooseSuccessor, and executors that carry out every command for real on
// the simulated disks. A record's state hash chains over the previous one,
// so applying a record on the wrong state is detected exactly as the host
// detects a state hash mismatch. Everything random comes from one seeded
// generator; nodes and queues are visited in sorted order.

type simRec struct {
	Index, Epoch, Value uint64
	Hash                [32]byte
}

func chainHash(prev [32]byte, index, epoch, value uint64) [32]byte {
	var b [56]byte
	copy(b[:32], prev[:])
	binary.BigEndian.PutUint64(b[32:], index)
	binary.BigEndian.PutUint64(b[40:], epoch)
	binary.BigEndian.PutUint64(b[48:], value)
	return sha256.Sum256(b[:])
}

type simSnap struct {
	Index, Epoch uint64
	Hash         [32]byte
	History      History
}

type simDisk struct {
	first       uint64 // index of recs[0]
	recs        []simRec
	durable     uint64 // the log is durable through here
	snaps       map[uint64]simSnap
	base        uint64 // snapshot the log continues from
	history     History
	knownC      uint64
	lineage     uint64
	rebuildMark bool
}

func newSimDisk() simDisk {
	return simDisk{first: 1, snaps: map[uint64]simSnap{0: {}}}
}

func (d *simDisk) last() uint64 { return d.first + uint64(len(d.recs)) - 1 }

func (d *simDisk) rec(i uint64) (simRec, bool) {
	if i < d.first || i > d.last() {
		return simRec{}, false
	}
	return d.recs[i-d.first], true
}

func (d *simDisk) hashAt(i uint64) ([32]byte, bool) {
	if r, ok := d.rec(i); ok {
		return r.Hash, true
	}
	if s, ok := d.snaps[i]; ok {
		return s.Hash, true
	}
	return [32]byte{}, false
}

func (d *simDisk) epochAt(i uint64) uint64 {
	if r, ok := d.rec(i); ok {
		return r.Epoch
	}
	return d.snaps[i].Epoch
}

func (d *simDisk) appendRec(r simRec) error {
	if r.Index != d.last()+1 {
		return fmt.Errorf("record %d does not continue the log at %d", r.Index, d.last()+1)
	}
	if n := len(d.history); n == 0 || d.history[n-1].Epoch < r.Epoch {
		d.history = append(d.history, EpochStart{Epoch: r.Epoch, FirstIndex: r.Index})
	} else if d.history[n-1].Epoch > r.Epoch {
		return fmt.Errorf("record %d of epoch %d after epoch %d", r.Index, r.Epoch, d.history[n-1].Epoch)
	}
	d.recs = append(d.recs, r)
	return nil
}

func (d *simDisk) truncateAfter(a uint64) {
	if a < d.first-1 {
		a = d.first - 1
	}
	if a < d.last() {
		d.recs = d.recs[:a-d.first+1]
	}
	d.durable = min(d.durable, a)
	d.history = d.history.Truncate(a)
	for i := range d.snaps {
		if i > a {
			delete(d.snaps, i)
		}
	}
}

func (d *simDisk) crash() {
	d.truncateAfter(d.durable)
}

type simNode struct {
	id          ReplicaID
	endpoint    string
	up          bool
	disk        simDisk
	prim        *Primary
	rep         *Replica
	applied     uint64
	state       [32]byte
	local       []func() Event // completions of this incarnation's commands
	control     []Event        // control plane messages, delivered in order
	lastShip    *simMsg
	lastFrom    ReplicaID
	install     *InstallSnapshot
	snapData    map[SessionID]snapshotData
	nextApp     uint64 // next index ApplyRecords must start at
	applyGen    uint64 // generation of the last ApplyRecords
	applyBroken uint64 // generation in which an apply failed; nothing more is applied in it
	pCommit     uint64 // a primary's committed index, as persisted for a later candidacy
}

type snapshotData struct {
	Session SessionID
	Snap    simSnap
	Corrupt bool
}

type simMsg struct {
	from, to ReplicaID
	body     any
	recs     []simRec
}

type simStats struct {
	outcomes   map[string]int
	failovers  int
	reelects   int
	acked      int
	failed     int
	truncates  int
	rebuilds   map[string]int
	refusals   int
	compaction int
}

type cluster struct {
	rng     *rand.Rand
	mode    Mode
	budgets Budgets
	nodes   map[ReplicaID]*simNode
	ids     []ReplicaID
	primary ReplicaID
	epoch   uint64
	members map[ReplicaID]bool // replicas of the current membership
	queues  map[[2]ReplicaID][]simMsg
	cut     map[ReplicaID]bool

	// What the current primary engine did, checked against its status.
	pins     map[PinID]Pin
	stream   map[ReplicaID]SessionID
	ended    map[SessionID]bool
	targets  map[SessionID]uint64
	answered map[uint64]bool
	lastC    uint64

	acked map[uint64][32]byte // acknowledged writes that must survive
	ref   map[uint64][32]byte // committed lineage
	refC  uint64

	step  int
	trace []string
	err   error
	stats simStats

	noFaults bool // convergence phase: no corruption, no snapshot failures

	log func(string) // when set, receives every trace line
}

func newCluster(seed uint64, mode Mode, replicas int, budgets Budgets) *cluster {
	c := &cluster{
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), mode: mode, budgets: budgets,
		nodes: map[ReplicaID]*simNode{}, members: map[ReplicaID]bool{}, queues: map[[2]ReplicaID][]simMsg{},
		cut: map[ReplicaID]bool{}, acked: map[uint64][32]byte{}, ref: map[uint64][32]byte{}, epoch: 1,
		stats: simStats{outcomes: map[string]int{}, rebuilds: map[string]int{}},
	}
	for i := 0; i <= replicas; i++ {
		id := ReplicaID(fmt.Sprintf("n%d", i))
		c.nodes[id] = &simNode{id: id, endpoint: string(id) + "@1", up: true, disk: newSimDisk(), snapData: map[SessionID]snapshotData{}}
		c.ids = append(c.ids, id)
	}
	c.primary = c.ids[0]
	for _, id := range c.ids[1:] {
		c.members[id] = true
	}
	c.promote(c.nodes[c.primary], 0)
	for _, id := range c.ids[1:] {
		c.startReplica(c.nodes[id])
	}
	return c
}

func (c *cluster) failf(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("step %d: %s", c.step, fmt.Sprintf(format, args...))
	}
}

func (c *cluster) tracef(format string, args ...any) {
	line := fmt.Sprintf("%5d ", c.step) + fmt.Sprintf(format, args...)
	if c.log != nil {
		c.log(line)
	}
	c.trace = append(c.trace, line)
	if len(c.trace) > 400 {
		c.trace = c.trace[len(c.trace)-300:]
	}
}

func (c *cluster) traceTail(n int) string {
	from := max(0, len(c.trace)-n)
	return strings.Join(c.trace[from:], "\n")
}

func (c *cluster) memberList() []Member {
	var out []Member
	for _, id := range c.ids {
		if c.members[id] {
			out = append(out, Member{ID: id, Endpoint: c.nodes[id].endpoint})
		}
	}
	return out
}

// ---- roles ----

// promote makes n the primary of c.epoch with the given boundary.
func (c *cluster) promote(n *simNode, boundary uint64) {
	var cp Checkpoint
	for idx, s := range n.disk.snaps {
		if h, ok := n.disk.hashAt(idx); idx > 0 && idx > cp.Index && idx <= n.disk.last() && ok && h == s.Hash && idx >= n.disk.base {
			cp = Checkpoint{Index: idx, StateHash: s.Hash}
		}
	}
	p, err := NewPrimary(PrimaryConfig{
		Epoch: c.epoch, Mode: c.mode, Replicas: c.memberList(), Budgets: c.budgets, Committed: boundary,
		Log: LocalLog{First: n.disk.first, Last: n.disk.last(), Durable: n.disk.durable, History: n.disk.history.Clone(), Checkpoint: cp},
	})
	if err != nil {
		c.failf("promote %s at epoch %d with boundary %d: %v", n.id, c.epoch, boundary, err)
		return
	}
	n.rep, n.prim = nil, p
	n.local, n.lastShip, n.install = nil, nil, nil
	n.pCommit = boundary
	// The executor replays its log so the state is at the head.
	n.applied = n.disk.last()
	n.state, _ = n.disk.hashAt(n.applied)
	c.primary = n.id
	c.pins, c.stream, c.ended, c.targets, c.answered = map[PinID]Pin{}, map[ReplicaID]SessionID{}, map[SessionID]bool{}, map[SessionID]uint64{}, map[uint64]bool{}
	c.lastC = boundary
	c.tracef("%s promoted at epoch %d, boundary %d, log %d..%d durable %d", n.id, c.epoch, boundary, n.disk.first, n.disk.last(), n.disk.durable)
	c.runPrimary(n)
}

// startReplica starts a replica engine on n from its disk (a restart). Its
// executor replays the log up to the committed index it knows.
func (c *cluster) startReplica(n *simNode) { c.startReplicaReplaying(n, false) }

// startReplicaReplaying starts a replica engine on n; with all, its executor
// replayed every durable record, not only the committed ones (as a node that
// was primary does on its way back).
func (c *cluster) startReplicaReplaying(n *simNode, all bool) {
	d := &n.disk
	needs := d.rebuildMark
	if needs {
		// The log after an unfinished reset is unusable; the old snapshot stays.
		d.recs, d.first, d.durable = nil, d.base+1, d.base
		d.history = d.snaps[d.base].History.Clone()
	}
	applied := max(d.base, min(d.durable, d.knownC))
	if all && !needs {
		applied = max(d.base, d.durable)
	}
	n.applied = applied
	n.state, _ = d.hashAt(applied)
	n.nextApp = applied + 1
	n.applyBroken = 0
	var de uint64
	if d.durable > 0 {
		de = d.epochAt(d.durable)
	}
	r, err := NewReplica(ReplicaConfig{ID: n.id, Endpoint: n.endpoint, Epoch: c.epoch, Durable: d.durable, DurableEpoch: de,
		Applied: applied, Floor: d.base, KnownCommitted: d.knownC, LineageEpoch: min(d.lineage, c.epoch), NeedsRebuild: needs})
	if err != nil {
		c.failf("start replica %s: %v", n.id, err)
		return
	}
	n.up, n.rep, n.prim = true, r, nil
	n.local, n.control, n.lastShip, n.install = nil, nil, nil, nil
	n.snapData = map[SessionID]snapshotData{}
	c.tracef("%s started as replica: durable %d (epoch %d) applied %d base %d knownC %d lineage %d needsRebuild %v",
		n.id, d.durable, de, applied, d.base, d.knownC, d.lineage, needs)
	c.runReplica(n)
}

// ---- transport ----

func (c *cluster) send(from, to ReplicaID, body any, recs []simRec) {
	if c.cut[from] || c.cut[to] {
		c.tracef("  dropped %s->%s %T (cut)", from, to, body)
		return
	}
	k := [2]ReplicaID{from, to}
	c.queues[k] = append(c.queues[k], simMsg{from: from, to: to, body: body, recs: recs})
}

func (c *cluster) queueKeys() [][2]ReplicaID {
	var keys [][2]ReplicaID
	for k, q := range c.queues {
		if len(q) > 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b [2]ReplicaID) int {
		if x := strings.Compare(string(a[0]), string(b[0])); x != 0 {
			return x
		}
		return strings.Compare(string(a[1]), string(b[1]))
	})
	return keys
}

func (c *cluster) clearLinks(id ReplicaID) {
	for k := range c.queues {
		if k[0] == id || k[1] == id {
			delete(c.queues, k)
		}
	}
}

// deliver hands the oldest message of one queue to its destination.
func (c *cluster) deliver(k [2]ReplicaID) {
	q := c.queues[k]
	m := q[0]
	c.queues[k] = q[1:]
	n := c.nodes[m.to]
	if !n.up || c.cut[m.to] || c.cut[m.from] {
		return
	}
	if sd, ok := m.body.(snapshotData); ok {
		if n.rep == nil {
			return
		}
		n.snapData[sd.Session] = sd
		c.tryInstall(n)
		return
	}
	ev, ok := m.body.(Event)
	if !ok {
		c.failf("message %T is not an event", m.body)
		return
	}
	c.tracef("deliver %s->%s %T %+v", m.from, m.to, m.body, m.body)
	switch {
	case n.prim != nil:
		c.stepPrimary(n, ev)
	case n.rep != nil:
		n.lastFrom = m.from
		if _, isShip := m.body.(Ship); isShip {
			mm := m
			n.lastShip = &mm
		}
		c.stepReplica(n, ev)
	}
}

// ---- stepping ----

func (c *cluster) stepPrimary(n *simNode, ev Event) {
	err := n.prim.Step(ev)
	if err != nil {
		c.stats.refusals++
		c.tracef("  %s refused %T: %v", n.id, ev, err)
	}
	c.runPrimary(n)
}

func (c *cluster) stepReplica(n *simNode, ev Event) {
	if err := n.rep.Step(ev); err != nil {
		c.stats.refusals++
		c.tracef("  %s refused %T: %v", n.id, ev, err)
	}
	c.runReplica(n)
}

// runPrimary is the primary's executor: it carries out every command and
// checks that each is well formed.
func (c *cluster) runPrimary(n *simNode) {
	p := n.prim
	if p == nil {
		return
	}
	for _, cmd := range p.Ready() {
		c.tracef("  %s: %T %+v", n.id, cmd, cmd)
		switch m := cmd.(type) {
		case Connect:
			if m.Epoch != p.Epoch() {
				c.failf("connect carries epoch %d, primary %d", m.Epoch, p.Epoch())
			}
			c.stream[m.Replica] = m.Session
			to := c.nodes[m.Replica]
			if to == nil || !to.up || c.cut[m.Replica] || to.endpoint != m.Endpoint {
				c.local(n, func() Event { return Unreachable{Replica: m.Replica, Session: m.Session, Reason: "connection refused"} })
				continue
			}
			c.send(n.id, m.Replica, m, nil)
		case Ship:
			if m.Session != c.stream[m.Replica] || m.Epoch != p.Epoch() || m.From == 0 || m.Through < m.From || m.Through > n.disk.last() {
				c.failf("malformed ship %+v (stream %d, head %d)", m, c.stream[m.Replica], n.disk.last())
				continue
			}
			var recs []simRec
			for i := m.From; i <= m.Through; i++ {
				r, ok := n.disk.rec(i)
				if !ok {
					idx := i
					c.local(n, func() Event {
						return RecordsUnavailable{Replica: m.Replica, Session: m.Session, Index: idx, Reason: "compacted"}
					})
					recs = nil
					break
				}
				recs = append(recs, r)
			}
			if recs == nil {
				continue
			}
			if recs[0].Epoch != m.FirstEpoch || recs[len(recs)-1].Epoch != m.LastEpoch {
				c.failf("ship %+v names epochs that are not its records' (%d..%d)", m, recs[0].Epoch, recs[len(recs)-1].Epoch)
			}
			c.send(n.id, m.Replica, m, recs)
		case Barrier:
			if m.Session != c.stream[m.Replica] || m.Index > n.disk.last() || m.Committed > p.Committed() {
				c.failf("malformed barrier %+v", m)
			}
			c.send(n.id, m.Replica, m, nil)
		case Truncate:
			if m.Session != c.stream[m.Replica] {
				c.failf("malformed truncate %+v", m)
			}
			c.stats.truncates++
			c.send(n.id, m.Replica, m, nil)
		case Rebuild:
			if m.Session != c.stream[m.Replica] || m.Target < m.SnapshotIndex {
				c.failf("malformed rebuild %+v", m)
			}
			if !c.pinCovers(m.Replica, m.Session, m.SnapshotIndex+1) {
				c.failf("rebuild %+v without a pin from %d", m, m.SnapshotIndex+1)
			}
			c.send(n.id, m.Replica, m, nil)
			if m.SnapshotIndex > 0 {
				s, ok := n.disk.snaps[m.SnapshotIndex]
				if !ok || s.Hash != m.StateHash {
					c.failf("rebuild %+v from a snapshot the primary does not hold", m)
					continue
				}
				corrupt := !c.noFaults && c.rng.IntN(20) == 0
				c.send(n.id, m.Replica, snapshotData{Session: m.Session, Snap: s, Corrupt: corrupt}, nil)
			}
		case Pin:
			if _, dup := c.pins[m.ID]; dup || m.From < n.disk.first {
				c.failf("malformed pin %+v (first %d)", m, n.disk.first)
			}
			c.pins[m.ID] = m
		case Unpin:
			if _, ok := c.pins[m.ID]; !ok {
				c.failf("unpin of a pin not held: %+v", m)
			}
			delete(c.pins, m.ID)
		case TakeSnapshot:
			fail := !c.noFaults && c.rng.IntN(15) == 0
			c.local(n, func() Event {
				if fail {
					return SnapshotFailed{Replica: m.Replica, Session: m.Session, Reason: "disk full"}
				}
				idx := n.disk.last()
				h, _ := n.disk.hashAt(idx)
				n.disk.snaps[idx] = simSnap{Index: idx, Epoch: n.disk.epochAt(idx), Hash: h, History: n.disk.history.Truncate(idx)}
				return SnapshotTaken{Replica: m.Replica, Session: m.Session, Index: idx, StateHash: h}
			})
		case EndSession:
			if c.ended[m.Session] {
				c.failf("session %d ended twice", m.Session)
			}
			for _, pin := range c.pins {
				if pin.Session == m.Session {
					c.failf("session %d ended (%s) with pin %d still held", m.Session, m.Outcome, pin.ID)
				}
			}
			c.ended[m.Session] = true
			c.stats.outcomes[m.Kind.String()+"/"+m.Outcome.String()]++
			if m.Outcome != OutcomeCompleted && c.stream[m.Replica] == m.Session {
				delete(c.stream, m.Replica)
			}
		case CloseStream:
			if c.stream[m.Replica] == m.Session {
				delete(c.stream, m.Replica)
			}
		case AckWrites:
			for i := m.From; i <= m.Through; i++ {
				if c.answered[i] || i > p.Committed() || i > n.disk.last() {
					c.failf("ack of write %d: answered %v, committed %d, head %d", i, c.answered[i], p.Committed(), n.disk.last())
					continue
				}
				c.answered[i] = true
				h, _ := n.disk.hashAt(i)
				c.acked[i] = h
				c.stats.acked++
			}
		case FailWrites:
			for i := m.From; i <= m.Through; i++ {
				if c.answered[i] || i > n.disk.last() {
					c.failf("failure of write %d: answered %v, head %d", i, c.answered[i], n.disk.last())
				}
				c.answered[i] = true
				c.stats.failed++
			}
		case TruncateLocal:
			c.local(n, func() Event {
				n.disk.truncateAfter(m.After)
				n.applied = m.After
				n.state, _ = n.disk.hashAt(m.After)
				return LocalTruncated{LastIndex: m.After}
			})
		case StepDown:
		default:
			c.failf("unexpected primary command %T", cmd)
		}
	}
	if c := p.Committed(); c > n.pCommit {
		n.pCommit = c
	}
	c.noteCommitted(n)
}

func (c *cluster) hasRef(i uint64) bool {
	_, ok := c.ref[i]
	return ok
}

func (c *cluster) pinCovers(replica ReplicaID, session SessionID, from uint64) bool {
	for _, p := range c.pins {
		if p.Replica == replica && p.Session == session && p.From <= from {
			return true
		}
	}
	return false
}

// noteCommitted extends the reference lineage with what the primary
// committed and checks that a committed record never changes.
func (c *cluster) noteCommitted(n *simNode) {
	p := n.prim
	if p.Committed() < c.lastC && p.State() != PrimaryStopped {
		c.failf("committed index went back from %d to %d", c.lastC, p.Committed())
	}
	c.lastC = p.Committed()
	for i := c.refC + 1; i <= p.Committed(); i++ {
		// A record compacted behind a snapshot before it was committed
		// (a new primary's boundary) stays out of the reference.
		if h, ok := n.disk.hashAt(i); ok {
			c.ref[i] = h
		}
		c.refC = i
	}
	for i := uint64(1); i <= min(c.refC, p.Committed()); i++ {
		if h, ok := n.disk.hashAt(i); ok && c.hasRef(i) && h != c.ref[i] {
			c.failf("committed record %d changed on primary %s", i, n.id)
			return
		}
	}
}

// runReplica is a replica's executor.
func (c *cluster) runReplica(n *simNode) {
	r := n.rep
	if r == nil {
		return
	}
	for _, cmd := range r.Ready() {
		c.tracef("  %s: %T %+v", n.id, cmd, cmd)
		switch m := cmd.(type) {
		case ReplicaUp:
			c.send(n.id, c.primary, m, nil)
		case Hello, Ack, BarrierAck, Truncated, Installed, RebuildFailed, EpochMismatch:
			c.send(n.id, n.lastFrom, m, nil)
		case StoreRecords:
			sh := n.lastShip
			ship, _ := sh.body.(Ship)
			if sh == nil || ship.Session != m.Session || ship.From != m.From || ship.Through != m.Through {
				c.failf("store %+v does not match the ship just taken", m)
				continue
			}
			if ship.Epoch != r.Status().Epoch {
				c.failf("%s stores records shipped in epoch %d while at epoch %d", n.id, ship.Epoch, r.Status().Epoch)
			}
			for _, rec := range sh.recs {
				if rec.Epoch > ship.Epoch {
					c.failf("%s stores record %d of epoch %d from a stream of epoch %d", n.id, rec.Index, rec.Epoch, ship.Epoch)
				}
				if err := n.disk.appendRec(rec); err != nil {
					c.failf("%s store: %v", n.id, err)
					break
				}
			}
			through, gen := m.Through, m.Gen
			durable := c.rng.IntN(2) == 0
			if durable {
				n.disk.durable = through
			}
			c.local(n, func() Event { return Stored{Gen: gen, Through: through} })
			if durable {
				ep := n.disk.epochAt(through)
				c.local(n, func() Event { return Synced{Gen: gen, Through: through, Epoch: ep} })
			}
		case SyncLog:
			if m.Through > n.disk.last() {
				c.failf("sync through %d past the log's last %d", m.Through, n.disk.last())
				continue
			}
			n.disk.durable = max(n.disk.durable, m.Through)
			n.disk.knownC, n.disk.lineage = m.Committed, m.Lineage
			ep := n.disk.epochAt(m.Through)
			c.local(n, func() Event { return Synced{Gen: m.Gen, Through: m.Through, Epoch: ep} })
		case ApplyRecords:
			if m.From != n.nextApp {
				c.failf("%s apply from %d, expected %d", n.id, m.From, n.nextApp)
			}
			n.nextApp, n.applyGen = m.Through+1, m.StateGen
			if n.applyBroken == m.StateGen {
				continue // the state is broken until the log is reset
			}
			var failedAt uint64
			if !c.noFaults && c.rng.IntN(60) == 0 {
				// The host reports a state hash mismatch (a damaged record).
				n.applyBroken = m.StateGen
				c.tracef("  %s: injected state hash mismatch at %d", n.id, m.From)
				c.local(n, func() Event {
					return ApplyFailed{StateGen: m.StateGen, Index: m.From, Reason: "injected state hash mismatch"}
				})
				continue
			}
			for i := m.From; i <= m.Through; i++ {
				rec, ok := n.disk.rec(i)
				if !ok || i > n.disk.durable {
					c.failf("%s apply of record %d it does not hold durably", n.id, i)
					failedAt = i
					break
				}
				if chainHash(n.state, rec.Index, rec.Epoch, rec.Value) != rec.Hash {
					c.failf("%s applied record %d (epoch %d) on a state it does not follow", n.id, i, rec.Epoch)
					failedAt = i
					break
				}
				n.applied, n.state = i, rec.Hash
			}
			if failedAt != 0 {
				c.local(n, func() Event { return ApplyFailed{StateGen: m.StateGen, Index: failedAt, Reason: "state hash mismatch"} })
				continue
			}
			c.local(n, func() Event { return AppliedThrough{StateGen: m.StateGen, Through: m.Through} })
		case TruncateLog:
			if m.After < n.applied {
				c.failf("%s truncates after %d below its applied %d", n.id, m.After, n.applied)
			}
			n.disk.truncateAfter(m.After)
			ep := n.disk.epochAt(m.After)
			c.local(n, func() Event { return LogTruncated{After: m.After, LastEpoch: ep} })
		case ResetLog:
			n.disk.rebuildMark = m.Next > 1
			n.disk.recs, n.disk.first, n.disk.durable = nil, m.Next, m.Next-1
			n.disk.history = nil
			n.applied, n.state, n.nextApp = 0, [32]byte{}, m.Next
			if m.Next == 1 {
				n.disk.base = 0
			}
		case InstallSnapshot:
			mm := m
			n.install = &mm
			c.tryInstall(n)
		case DiscardRebuild:
			kc := n.disk.knownC
			n.disk = newSimDisk()
			n.disk.knownC = kc
			n.applied, n.state, n.nextApp, n.install = 0, [32]byte{}, 1, nil
		default:
			c.failf("unexpected replica command %T", cmd)
		}
	}
}

// tryInstall installs a snapshot once both the command and the data are in.
func (c *cluster) tryInstall(n *simNode) {
	in := n.install
	if in == nil {
		return
	}
	sd, ok := n.snapData[in.Session]
	if !ok {
		return
	}
	n.install = nil
	delete(n.snapData, in.Session)
	session := in.Session
	if sd.Corrupt || sd.Snap.Index != in.Index || sd.Snap.Hash != in.StateHash {
		c.local(n, func() Event { return SnapshotInstallFailed{Session: session, Reason: "checksum mismatch"} })
		return
	}
	s := sd.Snap
	n.disk.snaps = map[uint64]simSnap{0: {}, s.Index: s}
	n.disk.base = s.Index
	n.disk.history = s.History.Clone()
	n.disk.rebuildMark = false
	// The records stored while the snapshot streamed extend the history.
	recs := n.disk.recs
	n.disk.recs = nil
	for _, r := range recs {
		if err := n.disk.appendRec(r); err != nil {
			c.failf("%s install: %v", n.id, err)
		}
	}
	n.applied, n.state, n.nextApp = s.Index, s.Hash, s.Index+1
	c.local(n, func() Event { return SnapshotInstalled{Session: session, Index: s.Index, StateHash: s.Hash} })
}

func (c *cluster) local(n *simNode, fn func() Event) { n.local = append(n.local, fn) }

// runLocal completes the oldest pending command of node n.
func (c *cluster) runLocal(n *simNode) {
	fn := n.local[0]
	n.local = n.local[1:]
	ev := fn()
	c.tracef("local %s %T %+v", n.id, ev, ev)
	switch {
	case n.prim != nil:
		c.stepPrimary(n, ev)
	case n.rep != nil:
		c.stepReplica(n, ev)
	}
}

func (c *cluster) runControl(n *simNode) {
	ev := n.control[0]
	n.control = n.control[1:]
	c.tracef("control %s %T %+v", n.id, ev, ev)
	switch {
	case n.prim != nil:
		c.stepPrimary(n, ev)
	case n.rep != nil:
		c.stepReplica(n, ev)
	}
}

// ---- actions ----

func (c *cluster) prim() *simNode {
	n := c.nodes[c.primary]
	if n == nil || n.prim == nil || !n.up {
		return nil
	}
	return n
}

// write is a client write of k records; it honours Admit unless force.
func (c *cluster) write(k int, force bool) {
	n := c.prim()
	if n == nil || n.prim.State() != PrimaryServing {
		return
	}
	if err := n.prim.Admit(); err != nil && !force {
		return
	}
	ep := n.prim.Epoch()
	for j := 0; j < k; j++ {
		r := simRec{Index: n.disk.last() + 1, Epoch: ep, Value: c.rng.Uint64()}
		r.Hash = chainHash(n.state, r.Index, r.Epoch, r.Value)
		if err := n.disk.appendRec(r); err != nil {
			c.failf("primary append: %v", err)
			return
		}
		n.applied, n.state = r.Index, r.Hash
	}
	through := n.disk.last()
	c.stepPrimary(n, Appended{Through: through, Epoch: ep})
	c.local(n, func() Event {
		n.disk.durable = max(n.disk.durable, min(through, n.disk.last()))
		return LocalDurable{Through: min(through, n.disk.last())}
	})
}

func (c *cluster) tick() {
	for _, id := range c.ids {
		n := c.nodes[id]
		if !n.up {
			continue
		}
		switch {
		case n.prim != nil:
			c.stepPrimary(n, Tick{})
		case n.rep != nil:
			c.stepReplica(n, Tick{})
		}
	}
}

// checkpoint snapshots the primary's state and, half the time, compacts its
// WAL up to a snapshot (the newest one nothing forbids), so that the log
// always continues from a snapshot it holds.
func (c *cluster) checkpoint() {
	c.snapshotAndCompact(c.rng.IntN(2) == 0, c.rng.IntN(2) == 0)
}

// snapshotAndCompact snapshots the primary's state at its head and, when
// compact, drops the WAL up to the newest snapshot at or below the committed
// index and every pin (and, when spare, below RetentionFloor, which keeps
// what in-sync replicas would need to catch up).
func (c *cluster) snapshotAndCompact(compact, spare bool) {
	n := c.prim()
	if n == nil || n.prim.State() != PrimaryServing {
		return
	}
	idx := n.disk.last()
	if idx == 0 {
		return
	}
	h, _ := n.disk.hashAt(idx)
	n.disk.snaps[idx] = simSnap{Index: idx, Epoch: n.disk.epochAt(idx), Hash: h, History: n.disk.history.Truncate(idx)}
	c.stepPrimary(n, Checkpointed{Index: idx, StateHash: h})
	if !compact {
		return
	}
	limit := min(idx, n.prim.Committed())
	for _, p := range c.pins {
		limit = min(limit, p.From-1)
	}
	if spare {
		limit = min(limit, n.prim.RetentionFloor()-1)
	}
	var upTo uint64
	for i := range n.disk.snaps {
		if i >= n.disk.first && i <= limit && i > upTo {
			upTo = i
		}
	}
	if upTo < n.disk.first {
		return
	}
	n.disk.recs = n.disk.recs[upTo-n.disk.first+1:]
	n.disk.first = upTo + 1
	n.disk.base = upTo
	c.stats.compaction++
	c.stepPrimary(n, Compacted{First: upTo + 1})
}

func (c *cluster) replicaNodes(up bool) []*simNode {
	var out []*simNode
	for _, id := range c.ids {
		n := c.nodes[id]
		if id != c.primary && n.up == up {
			out = append(out, n)
		}
	}
	return out
}

func (c *cluster) pick(ns []*simNode) *simNode {
	if len(ns) == 0 {
		return nil
	}
	return ns[c.rng.IntN(len(ns))]
}

// breakLink loses a replica's connection: in-flight messages are gone and
// the primary's executor reports the broken stream.
func (c *cluster) breakLink(n *simNode) {
	delete(c.queues, [2]ReplicaID{c.primary, n.id})
	delete(c.queues, [2]ReplicaID{n.id, c.primary})
	if p := c.prim(); p != nil {
		for _, s := range p.prim.Status().Replicas {
			if s.ID == n.id && s.Stream != 0 {
				st := s.Stream
				c.local(p, func() Event { return Unreachable{Replica: n.id, Session: st, Reason: "connection reset"} })
			}
		}
	}
	c.tracef("link to %s broken", n.id)
}

func (c *cluster) crashReplica(n *simNode) {
	n.up, n.rep = false, nil
	n.disk.crash()
	n.local, n.control = nil, nil
	c.clearLinks(n.id)
	c.tracef("%s crashed (durable %d)", n.id, n.disk.durable)
	if c.rng.IntN(2) == 0 {
		c.breakLink(n)
	}
}

// changeEndpoint moves a replica to a new address (a restart there); the
// control plane tells the primary now or a little later.
func (c *cluster) changeEndpoint(n *simNode) {
	v := 2
	if i := strings.LastIndexByte(n.endpoint, '@'); i >= 0 {
		fmt.Sscanf(n.endpoint[i+1:], "%d", &v)
		v++
	}
	n.endpoint = fmt.Sprintf("%s@%d", n.id, v)
	c.tracef("%s moves to %s", n.id, n.endpoint)
	c.crashReplica(n)
	c.startReplica(n)
	if p := c.prim(); p != nil {
		p.control = append(p.control, Membership{Epoch: c.epoch, Replicas: c.memberList()})
	}
}

// toggleMember removes a replica from the membership or adds it back: the
// control plane does it with a new epoch, keeping the primary.
func (c *cluster) toggleMember(n *simNode) {
	if c.members[n.id] {
		left := 0
		for id, in := range c.members {
			if in && id != n.id {
				left++
			}
		}
		if c.mode == SyncQuorum && left+1 < 3 {
			return
		}
		if c.mode != SyncQuorum && c.rng.IntN(2) == 0 {
			// Removal within the epoch.
			if p := c.prim(); p != nil {
				c.members[n.id] = false
				c.stepPrimary(p, Membership{Epoch: c.epoch, Replicas: c.memberList()})
			}
		} else if !c.reelect(func() { c.members[n.id] = false }) {
			return
		}
	} else if !c.reelect(func() { c.members[n.id] = true }) {
		return
	}
	c.tracef("membership now %v", c.memberList())
}

// failover crashes the primary and promotes a successor chosen by
// ChooseSuccessor; restartOld puts the old primary back as a candidate.
// It returns false (and changes nothing) when no candidate is eligible.
func (c *cluster) failover(restartOld bool) bool {
	old := c.prim()
	if old == nil {
		return false
	}
	cands := []Candidate{}
	for _, id := range c.ids {
		n := c.nodes[id]
		if id == old.id || !c.members[id] || !n.up || n.rep == nil {
			continue
		}
		cands = append(cands, n.rep.Candidate())
	}
	if restartOld {
		cands = append(cands, Candidate{ID: old.id, Running: true, Epoch: c.epoch, LineageEpoch: c.epoch,
			Durable: old.disk.durable, Floor: old.disk.first - 1, KnownCommitted: old.pCommit})
	}
	nodes := 1 + len(c.memberList())
	succ, err := ChooseSuccessor(c.mode, nodes, c.epoch, cands)
	if err != nil {
		c.tracef("no failover: %v", err)
		return false
	}
	c.stats.failovers++
	c.tracef("FAILOVER from %s (epoch %d): %s with boundary %d (eligible %v)", old.id, c.epoch, succ.Primary, succ.Committed, succ.Eligible)
	// The old primary crashes: volatile records are lost, pins die with it.
	old.up, old.prim = false, nil
	old.disk.crash()
	old.local, old.control = nil, nil
	c.clearLinksTo(old.id)
	if c.mode == BestEffort {
		// best_effort promises nothing across a failover.
		for i := range c.acked {
			if i > succ.Committed {
				delete(c.acked, i)
			}
		}
		for i := succ.Committed + 1; i <= c.refC; i++ {
			delete(c.ref, i)
		}
		c.refC = min(c.refC, succ.Committed)
	}
	c.epoch++
	next := c.nodes[succ.Primary]
	// Membership: every other node.
	c.members[old.id] = true
	delete(c.members, next.id)
	if next.id == old.id {
		old.up = true
	}
	next.disk.crash() // what it promotes with is what is durable
	c.promote(next, succ.Committed)
	for _, id := range c.ids {
		n := c.nodes[id]
		if id != next.id && n.up && n.rep != nil {
			n.control = append(n.control, EpochChanged{Epoch: c.epoch})
		}
	}
	if restartOld && next.id != old.id {
		old.disk.knownC = max(old.disk.knownC, old.pCommit)
		old.disk.lineage = c.epoch - 1
		c.startReplicaReplaying(old, c.rng.IntN(3) == 0)
	}
	return true
}

// clearLinksTo drops messages addressed to a dead node; messages it sent
// before dying may still arrive.
func (c *cluster) clearLinksTo(id ReplicaID) {
	for k := range c.queues {
		if k[1] == id {
			delete(c.queues, k)
		}
	}
}

// reelect bumps the epoch and keeps the same primary, which knows its
// committed index exactly; change, when not nil, edits the membership in
// between. It reports whether it happened.
func (c *cluster) reelect(change func()) bool {
	n := c.prim()
	if n == nil || n.prim.State() != PrimaryServing {
		return false
	}
	c.stats.reelects++
	c.epoch++
	c.stepPrimary(n, EpochChanged{Epoch: c.epoch})
	if n.prim.State() != PrimaryStopped {
		c.failf("primary did not stop on a new epoch")
	}
	if len(c.pins) != 0 {
		c.failf("pins %v held after stepping down", c.pins)
	}
	if change != nil {
		change()
	}
	boundary := n.prim.Committed()
	// It did not crash: its executor finishes the fsync in flight (under
	// sync_quorum the committed index can be ahead of it) before it serves
	// the new epoch.
	n.disk.durable = n.disk.last()
	c.promote(n, boundary)
	for _, id := range c.ids {
		m := c.nodes[id]
		if id != n.id && m.up && m.rep != nil {
			m.control = append(m.control, EpochChanged{Epoch: c.epoch})
		}
	}
	return true
}

// ---- invariants ----

func (c *cluster) check() {
	if c.err != nil {
		return
	}
	n := c.prim()
	if n == nil {
		return
	}
	p := n.prim
	st := p.Status()
	// Pins are exactly those of running sessions.
	want := map[PinID]bool{}
	for _, s := range st.Replicas {
		if s.Session != nil && s.Session.Pin != 0 {
			want[s.Session.Pin] = true
			if pin, ok := c.pins[s.Session.Pin]; !ok || pin.Session != s.Session.ID {
				c.failf("session %d of %s has pin %d the executor does not hold", s.Session.ID, s.ID, s.Session.Pin)
			}
		}
		if s.Session != nil && s.Session.Phase == PhaseCatchUp {
			if t, ok := c.targets[s.Session.ID]; ok && t != s.Session.Target {
				c.failf("catch-up session %d target moved from %d to %d", s.Session.ID, t, s.Session.Target)
			}
			c.targets[s.Session.ID] = s.Session.Target
			if s.Sent > s.Session.Target || s.Received > s.Session.Target {
				c.failf("catch-up session %d shipped %d past its target %d", s.Session.ID, s.Sent, s.Session.Target)
			}
		}
	}
	for id := range c.pins {
		if !want[id] {
			c.failf("pin %d held with no session (%+v)", id, c.pins[id])
		}
	}
	if st.State == PrimaryStopped && len(c.pins) > 0 {
		c.failf("stopped primary still holds pins %v", c.pins)
	}
	// No acknowledged write is lost, under the mode's promise.
	var maxAcked uint64
	for i, h := range c.acked {
		maxAcked = max(maxAcked, i)
		if got, ok := n.disk.hashAt(i); ok && got != h && i <= p.Committed() {
			c.failf("acknowledged write %d lost: primary %s holds another record there", i, n.id)
		}
	}
	if maxAcked > p.Committed() {
		c.failf("acknowledged write %d is above the committed index %d", maxAcked, p.Committed())
	}
	// Replicas: nothing above committed is visible, and what is visible and
	// what a promotable replica holds up to committed is the reference.
	// best_effort may lose committed records in a failover (its promise ends
	// at the primary's disk), so from then on only convergence is checked.
	if c.mode == BestEffort && c.stats.failovers > 0 {
		return
	}
	for _, r := range c.replicaNodes(true) {
		if r.rep == nil {
			continue
		}
		if idx, ok := r.rep.ReadIndex(); ok && idx > 0 {
			if idx > c.refC {
				c.failf("%s serves index %d above committed %d", r.id, idx, c.refC)
			} else if h, ok := r.disk.hashAt(idx); c.hasRef(idx) && (!ok || h != c.ref[idx]) {
				c.failf("%s serves index %d with a state that is not the committed one", r.id, idx)
			}
		}
		cand := r.rep.Candidate()
		if Eligible(cand, c.epoch, 0) == nil && c.members[r.id] {
			k := min(cand.Durable, c.refC)
			if h, ok := r.disk.hashAt(k); k > 0 && ok && c.hasRef(k) && h != c.ref[k] {
				c.failf("promotable %s holds record %d that is not the committed one", r.id, k)
			}
		}
	}
}

// ---- driver ----

// randomStep takes one random action.
func (c *cluster) randomStep() {
	c.step++
	x := c.rng.IntN(1000)
	switch {
	case x < 380:
		if keys := c.queueKeys(); len(keys) > 0 {
			c.deliver(keys[c.rng.IntN(len(keys))])
		}
	case x < 600:
		var ns []*simNode
		for _, id := range c.ids {
			if n := c.nodes[id]; n.up && len(n.local) > 0 {
				ns = append(ns, n)
			}
		}
		if n := c.pick(ns); n != nil {
			c.runLocal(n)
		}
	case x < 640:
		var ns []*simNode
		for _, id := range c.ids {
			if n := c.nodes[id]; n.up && len(n.control) > 0 {
				ns = append(ns, n)
			}
		}
		if n := c.pick(ns); n != nil {
			c.runControl(n)
		}
	case x < 760:
		c.tick()
	case x < 880:
		c.write(1+c.rng.IntN(3), c.rng.IntN(4) == 0)
	case x < 900:
		c.checkpoint()
	case x < 915:
		if n := c.pick(c.replicaNodes(true)); n != nil {
			c.breakLink(n)
		}
	case x < 930:
		if n := c.pick(c.replicaNodes(true)); n != nil {
			if c.cut[n.id] {
				delete(c.cut, n.id)
			} else {
				c.cut[n.id] = true
			}
		}
	case x < 945:
		if n := c.pick(c.replicaNodes(true)); n != nil {
			c.crashReplica(n)
		}
	case x < 970:
		if n := c.pick(c.replicaNodes(false)); n != nil {
			c.startReplica(n)
		}
	case x < 976:
		c.failover(c.rng.IntN(2) == 0)
	case x < 980:
		c.reelect(nil)
	case x < 986:
		if n := c.pick(c.replicaNodes(true)); n != nil {
			c.changeEndpoint(n)
		}
	case x < 990:
		if n := c.pick(c.replicaNodes(true)); n != nil {
			c.toggleMember(n)
		}
	default:
		// A burst: everything in flight arrives.
		for _, k := range c.queueKeys() {
			c.deliver(k)
		}
	}
	c.check()
}

// settle heals every fault and runs until the cluster converges: every
// member in sync, everything committed, every replica applied through the
// head with the primary's state.
func (c *cluster) settle(maxRounds int) error {
	c.noFaults = true
	c.cut = map[ReplicaID]bool{}
	for _, n := range c.replicaNodes(false) {
		c.startReplica(n)
	}
	for _, id := range c.ids {
		if id != c.primary && !c.members[id] {
			c.reelect(func() { c.members[id] = true })
		}
	}
	for round := 0; round < maxRounds; round++ {
		c.step++
		c.quiesce()
		if c.err != nil {
			return c.err
		}
		if c.converged() {
			return nil
		}
		n := c.prim()
		if n == nil {
			return fmt.Errorf("no primary while settling")
		}
		if n.prim.State() == PrimaryStopped {
			return fmt.Errorf("primary stopped while settling: %s", n.prim.Status().StopReason)
		}
		if n.prim.Committed() < n.disk.last() && n.prim.Admit() == nil {
			c.write(1, false)
		}
		c.tick()
	}
	return fmt.Errorf("did not converge in %d rounds: %s", maxRounds, c.describe())
}

// quiesce delivers every message, control message and completion until
// nothing is left, without time passing.
func (c *cluster) quiesce() {
	for progressed := true; progressed && c.err == nil; {
		progressed = false
		for _, k := range c.queueKeys() {
			c.deliver(k)
			progressed = true
		}
		for _, id := range c.ids {
			n := c.nodes[id]
			for n.up && len(n.control) > 0 {
				c.runControl(n)
				progressed = true
			}
			for n.up && len(n.local) > 0 {
				c.runLocal(n)
				progressed = true
			}
		}
		c.check()
	}
}

func (c *cluster) converged() bool {
	n := c.prim()
	if n == nil || n.prim.State() != PrimaryServing {
		return false
	}
	head := n.disk.last()
	if n.prim.Committed() != head {
		return false
	}
	for _, s := range n.prim.Status().Replicas {
		r := c.nodes[s.ID]
		if s.State != SenderInSync || s.Durable != head || r.rep == nil {
			return false
		}
		st := r.rep.Status()
		if st.Applied != head || st.KnownCommitted != head || r.applied != head || r.state != n.state {
			return false
		}
	}
	return true
}

func (c *cluster) describe() string {
	var b strings.Builder
	n := c.prim()
	if n != nil {
		st := n.prim.Status()
		fmt.Fprintf(&b, "primary %s %s epoch %d head %d committed %d first %d\n", n.id, st.State, st.Epoch, st.Head, st.Committed, st.First)
		for _, s := range st.Replicas {
			fmt.Fprintf(&b, "  %s %s durable %d received %d sent %d stream %d last %s %q", s.ID, s.State, s.Durable, s.Received, s.Sent, s.Stream, s.LastOutcome, s.LastReason)
			if s.Session != nil {
				fmt.Fprintf(&b, " session %+v", *s.Session)
			}
			b.WriteString("\n")
		}
	}
	for _, r := range c.replicaNodes(true) {
		if r.rep != nil {
			fmt.Fprintf(&b, "  replica %+v disk %d..%d durable %d\n", r.rep.Status(), r.disk.first, r.disk.last(), r.disk.durable)
		}
	}
	return b.String()
}
