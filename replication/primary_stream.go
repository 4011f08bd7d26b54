package replication

import "fmt"

// The primary's stream to each replica: shipping within the window, acks
// and barriers.

func (p *Primary) ack(e Ack) error {
	s, err := p.streamFor(e.Replica, e.Session, e.Epoch, "ack")
	if err != nil {
		return err
	}
	if e.Received > s.sent {
		return stalef("replica %s acknowledges %d but only %d was shipped", e.Replica, e.Received, s.sent)
	}
	if e.Received <= s.received {
		return nil
	}
	s.received = e.Received
	if s.sess != nil {
		s.sess.lastProgress = p.now
	}
	p.pump(s)
	return nil
}

func (p *Primary) barrierAck(e BarrierAck) error {
	s, err := p.streamFor(e.Replica, e.Session, e.Epoch, "barrier answer")
	if err != nil {
		return err
	}
	b := s.barrier
	if b == nil || b.id != e.ID {
		return stalef("barrier %d of %s is not outstanding (a late answer, or it already timed out)", e.ID, e.Replica)
	}
	s.barrier = nil
	switch {
	case !e.HasDurable:
		p.barrierFailed(s, fmt.Sprintf("barrier %d answered without a durable index", b.id))
		return nil
	case e.Durable > s.sent:
		p.barrierFailed(s, fmt.Sprintf("barrier %d: replica claims durable %d, past the %d shipped", b.id, e.Durable, s.sent))
		return nil
	}
	if e.Durable > s.durable {
		s.durable = e.Durable
	}
	if s.durable > s.received {
		s.received = s.durable
	}
	if s.durable < b.index {
		p.barrierFailed(s, fmt.Sprintf("barrier %d: durable index %d is below the barrier index %d", b.id, s.durable, b.index))
		// What it does hold durably still counts.
		p.advanceCommit()
		return nil
	}
	if sess := s.sess; sess != nil {
		sess.lastProgress = p.now
		if b.index >= sess.target && (sess.phase == PhaseCatchUp || (sess.phase == PhaseTransfer && sess.installed)) {
			p.endSession(s, OutcomeCompleted, fmt.Sprintf("durable through the target %d", sess.target))
		}
	}
	p.advanceCommit()
	return nil
}

// barrierFailed handles a barrier that timed out or was answered badly: the
// replica is no longer counted as in sync and is probed again later.
func (p *Primary) barrierFailed(s *sender, reason string) {
	s.barrier = nil
	p.endConnection(s, OutcomeFailed, reason)
	p.checkWrites()
}

func (p *Primary) pumpAll() {
	for _, id := range p.order {
		p.pump(p.senders[id])
	}
}

// pump ships what the window allows and issues the barrier that is due.
func (p *Primary) pump(s *sender) {
	if p.state != PrimaryServing {
		return
	}
	if sess := s.sess; sess != nil {
		if sess.phase != PhaseCatchUp && sess.phase != PhaseTransfer {
			return
		}
		if !p.ship(s, sess.target) {
			return
		}
		ready := sess.phase == PhaseCatchUp || sess.installed
		if ready && s.barrier == nil && s.received >= sess.target {
			p.sendBarrier(s, sess.target)
		}
		return
	}
	if !s.live {
		return
	}
	if !p.ship(s, p.head) {
		return
	}
	if s.barrier == nil && (s.sent > s.durable || s.notify) {
		p.sendBarrier(s, s.sent)
	}
}

// ship sends the next records up to limit within the in-flight window. It
// returns false when it had to end the session or stream because the records
// are gone.
func (p *Primary) ship(s *sender, limit uint64) bool {
	if s.sent >= limit {
		return true
	}
	from := s.sent + 1
	if from < p.first {
		reason := fmt.Sprintf("records from %d are no longer in the WAL (first retained %d)", from, p.first)
		p.endConnection(s, OutcomeFailed, reason)
		p.checkWrites()
		return false
	}
	through := min(limit, s.received+p.budgets.MaxInFlight)
	if through < from {
		return true
	}
	fe, _ := p.history.EpochAt(from)
	le, _ := p.history.EpochAt(through)
	p.emit(Ship{Replica: s.id, Session: s.stream, Epoch: p.epoch, From: from, Through: through,
		FirstEpoch: fe, LastEpoch: le, Committed: p.committed})
	s.sent = through
	s.noticed = max(s.noticed, p.committed)
	return true
}

func (p *Primary) sendBarrier(s *sender, index uint64) {
	p.lastBarrier++
	s.barrier = &barrier{id: p.lastBarrier, index: index, deadline: p.now + p.budgets.BarrierTicks, committed: p.committed}
	s.notify = false
	s.noticed = max(s.noticed, p.committed)
	p.emit(Barrier{Replica: s.id, Session: s.stream, Epoch: p.epoch, ID: p.lastBarrier, Index: index, Committed: p.committed})
}
