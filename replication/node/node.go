package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/replication"
	"github.com/reprise-dev/reprise/replication/transport"
	"github.com/reprise-dev/reprise/wal"
)

// Member is one node of the cluster as the control plane names it.
type Member struct {
	ID       replication.ReplicaID
	Endpoint string // its replication listener
	API      string // its HTTP API, for redirects (host:port)
}

// Assignment is the control plane's decision this node follows.
type Assignment struct {
	Epoch     uint64
	Primary   replication.ReplicaID // "" while none is assigned
	Committed uint64                // the boundary the primary is promoted with
	Members   []Member              // every node, the primary included
}

// Config configures a Node.
type Config struct {
	ID replication.ReplicaID
	// Listen is the replication listener's address; Advertise the
	// endpoint peers reach it at (default: the bound listen address).
	Listen, Advertise string
	Mode              replication.Mode
	Budgets           replication.Budgets
	// Tick is the engine's unit of time; default 10ms (the unit
	// replication.DefaultBudgets assume).
	Tick      time.Duration
	Transport transport.Config
	Exec      *executor.Executor
	Logger    *slog.Logger
}

// event is one input of the loop: an engine event (with the connection it
// came on, for a replica) or a function to run on the loop.
type event struct {
	ev      replication.Event
	conn    *peerConn
	records []wal.Record
	run     func()
}

// Node runs replication for one executor.
type Node struct {
	cfg    Config
	log    *slog.Logger
	exec   *executor.Executor
	ln     *transport.Listener
	events chan event
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup

	// Loop-owned.
	assignment Assignment
	epoch      uint64
	primary    *replication.Primary
	replica    *replication.Replica
	out        map[replication.ReplicaID]*peerConn    // primary: the connection of each replica's session
	in         map[replication.SessionID]*peerConn    // replica: connections from the primary, by session
	pins       map[replication.PinID]*pinHold         // primary: pins held for sessions
	lastFirst  uint64                                 // primary: WAL first index last reported
	lastCheck  uint64                                 // primary: checkpoint last reported
	shipped    map[replication.SessionID][]wal.Record // replica: records of the Ship just stepped
	logWork    *worker                                // replica: log and snapshot operations, in order
	applyWork  *worker                                // replica: applying records
	generation uint64                                 // bumps on every role change

	savedMeta savedMeta // replica: owned by the log worker

	hook   hook                   // the writer's side
	pipes  sync.Map               // replica: SessionID → *snapshotPipe
	status atomic.Pointer[Status] // published after every step
	floor  atomic.Uint64          // primary: retention floor
	admit  atomic.Pointer[errBox] // primary: why writes are refused now
	conns  sync.Map               // every open *peerConn, to close them on Close
	metric metrics                // counters for /metrics
}

type errBox struct{ err error }

// Start opens the replication listener and starts the loop. The node
// follows nothing until the first Assign.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.ID == "" {
		return nil, errors.New("replication: node ID is empty")
	}
	if cfg.Exec == nil {
		return nil, errors.New("replication: node has no executor")
	}
	if cfg.Mode == 0 {
		cfg.Mode = replication.BestEffort
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 10 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Transport.NodeID = string(cfg.ID)
	if cfg.Transport.Logger == nil {
		cfg.Transport.Logger = cfg.Logger
	}
	ln, err := transport.Listen(cfg.Listen, cfg.Transport)
	if err != nil {
		return nil, fmt.Errorf("replication listener: %w", err)
	}
	if cfg.Advertise == "" {
		cfg.Advertise = ln.Addr()
	}
	n := &Node{
		cfg: cfg, log: cfg.Logger.With("node", string(cfg.ID)), exec: cfg.Exec, ln: ln,
		events: make(chan event, 4096), stop: make(chan struct{}), done: make(chan struct{}),
		out: map[replication.ReplicaID]*peerConn{}, in: map[replication.SessionID]*peerConn{},
		pins: map[replication.PinID]*pinHold{}, shipped: map[replication.SessionID][]wal.Record{},
	}
	n.hook.init(n)
	n.admit.Store(&errBox{err: executor.ErrNotPrimary})
	n.logWork = newWorker()
	n.applyWork = newWorker()
	n.publish()
	n.wg.Add(3)
	go func() { defer n.wg.Done(); n.logWork.run() }()
	go func() { defer n.wg.Done(); n.applyWork.run() }()
	go func() { defer n.wg.Done(); n.acceptLoop() }()
	go n.loop()
	return n, nil
}

// Endpoint is the address peers reach this node's replication at.
func (n *Node) Endpoint() string { return n.cfg.Advertise }

// Assign hands the node the control plane's decision. It returns at once;
// the loop applies assignments in the order given.
func (n *Node) Assign(a Assignment) {
	a.Members = slices.Clone(a.Members)
	n.post(event{run: func() { n.assign(a) }})
}

// post queues an event for the loop; after Close it is dropped.
func (n *Node) post(e event) {
	select {
	case n.events <- e:
	case <-n.stop:
	}
}

// call runs fn on the loop and waits for it.
func (n *Node) call(fn func()) error {
	ran := make(chan struct{})
	select {
	case n.events <- event{run: func() { fn(); close(ran) }}:
	case <-n.stop:
		return ErrClosed
	}
	select {
	case <-ran:
		return nil
	case <-n.done:
		return ErrClosed
	}
}

// ErrClosed: the node was closed.
var ErrClosed = errors.New("replication node is closed")

func (n *Node) loop() {
	defer close(n.done)
	ticker := time.NewTicker(n.cfg.Tick)
	defer ticker.Stop()
	for {
		select {
		case e := <-n.events:
			n.handle(e)
		case <-ticker.C:
			n.tick()
		case <-n.stop:
			n.shutdown()
			return
		}
	}
}

func (n *Node) handle(e event) {
	if e.run != nil {
		e.run()
		n.drain()
		return
	}
	if n.replica != nil && e.conn != nil {
		switch m := e.ev.(type) {
		case replication.Connect:
			n.in[m.Session] = e.conn
		case replication.Ship:
			n.shipped[m.Session] = e.records
		}
	}
	n.step(e.ev)
	if r, ok := e.ev.(replication.Rebuild); ok && n.replica != nil {
		n.dropUnclaimedPipe(r.Session)
	}
}

func (n *Node) tick() {
	if n.primary != nil {
		if first := n.exec.WAL().FirstIndex(); first > n.lastFirst && first > 1 {
			n.lastFirst = first
			n.step(replication.Compacted{First: first})
		}
	}
	if n.primary != nil || n.replica != nil {
		n.step(replication.Tick{})
	}
}

// step hands an event to the engine in force and carries out what it
// decides.
func (n *Node) step(ev replication.Event) {
	var err error
	switch {
	case n.primary != nil:
		err = n.primary.Step(ev)
	case n.replica != nil:
		err = n.replica.Step(ev)
	default:
		return
	}
	if err != nil {
		if errors.Is(err, replication.ErrStale) || errors.Is(err, replication.ErrStopped) {
			n.log.Debug("replication event refused", "event", fmt.Sprintf("%T", ev), "err", err)
		} else {
			n.log.Warn("replication event refused", "event", fmt.Sprintf("%T", ev), "err", err)
		}
	}
	n.drain()
}

// drain carries out every command the engine has decided, then publishes
// the node's status.
func (n *Node) drain() {
	for {
		var cmds []replication.Command
		switch {
		case n.primary != nil && n.primary.HasReady():
			cmds = n.primary.Ready()
		case n.replica != nil && n.replica.HasReady():
			cmds = n.replica.Ready()
		}
		if len(cmds) == 0 {
			break
		}
		for _, c := range cmds {
			if n.primary != nil {
				n.primaryCommand(c)
			} else if n.replica != nil {
				n.replicaCommand(c)
			}
		}
	}
	if n.primary != nil {
		n.floor.Store(n.primary.RetentionFloor())
		n.admit.Store(&errBox{err: n.primary.Admit()})
	}
	n.publish()
}

// assign follows a control plane decision.
func (n *Node) assign(a Assignment) {
	if a.Epoch < n.epoch || (a.Epoch == n.epoch && a.Primary == n.assignment.Primary && n.engineRunning()) {
		if a.Epoch == n.epoch {
			n.assignment.Members = a.Members
			n.updateMembership()
		}
		return
	}
	n.log.Info("assignment", "epoch", a.Epoch, "primary", string(a.Primary), "committed", a.Committed)
	n.assignment, n.epoch = a, a.Epoch
	n.generation++
	switch {
	case a.Primary == "":
		n.leaveRole(a.Epoch)
	case a.Primary == n.cfg.ID:
		n.leaveRole(a.Epoch)
		n.becomePrimary(a)
	default:
		if n.replica != nil {
			n.step(replication.EpochChanged{Epoch: a.Epoch})
			return
		}
		n.leaveRole(a.Epoch)
		n.becomeReplica(a)
	}
}

func (n *Node) engineRunning() bool { return n.primary != nil || n.replica != nil }

// leaveRole stops the engine in force: a primary steps down (failing the
// writes it had not committed) and the executor stops writing.
func (n *Node) leaveRole(epoch uint64) {
	if p := n.primary; p != nil {
		n.primary = nil
		_ = p.Step(replication.EpochChanged{Epoch: epoch})
		for _, c := range p.Ready() {
			n.primaryCommand(c)
		}
		n.hook.failAll(fmt.Errorf("%w: the primary stepped down for epoch %d", executor.ErrNotPrimary, epoch))
		n.admit.Store(&errBox{err: executor.ErrNotPrimary})
		for id, pc := range n.out {
			pc.close("stepped down")
			delete(n.out, id)
		}
		for id, h := range n.pins {
			h.release()
			delete(n.pins, id)
		}
		n.floor.Store(0)
		go n.exec.Demote(epoch)
	}
	if r := n.replica; r != nil {
		n.replica = nil
		_ = r.Step(replication.Shutdown{})
		r.Ready()
		for s, pc := range n.in {
			pc.close("role changed")
			delete(n.in, s)
		}
		clear(n.shipped)
	}
}

func (n *Node) updateMembership() {
	if n.primary == nil {
		return
	}
	_ = n.primary.Step(replication.Membership{Epoch: n.epoch, Replicas: n.replicaMembers(n.assignment)})
}

func (n *Node) replicaMembers(a Assignment) []replication.Member {
	var ms []replication.Member
	for _, m := range a.Members {
		if m.ID != n.cfg.ID {
			ms = append(ms, replication.Member{ID: m.ID, Endpoint: m.Endpoint})
		}
	}
	return ms
}

func (n *Node) member(id replication.ReplicaID) (Member, bool) {
	for _, m := range n.assignment.Members {
		if m.ID == id {
			return m, true
		}
	}
	return Member{}, false
}

// Close stops the node: sessions end, pins are released, writes waiting
// for replicas fail, connections close.
func (n *Node) Close() error {
	n.once.Do(func() {
		close(n.stop)
		<-n.done
		n.ln.Close()
		n.conns.Range(func(k, _ any) bool { k.(*peerConn).close("node closed"); return true })
		n.logWork.close()
		n.applyWork.close()
		n.wg.Wait()
	})
	return nil
}

func (n *Node) shutdown() {
	n.leaveRole(n.epoch)
	n.hook.failAll(ErrClosed)
	n.publish()
}
