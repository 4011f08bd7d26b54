package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/replay"
	"github.com/reprise-dev/reprise/host/state"
	"github.com/reprise-dev/reprise/snapshot"
	"github.com/reprise-dev/reprise/wal"
)

// Config configures an Executor.
type Config struct {
	// DataDir holds the WAL (DataDir/wal) and snapshots (DataDir/snapshots).
	DataDir string
	// Module is the genesis catalog: a fresh data directory starts with
	// its activation as record 1. On a data directory that has a log, the
	// log decides which catalog is in force (see Executor.Catalog).
	Module *host.Module
	// Catalogs loads, by hash, the catalogs the log and snapshots name and
	// the catalogs Activate is asked for; Module is always available
	// without it. Nil means Module is the only catalog available.
	Catalogs Catalogs
	// Epoch is written into every record (replication epoch); default 1.
	Epoch uint64
	// SnapshotEvery takes a snapshot after this many records; default 10,000.
	SnapshotEvery uint64
	// SnapshotKeep is how many snapshots are kept; default 3. Once that
	// many exist, the WAL is compacted up to the oldest kept snapshot, so
	// any kept snapshot can be replayed forward; before, the whole WAL is
	// kept and replay can start at genesis.
	SnapshotKeep int
	// MaxBatch caps the proposals applied and made durable together;
	// default 1024.
	MaxBatch int
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Now stamps proposals; nil means time.Now.
	Now func() time.Time
	// Observer, if set, is told about every verdict and batch.
	Observer Observer
	// WAL lets tests inject WAL options (fault doubles); Dir is overridden.
	WAL wal.Options
	// Follower opens the node as a replica (see Promote): it takes records
	// only through the follower operations (StoreReplicated, ApplyStored…),
	// a fresh log gets no genesis record (the primary ships it), recovery
	// applies the log only up to the committed index the replica last
	// stored (SaveReplicaMeta), and Submit and Activate fail with
	// ErrNotPrimary.
	Follower bool
}

// Observer receives what the executor does, for metrics.
type Observer interface {
	Verdict(transition string, v Verdict)
	Batch(proposals, records int, commit time.Duration)
	Snapshot(info snapshot.Info, took time.Duration, err error)
}

// Submission is a proposal to apply. Index and Timestamp are assigned by
// the executor. When ExpectedHash is set, the proposal is applied only if
// the current state hash equals it.
type Submission struct {
	Proposal     abi.Proposal
	ExpectedHash *state.Hash
}

// Verdict is the answer to a submission.
type Verdict struct {
	Accepted  bool
	Code      abi.Code // abi.OK when accepted
	Detail    string
	Output    []byte
	Index     uint64     // the record's index (accepted or duplicate)
	StateHash state.Hash // after the record when accepted; the current hash otherwise
	Fuel      uint64
	Duplicate bool // the idempotency key was seen before: nothing was appended
}

// Errors of the executor as a whole.
var (
	ErrClosed  = errors.New("executor is closed")
	ErrStopped = errors.New("writer stopped after a failure; restart the node")
)

type request struct {
	sub Submission
	// act, when set, makes the request a catalog activation.
	act   *activation
	reply chan reply
	// dupOf is set when another request of the same batch carries the same
	// idempotency key: this one gets that one's verdict.
	dupOf *request
	v     Verdict
	err   error
}

type reply struct {
	v         Verdict
	activated Activated
	err       error
}

// Executor is the node's single writer.
type Executor struct {
	cfg      Config
	log      *slog.Logger
	wal      *wal.Log
	snaps    *snapshot.Store
	catalogs Catalogs

	in     chan *request
	closed chan struct{}
	done   chan struct{}
	once   sync.Once

	// mu guards the read model and the catalog in force: the writer holds
	// it from applying a batch (or swapping catalogs) until the records are
	// durable, so readers only ever see durable state.
	mu      sync.RWMutex
	machine *replay.Machine // the catalog in force and its reducer
	index   uint64          // last durable index
	lastHLC string
	failure error
	// follower and rep are the node's replication role (see Promote and
	// Demote); epoch is stamped into every record this node appends.
	follower bool
	rep      Replicator
	epoch    uint64
	// replicator mirrors rep for compaction, which runs beside the writer
	// without mu.
	replicator atomic.Value
	// indexEpoch is the epoch of the record at index (for snapshots).
	indexEpoch uint64

	// Writer-goroutine state.
	recs         []wal.Record
	batchHLC     string // highest HLC among recs
	pending      map[string]*request
	snapshotting sync.WaitGroup
	lastSnapshot uint64
	snapMu       sync.Mutex // serialises snapshot writes and compaction
	onCommit     []func(st *state.State, index uint64)
	stats        RecoveryStats
}

// Open recovers the node's state from DataDir and starts the writer. It
// refuses to start, naming the index and hashes, if any recorded state
// hash does not verify.
func Open(ctx context.Context, cfg Config) (*Executor, error) {
	if cfg.Module == nil {
		return nil, errors.New("executor: no catalog module")
	}
	if cfg.Epoch == 0 {
		cfg.Epoch = 1
	}
	if cfg.SnapshotEvery == 0 {
		cfg.SnapshotEvery = 10_000
	}
	if cfg.SnapshotKeep == 0 {
		cfg.SnapshotKeep = 3
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = 1024
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	walOpts := cfg.WAL
	walOpts.Dir = filepath.Join(cfg.DataDir, "wal")
	walOpts.Logger = cfg.Logger
	log, err := wal.Open(walOpts)
	if err != nil {
		return nil, fmt.Errorf("open WAL: %w", err)
	}
	snaps, err := snapshot.Open(filepath.Join(cfg.DataDir, "snapshots"), snapshot.Options{Keep: cfg.SnapshotKeep, Logger: cfg.Logger})
	if err != nil {
		log.Close()
		return nil, fmt.Errorf("open snapshots: %w", err)
	}
	catalogs := withModule{base: cfg.Catalogs, module: cfg.Module}
	e := &Executor{
		cfg: cfg, log: cfg.Logger, wal: log, snaps: snaps, catalogs: catalogs, machine: replay.NewMachine(catalogs),
		in: make(chan *request, cfg.MaxBatch), closed: make(chan struct{}), done: make(chan struct{}),
		pending: map[string]*request{}, follower: cfg.Follower, epoch: cfg.Epoch,
	}
	if err := e.recover(ctx); err != nil {
		e.machine.Close(ctx)
		snaps.Close()
		log.Close()
		return nil, err
	}
	go e.run()
	return e, nil
}

// Submit applies a proposal and waits for its verdict, which comes only
// after the record (if any) is durable. With ErrClosed the proposal was not
// applied. With ErrStopped (the WAL failed) or a context error its fate is
// unknown to the caller: resubmit with the same idempotency key to learn it.
func (e *Executor) Submit(ctx context.Context, sub Submission) (Verdict, error) {
	r, _, err := e.send(ctx, &request{sub: sub, reply: make(chan reply, 1)})
	return r.v, err
}

// send queues a request for the writer and waits for its answer. queued
// reports whether the request entered the queue (the writer answers every
// request it takes; one queued as Close stopped the writer is never taken).
func (e *Executor) send(ctx context.Context, req *request) (r reply, queued bool, err error) {
	select {
	case <-e.closed:
		return reply{}, false, ErrClosed
	default:
	}
	select {
	case e.in <- req:
	case <-e.closed:
		return reply{}, false, ErrClosed
	case <-ctx.Done():
		return reply{}, false, ctx.Err()
	}
	select {
	case r := <-req.reply:
		return r, true, r.err
	case <-e.done:
		// The writer answers every request it takes before it exits; one
		// sent as Close stopped it was never taken, hence never applied.
		select {
		case r := <-req.reply:
			return r, true, r.err
		default:
			return reply{}, true, ErrClosed
		}
	case <-ctx.Done():
		return reply{}, true, ctx.Err()
	}
}

func (e *Executor) run() {
	defer close(e.done)
	batch := make([]*request, 0, e.cfg.MaxBatch)
	for {
		var first *request
		select {
		case first = <-e.in:
		case <-e.closed:
			// Drain what was queued before the close.
			select {
			case first = <-e.in:
			default:
				return
			}
		}
		if first.act != nil {
			e.activate(first)
			continue
		}
		// An activation ends a batch: the proposals queued before it are
		// applied (and made durable) under the old catalog, then the swap
		// happens, then the proposals queued after it form the next batch.
		var swap *request
		batch = append(batch[:0], first)
	drain:
		for len(batch) < e.cfg.MaxBatch {
			select {
			case r := <-e.in:
				if r.act != nil {
					swap = r
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		e.process(batch)
		if swap != nil {
			e.activate(swap)
		}
	}
}

// process applies a batch, makes its records durable with one append, and
// answers every request.
func (e *Executor) process(batch []*request) {
	ctx := context.Background()
	e.mu.Lock()
	if refusal := e.refuseWrites(); refusal != nil {
		e.mu.Unlock()
		for _, r := range batch {
			r.reply <- reply{err: refusal}
		}
		return
	}
	e.recs, e.batchHLC = e.recs[:0], ""
	clear(e.pending)
	for _, r := range batch {
		e.decide(ctx, r)
		if r.err != nil {
			break // the reducer failed: stop the batch and the writer
		}
	}
	var commitErr, replErr error
	start := time.Now()
	if e.failure == nil && len(e.recs) > 0 {
		commitErr, replErr = e.appendRecords(e.recs)
		if commitErr != nil {
			e.failure = fmt.Errorf("WAL append of records %d..%d failed: %w", e.recs[0].Index, e.recs[len(e.recs)-1].Index, commitErr)
			e.log.Error("writer stopped: state in memory is ahead of the WAL; restart to recover from disk", "err", e.failure)
		} else {
			e.index, e.indexEpoch = e.recs[len(e.recs)-1].Index, e.epoch
			e.machine.Advance(e.index)
			if e.batchHLC != "" {
				e.lastHLC = e.maxHLC(e.batchHLC)
			}
		}
	}
	if e.failure == nil && len(e.recs) > 0 {
		e.committed()
	}
	failure := e.failure
	commit := time.Since(start)
	snap, capture := e.snapshotDue()
	e.mu.Unlock()

	for _, r := range batch {
		switch {
		case failure != nil:
			r.reply <- reply{err: fmt.Errorf("%w: %v", ErrStopped, failure)}
			continue
		case r.dupOf != nil:
			r.v, r.err = r.dupOf.v, r.dupOf.err
			if r.v.Accepted {
				r.v.Duplicate = true
			}
		}
		if replErr != nil && r.err == nil && r.v.Accepted && !r.v.Duplicate {
			r.err = &NotAcknowledgedError{Index: r.v.Index, Err: replErr}
		}
		r.reply <- reply{v: r.v, err: r.err}
		if o := e.cfg.Observer; o != nil {
			o.Verdict(r.sub.Proposal.Transition, r.v)
		}
	}
	if o := e.cfg.Observer; o != nil {
		committed := len(e.recs)
		if failure != nil {
			committed = 0
		}
		o.Batch(len(batch), committed, commit)
	}
	if snap {
		e.snapshotInBackground(capture)
	}
}

// committed tells the OnCommit callbacks about the durable state; mu is
// held.
func (e *Executor) committed() {
	for _, fn := range e.onCommit {
		fn(e.machine.State(), e.index)
	}
}

// snapshotDue decides whether a snapshot is due and, if so, captures the
// state to write; mu is held.
func (e *Executor) snapshotDue() (bool, snapshotCapture) {
	if e.failure != nil || e.index-e.lastSnapshot < e.cfg.SnapshotEvery {
		return false, snapshotCapture{}
	}
	e.lastSnapshot = e.index
	return true, e.capture(true)
}

func (e *Executor) snapshotInBackground(c snapshotCapture) {
	e.snapshotting.Add(1)
	go func() {
		defer e.snapshotting.Done()
		e.writeSnapshot(c)
	}()
}

// decide settles one request inside a batch: a duplicate, a conflict, a
// stale HLC, or the reducer's verdict (which adds a record when accepted).
func (e *Executor) decide(ctx context.Context, r *request) {
	p := r.sub.Proposal
	reducer := e.machine.Reducer()
	current := reducer.State().Hash()
	if p.IdemKey != "" {
		if first, ok := e.pending[p.IdemKey]; ok {
			r.dupOf = first
			return
		}
		entry, found, err := e.wal.IdempotencyLookup(p.IdemKey)
		if err != nil {
			r.v = Verdict{Code: abi.BadProposal, Detail: "idempotency lookup failed: " + err.Error(), StateHash: current}
			return
		}
		if found {
			r.v = Verdict{Accepted: entry.Code == "", Duplicate: true, Index: entry.Index, StateHash: entry.StateHash, Output: entry.Output}
			if c, ok := abi.CodeFromSlug(entry.Code); ok && entry.Code != "" {
				r.v.Code = c
			}
			return
		}
	}
	if r.sub.ExpectedHash != nil && *r.sub.ExpectedHash != current {
		r.v = Verdict{Code: abi.StateConflict, Detail: fmt.Sprintf("expected %s, current is %s", r.sub.ExpectedHash, current), StateHash: current}
		return
	}
	if p.HLC != "" {
		last := e.maxHLCOf(e.lastHLC, e.batchHLC)
		if last != "" {
			c, err := abi.CompareHLC(p.HLC, last)
			if err != nil {
				r.v = Verdict{Code: abi.BadProposal, Detail: err.Error(), StateHash: current}
				return
			}
			if c < 0 {
				r.v = Verdict{Code: abi.StaleHLC, Detail: fmt.Sprintf("hlc %s is older than %s", p.HLC, last), StateHash: current}
				return
			}
		} else if err := abi.ValidHLC(p.HLC); err != nil {
			r.v = Verdict{Code: abi.BadProposal, Detail: err.Error(), StateHash: current}
			return
		}
	}
	p.Index = e.index + uint64(len(e.recs)) + 1
	p.Timestamp = e.cfg.Now().UnixNano()
	out, err := reducer.Apply(ctx, &p)
	if err != nil {
		r.err = fmt.Errorf("%w: %v", ErrStopped, err)
		e.failure = err
		e.log.Error("writer stopped: the catalog instance could not be rebuilt", "err", err)
		return
	}
	r.v = Verdict{
		Accepted: out.Result.Accepted(), Code: out.Result.Code, Detail: out.Result.Detail,
		Output: out.Result.Output, StateHash: out.StateHash, Fuel: out.Fuel,
	}
	if !r.v.Accepted {
		e.log.Debug("proposal rejected", "transition", p.Transition, "code", out.Result.Code.Slug(), "detail", out.Result.Detail)
		return
	}
	r.v.Index = p.Index
	e.recs = append(e.recs, wal.Record{
		Index: p.Index, Epoch: e.epoch, Kind: wal.KindTransition, Timestamp: p.Timestamp,
		CatalogHash: e.machine.Hash(), Transition: out.Transition, Inputs: p.Inputs, InputsHash: p.InputsHash,
		IdemKey: p.IdemKey, Signer: p.Signer, HLC: p.HLC, WindowID: p.WindowID, Evidence: p.Evidence,
		Output: out.Result.Output, Fuel: out.Fuel, StateHash: out.StateHash,
	})
	if p.HLC != "" {
		e.batchHLC = e.maxHLCOf(e.batchHLC, p.HLC)
	}
	if p.IdemKey != "" {
		e.pending[p.IdemKey] = r
	}
}

func (e *Executor) maxHLC(h string) string { return e.maxHLCOf(e.lastHLC, h) }

func (e *Executor) maxHLCOf(a, b string) string {
	if a == "" {
		return b
	}
	if c, err := abi.CompareHLC(b, a); err == nil && c > 0 {
		return b
	}
	return a
}

// OnCommit registers fn to be called with the read model after every batch
// that made records durable, and once now. It runs on the writer with the
// state locked, once per batch rather than once per request, so it must be
// quick and must not keep or modify the state.
func (e *Executor) OnCommit(fn func(st *state.State, index uint64)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onCommit = append(e.onCommit, fn)
	fn(e.machine.State(), e.index)
}

// Read calls fn with the read model at the last durable index. fn must not
// keep or modify the state. It fails once the writer has stopped.
func (e *Executor) Read(fn func(st *state.State, index uint64, d *abi.Descriptor)) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.failure != nil {
		return fmt.Errorf("%w: %v", ErrStopped, e.failure)
	}
	if e.machine.Module() == nil {
		return ErrNoState
	}
	fn(e.machine.State(), e.index, e.machine.Reducer().Descriptor())
	return nil
}

// Status is a summary of the node's writer.
type Status struct {
	Index     uint64
	StateHash state.Hash
	Catalog   abi.CatalogRef // the catalog in force
	Module    [32]byte       // its hash
	Failure   error
	FirstWAL  uint64
	// LastWAL is the last record in the WAL: past Index on a replica that
	// stored records it has not applied yet.
	LastWAL uint64
	LastHLC string
	// Follower says the node is a replica; Epoch is the epoch it stamps
	// into records when it writes.
	Follower bool
	Epoch    uint64
}

// Status reports the writer's position.
func (e *Executor) Status() Status {
	e.mu.RLock()
	defer e.mu.RUnlock()
	st := Status{Index: e.index, StateHash: e.machine.State().Hash(), Module: e.machine.Hash(), Failure: e.failure,
		FirstWAL: e.wal.FirstIndex(), LastWAL: e.wal.LastIndex(), LastHLC: e.lastHLC, Follower: e.follower, Epoch: e.epoch}
	if r := e.machine.Reducer(); r != nil {
		st.Catalog = r.Descriptor().Ref()
	}
	return st
}

// WAL gives read access to the log (for the API's record listing).
func (e *Executor) WAL() *wal.Log { return e.wal }

// Snapshots gives access to the snapshot store.
func (e *Executor) Snapshots() *snapshot.Store { return e.snaps }

// Close stops accepting proposals, answers the queued ones, takes a final
// snapshot, and closes the WAL.
func (e *Executor) Close(ctx context.Context) error {
	var err error
	e.once.Do(func() {
		close(e.closed)
		<-e.done
		e.snapshotting.Wait()
		e.mu.Lock()
		final := e.failure == nil && e.index > e.lastSnapshot
		var c snapshotCapture
		if final {
			c = e.capture(false) // the writer has stopped: no copy needed
		}
		e.mu.Unlock()
		if final {
			e.writeSnapshot(c)
		}
		err = errors.Join(e.machine.Close(ctx), e.snaps.Close(), e.wal.Close())
	})
	return err
}
