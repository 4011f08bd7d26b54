package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/reprise-dev/reprise/replication"
	"github.com/reprise-dev/reprise/replication/transport"
)

// sendItem is one thing a connection's writer sends, in order.
type sendItem struct {
	env      transport.Envelope
	ship     *replication.Ship // records are read on the writer goroutine
	snapshot *snapshotSend
}

type snapshotSend struct {
	index uint64
	r     io.ReadCloser // the pinned file; nil means open it now
}

// peerConn is one connection to a peer with its own writer goroutine, so
// the loop never blocks on the network. On the primary it belongs to one
// replica's session; on a replica it is a connection the primary opened.
type peerConn struct {
	n       *Node
	replica replication.ReplicaID // primary side: the replica it serves
	session replication.SessionID
	inbound bool

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []sendItem
	conn    *transport.Conn
	closed  bool
	dialing bool
}

func newPeerConn(n *Node, replica replication.ReplicaID, session replication.SessionID) *peerConn {
	pc := &peerConn{n: n, replica: replica, session: session, dialing: true}
	pc.cond = sync.NewCond(&pc.mu)
	n.conns.Store(pc, true)
	return pc
}

func (pc *peerConn) enqueue(it sendItem) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.closed {
		if it.snapshot != nil && it.snapshot.r != nil {
			it.snapshot.r.Close()
		}
		return
	}
	pc.queue = append(pc.queue, it)
	pc.cond.Signal()
}

// close ends the connection; queued items are dropped.
func (pc *peerConn) close(reason string) {
	pc.mu.Lock()
	if pc.closed {
		pc.mu.Unlock()
		return
	}
	pc.closed = true
	for _, it := range pc.queue {
		if it.snapshot != nil && it.snapshot.r != nil {
			it.snapshot.r.Close()
		}
	}
	pc.queue = nil
	conn := pc.conn
	pc.cond.Broadcast()
	pc.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
	pc.n.conns.Delete(pc)
	pc.n.log.Debug("replication connection closed", "peer", string(pc.replica), "session", uint64(pc.session), "reason", reason)
}

func (pc *peerConn) isClosed() bool {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.closed
}

// dialAndServe connects a primary's session to its replica, then runs the
// reader and the writer.
func (pc *peerConn) dialAndServe(endpoint string) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-pc.n.stop:
		case <-ctx.Done():
		}
		cancel()
	}()
	conn, err := transport.Dial(ctx, endpoint, pc.n.cfg.Transport)
	cancel()
	if err != nil {
		if !pc.isClosed() {
			pc.n.post(event{ev: replication.Unreachable{Replica: pc.replica, Session: pc.session, Reason: err.Error()}})
		}
		pc.close("dial failed")
		return
	}
	if conn.Peer() != string(pc.replica) {
		conn.Close()
		pc.n.post(event{ev: replication.Unreachable{Replica: pc.replica, Session: pc.session,
			Reason: fmt.Sprintf("%s answered as node %q, not %q", endpoint, conn.Peer(), pc.replica)}})
		pc.close("wrong peer")
		return
	}
	pc.mu.Lock()
	if pc.closed {
		pc.mu.Unlock()
		conn.Close()
		return
	}
	pc.conn, pc.dialing = conn, false
	pc.mu.Unlock()
	go pc.read()
	pc.write()
}

// serveInbound runs a connection the listener accepted.
func (pc *peerConn) serveInbound(conn *transport.Conn) {
	pc.conn, pc.dialing, pc.inbound = conn, false, true
	go pc.write()
	pc.read()
}

func (pc *peerConn) read() {
	for {
		env, err := pc.conn.Recv()
		if err != nil {
			if !pc.isClosed() {
				if !pc.inbound {
					reason := err.Error()
					if errors.Is(err, io.EOF) {
						reason = "the replica closed the connection"
					}
					pc.n.post(event{ev: replication.Unreachable{Replica: pc.replica, Session: pc.session, Reason: reason}})
				}
				pc.close("read: " + err.Error())
			}
			pc.n.closePipes(pc)
			return
		}
		switch m := env.Msg.(type) {
		case transport.SnapshotChunk:
			pc.n.snapshotPart(m.Session, m)
			continue
		case transport.SnapshotEnd:
			pc.n.snapshotPart(m.Session, m)
			continue
		case replication.Rebuild:
			if m.SnapshotIndex != 0 {
				pc.n.openPipe(pc, m.Session)
			}
		case replication.Connect:
			pc.mu.Lock()
			pc.session = m.Session
			pc.mu.Unlock()
		}
		ev, ok := env.Msg.(replication.Event)
		if !ok {
			pc.n.log.Warn("replication: unexpected message", "type", typeName(env.Msg))
			continue
		}
		pc.n.post(event{ev: ev, conn: pc, records: env.Records})
	}
}

func (pc *peerConn) write() {
	for {
		pc.mu.Lock()
		for len(pc.queue) == 0 && !pc.closed {
			pc.cond.Wait()
		}
		if pc.closed {
			pc.mu.Unlock()
			return
		}
		it := pc.queue[0]
		pc.queue = pc.queue[1:]
		pc.mu.Unlock()
		var err error
		switch {
		case it.ship != nil:
			recs, gerr := pc.n.gatherShip(*it.ship)
			if gerr != nil {
				pc.n.post(event{ev: replication.RecordsUnavailable{Replica: pc.replica, Session: pc.session, Index: it.ship.From, Reason: gerr.Error()}})
				continue
			}
			pc.n.metrics(func(m *Metrics) { m.RecordsShipped += uint64(len(recs)) })
			err = pc.conn.Send(transport.Envelope{Msg: *it.ship, Records: recs})
		case it.snapshot != nil:
			err = pc.n.streamSnapshot(pc, it.snapshot)
		default:
			err = pc.conn.Send(it.env)
		}
		if err != nil {
			if !pc.isClosed() && !errors.Is(err, net.ErrClosed) {
				if !pc.inbound {
					pc.n.post(event{ev: replication.Unreachable{Replica: pc.replica, Session: pc.session, Reason: "send: " + err.Error()}})
				}
			}
			pc.close("send: " + err.Error())
			return
		}
	}
}

// acceptLoop serves the replication listener: a primary's sessions (on a
// replica) and replicas' announcements (on a primary).
func (n *Node) acceptLoop() {
	for {
		conn, err := n.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-n.stop:
				return
			default:
			}
			n.log.Warn("replication: refused a connection", "err", err)
			continue
		}
		pc := newPeerConn(n, replication.ReplicaID(conn.Peer()), 0)
		go pc.serveInbound(conn)
	}
}

// announce tells the primary this replica (re)started, on a short
// connection of its own.
func (n *Node) announce(up replication.ReplicaUp, endpoint string) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.Tick*100)
		defer cancel()
		conn, err := transport.Dial(ctx, endpoint, n.cfg.Transport)
		if err != nil {
			n.log.Debug("replication: could not announce to the primary; it will connect when it retries", "err", err)
			return
		}
		defer conn.Close()
		_ = conn.Send(transport.Envelope{Msg: up})
	}()
}

// worker runs functions in order on one goroutine, with an unbounded queue
// so the loop never waits for it.
type worker struct {
	mu     sync.Mutex
	cond   *sync.Cond
	queue  []func()
	closed bool
}

func newWorker() *worker {
	w := &worker{}
	w.cond = sync.NewCond(&w.mu)
	return w
}

func (w *worker) do(fn func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.queue = append(w.queue, fn)
		w.cond.Signal()
	}
}

func (w *worker) run() {
	for {
		w.mu.Lock()
		for len(w.queue) == 0 && !w.closed {
			w.cond.Wait()
		}
		if w.closed && len(w.queue) == 0 {
			w.mu.Unlock()
			return
		}
		fn := w.queue[0]
		w.queue = w.queue[1:]
		w.mu.Unlock()
		fn()
	}
}

func (w *worker) close() {
	w.mu.Lock()
	w.closed = true
	w.cond.Broadcast()
	w.mu.Unlock()
}
