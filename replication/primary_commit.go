package replication

import (
	"fmt"
	"slices"
)

// Durability: the committed index under each mode, acknowledging and failing
// client writes, admission, retention and status.

// commitIndex is the highest index the durability mode lets the primary
// acknowledge, from durable facts only.
func (p *Primary) commitIndex() uint64 {
	switch p.mode {
	case SyncAll:
		c := p.localDurable
		for _, id := range p.order {
			c = min(c, p.senders[id].durable)
		}
		return c
	case SyncQuorum:
		vals := make([]uint64, 0, len(p.order)+1)
		vals = append(vals, p.localDurable)
		for _, id := range p.order {
			vals = append(vals, p.senders[id].durable)
		}
		slices.Sort(vals)
		slices.Reverse(vals)
		return vals[majority(len(vals))-1]
	}
	return p.localDurable
}

// advanceCommit moves the committed index forward and acknowledges the
// writes it covers (never one that was already failed).
func (p *Primary) advanceCommit() {
	if p.state != PrimaryServing {
		return
	}
	if c := min(p.commitIndex(), p.head); c > p.committed {
		p.committed = c
	}
	if p.committed > p.answered {
		next := p.answered + 1
		for _, f := range p.failed {
			if f.from > p.committed {
				break
			}
			if f.from > next {
				p.emit(AckWrites{Epoch: p.epoch, From: next, Through: f.from - 1})
			}
			next = max(next, f.through+1)
		}
		if next <= p.committed {
			p.emit(AckWrites{Epoch: p.epoch, From: next, Through: p.committed})
		}
		p.answered = p.committed
		p.trimFailed()
	}
	p.pumpAll()
}

// trimFailed drops failed spans at or below answered.
func (p *Primary) trimFailed() {
	kept := p.failed[:0]
	for _, f := range p.failed {
		if f.through <= p.answered {
			continue
		}
		f.from = max(f.from, p.answered+1)
		kept = append(kept, f)
	}
	p.failed = kept
}

// doomedAbove returns d such that pending writes above d can no longer be
// acknowledged under the mode, and false when all of them still can.
func (p *Primary) doomedAbove() (uint64, bool) {
	switch p.mode {
	case SyncAll:
		d, doomed := p.head, false
		for _, id := range p.order {
			if s := p.senders[id]; !s.live {
				d, doomed = min(d, s.durable), true
			}
		}
		return d, doomed
	case SyncQuorum:
		need := majority(len(p.order)+1) - 1 // replicas needed besides the primary
		healthy := 0
		var others []uint64
		for _, id := range p.order {
			if s := p.senders[id]; s.live {
				healthy++
			} else {
				others = append(others, s.durable)
			}
		}
		if healthy >= need {
			return 0, false
		}
		k := need - healthy
		if k > len(others) {
			return 0, true
		}
		slices.Sort(others)
		slices.Reverse(others)
		return others[k-1], true
	}
	return 0, false
}

// checkWrites fails the pending writes the mode can no longer acknowledge.
func (p *Primary) checkWrites() {
	if p.state != PrimaryServing || p.answered >= p.head {
		return
	}
	if d, doomed := p.doomedAbove(); doomed {
		p.failPendingAbove(d, fmt.Sprintf("%s cannot acknowledge writes past %d: %s", p.mode, d, p.notInSyncText()))
	}
}

// failPendingAbove fails every pending write above d that is not already
// failed.
func (p *Primary) failPendingAbove(d uint64, reason string) {
	lo := max(d, p.answered) + 1
	if lo > p.head {
		return
	}
	var added []span
	next := lo
	for _, f := range p.failed {
		if f.through < next {
			continue
		}
		if f.from > next {
			added = append(added, span{next, f.from - 1})
		}
		next = max(next, f.through+1)
	}
	if next <= p.head {
		added = append(added, span{next, p.head})
	}
	for _, a := range added {
		p.emit(FailWrites{Epoch: p.epoch, From: a.from, Through: a.through, Reason: reason})
	}
	p.failed = mergeSpans(append(p.failed, added...))
}

func mergeSpans(in []span) []span {
	slices.SortFunc(in, func(a, b span) int {
		switch {
		case a.from < b.from:
			return -1
		case a.from > b.from:
			return 1
		}
		return 0
	})
	out := in[:0]
	for _, s := range in {
		if n := len(out); n > 0 && s.from <= out[n-1].through+1 {
			out[n-1].through = max(out[n-1].through, s.through)
			continue
		}
		out = append(out, s)
	}
	return out
}

func (p *Primary) notInSyncText() string {
	var ids []ReplicaID
	for _, id := range p.order {
		if !p.senders[id].live {
			ids = append(ids, id)
		}
	}
	return "not in sync: " + joinIDs(ids)
}

// Admit reports whether a new client write could be acknowledged now. An
// executor calls it before running the reducer, so that under sync_all and
// sync_quorum a write that is bound to fail is refused before it is
// appended.
func (p *Primary) Admit() error {
	switch p.state {
	case PrimaryPreparing:
		return fmt.Errorf("%w: truncating the local log to the committed boundary %d", ErrNotReady, p.committed)
	case PrimaryStopped:
		return fmt.Errorf("%w: %s", ErrStopped, p.stopped)
	}
	if p.mode == BestEffort {
		return nil
	}
	var missing []ReplicaID
	for _, id := range p.order {
		if !p.senders[id].live {
			missing = append(missing, id)
		}
	}
	nodes := len(p.order) + 1
	need := nodes
	if p.mode == SyncQuorum {
		need = majority(nodes)
	}
	if inSync := nodes - len(missing); inSync < need {
		return &NotEnoughReplicasError{Mode: p.mode, Need: need, InSync: inSync, NotInSync: missing}
	}
	return nil
}

// RetentionFloor is the lowest index the WAL must keep: head truncation may
// remove records below it and nothing at or above it. It is the minimum of
// the committed index + 1 (records past the committed index may have to be
// dropped at the next promotion, and a log compacted past its boundary
// cannot be), every pin's start (the WAL's own pins enforce those), and the
// durable index + 1 of every in-sync replica (so that a short disconnection
// is repaired by catch-up rather than rebuild; compacting past these is
// allowed, at that cost).
func (p *Primary) RetentionFloor() uint64 {
	floor := min(p.head, p.committed) + 1
	for _, id := range p.order {
		s := p.senders[id]
		if s.sess != nil && s.sess.pin != 0 {
			floor = min(floor, s.sess.pinFrom)
		}
		if s.live {
			floor = min(floor, s.durable+1)
		}
	}
	return floor
}

// Status is a snapshot of the primary's state, replicas sorted by ID.
type Status struct {
	State        PrimaryState
	Epoch        uint64
	Mode         Mode
	Tick         uint64
	Head         uint64
	First        uint64
	LocalDurable uint64
	Committed    uint64
	Checkpoint   uint64
	StopReason   string
	Replicas     []SenderStatus
}

// Status reports the primary's state for operations (GET /v1/replication).
func (p *Primary) Status() Status {
	st := Status{State: p.state, Epoch: p.epoch, Mode: p.mode, Tick: p.now, Head: p.head, First: p.first,
		LocalDurable: p.localDurable, Committed: p.committed, Checkpoint: p.checkpoint.Index, StopReason: p.stopped}
	for _, id := range p.order {
		s := p.senders[id]
		ss := SenderStatus{ID: s.id, Endpoint: s.endpoint, State: s.state(), Stream: s.stream, Durable: s.durable, Received: s.received,
			Sent: s.sent, LastOutcome: s.lastOutcome, LastReason: s.lastReason}
		if p.committed > s.durable {
			ss.Lag = p.committed - s.durable
		}
		if ss.State == SenderDisconnected {
			ss.RetryAt = s.retryAt
		}
		if sess := s.sess; sess != nil {
			ss.Session = &SessionStatus{ID: sess.id, Kind: sess.kind, Phase: sess.phase, StartTick: sess.started,
				Target: sess.target, Progress: s.received, Pin: sess.pin, PinFrom: sess.pinFrom}
		}
		st.Replicas = append(st.Replicas, ss)
	}
	return st
}
