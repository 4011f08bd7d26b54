package replication

// Event is an input of Primary.Step or Replica.Step.
type Event interface{ isEvent() }

// Command is an output of Primary.Ready or Replica.Ready. An executor carries
// out the commands of one Ready in order (at least per replica) and reports
// what came of them as events. Messages carry the epoch and session they
// belong to: the peer refuses them from any other, and a duplicate does no
// harm (a replica ignores records it already has). Local commands carry what
// makes their completions checkable: pin and session IDs, and a replica's
// log and state generations.
type Command interface{ isCommand() }

// Messages from primary to replica. Each is a command of the primary and an
// event of the replica: the transport carries it unchanged (Ship and Rebuild
// with their payload: the records, the snapshot bytes).

// Connect opens a session: the primary's executor connects to Endpoint and
// asks the replica for its hello. A connection stays bound to its session.
type Connect struct {
	Replica   ReplicaID
	Endpoint  string
	Session   SessionID
	Epoch     uint64
	Committed uint64
}

// Ship carries records From..Through (the executor reads them from the WAL;
// FirstEpoch and LastEpoch are the epochs of the first and last). Committed
// is the primary's committed index when it was sent.
type Ship struct {
	Replica    ReplicaID
	Session    SessionID
	Epoch      uint64
	From       uint64
	Through    uint64
	FirstEpoch uint64
	LastEpoch  uint64
	Committed  uint64
}

// Barrier asks the replica to make everything through Index durable and
// answer with its durable index. Committed is the primary's committed index:
// a replica that holds it durably when it answers is a verified copy of the
// epoch (Candidate.LineageEpoch).
type Barrier struct {
	Replica   ReplicaID
	Session   SessionID
	Epoch     uint64
	ID        BarrierID
	Index     uint64
	Committed uint64
}

// Truncate asks the replica to drop its records after After.
type Truncate struct {
	Replica ReplicaID
	Session SessionID
	Epoch   uint64
	After   uint64
}

// Rebuild starts a rebuild: the replica discards its state and log, then
// receives the snapshot at SnapshotIndex (state hash StateHash; none when the
// index is 0, the empty state) while it stores, without applying, the records
// shipped after it. The primary's executor streams the snapshot on the same
// connection. Target is the index the rebuild must reach.
type Rebuild struct {
	Replica       ReplicaID
	Session       SessionID
	Epoch         uint64
	SnapshotIndex uint64
	SnapshotEpoch uint64
	StateHash     [32]byte
	Target        uint64
}

// Messages from replica to primary: commands of the replica, events of the
// primary.

// ReplicaUp announces that a replica (re)started or gave up its state, so the
// primary supersedes any session with it and connects again.
type ReplicaUp struct {
	Replica  ReplicaID
	Endpoint string
}

// Hello answers Connect with the replica's facts.
type Hello struct {
	Replica        ReplicaID
	Session        SessionID
	Epoch          uint64
	Durable        uint64
	DurableEpoch   uint64
	Applied        uint64
	KnownCommitted uint64
	LineageEpoch   uint64
	NeedsRebuild   bool
}

// Ack reports the replica's highest contiguous stored index (not durable).
type Ack struct {
	Replica  ReplicaID
	Session  SessionID
	Epoch    uint64
	Received uint64
}

// BarrierAck answers a barrier. A reply without a durable index is a failed
// barrier.
type BarrierAck struct {
	Replica    ReplicaID
	Session    SessionID
	Epoch      uint64
	ID         BarrierID
	Durable    uint64
	HasDurable bool
}

// Truncated reports that the replica's log now ends at LastIndex, whose
// record carries LastEpoch.
type Truncated struct {
	Replica   ReplicaID
	Session   SessionID
	Epoch     uint64
	LastIndex uint64
	LastEpoch uint64
}

// Installed reports that the replica committed the rebuild's snapshot after
// checking its bytes and that its manifest names Index and StateHash.
type Installed struct {
	Replica   ReplicaID
	Session   SessionID
	Epoch     uint64
	Index     uint64
	StateHash [32]byte
}

// RebuildFailed reports that the replica could not install the snapshot.
type RebuildFailed struct {
	Replica ReplicaID
	Session SessionID
	Epoch   uint64
	Reason  string
}

// EpochMismatch is a replica's explicit answer to a message of another epoch:
// Epoch is the replica's own.
type EpochMismatch struct {
	Replica ReplicaID
	Session SessionID
	Epoch   uint64
}

func (Connect) isCommand()       {}
func (Connect) isEvent()         {}
func (Ship) isCommand()          {}
func (Ship) isEvent()            {}
func (Barrier) isCommand()       {}
func (Barrier) isEvent()         {}
func (Truncate) isCommand()      {}
func (Truncate) isEvent()        {}
func (Rebuild) isCommand()       {}
func (Rebuild) isEvent()         {}
func (ReplicaUp) isCommand()     {}
func (ReplicaUp) isEvent()       {}
func (Hello) isCommand()         {}
func (Hello) isEvent()           {}
func (Ack) isCommand()           {}
func (Ack) isEvent()             {}
func (BarrierAck) isCommand()    {}
func (BarrierAck) isEvent()      {}
func (Truncated) isCommand()     {}
func (Truncated) isEvent()       {}
func (Installed) isCommand()     {}
func (Installed) isEvent()       {}
func (RebuildFailed) isCommand() {}
func (RebuildFailed) isEvent()   {}
func (EpochMismatch) isCommand() {}
func (EpochMismatch) isEvent()   {}

// Events both engines take.

// Tick is one unit of time passing. Budgets and timeouts are counted in
// ticks and checked only here, against the state as it is when the tick is
// stepped: a message stepped before a tick wins over a timeout that tick
// would fire, and no timer can act on state that has moved on.
type Tick struct{}

// EpochChanged is the control plane's word that the epoch is now Epoch.
// Epochs only increase; a primary that sees a higher one steps down.
type EpochChanged struct{ Epoch uint64 }

// Shutdown stops the engine: every session ends cancelled and every pin is
// released.
type Shutdown struct{}

func (Tick) isEvent()         {}
func (EpochChanged) isEvent() {}
func (Shutdown) isEvent()     {}

// Events of the primary, reported by its executor.

// Appended says the primary's records through Through (all of epoch Epoch)
// are in its WAL or on their way there; they may be shipped before the local
// fsync completes.
type Appended struct {
	Through uint64
	Epoch   uint64
}

// LocalDurable says the primary's own WAL is fsynced through Through.
type LocalDurable struct{ Through uint64 }

// LocalSyncFailed says the primary's own fsync failed: what is durable is
// unknown, so the primary stops.
type LocalSyncFailed struct{ Reason string }

// LocalTruncated says a new primary's log now ends at LastIndex (its
// committed boundary), with its state reloaded to that index.
type LocalTruncated struct{ LastIndex uint64 }

// Checkpointed says a trusted snapshot exists at Index, with the state hash
// the WAL recorded there.
type Checkpointed struct {
	Index     uint64
	StateHash [32]byte
}

// Compacted says the primary's WAL now starts at First (head truncation for
// retention).
type Compacted struct{ First uint64 }

// SnapshotTaken answers TakeSnapshot: the primary's current state, at exactly
// Index, is in a durable snapshot with state hash StateHash.
type SnapshotTaken struct {
	Replica   ReplicaID
	Session   SessionID
	Index     uint64
	StateHash [32]byte
}

// SnapshotFailed says the rebuild's snapshot could not be produced
// (TakeSnapshot) or read and sent (Rebuild).
type SnapshotFailed struct {
	Replica ReplicaID
	Session SessionID
	Reason  string
}

// TransferProgress says Bytes of the rebuild's snapshot have been sent.
type TransferProgress struct {
	Replica ReplicaID
	Session SessionID
	Bytes   uint64
}

// Unreachable says the connection of Session failed (a transport error). It
// changes reachability, never the kind of recovery.
type Unreachable struct {
	Replica ReplicaID
	Session SessionID
	Reason  string
}

// RecordsUnavailable says the executor could not read records from Index
// for Session (compacted or damaged).
type RecordsUnavailable struct {
	Replica ReplicaID
	Session SessionID
	Index   uint64
	Reason  string
}

// Membership updates the replicas of epoch Epoch: their endpoints, and,
// under best_effort and sync_all, removals (every acknowledged write is on
// the replicas that stay). Adding a replica, or removing one under
// sync_quorum, takes a new epoch (and a new Primary), so that a promotion
// never counts a node that missed acknowledged writes or misses the one copy
// a majority relied on. An update for another epoch is stale.
type Membership struct {
	Epoch    uint64
	Replicas []Member
}

func (Appended) isEvent()           {}
func (LocalDurable) isEvent()       {}
func (LocalSyncFailed) isEvent()    {}
func (LocalTruncated) isEvent()     {}
func (Checkpointed) isEvent()       {}
func (Compacted) isEvent()          {}
func (SnapshotTaken) isEvent()      {}
func (SnapshotFailed) isEvent()     {}
func (TransferProgress) isEvent()   {}
func (Unreachable) isEvent()        {}
func (RecordsUnavailable) isEvent() {}
func (Membership) isEvent()         {}

// Commands of the primary to its own executor.

// Pin holds the WAL from From (and, when SnapshotIndex is not 0, that
// snapshot) against retention until the Unpin of the same ID.
type Pin struct {
	ID            PinID
	Replica       ReplicaID
	Session       SessionID
	From          uint64
	SnapshotIndex uint64
}

// Unpin releases a pin.
type Unpin struct {
	ID      PinID
	Replica ReplicaID
	Session SessionID
}

// TakeSnapshot asks for a durable snapshot of the primary's current state at
// the exact index it is at, which must be at least AtLeast; the answer is
// SnapshotTaken or SnapshotFailed.
type TakeSnapshot struct {
	Replica ReplicaID
	Session SessionID
	Epoch   uint64
	AtLeast uint64
}

// EndSession is the terminal event of a session, emitted once, after its pin
// is released. With OutcomeCompleted the session's connection stays open as
// the replica's live stream; with any other outcome the executor closes it.
type EndSession struct {
	Replica ReplicaID
	Session SessionID
	Epoch   uint64
	Kind    SessionKind
	Outcome Outcome
	Reason  string
}

// CloseStream closes an in-sync replica's live stream (a barrier failed, the
// replica was removed, the primary stopped...).
type CloseStream struct {
	Replica ReplicaID
	Session SessionID
	Reason  string
}

// AckWrites acknowledges client writes From..Through: they are committed.
type AckWrites struct {
	Epoch   uint64
	From    uint64
	Through uint64
}

// FailWrites answers client writes From..Through: they are not acknowledged.
// Their records stay in the log (a reducer cannot un-apply) and may still be
// committed later; a client learns the outcome by resubmitting with the same
// idempotency key.
type FailWrites struct {
	Epoch   uint64
	From    uint64
	Through uint64
	Reason  string
}

// TruncateLocal asks a newly promoted primary to drop its own records after
// After (the committed boundary) and reload its state to that index, then
// report LocalTruncated.
type TruncateLocal struct {
	Epoch uint64
	After uint64
}

// StepDown says this primary must stop writing: a higher epoch exists
// (NewEpoch, 0 when unknown) or its WAL failed.
type StepDown struct {
	Epoch    uint64
	NewEpoch uint64
	Reason   string
}

func (Pin) isCommand()           {}
func (Unpin) isCommand()         {}
func (TakeSnapshot) isCommand()  {}
func (EndSession) isCommand()    {}
func (CloseStream) isCommand()   {}
func (AckWrites) isCommand()     {}
func (FailWrites) isCommand()    {}
func (TruncateLocal) isCommand() {}
func (StepDown) isCommand()      {}

// Events of a replica, reported by its executor.

// Stored says the replica's log holds records through Through (durable or
// not). Gen is the generation of the StoreRecords it completes.
type Stored struct {
	Gen     uint64
	Through uint64
}

// Synced says the replica's log is durable through Through, whose record
// carries Epoch. Gen is the generation of the command it completes.
type Synced struct {
	Gen     uint64
	Through uint64
	Epoch   uint64
}

// LogTruncated answers TruncateLog: the log ends at After, whose record
// carries LastEpoch.
type LogTruncated struct {
	After     uint64
	LastEpoch uint64
}

// SnapshotInstalled answers InstallSnapshot: the snapshot streamed in, its
// checksum matched, and it is committed at Index with StateHash.
type SnapshotInstalled struct {
	Session   SessionID
	Index     uint64
	StateHash [32]byte
}

// SnapshotInstallFailed answers InstallSnapshot when the stream broke or did
// not verify; nothing was installed.
type SnapshotInstallFailed struct {
	Session SessionID
	Reason  string
}

// AppliedThrough says the replica's state now reflects records through
// Through, every recorded state hash having matched.
type AppliedThrough struct {
	StateGen uint64
	Through  uint64
}

// ApplyFailed says applying record Index failed (its recorded state hash did
// not match, or the reducer failed): the replica stops applying and must be
// rebuilt. The executor applies nothing more in that state generation.
type ApplyFailed struct {
	StateGen uint64
	Index    uint64
	Reason   string
}

func (Stored) isEvent()                {}
func (Synced) isEvent()                {}
func (LogTruncated) isEvent()          {}
func (SnapshotInstalled) isEvent()     {}
func (SnapshotInstallFailed) isEvent() {}
func (AppliedThrough) isEvent()        {}
func (ApplyFailed) isEvent()           {}

// Commands of a replica to its own executor.
//
// Gen is the replica's log generation: every truncation, reset or discard
// starts a new one. StateGen is its state generation: every reset or discard
// of the state starts a new one (a truncation never drops applied records).
// The executor echoes them in the completions it reports, and a completion of
// an older generation is refused, so a report about records or state that
// were dropped since can never count again.

// StoreRecords asks the executor to append the records of the Ship it just
// stepped (From..Through) to the log, then report Stored (and Synced when the
// append was durable).
type StoreRecords struct {
	Gen     uint64
	Session SessionID
	From    uint64
	Through uint64
}

// SyncLog asks for an fsync of the log through Through, storing Committed and
// Lineage durably with it (for reads after a restart and for promotion), then
// Synced.
type SyncLog struct {
	Gen       uint64
	Through   uint64
	Committed uint64
	Lineage   uint64
}

// ApplyRecords asks the executor to apply records From..Through through the
// catalog, checking the recorded state hash at every index, then report
// AppliedThrough or ApplyFailed.
type ApplyRecords struct {
	StateGen uint64
	From     uint64
	Through  uint64
}

// TruncateLog asks for the log to be cut after After (WAL TruncateTail).
type TruncateLog struct{ After uint64 }

// ResetLog discards the replica's state and log for a rebuild: when Next is
// past 1 the executor first durably marks a rebuild as in progress (a restart
// then reports NeedsRebuild and drops the log), then makes the log continue at
// Next (WAL Reset).
type ResetLog struct{ Next uint64 }

// InstallSnapshot asks the executor to receive the rebuild's snapshot stream
// and commit it only if its checksum and its manifest's index and state hash
// match (snapshot Install), then report SnapshotInstalled or
// SnapshotInstallFailed.
type InstallSnapshot struct {
	Session   SessionID
	Index     uint64
	StateHash [32]byte
}

// DiscardRebuild abandons a rebuild that did not complete: the executor drops
// the partial snapshot, the state and the log (WAL Reset to 1) and clears the
// in-progress mark. The replica starts over empty.
type DiscardRebuild struct{ Reason string }

func (StoreRecords) isCommand()    {}
func (SyncLog) isCommand()         {}
func (ApplyRecords) isCommand()    {}
func (TruncateLog) isCommand()     {}
func (ResetLog) isCommand()        {}
func (InstallSnapshot) isCommand() {}
func (DiscardRebuild) isCommand()  {}
