package node

import (
	"maps"
	"sync"

	"github.com/reprise-dev/reprise/replication"
)

// Role is what the node does in its epoch.
type Role string

const (
	RolePrimary Role = "primary"
	RoleReplica Role = "replica"
	RoleNone    Role = "none" // no assignment yet, or between roles
)

// Status is the node's replication state, published after every step.
type Status struct {
	ID         replication.ReplicaID
	Role       Role
	Epoch      uint64
	Mode       replication.Mode
	Primary    replication.ReplicaID // the assigned primary
	PrimaryAPI string                // its HTTP API address, for redirects
	Committed  uint64                // the committed index this node knows
	// ReadIndex is the index reads from this node reflect, and Readable
	// whether they may be served (a replica being rebuilt, or one whose
	// state hash mismatched, serves nothing).
	ReadIndex uint64
	Readable  bool
	// PrimaryStatus is set on the primary, ReplicaStatus on a replica.
	PrimaryStatus *replication.Status
	ReplicaStatus *replication.ReplicaStatus
	Members       []Member
}

// Status returns the node's last published status.
func (n *Node) Status() Status { return *n.status.Load() }

// publish computes the status on the loop.
func (n *Node) publish() {
	st := &Status{ID: n.cfg.ID, Role: RoleNone, Epoch: n.epoch, Mode: n.cfg.Mode, Primary: n.assignment.Primary,
		Members: n.assignment.Members}
	if m, ok := n.member(n.assignment.Primary); ok {
		st.PrimaryAPI = m.API
	}
	switch {
	case n.primary != nil:
		ps := n.primary.Status()
		st.Role, st.PrimaryStatus, st.Committed = RolePrimary, &ps, ps.Committed
		st.Readable, st.ReadIndex = ps.State == replication.PrimaryServing, ps.Committed
	case n.replica != nil:
		rs := n.replica.Status()
		st.Role, st.ReplicaStatus, st.Committed = RoleReplica, &rs, rs.KnownCommitted
		st.ReadIndex, st.Readable = n.replica.ReadIndex()
	}
	n.status.Store(st)
}

// Candidate reports this node's facts for the choice of a primary. Before
// the node follows any epoch it reports what its log holds.
func (n *Node) Candidate() replication.Candidate {
	var c replication.Candidate
	engine := false
	if err := n.call(func() {
		switch {
		case n.replica != nil:
			c, engine = n.replica.Candidate(), true
		case n.primary != nil:
			st := n.primary.Status()
			c = replication.Candidate{ID: n.cfg.ID, Running: st.State != replication.PrimaryStopped, Epoch: st.Epoch, LineageEpoch: st.Epoch,
				Durable: st.LocalDurable, Floor: st.First - min(st.First, 1), KnownCommitted: st.Committed}
			engine = true
		default:
			c.ID, c.Epoch = n.cfg.ID, n.epoch
		}
	}); err != nil {
		return replication.Candidate{ID: n.cfg.ID}
	}
	if engine {
		return c
	}
	// No engine: describe the log as it is on disk.
	facts, err := n.replicaFacts(max(c.Epoch, 1))
	if err != nil {
		return replication.Candidate{ID: n.cfg.ID}
	}
	return replication.Candidate{ID: n.cfg.ID, Running: true, Epoch: c.Epoch, LineageEpoch: min(facts.LineageEpoch, c.Epoch),
		Durable: facts.Durable, Floor: facts.Floor, KnownCommitted: facts.KnownCommitted, NeedsRebuild: facts.NeedsRebuild}
}

// Metrics are the node's replication counters.
type Metrics struct {
	RecordsShipped     uint64
	RecordsReceived    uint64
	SnapshotsInstalled uint64
	// Sessions counts ended sessions by kind and outcome ("catch_up/completed").
	Sessions map[string]uint64
}

// metrics holds the counters; a mutex is cheap next to the network writes
// and fsyncs each update accompanies.
type metrics struct {
	mu sync.Mutex
	m  Metrics
}

func (n *Node) metrics(fn func(m *Metrics)) {
	n.metric.mu.Lock()
	defer n.metric.mu.Unlock()
	if n.metric.m.Sessions == nil {
		n.metric.m.Sessions = map[string]uint64{}
	}
	fn(&n.metric.m)
}

func (m *Metrics) countSession(k replication.SessionKind, o replication.Outcome) {
	m.Sessions[k.String()+"/"+o.String()]++
}

// Metrics returns a copy of the node's counters.
func (n *Node) Metrics() Metrics {
	n.metric.mu.Lock()
	defer n.metric.mu.Unlock()
	out := n.metric.m
	out.Sessions = maps.Clone(n.metric.m.Sessions)
	return out
}
