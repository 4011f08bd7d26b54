package replication

import "fmt"

// PrimaryState is the life cycle of a Primary.
type PrimaryState uint8

const (
	// PrimaryPreparing: promoted with a log longer than its committed
	// boundary; waiting for LocalTruncated.
	PrimaryPreparing PrimaryState = iota + 1
	// PrimaryServing: appending, shipping, recovering replicas.
	PrimaryServing
	// PrimaryStopped: stepped down, shut down or failed; every session has
	// ended and every pin is released.
	PrimaryStopped
)

func (s PrimaryState) String() string {
	switch s {
	case PrimaryPreparing:
		return "preparing"
	case PrimaryServing:
		return "serving"
	case PrimaryStopped:
		return "stopped"
	}
	return fmt.Sprintf("PrimaryState(%d)", uint8(s))
}

// LocalLog describes the new primary's own log when it is promoted.
type LocalLog struct {
	First   uint64 // lowest index in the WAL (0 or Last+1 when empty)
	Last    uint64 // highest index in the WAL
	Durable uint64 // fsynced through (Last with a synchronous WAL)
	// History is the log's epoch history; it must describe every retained
	// record and should go back to index 1 (see History).
	History    History
	Checkpoint Checkpoint // newest trusted snapshot, Index 0 when none
}

// PrimaryConfig promotes a node to primary for one epoch.
type PrimaryConfig struct {
	// Epoch is the new epoch; it must exceed every epoch in the log.
	Epoch uint64
	Mode  Mode
	// Replicas is the membership without this node.
	Replicas []Member
	Budgets  Budgets
	Log      LocalLog
	// Committed is the committed boundary the control plane promotes with
	// (see ChooseSuccessor): the node must hold it durably, and records
	// after it are dropped so that nothing uncommitted is revived.
	Committed uint64
}

// Primary is the replication engine of the node that writes, for one epoch:
// a new epoch means a new Primary. It is not safe for concurrent use; the
// executor steps it from one goroutine.
type Primary struct {
	epoch   uint64
	mode    Mode
	budgets Budgets
	state   PrimaryState
	stopped string

	now          uint64
	head         uint64
	first        uint64
	localDurable uint64
	committed    uint64
	answered     uint64 // client writes through here are answered
	failed       []span // failed writes above answered, ascending, disjoint
	history      History
	checkpoint   Checkpoint

	senders map[ReplicaID]*sender
	order   []ReplicaID // sorted: the only order senders are visited in

	lastSession SessionID
	lastBarrier BarrierID
	lastPin     PinID

	out []Command
}

type span struct{ from, through uint64 }

// NewPrimary promotes a node. It refuses a node that does not hold the
// committed boundary durably (ErrNotEligible) and malformed configurations.
// When the log runs past the boundary the first command is TruncateLocal and
// the primary serves after LocalTruncated; otherwise it connects to every
// replica at once.
func NewPrimary(cfg PrimaryConfig) (*Primary, error) {
	if cfg.Epoch == 0 {
		return nil, fmt.Errorf("replication: primary epoch must be at least 1")
	}
	if !cfg.Mode.valid() {
		return nil, fmt.Errorf("replication: invalid durability mode %d", cfg.Mode)
	}
	if err := validateMembers(cfg.Mode, cfg.Replicas); err != nil {
		return nil, err
	}
	lg := cfg.Log
	first := lg.First
	if first == 0 {
		first = 1
	}
	if first > lg.Last+1 {
		return nil, fmt.Errorf("replication: log first index %d is past last index %d + 1", first, lg.Last)
	}
	if lg.Durable > lg.Last {
		return nil, fmt.Errorf("replication: log durable index %d is past last index %d", lg.Durable, lg.Last)
	}
	if err := lg.History.Validate(); err != nil {
		return nil, err
	}
	for _, e := range lg.History {
		if e.Epoch >= cfg.Epoch {
			return nil, fmt.Errorf("replication: log holds epoch %d, the new epoch %d must be higher", e.Epoch, cfg.Epoch)
		}
		if e.FirstIndex > lg.Last+1 {
			return nil, fmt.Errorf("replication: epoch %d starts at %d, past the log's last index %d", e.Epoch, e.FirstIndex, lg.Last)
		}
	}
	if lg.Last >= first {
		if _, ok := lg.History.EpochAt(first); !ok {
			return nil, fmt.Errorf("replication: epoch history does not cover the retained records from %d", first)
		}
	}
	if lg.Checkpoint.Index > lg.Last {
		return nil, fmt.Errorf("replication: checkpoint at %d is past the log's last index %d", lg.Checkpoint.Index, lg.Last)
	}
	if cfg.Committed > lg.Durable {
		return nil, fmt.Errorf("%w: durable index %d is below the committed boundary %d", ErrNotEligible, lg.Durable, cfg.Committed)
	}
	if cfg.Committed+1 < first {
		return nil, fmt.Errorf("%w: log is compacted to %d, past the committed boundary %d", ErrNotEligible, first, cfg.Committed)
	}

	p := &Primary{
		epoch:        cfg.Epoch,
		mode:         cfg.Mode,
		budgets:      cfg.Budgets.withDefaults(),
		head:         lg.Last,
		first:        first,
		localDurable: lg.Durable,
		committed:    cfg.Committed,
		answered:     cfg.Committed,
		history:      lg.History.Clone(),
		checkpoint:   lg.Checkpoint,
		senders:      make(map[ReplicaID]*sender, len(cfg.Replicas)),
	}
	for _, m := range sortedMembers(cfg.Replicas) {
		p.senders[m.ID] = &sender{id: m.ID, endpoint: m.Endpoint}
		p.order = append(p.order, m.ID)
	}
	if lg.Last > cfg.Committed {
		p.state = PrimaryPreparing
		p.emit(TruncateLocal{Epoch: p.epoch, After: cfg.Committed})
		return p, nil
	}
	p.serve()
	return p, nil
}

// serve starts the epoch on a log that ends at the committed boundary.
func (p *Primary) serve() {
	p.state = PrimaryServing
	p.history = append(p.history.Truncate(p.head), EpochStart{Epoch: p.epoch, FirstIndex: p.head + 1})
	if p.checkpoint.Index > p.head {
		p.checkpoint = Checkpoint{}
	}
	for _, id := range p.order {
		p.connect(p.senders[id], KindPending)
	}
}

// Ready returns the commands produced since the last call, in order, and
// forgets them.
func (p *Primary) Ready() []Command {
	out := p.out
	p.out = nil
	return out
}

// HasReady reports whether Ready would return commands.
func (p *Primary) HasReady() bool { return len(p.out) > 0 }

func (p *Primary) emit(c Command) { p.out = append(p.out, c) }

// Epoch is the primary's epoch.
func (p *Primary) Epoch() uint64 { return p.epoch }

// State is the primary's life-cycle state.
func (p *Primary) State() PrimaryState { return p.state }

// Committed is the committed index: the highest index acknowledged under the
// durability mode.
func (p *Primary) Committed() uint64 { return p.committed }

// History returns a copy of the primary's epoch history, including its own
// epoch once it serves.
func (p *Primary) History() History { return p.history.Clone() }

// Step takes one event. A refused event returns an error wrapping ErrStale,
// ErrInvalidEvent, ErrNotReady or ErrStopped and changes nothing (a stale
// message may still owe the peer an answer, found in Ready).
func (p *Primary) Step(ev Event) error {
	if p.state == PrimaryStopped {
		return fmt.Errorf("%w: %s", ErrStopped, p.stopped)
	}
	switch e := ev.(type) {
	case Tick:
		return p.tick()
	case EpochChanged:
		return p.epochChanged(e)
	case Shutdown:
		p.stop(OutcomeCancelled, "primary shut down")
		return nil
	case Membership:
		return p.membership(e)
	case LocalTruncated:
		return p.localTruncated(e)
	case LocalSyncFailed:
		reason := "primary's own WAL sync failed: " + e.Reason
		p.stop(OutcomeCancelled, reason)
		p.emit(StepDown{Epoch: p.epoch, Reason: reason})
		return nil
	}
	if p.state == PrimaryPreparing {
		return fmt.Errorf("%w: truncating the local log to the committed boundary %d", ErrNotReady, p.committed)
	}
	switch e := ev.(type) {
	case Appended:
		return p.appended(e)
	case LocalDurable:
		return p.localDurableEv(e)
	case Checkpointed:
		return p.checkpointed(e)
	case Compacted:
		return p.compacted(e)
	case ReplicaUp:
		return p.replicaUp(e)
	case Hello:
		return p.hello(e)
	case Ack:
		return p.ack(e)
	case BarrierAck:
		return p.barrierAck(e)
	case Truncated:
		return p.truncated(e)
	case SnapshotTaken:
		return p.snapshotTaken(e)
	case SnapshotFailed:
		return p.snapshotFailed(e)
	case TransferProgress:
		return p.transferProgress(e)
	case Installed:
		return p.installed(e)
	case RebuildFailed:
		return p.rebuildFailed(e)
	case EpochMismatch:
		return p.epochMismatch(e)
	case Unreachable:
		return p.unreachable(e)
	case RecordsUnavailable:
		return p.recordsUnavailable(e)
	case nil:
		return invalidf("nil event")
	}
	return invalidf("%T is not an event of the primary", ev)
}

// ---- local facts ----

func (p *Primary) appended(e Appended) error {
	if e.Epoch != p.epoch {
		return invalidf("appended records carry epoch %d, the primary's epoch is %d", e.Epoch, p.epoch)
	}
	if e.Through <= p.head {
		return invalidf("append through %d does not extend the head %d", e.Through, p.head)
	}
	p.head = e.Through
	p.pumpAll()
	p.checkWrites()
	return nil
}

func (p *Primary) localDurableEv(e LocalDurable) error {
	if e.Through > p.head {
		return invalidf("local durable index %d is past the head %d", e.Through, p.head)
	}
	if e.Through <= p.localDurable {
		return nil
	}
	p.localDurable = e.Through
	p.advanceCommit()
	return nil
}

func (p *Primary) localTruncated(e LocalTruncated) error {
	if p.state != PrimaryPreparing {
		return stalef("local truncation reported while %s", p.state)
	}
	if e.LastIndex != p.committed {
		return invalidf("local log truncated to %d, the committed boundary is %d", e.LastIndex, p.committed)
	}
	p.head = e.LastIndex
	p.localDurable = min(p.localDurable, e.LastIndex)
	p.serve()
	return nil
}

func (p *Primary) checkpointed(e Checkpointed) error {
	if e.Index > p.head {
		return invalidf("checkpoint at %d is past the head %d", e.Index, p.head)
	}
	if e.Index > p.checkpoint.Index {
		p.checkpoint = Checkpoint(e)
	}
	return nil
}

func (p *Primary) compacted(e Compacted) error {
	if e.First > p.head+1 {
		return invalidf("WAL compacted to %d, past the head %d + 1", e.First, p.head)
	}
	if e.First <= p.first {
		return nil
	}
	p.first = e.First
	for _, id := range p.order {
		s := p.senders[id]
		if s.sess != nil && s.sess.pin != 0 && s.sess.pinFrom < e.First {
			p.endSession(s, OutcomeFailed, fmt.Sprintf("WAL compacted to %d past the session's pin at %d", e.First, s.sess.pinFrom))
		}
	}
	p.checkWrites()
	return nil
}

func (p *Primary) epochChanged(e EpochChanged) error {
	switch {
	case e.Epoch < p.epoch:
		return stalef("epoch %d is older than the primary's epoch %d", e.Epoch, p.epoch)
	case e.Epoch == p.epoch:
		return nil
	}
	p.fence(e.Epoch, fmt.Sprintf("control plane moved the epoch to %d", e.Epoch))
	return nil
}

// fence stops a primary that learned of a higher epoch.
func (p *Primary) fence(epoch uint64, reason string) {
	p.stop(OutcomeInvalidated, reason)
	p.emit(StepDown{Epoch: p.epoch, NewEpoch: epoch, Reason: reason})
}

// stop ends every session and stream, fails every pending write and stops.
func (p *Primary) stop(outcome Outcome, reason string) {
	for _, id := range p.order {
		s := p.senders[id]
		p.endConnection(s, outcome, reason)
	}
	// A preparing primary has no client writes: the records past its
	// boundary are about to be dropped, not waited on.
	if p.state == PrimaryServing {
		p.failPendingAbove(0, reason)
	}
	p.state = PrimaryStopped
	p.stopped = reason
}

func (p *Primary) membership(e Membership) error {
	if e.Epoch != p.epoch {
		return stalef("membership of epoch %d, the primary's epoch is %d", e.Epoch, p.epoch)
	}
	if err := validateMembers(p.mode, e.Replicas); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidEvent, err)
	}
	next := sortedMembers(e.Replicas)
	var added, removed []ReplicaID
	in := make(map[ReplicaID]bool, len(next))
	for _, m := range next {
		in[m.ID] = true
		if _, ok := p.senders[m.ID]; !ok {
			added = append(added, m.ID)
		}
	}
	for _, id := range p.order {
		if !in[id] {
			removed = append(removed, id)
		}
	}
	switch {
	case len(added) > 0:
		// A replica that joins never saw the writes acknowledged before: a
		// later promotion counting it could lose them.
		return invalidf("membership adds [%s]: adding a replica takes a new epoch", joinIDs(added))
	case len(removed) > 0 && p.mode == SyncQuorum:
		// The replica that leaves may be the only copy a majority counted on.
		return invalidf("membership removes [%s]: under sync_quorum removing a replica takes a new epoch", joinIDs(removed))
	}
	for _, id := range removed {
		s := p.senders[id]
		p.endConnection(s, OutcomeRemoved, "replica removed from the membership")
		delete(p.senders, id)
	}
	p.order = p.order[:0]
	for _, m := range next {
		p.order = append(p.order, m.ID)
	}
	for _, m := range next {
		s := p.senders[m.ID]
		if s.endpoint == m.Endpoint {
			continue
		}
		reason := fmt.Sprintf("endpoint changed from %s to %s", s.endpoint, m.Endpoint)
		s.endpoint = m.Endpoint
		p.endConnection(s, OutcomeInvalidated, reason)
		if p.state == PrimaryServing {
			p.connect(s, KindPending)
		}
	}
	if p.state == PrimaryServing {
		// Fewer replicas may be enough for writes that were waiting.
		p.advanceCommit()
		p.checkWrites()
	}
	return nil
}

// ---- time ----

func (p *Primary) tick() error {
	p.now++
	if p.state != PrimaryServing {
		return nil
	}
	b := p.budgets
	for _, id := range p.order {
		s := p.senders[id]
		if br := s.barrier; br != nil && p.now >= br.deadline {
			p.barrierFailed(s, fmt.Sprintf("barrier %d at index %d got no answer within %d ticks", br.id, br.index, b.BarrierTicks))
		}
		if sess := s.sess; sess != nil {
			age, idle := p.now-sess.started, p.now-sess.lastProgress
			switch sess.phase {
			case PhaseHandshake:
				if age >= b.HandshakeTicks {
					p.endSession(s, OutcomeFailed, fmt.Sprintf("no hello within %d ticks", b.HandshakeTicks))
				}
			case PhaseTruncate:
				if idle >= b.StallTicks {
					p.endSession(s, OutcomeFailed, fmt.Sprintf("truncation not confirmed within %d ticks", b.StallTicks))
				}
			case PhaseCatchUp:
				switch {
				case age >= b.CatchUpTicks:
					p.escalate(s, fmt.Sprintf("catch-up to %d exceeded its budget of %d ticks at %d", sess.target, b.CatchUpTicks, s.received))
				case idle >= b.StallTicks:
					p.escalate(s, fmt.Sprintf("catch-up to %d made no progress for %d ticks at %d", sess.target, b.StallTicks, s.received))
				}
			case PhaseSnapshot, PhaseTransfer:
				switch {
				case age >= b.RebuildTicks:
					p.endSession(s, OutcomeFailed, fmt.Sprintf("rebuild exceeded its budget of %d ticks", b.RebuildTicks))
				case idle >= b.StallTicks:
					p.endSession(s, OutcomeFailed, fmt.Sprintf("rebuild made no progress for %d ticks", b.StallTicks))
				}
			}
		} else if !s.live && p.now >= s.retryAt {
			p.connect(s, KindPending)
		} else if s.live && s.barrier == nil && s.noticed < p.committed {
			// Ships carry the committed index while writes flow; when they
			// stop, a barrier brings the last one to the replica, which then
			// applies and serves it.
			p.sendBarrier(s, s.sent)
		}
	}
	p.checkWrites()
	return nil
}
