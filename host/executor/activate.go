package executor

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/replay"
	"github.com/reprise-dev/reprise/host/state"
	"github.com/reprise-dev/reprise/wal"
)

// ActivateOptions tune an activation.
type ActivateOptions struct {
	// RequireCleanShadow first replays the recent WAL against the catalog
	// (see Shadow) and refuses to activate it if any record diverges. For
	// a catalog that migrates the state into another shape only results
	// can be compared, not states (see replay.Report.StateCompared).
	RequireCleanShadow bool
	// ShadowRecent is the number of most recent records the shadow replay
	// covers; 0 means from the oldest retained snapshot (or genesis).
	ShadowRecent uint64
}

// Activated describes an activation that took place.
type Activated struct {
	Index     uint64     // the activation record
	StateHash state.Hash // after the hand-over
	Catalog   [32]byte
	Ref       abi.CatalogRef
	Replaced  [32]byte // zero at genesis
	// ReplacedRef is the catalog in force before.
	ReplacedRef abi.CatalogRef
	Migrated    bool
	Fuel        uint64
	// Pause is how long the writer stopped applying proposals for the
	// swap; HandOver and Commit are its two parts: the state hand-over
	// (import, migration, checks) and the activation record's append and
	// fsync.
	Pause, HandOver, Commit time.Duration
	// Shadow is the shadow replay that was required, if any.
	Shadow *replay.Report
}

// ActivationObserver, when the Config's Observer also implements it, is
// told about every activation.
type ActivationObserver interface {
	Activation(a Activated)
}

// AlreadyInForceError refuses to activate the catalog in force.
type AlreadyInForceError struct {
	Catalog     [32]byte
	Ref         abi.CatalogRef
	ActivatedAt uint64
}

func (e *AlreadyInForceError) Error() string {
	at := ""
	if e.ActivatedAt != 0 {
		at = fmt.Sprintf(" (activated by record %d)", e.ActivatedAt)
	}
	return fmt.Sprintf("catalog %s %s is already in force%s", e.Ref, replay.HashHex(e.Catalog), at)
}

// ShadowDivergedError refuses an activation whose required shadow replay
// found a divergence.
type ShadowDivergedError struct {
	Catalog [32]byte
	Report  replay.Report
}

func (e *ShadowDivergedError) Error() string {
	msg := fmt.Sprintf("catalog %s was not activated: its shadow replay of records %d..%d ", replay.HashHex(e.Catalog), e.Report.From, e.Report.To)
	switch d := e.Report.First; {
	case d != nil:
		return msg + fmt.Sprintf("diverges at record %d (%s): %s", d.Index, d.Transition, joinReasons(d.Reasons))
	default:
		return msg + "stopped early: " + e.Report.Stopped
	}
}

func joinReasons(rs []string) string {
	out := ""
	for i, r := range rs {
		if i > 0 {
			out += "; "
		}
		out += r
	}
	return out
}

// CatalogInForce describes the catalog the executor serves.
type CatalogInForce struct {
	Hash [32]byte
	Ref  abi.CatalogRef
	// Fuel is the fuel budget of one transition.
	Fuel uint64
	// ActivatedAt is the index of the activation record; 0 for a log that
	// predates activation records.
	ActivatedAt uint64
	Replaced    [32]byte // zero at genesis
	ReplacedRef abi.CatalogRef
	Migrated    bool
	// Fingerprint is the host recorded with the activation (this engine's
	// when the activation is not known); Drift lists how it differs from
	// the engine running the catalog now.
	Fingerprint host.Fingerprint
	Drift       []string
	// Configured says it is the catalog of Config.Module.
	Configured bool
}

// Catalog reports the catalog in force. A node whose log put another
// catalog in force than the one configured serves the one in force; the
// caller decides what to make of Configured being false.
func (e *Executor) Catalog() CatalogInForce {
	e.mu.RLock()
	defer e.mu.RUnlock()
	m := e.machine
	if m.Module() == nil {
		return CatalogInForce{} // a replica that holds no state yet
	}
	c := CatalogInForce{Hash: m.Hash(), Ref: m.Reducer().Descriptor().Ref(), Fuel: m.Reducer().Fuel,
		Configured: m.Hash() == e.cfg.Module.Hash}
	engine := m.Module().Engine().Fingerprint()
	c.Fingerprint = engine
	if a, at, ok := m.Activation(); ok {
		c.ActivatedAt, c.Migrated, c.Fingerprint = at, a.Migrated, a.Fingerprint
		c.Replaced, _ = a.ReplacedHash()
		c.ReplacedRef = abi.CatalogRef{Name: a.ReplacedName, Version: a.ReplacedVersion}
		c.Drift = a.Fingerprint.Diff(engine)
	}
	return c
}

// activation is a request to swap catalogs.
type activation struct {
	module *host.Module
	// to is a reducer of module that has applied nothing: compiled and
	// instantiated before the swap, so the swap itself does not pay for
	// either. The writer owns it once the request is queued.
	to *host.Reducer
	// abandoned is set when the caller stopped waiting before the writer
	// took the request; the writer then drops it.
	abandoned atomic.Bool
}

// Activate puts catalog hash in force from the next record on. The module
// is loaded (compiled) and instantiated first; then the swap goes through
// the writer's queue, so proposals queued before it are applied under the
// old catalog and those queued after it under the new one. At the swap
// the state is handed over (see replay.Handover: canonical export, import
// into the new catalog, its declared migration if any, checks), the
// activation record is made durable, and only then is the new catalog in
// force. If the new catalog cannot take the state, nothing changes and
// the error says why.
//
// Rolling back is activating the previous catalog again. With a context
// error the activation may still take place; Catalog tells.
func (e *Executor) Activate(ctx context.Context, hash [32]byte, opts ActivateOptions) (Activated, error) {
	module, err := e.loadModule(ctx, hash)
	if err != nil {
		return Activated{}, fmt.Errorf("activate catalog %s: %w", replay.HashHex(hash), err)
	}
	cur := e.Catalog()
	if cur.Hash == hash {
		return Activated{}, &AlreadyInForceError{Catalog: hash, Ref: cur.Ref, ActivatedAt: cur.ActivatedAt}
	}
	if err := replay.Compatible(cur.Ref, &module.Descriptor); err != nil {
		return Activated{}, err
	}
	var shadow *replay.Report
	if opts.RequireCleanShadow {
		rep, err := e.Shadow(ctx, hash, opts.ShadowRecent)
		if err != nil {
			return Activated{}, fmt.Errorf("catalog %s was not activated: its shadow replay failed: %w", replay.HashHex(hash), err)
		}
		if !rep.Clean() {
			return Activated{}, &ShadowDivergedError{Catalog: hash, Report: rep}
		}
		shadow = &rep
	}
	to, err := host.NewReducer(ctx, module)
	if err != nil {
		return Activated{}, fmt.Errorf("activate catalog %s: %w", replay.HashHex(hash), err)
	}
	a := &activation{module: module, to: to}
	r, queued, err := e.send(ctx, &request{act: a, reply: make(chan reply, 1)})
	if err != nil {
		a.abandoned.Store(true)
		if !queued {
			to.Close(ctx)
		}
		return Activated{}, err
	}
	r.activated.Shadow = shadow
	return r.activated, nil
}

// activate performs a queued activation on the writer.
func (e *Executor) activate(r *request) {
	ctx := context.Background()
	a := r.act
	if a.abandoned.Load() {
		a.to.Close(ctx)
		r.reply <- reply{err: context.Canceled}
		return
	}
	e.mu.Lock()
	if refusal := e.refuseWrites(); refusal != nil {
		e.mu.Unlock()
		a.to.Close(ctx)
		r.reply <- reply{err: refusal}
		return
	}
	act, err := e.swap(ctx, a.module, a.to)
	var snap bool
	var capture snapshotCapture
	var unacked *NotAcknowledgedError
	if err == nil || errors.As(err, &unacked) {
		e.committed()
		snap, capture = e.snapshotDue()
	}
	e.mu.Unlock()
	if unacked != nil {
		r.reply <- reply{activated: act, err: err}
		if snap {
			e.snapshotInBackground(capture)
		}
		return
	}
	if err != nil {
		a.to.Close(ctx)
		e.log.Warn("catalog activation refused; nothing changed", "catalog", a.module.Descriptor.Ref().String(), "hash", a.module.HashHex(), "err", err)
		r.reply <- reply{err: err}
		return
	}
	r.reply <- reply{activated: act}
	e.log.Info("catalog activated", "index", act.Index, "catalog", act.Ref.String(), "hash", replay.HashHex(act.Catalog),
		"replaced", act.ReplacedRef.String(), "migrated", act.Migrated, "state_hash", act.StateHash.String(), "pause", act.Pause)
	if o, ok := e.cfg.Observer.(ActivationObserver); ok {
		o.Activation(act)
	}
	if snap {
		e.snapshotInBackground(capture)
	}
}

// genesis activates the configured catalog as the first record of a
// fresh log.
func (e *Executor) genesis(ctx context.Context) (Activated, error) {
	to, err := host.NewReducer(ctx, e.cfg.Module)
	if err != nil {
		return Activated{}, err
	}
	act, err := e.swap(ctx, e.cfg.Module, to)
	var unacked *NotAcknowledgedError
	if errors.As(err, &unacked) {
		return act, err // in force and durable here
	}
	if err != nil {
		to.Close(ctx)
		return Activated{}, fmt.Errorf("activate the genesis catalog %s: %w", e.cfg.Module.Descriptor.Ref(), err)
	}
	e.log.Info("genesis catalog activated", "index", act.Index, "catalog", act.Ref.String(), "hash", replay.HashHex(act.Catalog))
	return act, nil
}

// swap hands the state in force over to `to` (a reducer of module that has
// applied nothing), appends the activation record durably, and puts module
// in force. mu is held, or the writer is not running yet. On error nothing
// changed; the caller closes `to`. A failed append also stops the writer.
func (e *Executor) swap(ctx context.Context, module *host.Module, to *host.Reducer) (Activated, error) {
	start := time.Now()
	from, fromHash := e.machine.Reducer(), e.machine.Hash()
	if from != nil && fromHash == module.Hash {
		at := uint64(0)
		if _, i, ok := e.machine.Activation(); ok {
			at = i
		}
		return Activated{}, &AlreadyInForceError{Catalog: fromHash, Ref: from.Descriptor().Ref(), ActivatedAt: at}
	}
	migrated, err := replay.Handover(ctx, from, to)
	if err != nil {
		return Activated{}, err
	}
	handedOver := time.Now()
	a := replay.NewActivation(fromHash, from, module, to, migrated)
	index := e.index + 1
	after := to.State().Hash()
	rec, err := a.Record(index, e.epoch, e.cfg.Now().UnixNano(), after)
	if err != nil {
		return Activated{}, err
	}
	err, replErr := e.appendRecords([]wal.Record{rec})
	if err != nil {
		e.failure = fmt.Errorf("WAL append of activation record %d failed: %w", index, err)
		e.log.Error("writer stopped: the activation record is not durable; restart to recover from disk", "err", e.failure)
		return Activated{}, fmt.Errorf("%w: %v", ErrStopped, e.failure)
	}
	act := Activated{Index: index, StateHash: after, Catalog: module.Hash, Ref: module.Descriptor.Ref(),
		Replaced: fromHash, Migrated: migrated, Fuel: to.Fuel}
	if from != nil {
		act.ReplacedRef = from.Descriptor().Ref()
	}
	committed := time.Now()
	e.machine.Adopt(ctx, module, to, a, index)
	e.index, e.indexEpoch = index, e.epoch
	act.HandOver, act.Commit, act.Pause = handedOver.Sub(start), committed.Sub(handedOver), time.Since(start)
	if replErr != nil {
		// In force here, and durable here, but not acknowledged by the
		// replicas the durability mode needs.
		return act, &NotAcknowledgedError{Index: index, Err: replErr}
	}
	return act, nil
}
