package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/reprise-dev/reprise/replication"
)

// Config configures one node's raft control plane.
type Config struct {
	NodeID string
	Dir    string // raft's own directory (bolt store and snapshots); created if missing
	// Peers lists every node of the cluster, this one included: the static
	// membership from configuration, identical on every node.
	Peers []Peer
	Mode  replication.Mode
	// Candidates returns what is known of the reachable nodes now (this one
	// included); the node runtime implements it by asking its peers. It is
	// called only on the raft leader, and must honour ctx: ctx ends when
	// this node loses leadership or closes.
	Candidates func(ctx context.Context) []replication.Candidate
	// OnAssignment is called, in commit order, for every assignment applied
	// on this node, and during Start with the assignment restored from the
	// local snapshot, if any. After a restart the assignments committed
	// after that snapshot are applied again, in order, once the leader says
	// they are committed. It runs on raft's FSM goroutine: it must not block
	// for long and must not call back into Raft.
	OnAssignment func(Assignment)
	Logger       *slog.Logger
	// Listener, if set, is the bound listener of this node's raft transport
	// (its address must be reachable at this node's Peer.RaftAddr);
	// otherwise Start listens on Peer.RaftAddr. Close closes it.
	Listener net.Listener
	// Timing; zero takes the default: heartbeat 500ms, election 1s, leader
	// lease half the heartbeat (never more than it).
	HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout time.Duration
	// RetryInterval is how often a leader that could not settle the
	// succession (no eligible candidate, a failed transfer) tries again
	// (default 500ms).
	RetryInterval time.Duration
}

const (
	defaultHeartbeat     = 500 * time.Millisecond
	defaultElection      = time.Second
	defaultRetryInterval = 500 * time.Millisecond
	// snapshotsRetained is how many raft snapshots are kept on disk.
	snapshotsRetained = 2
)

// Raft is one node's member of the embedded raft group that elects the
// primary and owns the epoch and membership.
type Raft struct {
	cfg       Config
	self      Peer
	members   []Peer
	log       *slog.Logger
	opTimeout time.Duration

	fsm       *fsm
	raft      *raft.Raft
	transport *raft.NetworkTransport
	store     *raftboltdb.BoltStore

	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

func (c *Config) check() (Peer, error) {
	if c.NodeID == "" {
		return Peer{}, errors.New("control: config has no node ID")
	}
	if c.Dir == "" {
		return Peer{}, fmt.Errorf("control: config for node %q has no raft directory", c.NodeID)
	}
	if err := validatePeers(c.Peers, true); err != nil {
		return Peer{}, err
	}
	var self Peer
	found := false
	for _, p := range c.Peers {
		if p.ID == c.NodeID {
			self, found = p, true
		}
	}
	if !found {
		return Peer{}, fmt.Errorf("control: node %q is not among the configured peers", c.NodeID)
	}
	switch c.Mode {
	case replication.BestEffort, replication.SyncAll:
	case replication.SyncQuorum:
		if len(c.Peers) < 3 {
			return Peer{}, fmt.Errorf("control: sync_quorum needs at least three nodes, %d are configured", len(c.Peers))
		}
	default:
		return Peer{}, fmt.Errorf("control: invalid durability mode %s", c.Mode)
	}
	if c.Candidates == nil {
		return Peer{}, fmt.Errorf("control: config for node %q has no Candidates function", c.NodeID)
	}
	if c.HeartbeatTimeout < 0 || c.ElectionTimeout < 0 || c.LeaderLeaseTimeout < 0 || c.RetryInterval < 0 {
		return Peer{}, errors.New("control: negative timeout in config")
	}
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = defaultHeartbeat
	}
	if c.ElectionTimeout == 0 {
		c.ElectionTimeout = max(defaultElection, c.HeartbeatTimeout)
	}
	if c.LeaderLeaseTimeout == 0 {
		c.LeaderLeaseTimeout = c.HeartbeatTimeout / 2
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = defaultRetryInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return self, nil
}

// Start opens (or creates) this node's raft state in cfg.Dir, bootstraps the
// cluster with cfg.Peers if there is no state yet (every node may do so with
// the same peers), and starts following the leadership. It returns once raft
// runs; the first assignment arrives through OnAssignment after an election.
// ctx bounds the start only (its values reach Candidates); the control plane
// runs until Close.
func Start(ctx context.Context, cfg Config) (*Raft, error) {
	self, err := cfg.check()
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("control: not starting node %q: %w", cfg.NodeID, ctx.Err())
	}
	if err != nil {
		if cfg.Listener != nil {
			_ = cfg.Listener.Close()
		}
		return nil, err
	}
	log := cfg.Logger.With("component", "control", "node", cfg.NodeID)
	r := &Raft{
		cfg:       cfg,
		self:      self,
		members:   sortedPeers(cfg.Peers),
		log:       log,
		opTimeout: max(5*time.Second, 10*cfg.ElectionTimeout),
		fsm:       newFSM(log, cfg.OnAssignment),
		done:      make(chan struct{}),
	}
	if err := r.open(); err != nil {
		if r.raft != nil {
			_ = r.raft.Shutdown().Error()
		}
		_ = r.closeResources()
		return nil, err
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	go r.run(loopCtx)
	return r, nil
}

func (r *Raft) open() error {
	cfg := r.cfg
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("control: creating raft directory: %w", err)
	}
	store, err := raftboltdb.NewBoltStore(filepath.Join(cfg.Dir, "raft.db"))
	if err != nil {
		return fmt.Errorf("control: opening raft store in %s: %w", cfg.Dir, err)
	}
	r.store = store
	rlog := newRaftLogger(cfg.Logger.With("node", cfg.NodeID), "raft")
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, snapshotsRetained, rlog)
	if err != nil {
		return fmt.Errorf("control: opening raft snapshots in %s: %w", cfg.Dir, err)
	}
	ln := cfg.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", r.self.RaftAddr); err != nil {
			return fmt.Errorf("control: listening for raft on %s: %w", r.self.RaftAddr, err)
		}
	}
	r.transport = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  &tcpStream{Listener: ln, advertise: advertisedAddr(r.self.RaftAddr)},
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  rlog,
	})

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.Logger = rlog
	rc.NoLegacyTelemetry = true
	if err := raft.ValidateConfig(rc); err != nil {
		return fmt.Errorf("control: raft timing: %w", err)
	}
	ra, err := raft.NewRaft(rc, r.fsm, store, store, snaps, r.transport)
	if err != nil {
		return fmt.Errorf("control: starting raft: %w", err)
	}
	r.raft = ra
	servers := make([]raft.Server, 0, len(r.members))
	for _, p := range r.members {
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.RaftAddr)})
	}
	err = ra.BootstrapCluster(raft.Configuration{Servers: servers}).Error()
	if err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		return fmt.Errorf("control: bootstrapping raft: %w", err)
	}
	return nil
}

// Assignment returns the assignment this node has applied (the zero
// Assignment before the first one).
func (r *Raft) Assignment() Assignment { return r.fsm.assignment() }

// LeaderID returns the current raft leader's node ID, or "" if none is known.
func (r *Raft) LeaderID() string {
	_, id := r.raft.LeaderWithID()
	return string(id)
}

// Close stops the control loop, snapshots the current assignment (so a
// restart restores it without waiting for a leader), shuts raft down and
// closes the stores and transport.
func (r *Raft) Close() error {
	r.closeOnce.Do(func() {
		r.cancel()
		r.snapshot()
		err := r.raft.Shutdown().Error()
		<-r.done
		if cerr := r.closeResources(); err == nil {
			err = cerr
		}
		r.closeErr = err
	})
	return r.closeErr
}

func (r *Raft) closeResources() error {
	var errs []error
	if r.transport != nil {
		errs = append(errs, r.transport.Close()) // closes the listener too
	} else if r.cfg.Listener != nil {
		errs = append(errs, r.cfg.Listener.Close())
	}
	if r.store != nil {
		errs = append(errs, r.store.Close())
	}
	return errors.Join(errs...)
}

// snapshot asks raft to snapshot the state, so the latest assignment is
// restored at start from local disk. Nothing new to snapshot is not an error.
func (r *Raft) snapshot() {
	err := r.raft.Snapshot().Error()
	if err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) && !errors.Is(err, raft.ErrRaftShutdown) {
		r.log.Debug("raft snapshot not taken", "error", err)
	}
}

// run follows this node's leadership. Each time it acquires leadership it
// starts a tenure that settles the succession; a tenure ends, and is waited
// for, before the next one starts.
func (r *Raft) run(ctx context.Context) {
	defer close(r.done)
	var cur *tenure
	defer func() { cur.stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.fsm.applied:
			r.snapshot()
		case leader := <-r.raft.LeaderCh():
			// Two trues in a row mean leadership was lost and regained in
			// between: that is a new tenure all the same.
			cur.stop()
			cur = nil
			if leader {
				cur = r.startTenure(ctx)
			}
		}
	}
}

// tenure is one spell of raft leadership on this node.
type tenure struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (r *Raft) startTenure(ctx context.Context) *tenure {
	tctx, cancel := context.WithCancel(ctx)
	t := &tenure{cancel: cancel, done: make(chan struct{})}
	go r.lead(tctx, t.done)
	return t
}

// stop ends the tenure and waits for it; a nil tenure is already stopped.
func (t *tenure) stop() {
	if t == nil {
		return
	}
	t.cancel()
	<-t.done
}

// lead settles the succession for one tenure as leader: retry until an
// assignment naming this node is committed or leadership is handed on.
func (r *Raft) lead(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	r.log.Info("raft leadership acquired")
	lastRefusal := ""
	caughtUp := false
	for {
		settled, refusal := r.succeed(ctx, &caughtUp)
		if settled || ctx.Err() != nil {
			return
		}
		if refusal != lastRefusal {
			r.log.Warn("succession not settled, retrying", "reason", refusal, "retry", r.cfg.RetryInterval)
			lastRefusal = refusal
		}
		t := time.NewTimer(r.cfg.RetryInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// succeed runs the succession once. It reports whether this tenure is done
// (this node is assigned, or leadership was handed to the chosen node),
// and otherwise why not. caughtUp records that this tenure's barrier passed.
func (r *Raft) succeed(ctx context.Context, caughtUp *bool) (bool, string) {
	// The barrier applies every entry of earlier terms, so the epoch read
	// below is the latest committed one and the next assignment follows it.
	// Once per tenure is enough: until it ends only this node writes.
	if !*caughtUp {
		if err := r.raft.Barrier(r.opTimeout).Error(); err != nil {
			return false, fmt.Sprintf("raft barrier: %v", err)
		}
		*caughtUp = true
	}
	cur := r.fsm.assignment()
	all := r.cfg.Candidates(ctx)
	if ctx.Err() != nil {
		return true, ""
	}
	cands := make([]replication.Candidate, 0, len(all))
	for _, c := range all {
		if _, ok := r.member(string(c.ID)); !ok {
			r.log.Warn("ignoring candidate that is not a configured peer", "candidate", c.ID)
			continue
		}
		cands = append(cands, c)
	}
	succ, err := replication.ChooseSuccessor(r.cfg.Mode, len(r.members), cur.Epoch, cands)
	if err != nil {
		return false, err.Error()
	}
	if string(succ.Primary) != r.self.ID {
		target, _ := r.member(string(succ.Primary))
		r.log.Info("handing raft leadership to the chosen primary", "primary", target.ID, "epoch", cur.Epoch)
		err := r.raft.LeadershipTransferToServer(raft.ServerID(target.ID), raft.ServerAddress(target.RaftAddr)).Error()
		if err != nil {
			return false, fmt.Sprintf("transferring leadership to %s: %v", target.ID, err)
		}
		return true, ""
	}
	next := Assignment{Epoch: cur.Epoch + 1, Primary: r.self.ID, Committed: succ.Committed, Members: r.members}
	data, err := encodeAssign(next)
	if err != nil {
		return false, fmt.Sprintf("encoding assignment: %v", err)
	}
	f := r.raft.Apply(data, r.opTimeout)
	if err := f.Error(); err != nil {
		// Lost leadership or timed out: the entry may still commit, and the
		// next leader's barrier will see it; this tenure retries only if it
		// is still on.
		return false, fmt.Sprintf("committing epoch %d: %v", next.Epoch, err)
	}
	if err, _ := f.Response().(error); err != nil {
		return false, err.Error()
	}
	r.log.Info("assigned primary", "epoch", next.Epoch, "committed", next.Committed, "eligible", succ.Eligible)
	return true, ""
}

func (r *Raft) member(id string) (Peer, bool) {
	for _, p := range r.members {
		if p.ID == id {
			return p, true
		}
	}
	return Peer{}, false
}
