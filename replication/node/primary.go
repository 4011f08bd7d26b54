package node

import (
	"context"
	"fmt"
	"io"

	"github.com/reprise-dev/reprise/replication"
	"github.com/reprise-dev/reprise/replication/transport"
	"github.com/reprise-dev/reprise/wal"
)

// pinHold is a pin the primary's engine asked for: the WAL from a record,
// and the rebuild's snapshot file, held open (an open file outlives its
// removal by retention).
type pinHold struct {
	releaseWAL func()
	snap       io.ReadCloser
	snapIndex  uint64
}

func (h *pinHold) release() {
	if h.releaseWAL != nil {
		h.releaseWAL()
	}
	if h.snap != nil {
		h.snap.Close()
	}
}

// becomePrimary reads the local log's facts beside the loop, then starts a
// Primary for the assignment's epoch on the loop.
func (n *Node) becomePrimary(a Assignment) {
	gen := n.generation
	go func() {
		lg, err := n.localLog()
		n.post(event{run: func() {
			if n.generation != gen {
				return // another assignment came first
			}
			if err != nil {
				n.log.Error("cannot become primary: reading the local log failed", "epoch", a.Epoch, "err", err)
				return
			}
			p, err := replication.NewPrimary(replication.PrimaryConfig{Epoch: a.Epoch, Mode: n.cfg.Mode, Replicas: n.replicaMembers(a),
				Budgets: n.cfg.Budgets, Log: lg, Committed: a.Committed})
			if err != nil {
				// A node restarted on an old assignment naming itself meets
				// its own newer records here; the control plane's current
				// assignment follows.
				n.log.Warn("cannot become primary for this assignment; waiting for the next", "epoch", a.Epoch, "err", err)
				return
			}
			n.primary = p
			n.lastFirst, n.lastCheck = lg.First, lg.Checkpoint.Index
			n.hook.mu.Lock()
			n.hook.acked = a.Committed
			n.hook.mu.Unlock()
			truncating := p.State() == replication.PrimaryPreparing
			if !truncating {
				n.promoteExecutor(a.Epoch, a.Committed, false)
			}
		}})
	}()
}

// promoteExecutor makes the executor write for epoch, beside the loop (a
// genesis record goes through the replicator, which needs the loop).
func (n *Node) promoteExecutor(epoch, after uint64, report bool) {
	rep := &replicator{n: n}
	gen := n.generation
	go func() {
		err := n.exec.Promote(context.Background(), epoch, after, rep)
		n.post(event{run: func() {
			if n.generation != gen || n.primary == nil {
				return
			}
			if err != nil {
				n.log.Error("promotion failed; this node stops writing", "epoch", epoch, "err", err)
				n.step(replication.LocalSyncFailed{Reason: err.Error()})
				return
			}
			if report {
				n.step(replication.LocalTruncated{LastIndex: after})
			}
		}})
	}()
}

// localLog describes the executor's log for a promotion.
func (n *Node) localLog() (replication.LocalLog, error) {
	w := n.exec.WAL()
	first, last := w.FirstIndex(), w.LastIndex()
	lg := replication.LocalLog{First: first, Last: last, Durable: last}
	if last >= first && last > 0 {
		err := w.Range(first, last, func(r wal.Record) error {
			if len(lg.History) == 0 || lg.History[len(lg.History)-1].Epoch != r.Epoch {
				lg.History = append(lg.History, replication.EpochStart{Epoch: r.Epoch, FirstIndex: r.Index})
			}
			return nil
		})
		if err != nil {
			return lg, err
		}
	}
	infos, err := n.exec.Snapshots().List()
	if err != nil {
		return lg, err
	}
	for _, in := range infos {
		if in.Valid && in.Index <= last && in.Index >= lg.Checkpoint.Index {
			lg.Checkpoint = replication.Checkpoint{Index: in.Index, StateHash: in.StateHash}
		}
	}
	return lg, nil
}

// primaryCommand carries out one command of the primary's engine.
func (n *Node) primaryCommand(c replication.Command) {
	switch c := c.(type) {
	case replication.Connect:
		n.connect(c)
	case replication.Ship:
		if pc := n.out[c.Replica]; pc != nil && pc.session == c.Session {
			pc.enqueue(sendItem{ship: &c})
		}
	case replication.Barrier:
		n.sendTo(c.Replica, c.Session, c)
	case replication.Truncate:
		n.sendTo(c.Replica, c.Session, c)
	case replication.Rebuild:
		if pc := n.out[c.Replica]; pc != nil && pc.session == c.Session {
			var snap io.ReadCloser
			for _, h := range n.pins {
				if h.snapIndex == c.SnapshotIndex && h.snap != nil && c.SnapshotIndex != 0 {
					snap, h.snap = h.snap, nil
					break
				}
			}
			pc.enqueue(sendItem{env: transport.Envelope{Msg: c}})
			if c.SnapshotIndex != 0 {
				pc.enqueue(sendItem{snapshot: &snapshotSend{index: c.SnapshotIndex, r: snap}})
			}
		}
	case replication.Pin:
		n.pin(c)
	case replication.Unpin:
		if h := n.pins[c.ID]; h != nil {
			h.release()
			delete(n.pins, c.ID)
		}
	case replication.TakeSnapshot:
		gen := n.generation
		go func() {
			index, err := n.exec.Snapshot()
			var hash [32]byte
			if err == nil {
				_, hash, err = n.recordedAt(index)
			}
			n.post(event{run: func() {
				if n.generation != gen {
					return
				}
				if err != nil {
					n.step(replication.SnapshotFailed{Replica: c.Replica, Session: c.Session, Reason: err.Error()})
					return
				}
				n.step(replication.Checkpointed{Index: index, StateHash: hash})
				n.step(replication.SnapshotTaken{Replica: c.Replica, Session: c.Session, Index: index, StateHash: hash})
			}})
		}()
	case replication.EndSession:
		n.metrics(func(m *Metrics) { m.countSession(c.Kind, c.Outcome) })
		n.log.Info("replica session ended", "replica", string(c.Replica), "session", uint64(c.Session), "kind", c.Kind.String(),
			"outcome", c.Outcome.String(), "reason", c.Reason)
		if c.Outcome != replication.OutcomeCompleted {
			if pc := n.out[c.Replica]; pc != nil && pc.session == c.Session {
				pc.close(c.Reason)
				delete(n.out, c.Replica)
			}
		}
	case replication.CloseStream:
		if pc := n.out[c.Replica]; pc != nil && pc.session == c.Session {
			pc.close(c.Reason)
			delete(n.out, c.Replica)
		}
	case replication.AckWrites:
		n.hook.ack(c.Through)
	case replication.FailWrites:
		n.hook.fail(c.From, c.Through, c.Reason)
	case replication.TruncateLocal:
		n.promoteExecutor(c.Epoch, c.After, true)
	case replication.StepDown:
		n.log.Warn("primary steps down", "epoch", c.Epoch, "new_epoch", c.NewEpoch, "reason", c.Reason)
		n.hook.failAll(fmt.Errorf("replication: the primary stepped down: %s", c.Reason))
		n.admit.Store(&errBox{err: fmt.Errorf("replication: the primary stepped down: %s", c.Reason)})
	default:
		n.log.Warn("replication: primary command not handled", "command", fmt.Sprintf("%T", c))
	}
}

// recordedAt returns the epoch and state hash recorded at index: by its
// WAL record, or by the snapshot at that index when the record is
// compacted away.
func (n *Node) recordedAt(index uint64) (epoch uint64, hash [32]byte, err error) {
	if rec, err := n.exec.WAL().Get(index); err == nil {
		return rec.Epoch, rec.StateHash, nil
	}
	infos, err := n.exec.Snapshots().List()
	if err != nil {
		return 0, [32]byte{}, err
	}
	for _, in := range infos {
		if in.Valid && in.Index == index {
			return in.Epoch, in.StateHash, nil
		}
	}
	return 0, [32]byte{}, fmt.Errorf("no record or snapshot at index %d", index)
}

func (n *Node) pin(c replication.Pin) {
	h := &pinHold{snapIndex: c.SnapshotIndex}
	release, err := n.exec.WAL().Pin(c.From)
	if err == nil {
		h.releaseWAL = release
		if c.SnapshotIndex != 0 {
			h.snap, _, err = n.exec.SnapshotAt(c.SnapshotIndex)
		}
	}
	if err != nil {
		h.release()
		n.log.Warn("pin failed", "replica", string(c.Replica), "from", c.From, "snapshot", c.SnapshotIndex, "err", err)
		n.step(replication.RecordsUnavailable{Replica: c.Replica, Session: c.Session, Index: c.From, Reason: "pin: " + err.Error()})
		return
	}
	n.pins[c.ID] = h
}

func (n *Node) sendTo(replica replication.ReplicaID, session replication.SessionID, msg any) {
	if pc := n.out[replica]; pc != nil && pc.session == session {
		pc.enqueue(sendItem{env: transport.Envelope{Msg: msg}})
	}
}

// connect opens a session's connection: the dial happens on the
// connection's own goroutine, then Connect is its first message.
func (n *Node) connect(c replication.Connect) {
	if old := n.out[c.Replica]; old != nil {
		old.close("superseded by session " + fmt.Sprint(c.Session))
	}
	pc := newPeerConn(n, c.Replica, c.Session)
	n.out[c.Replica] = pc
	pc.enqueue(sendItem{env: transport.Envelope{Msg: c}})
	go pc.dialAndServe(c.Endpoint)
}

// gatherShip reads the records of a Ship: from the writer's ring when it
// still holds them, from the WAL otherwise.
func (n *Node) gatherShip(s replication.Ship) ([]wal.Record, error) {
	if recs, ok := n.hook.records(s.From, s.Through); ok {
		return recs, nil
	}
	recs := make([]wal.Record, 0, s.Through-s.From+1)
	err := n.exec.WAL().Range(s.From, s.Through, func(r wal.Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if uint64(len(recs)) != s.Through-s.From+1 {
		return nil, fmt.Errorf("records %d..%d: the WAL holds only %d of them", s.From, s.Through, len(recs))
	}
	return recs, nil
}

// streamSnapshot sends a rebuild's snapshot file as chunks.
func (n *Node) streamSnapshot(pc *peerConn, s *snapshotSend) error {
	r := s.r
	if r == nil {
		var err error
		if r, _, err = n.exec.SnapshotAt(s.index); err != nil {
			return pc.conn.Send(transport.Envelope{Msg: transport.SnapshotEnd{Session: pc.session, Err: err.Error()}})
		}
	}
	defer r.Close()
	_, err := transport.SendSnapshot(pc.conn, pc.session, r, func(sent uint64) {
		n.post(event{ev: replication.TransferProgress{Replica: pc.replica, Session: pc.session, Bytes: sent}})
	})
	return err
}
