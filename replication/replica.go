package replication

import "fmt"

// ReplicaConfig describes a replica node as its executor recovered it from
// disk.
type ReplicaConfig struct {
	ID       ReplicaID
	Endpoint string // the address the primary reaches it at, announced in ReplicaUp
	// Epoch is the current epoch as the control plane last said.
	Epoch uint64
	// Durable is the highest index recoverable after a crash (snapshot plus
	// contiguous durable WAL) and DurableEpoch the epoch of its record (of
	// the snapshot when the WAL after it is empty).
	Durable      uint64
	DurableEpoch uint64
	// Applied is the index the recovered state reflects.
	Applied uint64
	// Floor is the index of the snapshot the log continues from (0 when the
	// log starts at index 1).
	Floor uint64
	// KnownCommitted and LineageEpoch are what SyncLog last stored.
	KnownCommitted uint64
	LineageEpoch   uint64
	// NeedsRebuild is set when a state hash mismatched or a rebuild was left
	// half-installed.
	NeedsRebuild bool
}

// Replica is the replication engine of a node that follows. It decides which
// messages it accepts (the current epoch, the current session, contiguous
// records from the lineage), when barriers are answered, how far the state
// may be applied (never past the committed index it knows, so nothing
// uncommitted is visible and a truncation never has to un-apply), and how a
// rebuild is installed. It never decides its own recovery: it reports facts
// and follows the primary. It is not safe for concurrent use.
type Replica struct {
	id       ReplicaID
	endpoint string
	epoch    uint64
	stream   SessionID

	accepted     uint64 // highest index accepted for storage
	lastEpoch    uint64 // epoch of the record at accepted
	received     uint64 // stored
	durable      uint64 // log durable through
	durableEpoch uint64
	applied      uint64
	applying     uint64 // highest index handed to ApplyRecords
	floor        uint64 // index of the snapshot the log continues from
	committed    uint64 // highest committed index learned from the primary
	lineage      uint64 // epoch whose primary last verified this log
	needsRebuild bool
	rb           *replicaRebuild
	waiting      []waitingBarrier
	syncAsked    uint64
	gen          uint64         // log generation, see StoreRecords
	stateGen     uint64         // state generation, see StoreRecords
	truncs       []pendingTrunc // TruncateLog commands not yet confirmed, in order
	helloAfter   SessionID      // a hello deferred until truncations reveal the durable epoch

	out []Command
}

type replicaRebuild struct {
	session   SessionID
	index     uint64
	epoch     uint64
	hash      [32]byte
	installed bool
}

// pendingTrunc is a TruncateLog in flight. When the primary asked for it,
// the epoch of the record left last is only known once the executor reports
// it, and the primary gets a Truncated answer.
type pendingTrunc struct {
	after      uint64
	epochKnown bool
	reply      SessionID
}

type waitingBarrier struct {
	session   SessionID
	id        BarrierID
	index     uint64
	committed uint64
}

// NewReplica starts the engine and queues a ReplicaUp, so the primary
// supersedes whatever session it had and connects again.
func NewReplica(cfg ReplicaConfig) (*Replica, error) {
	switch {
	case cfg.ID == "":
		return nil, fmt.Errorf("replication: replica ID is empty")
	case cfg.Endpoint == "":
		return nil, fmt.Errorf("replication: replica %s has an empty endpoint", cfg.ID)
	case cfg.Epoch == 0:
		return nil, fmt.Errorf("replication: replica %s epoch must be at least 1", cfg.ID)
	case cfg.Floor > cfg.Applied:
		return nil, fmt.Errorf("replication: replica %s applied index %d is below its snapshot at %d", cfg.ID, cfg.Applied, cfg.Floor)
	case cfg.Applied > cfg.Durable:
		return nil, fmt.Errorf("replication: replica %s applied index %d is past its durable index %d", cfg.ID, cfg.Applied, cfg.Durable)
	case cfg.Durable == 0 && cfg.DurableEpoch != 0:
		return nil, fmt.Errorf("replication: replica %s has no durable record but a durable epoch %d", cfg.ID, cfg.DurableEpoch)
	case cfg.DurableEpoch > cfg.Epoch:
		return nil, fmt.Errorf("replication: replica %s holds records of epoch %d past its epoch %d", cfg.ID, cfg.DurableEpoch, cfg.Epoch)
	case cfg.LineageEpoch > cfg.Epoch:
		return nil, fmt.Errorf("replication: replica %s lineage epoch %d is past its epoch %d", cfg.ID, cfg.LineageEpoch, cfg.Epoch)
	}
	r := &Replica{
		id: cfg.ID, endpoint: cfg.Endpoint, epoch: cfg.Epoch,
		accepted: cfg.Durable, lastEpoch: cfg.DurableEpoch, received: cfg.Durable,
		durable: cfg.Durable, durableEpoch: cfg.DurableEpoch,
		applied: cfg.Applied, applying: cfg.Applied, floor: cfg.Floor,
		committed: cfg.KnownCommitted, lineage: cfg.LineageEpoch, needsRebuild: cfg.NeedsRebuild,
		syncAsked: cfg.Durable, gen: 1, stateGen: 1,
	}
	r.emit(ReplicaUp{Replica: r.id, Endpoint: r.endpoint})
	r.maybeApply()
	return r, nil
}

// Ready returns the commands produced since the last call and forgets them.
func (r *Replica) Ready() []Command {
	out := r.out
	r.out = nil
	return out
}

// HasReady reports whether Ready would return commands.
func (r *Replica) HasReady() bool { return len(r.out) > 0 }

func (r *Replica) emit(c Command) { r.out = append(r.out, c) }

// recoverable is the durable index a crash would leave usable: nothing while
// a rebuild's snapshot is not installed.
func (r *Replica) recoverable() uint64 {
	if r.rb != nil && !r.rb.installed {
		return 0
	}
	return r.durable
}

func (r *Replica) rebuilding() bool { return r.rb != nil && !r.rb.installed }

// Step takes one event; refusals wrap ErrStale or ErrInvalidEvent and change
// nothing, except that an explicit answer owed to the primary (an epoch
// mismatch) is queued.
func (r *Replica) Step(ev Event) error {
	switch e := ev.(type) {
	case Tick, Shutdown:
		return nil
	case EpochChanged:
		return r.epochChanged(e)
	case Connect:
		return r.connect(e)
	case Ship:
		return r.ship(e)
	case Barrier:
		return r.barrier(e)
	case Truncate:
		return r.truncate(e)
	case Rebuild:
		return r.rebuild(e)
	case Stored:
		return r.stored(e)
	case Synced:
		return r.synced(e)
	case LogTruncated:
		return r.logTruncated(e)
	case SnapshotInstalled:
		return r.snapshotInstalled(e)
	case SnapshotInstallFailed:
		return r.snapshotInstallFailed(e)
	case AppliedThrough:
		return r.appliedThrough(e)
	case ApplyFailed:
		return r.applyFailed(e)
	case nil:
		return invalidf("nil event")
	}
	return invalidf("%T is not an event of a replica", ev)
}

func (r *Replica) epochChanged(e EpochChanged) error {
	switch {
	case e.Epoch < r.epoch:
		return stalef("epoch %d is older than the replica's epoch %d", e.Epoch, r.epoch)
	case e.Epoch == r.epoch:
		return nil
	}
	r.epoch = e.Epoch
	r.stream = 0
	r.waiting = nil
	if r.rebuilding() {
		r.discard(fmt.Sprintf("epoch moved to %d during a rebuild", e.Epoch))
	}
	return nil
}

// check refuses a message from another replica, another epoch (answering
// explicitly) or another session.
func (r *Replica) check(replica ReplicaID, session SessionID, epoch uint64, what string) error {
	if replica != r.id {
		return invalidf("%s addressed to %q reached replica %s", what, replica, r.id)
	}
	if epoch != r.epoch {
		r.emit(EpochMismatch{Replica: r.id, Session: session, Epoch: r.epoch})
		return stalef("%s of epoch %d, the replica is at epoch %d", what, epoch, r.epoch)
	}
	if r.stream == 0 || session != r.stream {
		return stalef("%s on session %d, the replica follows session %d", what, session, r.stream)
	}
	return nil
}

func (r *Replica) connect(e Connect) error {
	if e.Replica != r.id {
		return invalidf("connect addressed to %q reached replica %s", e.Replica, r.id)
	}
	if e.Epoch != r.epoch {
		r.emit(EpochMismatch{Replica: r.id, Session: e.Session, Epoch: r.epoch})
		return stalef("connect of epoch %d, the replica is at epoch %d", e.Epoch, r.epoch)
	}
	if e.Session <= r.stream {
		return stalef("connect for session %d, the replica already follows session %d", e.Session, r.stream)
	}
	if r.rebuilding() {
		// A rebuild never resumes half-installed: a new session starts over.
		r.discard("a new session superseded an unfinished rebuild")
	}
	r.stream = e.Session
	r.waiting = nil
	for i := range r.truncs {
		r.truncs[i].reply = 0
	}
	if r.accepted > r.durable {
		// Records stored but not durable were never reported to anyone and
		// may come from an older stream: the log must end where the hello
		// says, so the primary's records are not mistaken for duplicates.
		r.cutTo(r.durable, true, 0)
		r.lastEpoch = r.durableEpoch
	}
	r.helloAfter = 0
	for _, t := range r.truncs {
		if !t.epochKnown {
			r.helloAfter = e.Session
			return nil
		}
	}
	r.sendHello()
	return nil
}

func (r *Replica) sendHello() {
	r.emit(Hello{Replica: r.id, Session: r.stream, Epoch: r.epoch, Durable: r.recoverable(),
		DurableEpoch: r.durableEpochOrZero(), Applied: r.applied, KnownCommitted: r.committed,
		LineageEpoch: r.lineage, NeedsRebuild: r.needsRebuild})
}

// cutTo drops the log after after (TruncateLog).
func (r *Replica) cutTo(after uint64, epochKnown bool, reply SessionID) {
	r.accepted = after
	r.received = min(r.received, after)
	r.durable = min(r.durable, after)
	r.syncAsked = min(r.syncAsked, after)
	r.gen++
	r.truncs = append(r.truncs, pendingTrunc{after: after, epochKnown: epochKnown, reply: reply})
	r.emit(TruncateLog{After: after})
}

func (r *Replica) durableEpochOrZero() uint64 {
	if r.recoverable() == 0 {
		return 0
	}
	return r.durableEpoch
}

func (r *Replica) learnCommitted(c uint64) {
	if c > r.committed {
		r.committed = c
	}
}

func (r *Replica) ship(e Ship) error {
	if err := r.check(e.Replica, e.Session, e.Epoch, "records"); err != nil {
		return err
	}
	switch {
	case e.From == 0 || e.Through < e.From:
		return invalidf("records %d..%d are not a range", e.From, e.Through)
	case e.FirstEpoch > e.LastEpoch || e.LastEpoch > r.epoch:
		return stalef("records %d..%d carry epochs %d..%d, the replica is at epoch %d", e.From, e.Through, e.FirstEpoch, e.LastEpoch, r.epoch)
	case e.Through <= r.accepted:
		return nil // already have them
	case e.From != r.accepted+1:
		return stalef("records %d..%d do not continue the log at %d", e.From, e.Through, r.accepted+1)
	case e.FirstEpoch < r.lastEpoch:
		return stalef("record %d carries epoch %d after a record of epoch %d", e.From, e.FirstEpoch, r.lastEpoch)
	}
	r.accepted, r.lastEpoch = e.Through, e.LastEpoch
	r.learnCommitted(e.Committed)
	r.emit(StoreRecords{Gen: r.gen, Session: e.Session, From: e.From, Through: e.Through})
	r.maybeApply()
	return nil
}

func (r *Replica) stored(e Stored) error {
	if e.Gen != r.gen {
		return stalef("store report of log generation %d, the log is at generation %d", e.Gen, r.gen)
	}
	if e.Through > r.accepted {
		return invalidf("stored through %d, past the accepted %d", e.Through, r.accepted)
	}
	if e.Through <= r.received {
		return nil
	}
	r.received = e.Through
	if r.stream != 0 {
		r.emit(Ack{Replica: r.id, Session: r.stream, Epoch: r.epoch, Received: r.received})
	}
	r.maybeSync()
	return nil
}

func (r *Replica) synced(e Synced) error {
	if e.Gen != r.gen {
		return stalef("sync report of log generation %d, the log is at generation %d", e.Gen, r.gen)
	}
	if e.Through > r.received {
		return invalidf("synced through %d, past the stored %d", e.Through, r.received)
	}
	if e.Epoch > r.epoch {
		return invalidf("synced record %d carries epoch %d, past the replica's epoch %d", e.Through, e.Epoch, r.epoch)
	}
	if e.Through <= r.durable {
		return nil
	}
	r.durable, r.durableEpoch = e.Through, e.Epoch
	r.answerBarriers()
	r.maybeApply()
	return nil
}

func (r *Replica) barrier(e Barrier) error {
	if err := r.check(e.Replica, e.Session, e.Epoch, "barrier"); err != nil {
		return err
	}
	r.learnCommitted(e.Committed)
	r.waiting = append(r.waiting, waitingBarrier{session: e.Session, id: e.ID, index: e.Index, committed: e.Committed})
	r.answerBarriers()
	r.maybeSync()
	r.maybeApply()
	return nil
}

// answerBarriers answers, in order, the barriers the recoverable durable
// index now covers. A barrier whose committed index the replica holds
// durably proves that its log carries every write committed so far in this
// epoch: from then on it is a verified copy (LineageEpoch), eligible for
// promotion.
func (r *Replica) answerBarriers() {
	d := r.recoverable()
	kept := r.waiting[:0]
	for _, w := range r.waiting {
		if w.index <= d {
			if w.committed <= d && !r.rebuilding() {
				r.lineage = r.epoch
			}
			r.emit(BarrierAck{Replica: r.id, Session: w.session, Epoch: r.epoch, ID: w.id, Durable: d, HasDurable: true})
			continue
		}
		kept = append(kept, w)
	}
	r.waiting = kept
}

// maybeSync asks for an fsync when a waiting barrier's records are stored.
func (r *Replica) maybeSync() {
	for _, w := range r.waiting {
		if w.index <= r.received && r.received > r.syncAsked {
			r.syncAsked = r.received
			r.emit(SyncLog{Gen: r.gen, Through: r.received, Committed: r.committed, Lineage: r.lineage})
			return
		}
	}
}

// maybeApply applies what is durable and known committed.
func (r *Replica) maybeApply() {
	if r.needsRebuild || r.rebuilding() {
		return
	}
	limit := min(r.recoverable(), r.committed)
	if limit > r.applying {
		r.emit(ApplyRecords{StateGen: r.stateGen, From: r.applying + 1, Through: limit})
		r.applying = limit
	}
}

func (r *Replica) appliedThrough(e AppliedThrough) error {
	if e.StateGen != r.stateGen {
		return stalef("apply report of state generation %d, the state is at generation %d", e.StateGen, r.stateGen)
	}
	if e.Through > r.applying {
		return invalidf("applied through %d, past the %d handed out", e.Through, r.applying)
	}
	if e.Through > r.applied {
		r.applied = e.Through
	}
	return nil
}

func (r *Replica) applyFailed(e ApplyFailed) error {
	if e.StateGen != r.stateGen {
		return stalef("apply failure of state generation %d, the state is at generation %d", e.StateGen, r.stateGen)
	}
	if e.Index <= r.applied || e.Index > r.applying {
		return invalidf("apply failure at %d, outside the pending range %d..%d", e.Index, r.applied+1, r.applying)
	}
	r.needsRebuild = true
	r.applying = e.Index - 1
	r.applied = e.Index - 1
	r.lineage = 0
	// Tell the primary at once: it supersedes the session and rebuilds.
	r.stream = 0
	r.waiting = nil
	r.emit(ReplicaUp{Replica: r.id, Endpoint: r.endpoint})
	return nil
}

func (r *Replica) truncate(e Truncate) error {
	if err := r.check(e.Replica, e.Session, e.Epoch, "truncation"); err != nil {
		return err
	}
	switch {
	case r.rebuilding():
		return stalef("truncation during a rebuild")
	case e.After < r.applying:
		return stalef("truncation after %d would drop applied records (applied through %d)", e.After, r.applying)
	case e.After < r.floor:
		return stalef("truncation after %d would cut into the snapshot at %d", e.After, r.floor)
	case e.After > r.accepted:
		return stalef("truncation after %d, the log ends at %d", e.After, r.accepted)
	case e.After == r.accepted && len(r.truncs) == 0:
		r.emit(Truncated{Replica: r.id, Session: e.Session, Epoch: r.epoch, LastIndex: r.accepted, LastEpoch: r.lastEpoch})
		return nil
	}
	r.waiting = nil
	r.cutTo(e.After, false, e.Session)
	return nil
}

func (r *Replica) logTruncated(e LogTruncated) error {
	if len(r.truncs) == 0 || r.truncs[0].after != e.After {
		return invalidf("log truncated after %d, no such truncation is pending", e.After)
	}
	if e.LastEpoch > r.epoch {
		return invalidf("log truncated to a record of epoch %d, past the replica's epoch %d", e.LastEpoch, r.epoch)
	}
	t := r.truncs[0]
	r.truncs = r.truncs[1:]
	if !t.epochKnown && len(r.truncs) == 0 && r.accepted == e.After {
		r.lastEpoch = e.LastEpoch
		if r.durable == e.After {
			r.durableEpoch = e.LastEpoch
		}
	}
	if t.reply != 0 && t.reply == r.stream {
		r.emit(Truncated{Replica: r.id, Session: t.reply, Epoch: r.epoch, LastIndex: e.After, LastEpoch: e.LastEpoch})
	}
	if r.helloAfter != 0 && len(r.truncs) == 0 {
		if r.helloAfter == r.stream {
			r.sendHello()
		}
		r.helloAfter = 0
	}
	return nil
}

func (r *Replica) rebuild(e Rebuild) error {
	if err := r.check(e.Replica, e.Session, e.Epoch, "rebuild"); err != nil {
		return err
	}
	if e.SnapshotEpoch > r.epoch || e.Target < e.SnapshotIndex {
		return invalidf("rebuild from snapshot %d of epoch %d to target %d", e.SnapshotIndex, e.SnapshotEpoch, e.Target)
	}
	r.rb = &replicaRebuild{session: e.Session, index: e.SnapshotIndex, epoch: e.SnapshotEpoch, hash: e.StateHash}
	r.accepted, r.received, r.durable, r.syncAsked = e.SnapshotIndex, e.SnapshotIndex, e.SnapshotIndex, e.SnapshotIndex
	r.lastEpoch, r.durableEpoch = e.SnapshotEpoch, e.SnapshotEpoch
	r.applied, r.applying = 0, 0
	r.needsRebuild = false
	r.lineage = 0
	r.waiting = nil
	r.gen++
	r.stateGen++
	r.emit(ResetLog{Next: e.SnapshotIndex + 1})
	if e.SnapshotIndex == 0 {
		// The empty state: nothing to transfer.
		r.rb.installed = true
		r.floor = 0
		return nil
	}
	r.emit(InstallSnapshot{Session: e.Session, Index: e.SnapshotIndex, StateHash: e.StateHash})
	return nil
}

func (r *Replica) snapshotInstalled(e SnapshotInstalled) error {
	rb := r.rb
	if rb == nil || rb.installed || rb.session != e.Session {
		return stalef("snapshot install report for session %d, no such rebuild is pending", e.Session)
	}
	if e.Index != rb.index || e.StateHash != rb.hash {
		reason := fmt.Sprintf("installed snapshot at %d with state hash %x, expected %d with %x", e.Index, e.StateHash, rb.index, rb.hash)
		r.discard(reason)
		if r.stream == e.Session {
			r.emit(RebuildFailed{Replica: r.id, Session: e.Session, Epoch: r.epoch, Reason: reason})
		}
		return nil
	}
	rb.installed = true
	r.applied, r.applying = rb.index, rb.index
	r.floor = rb.index
	if r.stream == e.Session {
		r.emit(Installed{Replica: r.id, Session: e.Session, Epoch: r.epoch, Index: rb.index, StateHash: rb.hash})
	}
	r.answerBarriers()
	r.maybeApply()
	return nil
}

func (r *Replica) snapshotInstallFailed(e SnapshotInstallFailed) error {
	rb := r.rb
	if rb == nil || rb.installed || rb.session != e.Session {
		return stalef("snapshot install failure for session %d, no such rebuild is pending", e.Session)
	}
	r.discard("snapshot install failed: " + e.Reason)
	if r.stream == e.Session {
		r.emit(RebuildFailed{Replica: r.id, Session: e.Session, Epoch: r.epoch, Reason: e.Reason})
	}
	return nil
}

// discard abandons an unfinished rebuild: the replica holds nothing.
func (r *Replica) discard(reason string) {
	r.rb = nil
	r.accepted, r.received, r.durable, r.syncAsked = 0, 0, 0, 0
	r.lastEpoch, r.durableEpoch = 0, 0
	r.applied, r.applying = 0, 0
	r.floor = 0
	r.lineage = 0
	r.needsRebuild = false
	r.waiting = nil
	r.gen++
	r.stateGen++
	r.emit(DiscardRebuild{Reason: reason})
}

// ReplicaStatus is a snapshot of a replica engine.
type ReplicaStatus struct {
	ID             ReplicaID
	Epoch          uint64
	Session        SessionID // the session it follows, 0 when none
	Received       uint64
	Durable        uint64 // recoverable durable index
	Applied        uint64
	Floor          uint64
	KnownCommitted uint64
	LineageEpoch   uint64
	Rebuilding     bool
	NeedsRebuild   bool
}

// Status reports the replica's state.
func (r *Replica) Status() ReplicaStatus {
	return ReplicaStatus{ID: r.id, Epoch: r.epoch, Session: r.stream, Received: r.received, Durable: r.recoverable(),
		Applied: r.applied, Floor: r.floor, KnownCommitted: r.committed, LineageEpoch: r.lineage,
		Rebuilding: r.rebuilding(), NeedsRebuild: r.needsRebuild}
}

// ReadIndex is the index reads from this replica reflect, and whether they
// may be served: not during a rebuild or after a state hash mismatch, and
// not while the state is ahead of the committed index the replica knows (a
// fresh-snapshot rebuild can install state past it).
func (r *Replica) ReadIndex() (uint64, bool) {
	if r.needsRebuild || r.rebuilding() || r.applied > r.committed {
		return r.applied, false
	}
	return r.applied, true
}

// Candidate reports this replica's facts for ChooseSuccessor.
func (r *Replica) Candidate() Candidate {
	return Candidate{ID: r.id, Running: true, Epoch: r.epoch, LineageEpoch: r.lineage, Durable: r.recoverable(), Floor: r.floor,
		KnownCommitted: r.committed, Rebuilding: r.rebuilding(), NeedsRebuild: r.needsRebuild}
}
