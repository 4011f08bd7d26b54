package control

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/hashicorp/raft"
)

// command is the only kind of entry the control plane writes to the raft
// log. It is JSON so the log can be read by eye; struct field order makes
// the encoding deterministic.
type command struct {
	Assign *Assignment `json:"assign,omitempty"`
}

func encodeAssign(a Assignment) ([]byte, error) {
	return json.Marshal(command{Assign: &a})
}

// fsmState is the replicated state, and the content of a raft snapshot.
type fsmState struct {
	Assignment Assignment `json:"assignment"`
}

// fsm is the replicated state machine: the current assignment. Every node
// applies the same committed entries in the same order and so holds the
// same assignment.
type fsm struct {
	log          *slog.Logger
	onAssignment func(Assignment)
	// applied is signalled (without blocking) after each new assignment,
	// so the control loop can snapshot it off raft's FSM goroutine.
	applied chan struct{}

	mu  sync.Mutex
	cur Assignment
}

func newFSM(log *slog.Logger, onAssignment func(Assignment)) *fsm {
	return &fsm{log: log, onAssignment: onAssignment, applied: make(chan struct{}, 1)}
}

func (f *fsm) assignment() Assignment {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur.Clone()
}

// Apply takes one committed entry. It returns nil when the assignment was
// taken, or an error (as the future's response) saying why it was ignored;
// either way the outcome is the same on every node.
func (f *fsm) Apply(l *raft.Log) any {
	var c command
	if err := json.Unmarshal(l.Data, &c); err != nil {
		err = fmt.Errorf("control: raft entry %d is not a control command: %w", l.Index, err)
		f.log.Error("ignoring raft entry", "index", l.Index, "error", err)
		return err
	}
	if c.Assign == nil {
		err := fmt.Errorf("control: raft entry %d carries no known command", l.Index)
		f.log.Error("ignoring raft entry", "index", l.Index, "error", err)
		return err
	}
	next := c.Assign.Clone()
	if err := next.Validate(); err != nil {
		err = fmt.Errorf("control: raft entry %d: %w", l.Index, err)
		f.log.Error("ignoring assignment", "index", l.Index, "error", err)
		return err
	}
	f.mu.Lock()
	cur := f.cur.Epoch
	if next.Epoch <= cur {
		f.mu.Unlock()
		err := fmt.Errorf("control: raft entry %d assigns epoch %d, not above the current epoch %d", l.Index, next.Epoch, cur)
		f.log.Warn("ignoring stale assignment", "index", l.Index, "primary", next.Primary, "error", err)
		return err
	}
	f.cur = next
	f.mu.Unlock()
	f.log.Info("assignment applied", "epoch", next.Epoch, "primary", next.Primary, "committed", next.Committed, "index", l.Index)
	f.notify(next)
	return nil
}

func (f *fsm) notify(a Assignment) {
	if f.onAssignment != nil {
		f.onAssignment(a.Clone())
	}
	select {
	case f.applied <- struct{}{}:
	default:
	}
}

// Snapshot captures the current assignment; Persist runs later, off the FSM
// goroutine, on the copy.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{state: fsmState{Assignment: f.assignment()}}, nil
}

// Restore replaces the state with a snapshot's: at start from the local
// snapshot store, or when the leader installs one on a lagging follower.
// OnAssignment hears of it when it differs from what this node held.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var s fsmState
	if err := json.NewDecoder(rc).Decode(&s); err != nil {
		return fmt.Errorf("control: decoding raft snapshot: %w", err)
	}
	if s.Assignment.Epoch != 0 {
		if err := s.Assignment.Validate(); err != nil {
			return fmt.Errorf("control: raft snapshot: %w", err)
		}
	}
	f.mu.Lock()
	changed := s.Assignment.Epoch != f.cur.Epoch
	f.cur = s.Assignment.Clone()
	f.mu.Unlock()
	if changed && s.Assignment.Epoch != 0 {
		f.log.Info("assignment restored from snapshot", "epoch", s.Assignment.Epoch, "primary", s.Assignment.Primary)
		f.notify(s.Assignment)
	}
	return nil
}

type fsmSnapshot struct {
	state fsmState
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	b, err := json.Marshal(s.state)
	if err == nil {
		_, err = sink.Write(b)
	}
	if err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("control: writing raft snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}
