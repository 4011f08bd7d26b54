package node

import (
	"fmt"
	"sync"

	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/replication"
	"github.com/reprise-dev/reprise/wal"
)

// ringSize is how many recently appended records the primary keeps in
// memory to ship without reading them back from the WAL.
const ringSize = 1 << 14

// hook is the executor's Replicator: it runs on the writer goroutine and
// talks to the loop only through events, so the loop never waits for the
// writer (which holds the executor's lock while it waits for a commit).
type hook struct {
	n *Node

	mu        sync.Mutex
	ring      []wal.Record // recent records, contiguous, ring[0] at index ringFirst
	ringFirst uint64
	waiters   []*waiter
	acked     uint64 // writes acknowledged through here in this epoch
	// failed are the writes the engine failed, possibly before the writer
	// asked about them (a write can be doomed as soon as it is appended).
	failed []failedSpan
}

type failedSpan struct {
	from, through uint64
	reason        string
}

// failure is why the write at index failed, if it did; mu is held.
func (h *hook) failure(index uint64) error {
	for _, f := range h.failed {
		if index >= f.from && index <= f.through {
			return fmt.Errorf("replication: %s", f.reason)
		}
	}
	return nil
}

type waiter struct {
	through uint64
	done    chan error
}

func (h *hook) init(n *Node) { h.n = n }

// replicator is the Replicator handed to the executor while this node is
// the primary.
type replicator struct{ n *Node }

var _ executor.Replicator = (*replicator)(nil)

func (r *replicator) Admit() error { return r.n.admit.Load().err }

func (r *replicator) Ship(recs []wal.Record) {
	h := &r.n.hook
	h.mu.Lock()
	first := recs[0].Index
	if len(h.ring) == 0 || h.ringFirst+uint64(len(h.ring)) != first {
		h.ring, h.ringFirst = h.ring[:0], first
	}
	h.ring = append(h.ring, recs...)
	if over := len(h.ring) - ringSize; over > 0 {
		h.ring = append(h.ring[:0], h.ring[over:]...)
		h.ringFirst += uint64(over)
	}
	h.mu.Unlock()
	last := recs[len(recs)-1]
	r.n.post(event{ev: replication.Appended{Through: last.Index, Epoch: last.Epoch}})
}

func (r *replicator) Commit(through uint64, localErr error) error {
	if localErr != nil {
		r.n.post(event{ev: replication.LocalSyncFailed{Reason: localErr.Error()}})
		return localErr
	}
	r.n.post(event{ev: replication.LocalDurable{Through: through}})
	if r.n.cfg.Mode == replication.BestEffort {
		// best_effort acknowledges on the primary's own fsync: the engine
		// answers at this LocalDurable, so the writer need not wait for it
		// to say so.
		return nil
	}
	// The engine may have settled the write already (a write can be failed
	// as soon as it is appended); the hook remembers, so the check and the
	// registration under one lock miss nothing.
	h := &r.n.hook
	h.mu.Lock()
	if err := h.failure(through); err != nil || h.acked >= through {
		h.mu.Unlock()
		return err
	}
	w := &waiter{through: through, done: make(chan error, 1)}
	h.waiters = append(h.waiters, w)
	h.mu.Unlock()
	select {
	case err := <-w.done:
		return err
	case <-r.n.done:
		h.remove(w)
		return ErrClosed
	}
}

func (r *replicator) RetentionFloor() uint64 { return r.n.floor.Load() }

// records returns records from..through from the ring, if it holds them all.
func (h *hook) records(from, through uint64) ([]wal.Record, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if from < h.ringFirst || through >= h.ringFirst+uint64(len(h.ring)) || through < from {
		return nil, false
	}
	out := make([]wal.Record, through-from+1)
	copy(out, h.ring[from-h.ringFirst:through-h.ringFirst+1])
	return out, true
}

// ack resolves the writes acknowledged through `through`.
func (h *hook) ack(through uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.acked = max(h.acked, through)
	kept := h.waiters[:0]
	for _, w := range h.waiters {
		if w.through <= h.acked {
			w.done <- h.failure(w.through)
		} else {
			kept = append(kept, w)
		}
	}
	h.waiters = kept
}

// fail answers the writes from..through: they were not acknowledged.
func (h *hook) fail(from, through uint64, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failed = append(h.failed, failedSpan{from: from, through: through, reason: reason})
	if len(h.failed) > 64 {
		h.failed = h.failed[len(h.failed)-64:]
	}
	kept := h.waiters[:0]
	for _, w := range h.waiters {
		if w.through >= from && w.through <= through {
			w.done <- fmt.Errorf("replication: %s", reason)
		} else {
			kept = append(kept, w)
		}
	}
	h.waiters = kept
}

// failAll answers every waiting write with err and forgets the epoch's
// acknowledgements and records.
func (h *hook) failAll(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, w := range h.waiters {
		w.done <- err
	}
	h.waiters, h.acked, h.failed = nil, 0, nil
	h.ring, h.ringFirst = nil, 0
}

func (h *hook) remove(w *waiter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, x := range h.waiters {
		if x == w {
			h.waiters = append(h.waiters[:i], h.waiters[i+1:]...)
			return
		}
	}
}
