package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/host/state"
	"github.com/reprise-dev/reprise/replication"
	"github.com/reprise-dev/reprise/replication/transport"
	"github.com/reprise-dev/reprise/wal"
)

// becomeReplica reads the executor's facts beside the loop (the writer may
// still be finishing a batch), then starts a Replica on the loop.
func (n *Node) becomeReplica(a Assignment) {
	gen := n.generation
	go func() {
		cfg, err := n.replicaFacts(a.Epoch)
		n.post(event{run: func() {
			if n.generation != gen {
				return
			}
			if err != nil {
				n.log.Error("cannot follow: reading the local log failed", "epoch", a.Epoch, "err", err)
				return
			}
			r, err := replication.NewReplica(cfg)
			if err != nil {
				n.log.Error("cannot follow", "epoch", a.Epoch, "err", err)
				return
			}
			n.replica = r
		}})
	}()
}

// replicaFacts describes the executor's log and state for a Replica.
func (n *Node) replicaFacts(epoch uint64) (replication.ReplicaConfig, error) {
	st := n.exec.Status()
	meta, err := n.exec.ReplicaMeta()
	if err != nil {
		return replication.ReplicaConfig{}, err
	}
	cfg := replication.ReplicaConfig{ID: n.cfg.ID, Endpoint: n.cfg.Advertise, Epoch: epoch, Applied: st.Index,
		KnownCommitted: meta.Committed, LineageEpoch: min(meta.Lineage, epoch), NeedsRebuild: meta.Rebuilding || st.Failure != nil}
	cfg.Durable = max(st.LastWAL, st.Index)
	if st.FirstWAL > 1 {
		cfg.Floor = min(st.FirstWAL-1, st.Index)
	}
	if cfg.Durable > 0 {
		cfg.DurableEpoch = n.epochAt(cfg.Durable)
		if cfg.DurableEpoch == 0 {
			cfg.DurableEpoch = st.Epoch
		}
	}
	cfg.DurableEpoch = min(cfg.DurableEpoch, epoch)
	return cfg, nil
}

// epochAt is the epoch recorded at index, 0 if unknown (or index 0).
func (n *Node) epochAt(index uint64) uint64 {
	if index == 0 {
		return 0
	}
	epoch, _, _ := n.recordedAt(index)
	return epoch
}

// replicaCommand carries out one command of the replica's engine.
func (n *Node) replicaCommand(c replication.Command) {
	ctx := context.Background()
	switch c := c.(type) {
	case replication.Hello:
		n.reply(c.Session, c)
	case replication.Ack:
		n.reply(c.Session, c)
	case replication.BarrierAck:
		n.reply(c.Session, c)
	case replication.Truncated:
		n.reply(c.Session, c)
	case replication.Installed:
		n.reply(c.Session, c)
	case replication.RebuildFailed:
		n.reply(c.Session, c)
	case replication.EpochMismatch:
		n.reply(c.Session, c)
	case replication.ReplicaUp:
		if m, ok := n.member(n.assignment.Primary); ok {
			n.announce(c, m.Endpoint)
		}
	case replication.StoreRecords:
		recs := n.shipped[c.Session]
		delete(n.shipped, c.Session)
		var keep []wal.Record
		for _, r := range recs {
			if r.Index >= c.From && r.Index <= c.Through {
				keep = append(keep, r)
			}
		}
		n.logWork.do(func() {
			if len(keep) == 0 || keep[0].Index != c.From || keep[len(keep)-1].Index != c.Through {
				n.log.Warn("replica: records to store are missing", "from", c.From, "through", c.Through)
				return
			}
			if err := n.exec.StoreReplicated(keep); err != nil {
				n.log.Error("replica: storing shipped records failed", "from", c.From, "through", c.Through, "err", err)
				return
			}
			n.metrics(func(m *Metrics) { m.RecordsReceived += uint64(len(keep)) })
			last := keep[len(keep)-1]
			n.post(event{ev: replication.Stored{Gen: c.Gen, Through: c.Through}})
			n.post(event{ev: replication.Synced{Gen: c.Gen, Through: c.Through, Epoch: last.Epoch}})
		})
	case replication.SyncLog:
		n.logWork.do(func() {
			// Records are fsynced as they are stored; what is left to make
			// durable is the committed index and lineage. A stale committed
			// index on disk is safe (after a restart the replica applies
			// less and learns the rest from the primary), so it is saved
			// only when the lineage changes or it has moved on enough.
			var err error
			if n.metaDue(c.Committed, c.Lineage) {
				var meta executor.ReplicaMeta
				meta, err = n.exec.ReplicaMeta()
				if err == nil {
					meta.Committed, meta.Lineage = max(meta.Committed, c.Committed), c.Lineage
					err = n.exec.SaveReplicaMeta(meta)
				}
				if err == nil {
					n.savedMeta = savedMeta{committed: meta.Committed, lineage: meta.Lineage, at: time.Now(), ok: true}
				}
			}
			if err != nil {
				n.log.Error("replica: sync failed", "through", c.Through, "err", err)
				return
			}
			n.post(event{ev: replication.Synced{Gen: c.Gen, Through: c.Through, Epoch: n.epochAt(c.Through)}})
		})
	case replication.ApplyRecords:
		n.applyWork.do(func() {
			applied, err := n.exec.ApplyStored(ctx, c.Through)
			if err != nil {
				var div *executor.DivergenceError
				if errors.As(err, &div) {
					n.post(event{ev: replication.ApplyFailed{StateGen: c.StateGen, Index: div.Index, Reason: err.Error()}})
					return
				}
				if errors.Is(err, executor.ErrStopped) {
					n.post(event{ev: replication.ApplyFailed{StateGen: c.StateGen, Index: applied + 1, Reason: err.Error()}})
					return
				}
				n.log.Warn("replica: applying records failed", "through", c.Through, "err", err)
				return
			}
			n.post(event{ev: replication.AppliedThrough{StateGen: c.StateGen, Through: applied}})
		})
	case replication.TruncateLog:
		n.logWork.do(func() {
			if err := n.exec.TruncateStored(c.After); err != nil {
				n.log.Error("replica: truncation failed", "after", c.After, "err", err)
				return
			}
			n.post(event{ev: replication.LogTruncated{After: c.After, LastEpoch: n.epochAt(c.After)}})
		})
	case replication.ResetLog:
		n.logWork.do(func() {
			if err := n.exec.ResetForRebuild(ctx, c.Next); err != nil {
				n.log.Error("replica: reset for a rebuild failed", "next", c.Next, "err", err)
			}
		})
	case replication.InstallSnapshot:
		p := n.takePipe(c.Session)
		n.logWork.do(func() {
			if p == nil {
				n.post(event{ev: replication.SnapshotInstallFailed{Session: c.Session, Reason: "no snapshot stream for this session"}})
				return
			}
			err := n.exec.InstallSnapshot(ctx, c.Index, state.Hash(c.StateHash), p.rx)
			p.rx.Close()
			if err != nil {
				n.post(event{ev: replication.SnapshotInstallFailed{Session: c.Session, Reason: err.Error()}})
				return
			}
			n.metrics(func(m *Metrics) { m.SnapshotsInstalled++ })
			n.post(event{ev: replication.SnapshotInstalled(c)})
		})
	case replication.DiscardRebuild:
		n.logWork.do(func() {
			if err := n.exec.Discard(ctx); err != nil {
				n.log.Error("replica: discarding a rebuild failed", "err", err)
			}
		})
	default:
		n.log.Warn("replication: replica command not handled", "command", fmt.Sprintf("%T", c))
	}
}

// savedMeta is what the log worker last saved with SaveReplicaMeta.
type savedMeta struct {
	committed, lineage uint64
	at                 time.Time
	ok                 bool
}

// metaDue says whether SyncLog must save the replica's metadata now; it
// runs on the log worker.
func (n *Node) metaDue(committed, lineage uint64) bool {
	s := n.savedMeta
	return !s.ok || s.lineage != lineage || committed >= s.committed+1024 || (committed > s.committed && time.Since(s.at) > 200*time.Millisecond)
}

// reply sends a replica's answer on the connection of its session.
func (n *Node) reply(session replication.SessionID, msg any) {
	pc := n.in[session]
	if pc == nil || pc.isClosed() {
		return
	}
	pc.enqueue(sendItem{env: transport.Envelope{Msg: msg}})
}

// snapshotPipe carries a rebuild's snapshot bytes from the connection's
// reader to the install.
type snapshotPipe struct {
	conn *peerConn
	rx   *transport.SnapshotReceiver
}

func (n *Node) openPipe(pc *peerConn, session replication.SessionID) {
	if old, ok := n.pipes.Swap(session, &snapshotPipe{conn: pc, rx: transport.NewSnapshotReceiver(session)}); ok {
		old.(*snapshotPipe).rx.Abort(errors.New("superseded by another rebuild of the same session"))
	}
}

// takePipe hands the stream of session to its install.
func (n *Node) takePipe(session replication.SessionID) *snapshotPipe {
	if v, ok := n.pipes.Load(session); ok {
		return v.(*snapshotPipe)
	}
	return nil
}

// dropUnclaimedPipe closes the stream of a rebuild the engine refused.
func (n *Node) dropUnclaimedPipe(session replication.SessionID) {
	if n.replica == nil {
		return
	}
	if st := n.replica.Status(); st.Rebuilding && st.Session == session {
		return
	}
	if v, ok := n.pipes.LoadAndDelete(session); ok {
		v.(*snapshotPipe).rx.Close()
	}
}

// snapshotPart hands a chunk or the end of a rebuild's snapshot to its
// install (blocking until the install takes the bytes).
func (n *Node) snapshotPart(session replication.SessionID, msg any) {
	v, ok := n.pipes.Load(session)
	if !ok {
		return
	}
	if done, err := v.(*snapshotPipe).rx.Deliver(msg); done || err != nil {
		n.pipes.Delete(session)
	}
}

// closePipes fails the streams a closed connection was carrying.
func (n *Node) closePipes(pc *peerConn) {
	n.pipes.Range(func(k, v any) bool {
		if p := v.(*snapshotPipe); p.conn == pc {
			p.rx.Abort(errors.New("the connection to the primary closed"))
			n.pipes.Delete(k)
		}
		return true
	})
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }
