package replication

import "fmt"

// SessionKind is what a session recovers by. It is pending until the
// handshake classifies the replica, except for a rebuild forced by an
// escalated catch-up.
type SessionKind uint8

const (
	KindPending SessionKind = iota + 1
	KindCatchUp
	KindRebuild
)

func (k SessionKind) String() string {
	switch k {
	case KindPending:
		return "pending"
	case KindCatchUp:
		return "catch_up"
	case KindRebuild:
		return "rebuild"
	}
	return fmt.Sprintf("SessionKind(%d)", uint8(k))
}

// Phase is where a live session is. A session starts in PhaseHandshake and
// ends with an Outcome; "no gap" goes from handshake straight to completed.
type Phase uint8

const (
	// PhaseHandshake: Connect sent, waiting for the hello.
	PhaseHandshake Phase = iota + 1
	// PhaseTruncate: waiting for the replica to drop records outside the
	// lineage; it is classified again afterwards.
	PhaseTruncate
	// PhaseCatchUp: shipping the gap up to the frozen target.
	PhaseCatchUp
	// PhaseSnapshot: waiting for a fresh snapshot of the primary's state.
	PhaseSnapshot
	// PhaseTransfer: streaming the snapshot and the WAL after it.
	PhaseTransfer
)

func (p Phase) String() string {
	switch p {
	case PhaseHandshake:
		return "handshake"
	case PhaseTruncate:
		return "truncate"
	case PhaseCatchUp:
		return "catch_up"
	case PhaseSnapshot:
		return "snapshot"
	case PhaseTransfer:
		return "transfer"
	}
	return fmt.Sprintf("Phase(%d)", uint8(p))
}

// Outcome is how a session ended.
type Outcome uint8

const (
	// OutcomeCompleted: the replica is durable through the target (confirmed
	// by a barrier, or by its hello when there was no gap); it is in sync.
	OutcomeCompleted Outcome = iota + 1
	// OutcomeEscalated: a catch-up exceeded a budget; a rebuild session
	// follows at once.
	OutcomeEscalated
	// OutcomeFailed: an error, a timeout, a failed verification or a lost
	// connection; the sender reconnects after RetryTicks.
	OutcomeFailed
	// OutcomeSuperseded: the replica announced a restart; a new session
	// starts at once.
	OutcomeSuperseded
	// OutcomeInvalidated: the endpoint or the epoch changed.
	OutcomeInvalidated
	// OutcomeRemoved: the replica left the membership (see Membership).
	OutcomeRemoved
	// OutcomeCancelled: the engine shut down or its WAL failed.
	OutcomeCancelled
)

func (o Outcome) String() string {
	switch o {
	case OutcomeCompleted:
		return "completed"
	case OutcomeEscalated:
		return "escalated"
	case OutcomeFailed:
		return "failed"
	case OutcomeSuperseded:
		return "superseded"
	case OutcomeInvalidated:
		return "invalidated"
	case OutcomeRemoved:
		return "removed"
	case OutcomeCancelled:
		return "cancelled"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// SenderState is a replica as the primary sees it.
type SenderState uint8

const (
	// SenderDisconnected: no session and no stream; a reconnect is due at
	// RetryAt.
	SenderDisconnected SenderState = iota + 1
	// SenderConnecting: a session is in its handshake (or truncating).
	SenderConnecting
	// SenderCatchingUp: a catch-up session runs.
	SenderCatchingUp
	// SenderRebuilding: a rebuild session runs.
	SenderRebuilding
	// SenderInSync: the live stream is open; the replica counts for the
	// durability mode.
	SenderInSync
)

func (s SenderState) String() string {
	switch s {
	case SenderDisconnected:
		return "disconnected"
	case SenderConnecting:
		return "connecting"
	case SenderCatchingUp:
		return "catching_up"
	case SenderRebuilding:
		return "rebuilding"
	case SenderInSync:
		return "in_sync"
	}
	return fmt.Sprintf("SenderState(%d)", uint8(s))
}

// sender is the primary's state for one replica; it lives as long as the
// replica is in the membership, across sessions and endpoint changes.
type sender struct {
	id       ReplicaID
	endpoint string
	// stream is the session whose handshake opened the current connection;
	// it stays the stream's identity while the replica is in sync. 0 when
	// there is no connection.
	stream SessionID
	live   bool // in sync: live records flow, barriers run
	sess   *session

	durable  uint64 // primary's view of the replica's durable index
	received uint64 // highest index the replica acknowledged storing
	sent     uint64 // highest index shipped on the stream
	noticed  uint64 // highest committed index carried to the replica on the stream
	notify   bool   // a barrier is owed even without new records (stream just went live)
	barrier  *barrier
	retryAt  uint64

	lastOutcome Outcome
	lastReason  string
}

// session is one recovery attempt.
type session struct {
	id           SessionID
	kind         SessionKind
	phase        Phase
	started      uint64 // tick
	lastProgress uint64 // tick of the last strictly increasing progress
	target       uint64 // frozen at classification (minimum index while waiting for a fresh snapshot)
	from         uint64
	applied      uint64 // replica's applied index from its hello, for reclassification after truncation
	truncAfter   uint64

	pin     PinID
	pinFrom uint64
	pinSnap uint64

	snapIndex uint64
	snapHash  [32]byte
	installed bool
	bytes     uint64 // snapshot bytes sent
}

type barrier struct {
	id        BarrierID
	index     uint64
	deadline  uint64
	committed uint64
}

func (s *sender) state() SenderState {
	switch {
	case s.sess != nil:
		switch s.sess.kind {
		case KindRebuild:
			return SenderRebuilding
		case KindCatchUp:
			if s.sess.phase == PhaseCatchUp {
				return SenderCatchingUp
			}
		}
		return SenderConnecting
	case s.live:
		return SenderInSync
	}
	return SenderDisconnected
}

// SenderStatus is one replica in Primary.Status.
type SenderStatus struct {
	ID       ReplicaID
	Endpoint string
	State    SenderState
	// Stream is the session whose connection is open (the live stream when
	// in sync), 0 when none.
	Stream   SessionID
	Durable  uint64 // primary's view of the replica's durable index
	Received uint64
	Sent     uint64
	Lag      uint64 // committed index minus Durable, 0 when not behind
	RetryAt  uint64 // tick of the next reconnect when disconnected
	Session  *SessionStatus
	// LastOutcome and LastReason describe the previous session's end.
	LastOutcome Outcome
	LastReason  string
}

// SessionStatus describes a running session.
type SessionStatus struct {
	ID        SessionID
	Kind      SessionKind
	Phase     Phase
	StartTick uint64
	Target    uint64
	Progress  uint64 // replica's received index
	Pin       PinID  // 0 when none
	PinFrom   uint64
}
