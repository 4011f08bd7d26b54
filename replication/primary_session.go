package replication

import (
	"fmt"
	"slices"
)

// The primary's recovery sessions: connecting, classifying, truncating,
// catching up and rebuilding, and the messages that drive them.

// connect starts a new session on a new connection.
func (p *Primary) connect(s *sender, kind SessionKind) {
	if s.live {
		p.dropStream(s, "reconnecting")
	}
	p.lastSession++
	s.sess = &session{id: p.lastSession, kind: kind, phase: PhaseHandshake, started: p.now, lastProgress: p.now}
	s.stream = p.lastSession
	s.barrier = nil
	s.notify = false
	p.emit(Connect{Replica: s.id, Endpoint: s.endpoint, Session: s.stream, Epoch: p.epoch, Committed: p.committed})
}

// endSession is the only way a session ends: it releases the pin first, then
// emits the terminal event. A completed session's connection becomes the
// live stream; any other outcome closes it.
func (p *Primary) endSession(s *sender, outcome Outcome, reason string) {
	sess := s.sess
	p.unpin(s, sess)
	s.sess = nil
	s.barrier = nil
	s.lastOutcome, s.lastReason = outcome, reason
	p.emit(EndSession{Replica: s.id, Session: sess.id, Epoch: p.epoch, Kind: sess.kind, Outcome: outcome, Reason: reason})
	if outcome == OutcomeCompleted {
		s.live = true
		s.notify = true
		return
	}
	s.live = false
	s.stream = 0
	s.retryAt = p.now + p.budgets.RetryTicks
}

// endConnection ends what the sender has open: its recovery session, with
// outcome, or else its live stream.
func (p *Primary) endConnection(s *sender, outcome Outcome, reason string) {
	if s.sess != nil {
		p.endSession(s, outcome, reason)
	} else if s.live {
		p.dropStream(s, reason)
	}
}

// dropStream closes an in-sync replica's stream.
func (p *Primary) dropStream(s *sender, reason string) {
	p.emit(CloseStream{Replica: s.id, Session: s.stream, Reason: reason})
	s.live = false
	s.stream = 0
	s.barrier = nil
	s.lastReason = reason
	s.retryAt = p.now + p.budgets.RetryTicks
}

func (p *Primary) escalate(s *sender, reason string) {
	p.endSession(s, OutcomeEscalated, reason)
	p.connect(s, KindRebuild)
}

func (p *Primary) pin(s *sender, sess *session, from, snap uint64) bool {
	if from < p.first {
		p.endSession(s, OutcomeFailed, fmt.Sprintf("records from %d are already compacted (first retained %d)", from, p.first))
		p.checkWrites()
		return false
	}
	p.unpin(s, sess)
	p.lastPin++
	sess.pin, sess.pinFrom, sess.pinSnap = p.lastPin, from, snap
	p.emit(Pin{ID: sess.pin, Replica: s.id, Session: sess.id, From: from, SnapshotIndex: snap})
	return true
}

func (p *Primary) unpin(s *sender, sess *session) {
	if sess.pin == 0 {
		return
	}
	p.emit(Unpin{ID: sess.pin, Replica: s.id, Session: sess.id})
	sess.pin, sess.pinFrom, sess.pinSnap = 0, 0, 0
}

// sessionFor finds the sender of replica and checks that session is its
// current session, in one of phases (any phase when none is given).
func (p *Primary) sessionFor(replica ReplicaID, id SessionID, what string, phases ...Phase) (*sender, *session, error) {
	s, ok := p.senders[replica]
	if !ok {
		return nil, nil, stalef("%s from %q, which is not in the membership", what, replica)
	}
	sess := s.sess
	if sess == nil || sess.id != id {
		return nil, nil, stalef("%s for session %d of %s, which is not its current session", what, id, replica)
	}
	if len(phases) > 0 && !slices.Contains(phases, sess.phase) {
		return nil, nil, stalef("%s for session %d of %s in phase %s", what, id, replica, sess.phase)
	}
	return s, sess, nil
}

// streamFor finds the sender of replica and checks that id is its open
// connection and epoch the primary's.
func (p *Primary) streamFor(replica ReplicaID, id SessionID, epoch uint64, what string) (*sender, error) {
	s, ok := p.senders[replica]
	if !ok {
		return nil, stalef("%s from %q, which is not in the membership", what, replica)
	}
	if s.stream == 0 || s.stream != id {
		return nil, stalef("%s on session %d of %s, which is not its open connection", what, id, replica)
	}
	if epoch != p.epoch {
		return nil, stalef("%s of epoch %d, the primary's epoch is %d", what, epoch, p.epoch)
	}
	return s, nil
}

func (p *Primary) view() PrimaryView {
	return PrimaryView{Committed: p.committed, Head: p.head, First: p.first, History: p.history,
		Checkpoint: p.checkpoint, CatchUpRecords: p.budgets.CatchUpRecords}
}

func (p *Primary) replicaUp(e ReplicaUp) error {
	s, ok := p.senders[e.Replica]
	if !ok {
		return stalef("replica %q announced itself but is not in the membership", e.Replica)
	}
	if e.Endpoint != s.endpoint {
		return stalef("replica %s announced endpoint %s, the membership says %s", e.Replica, e.Endpoint, s.endpoint)
	}
	if s.sess != nil {
		p.endSession(s, OutcomeSuperseded, "replica announced a restart")
	}
	p.connect(s, KindPending)
	p.checkWrites()
	return nil
}

func (p *Primary) hello(e Hello) error {
	if e.Epoch > p.epoch {
		if _, ok := p.senders[e.Replica]; !ok {
			return stalef("hello from %q, which is not in the membership", e.Replica)
		}
		p.fence(e.Epoch, fmt.Sprintf("replica %s is at epoch %d, past the primary's %d", e.Replica, e.Epoch, p.epoch))
		return nil
	}
	s, _, err := p.sessionFor(e.Replica, e.Session, "hello", PhaseHandshake)
	if err != nil {
		return err
	}
	if e.Epoch < p.epoch {
		p.endSession(s, OutcomeFailed, fmt.Sprintf("replica is at epoch %d, the primary at %d: the control plane must move it first", e.Epoch, p.epoch))
		p.checkWrites()
		return nil
	}
	s.sess.applied = e.Applied
	p.decide(s, ReplicaFacts{Durable: e.Durable, DurableEpoch: e.DurableEpoch, Applied: e.Applied, NeedsRebuild: e.NeedsRebuild})
	p.advanceCommit()
	p.checkWrites()
	return nil
}

// decide classifies the replica of s's session and starts what follows.
func (p *Primary) decide(s *sender, f ReplicaFacts) {
	sess := s.sess
	sess.lastProgress = p.now
	d := Classify(p.view(), f)
	if sess.kind == KindRebuild && d.Class != ClassRebuild {
		d = rebuildDecision(p.view(), d.Matched, "rebuild after an escalated catch-up")
	}
	switch d.Class {
	case ClassInSync:
		sess.kind = KindCatchUp
		sess.from, sess.target = d.From, d.Target
		s.durable, s.received, s.sent = f.Durable, f.Durable, f.Durable
		p.endSession(s, OutcomeCompleted, "in sync at handshake: "+d.Reason)
		p.pump(s)
	case ClassTruncate:
		sess.phase = PhaseTruncate
		sess.truncAfter = d.Matched
		s.durable, s.received, s.sent = d.Matched, d.Matched, d.Matched
		p.emit(Truncate{Replica: s.id, Session: sess.id, Epoch: p.epoch, After: d.Matched})
	case ClassCatchUp:
		sess.kind = KindCatchUp
		sess.phase = PhaseCatchUp
		sess.from, sess.target = d.From, d.Target
		s.durable, s.received, s.sent = f.Durable, f.Durable, f.Durable
		if p.pin(s, sess, d.From, 0) {
			p.pump(s)
		}
	case ClassRebuild:
		sess.kind = KindRebuild
		// The replica's copy is discarded by the rebuild: it holds nothing
		// the primary may count until the rebuild completes.
		s.durable, s.received, s.sent = 0, 0, 0
		if d.Source == SourceFreshSnapshot {
			sess.phase = PhaseSnapshot
			sess.target = d.Target
			p.emit(TakeSnapshot{Replica: s.id, Session: sess.id, Epoch: p.epoch, AtLeast: d.Target})
			return
		}
		var hash [32]byte
		if d.SnapshotIndex > 0 {
			hash = p.checkpoint.StateHash
		}
		p.beginTransfer(s, d.SnapshotIndex, hash, d.Target)
	}
}

// beginTransfer starts a rebuild from the snapshot at index k.
func (p *Primary) beginTransfer(s *sender, k uint64, hash [32]byte, target uint64) {
	sess := s.sess
	sess.phase = PhaseTransfer
	sess.snapIndex, sess.snapHash = k, hash
	sess.target = target
	sess.installed = k == 0
	sess.from = k + 1
	if !p.pin(s, sess, k+1, k) {
		return
	}
	se, _ := p.history.EpochAt(k)
	p.emit(Rebuild{Replica: s.id, Session: sess.id, Epoch: p.epoch, SnapshotIndex: k, SnapshotEpoch: se, StateHash: hash, Target: target})
	s.sent, s.received = k, k
	p.pump(s)
}

func (p *Primary) truncated(e Truncated) error {
	s, sess, err := p.sessionFor(e.Replica, e.Session, "truncation report", PhaseTruncate)
	if err != nil {
		return err
	}
	if e.Epoch != p.epoch {
		return stalef("truncation report of epoch %d, the primary's epoch is %d", e.Epoch, p.epoch)
	}
	if e.LastIndex != sess.truncAfter {
		p.endSession(s, OutcomeFailed, fmt.Sprintf("replica truncated to %d, asked for %d", e.LastIndex, sess.truncAfter))
		p.checkWrites()
		return nil
	}
	p.decide(s, ReplicaFacts{Durable: e.LastIndex, DurableEpoch: e.LastEpoch, Applied: sess.applied})
	p.advanceCommit()
	p.checkWrites()
	return nil
}

func (p *Primary) snapshotTaken(e SnapshotTaken) error {
	s, sess, err := p.sessionFor(e.Replica, e.Session, "snapshot", PhaseSnapshot)
	if err != nil {
		return err
	}
	switch {
	case e.Index < sess.target:
		p.endSession(s, OutcomeFailed, fmt.Sprintf(
			"fresh snapshot claims index %d, below committed %d: the current state cannot stand for an older index", e.Index, sess.target))
	case e.Index > p.head:
		p.endSession(s, OutcomeFailed, fmt.Sprintf("fresh snapshot claims index %d, past the head %d", e.Index, p.head))
	default:
		sess.lastProgress = p.now
		p.beginTransfer(s, e.Index, e.StateHash, e.Index)
	}
	p.checkWrites()
	return nil
}

func (p *Primary) snapshotFailed(e SnapshotFailed) error {
	s, sess, err := p.sessionFor(e.Replica, e.Session, "snapshot failure", PhaseSnapshot, PhaseTransfer)
	if err != nil {
		return err
	}
	what := "fresh snapshot failed: "
	if sess.phase == PhaseTransfer {
		what = fmt.Sprintf("snapshot at %d could not be sent: ", sess.snapIndex)
	}
	p.endSession(s, OutcomeFailed, what+e.Reason)
	p.checkWrites()
	return nil
}

func (p *Primary) transferProgress(e TransferProgress) error {
	_, sess, err := p.sessionFor(e.Replica, e.Session, "transfer progress", PhaseTransfer)
	if err != nil {
		return err
	}
	if e.Bytes > sess.bytes {
		sess.bytes = e.Bytes
		sess.lastProgress = p.now
	}
	return nil
}

func (p *Primary) installed(e Installed) error {
	s, sess, err := p.sessionFor(e.Replica, e.Session, "install report", PhaseTransfer)
	if err != nil {
		return err
	}
	if e.Epoch != p.epoch {
		return stalef("install report of epoch %d, the primary's epoch is %d", e.Epoch, p.epoch)
	}
	if sess.installed {
		return nil
	}
	if e.Index != sess.snapIndex || e.StateHash != sess.snapHash {
		p.endSession(s, OutcomeFailed, fmt.Sprintf(
			"snapshot verification failed: replica installed index %d state hash %x, expected index %d state hash %x",
			e.Index, e.StateHash, sess.snapIndex, sess.snapHash))
		p.checkWrites()
		return nil
	}
	sess.installed = true
	sess.lastProgress = p.now
	p.pump(s)
	return nil
}

func (p *Primary) rebuildFailed(e RebuildFailed) error {
	s, _, err := p.sessionFor(e.Replica, e.Session, "rebuild failure", PhaseTransfer)
	if err != nil {
		return err
	}
	if e.Epoch != p.epoch {
		return stalef("rebuild failure of epoch %d, the primary's epoch is %d", e.Epoch, p.epoch)
	}
	p.endSession(s, OutcomeFailed, "replica could not install the snapshot: "+e.Reason)
	p.checkWrites()
	return nil
}

func (p *Primary) epochMismatch(e EpochMismatch) error {
	s, ok := p.senders[e.Replica]
	if !ok {
		return stalef("epoch mismatch from %q, which is not in the membership", e.Replica)
	}
	if s.stream == 0 || s.stream != e.Session {
		return stalef("epoch mismatch on session %d of %s, which is not its open connection", e.Session, e.Replica)
	}
	if e.Epoch > p.epoch {
		p.fence(e.Epoch, fmt.Sprintf("replica %s is at epoch %d, past the primary's %d", e.Replica, e.Epoch, p.epoch))
		return nil
	}
	if e.Epoch == p.epoch {
		return stalef("epoch mismatch from %s names the primary's own epoch %d", e.Replica, e.Epoch)
	}
	reason := fmt.Sprintf("replica is at epoch %d, the primary at %d: the control plane must move it first", e.Epoch, p.epoch)
	p.endConnection(s, OutcomeFailed, reason)
	p.checkWrites()
	return nil
}

func (p *Primary) unreachable(e Unreachable) error {
	s, ok := p.senders[e.Replica]
	if !ok {
		return stalef("unreachable report for %q, which is not in the membership", e.Replica)
	}
	if s.stream == 0 || s.stream != e.Session {
		return stalef("unreachable report for session %d of %s, which is not its open connection", e.Session, e.Replica)
	}
	reason := "unreachable: " + e.Reason
	p.endConnection(s, OutcomeFailed, reason)
	p.checkWrites()
	return nil
}

func (p *Primary) recordsUnavailable(e RecordsUnavailable) error {
	s, ok := p.senders[e.Replica]
	if !ok {
		return stalef("records-unavailable report for %q, which is not in the membership", e.Replica)
	}
	if s.stream == 0 || s.stream != e.Session {
		return stalef("records-unavailable report for session %d of %s, which is not its open connection", e.Session, e.Replica)
	}
	reason := fmt.Sprintf("records from %d unavailable: %s", e.Index, e.Reason)
	p.endConnection(s, OutcomeFailed, reason)
	p.checkWrites()
	return nil
}
