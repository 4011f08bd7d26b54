package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/abi/canon"
	"github.com/reprise-dev/reprise/host/state"
)

// Outcome is what applying one proposal did.
type Outcome struct {
	Transition string     // the catalogued name the proposal resolved to ("" if unknown)
	Result     abi.Result // the verdict; Delta is set when accepted
	Fuel       uint64     // fuel used (0 when run natively)
	StateHash  state.Hash // the state hash after the proposal
	// Previous holds, for each entry of Result.Delta, the entry as it was
	// before (Deleted when it was absent); set only when the reducer's
	// KeepPrevious is, as replays do to explain a divergence.
	Previous []abi.Change
}

// Reducer applies proposals to one catalog's state: the guest holds the
// live state, the Reducer holds the native read model built from the
// guest's deltas, and the two are kept in step. When the guest fails, the
// transition is rejected, state is left as it was, and the next proposal
// runs on a fresh guest restored from the read model.
type Reducer struct {
	desc     abi.Descriptor
	newGuest func(ctx context.Context) (Guest, error)
	guest    Guest
	st       *state.State
	// Fuel is the budget of one transition.
	Fuel uint64
	// KeepPrevious makes Apply report the entries each delta replaced.
	KeepPrevious bool
	// rebuilds counts guests restored after a failure.
	rebuilds int
	// pristine says the guest has run nothing but its start-up, so Restore
	// may import into it instead of instantiating another: a catalog swap
	// then pays for instantiation before the swap, not during it.
	pristine bool
}

// NewReducer returns a reducer for a wasm module with an empty state.
func NewReducer(ctx context.Context, m *Module) (*Reducer, error) {
	r := &Reducer{
		desc:     m.Descriptor,
		newGuest: func(ctx context.Context) (Guest, error) { return m.Instantiate(ctx) },
		st:       state.New(),
		Fuel:     m.engine.cfg.Limits.TransitionFuel,
	}
	g, err := r.newGuest(ctx)
	if err != nil {
		return nil, err
	}
	r.guest, r.pristine = g, true
	return r, nil
}

// NewNativeReducer returns a reducer that runs a catalog natively, through
// the same abi encoding as a wasm module. Tests and benchmarks use it as the
// reference a module must agree with.
func NewNativeReducer(newRunner func() NativeRunner) (*Reducer, error) {
	probe := newRunner()
	var d abi.Descriptor
	if err := canon.Unmarshal(probe.Describe(), &d); err != nil {
		return nil, fmt.Errorf("native catalog descriptor: %w", err)
	}
	if err := d.Check(); err != nil {
		return nil, err
	}
	return &Reducer{
		desc:     d,
		newGuest: func(context.Context) (Guest, error) { return &NativeGuest{R: newRunner()}, nil },
		guest:    &NativeGuest{R: probe},
		st:       state.New(),
		pristine: true,
	}, nil
}

// Descriptor is the catalog's descriptor.
func (r *Reducer) Descriptor() *abi.Descriptor { return &r.desc }

// State is the read model. It must not be modified, and it changes with
// every accepted proposal: readers beside the writer use State().Clone().
func (r *Reducer) State() *state.State { return r.st }

// Rebuilds is the number of times a failed guest was replaced.
func (r *Reducer) Rebuilds() int { return r.rebuilds }

// Apply applies one proposal. An error means the host itself could not go
// on (it could not rebuild a guest); a guest failure is a rejection.
func (r *Reducer) Apply(ctx context.Context, p *abi.Proposal) (Outcome, error) {
	name, ok := r.desc.ResolveTransition(p.Transition)
	if !ok {
		return Outcome{Result: abi.Result{Code: abi.UnknownTransition, Detail: p.Transition}, StateHash: r.st.Hash()}, nil
	}
	if r.guest == nil {
		if err := r.rebuild(ctx); err != nil {
			return Outcome{}, err
		}
	}
	pp := *p
	pp.Transition = name
	r.pristine = false
	res, fuel, err := r.guest.Apply(ctx, &pp, r.Fuel)
	if err != nil {
		var ge *GuestError
		if !errors.As(err, &ge) {
			return Outcome{}, err
		}
		r.guest.Close(ctx)
		r.guest = nil
		return Outcome{Transition: name, Result: abi.Result{Code: ge.Code, Detail: ge.Detail}, Fuel: ge.Fuel, StateHash: r.st.Hash()}, nil
	}
	var prev []abi.Change
	if res.Accepted() {
		if r.KeepPrevious {
			prev = make([]abi.Change, len(res.Delta))
			for i, c := range res.Delta {
				v, ok := r.st.Get(c.Field, c.Key)
				prev[i] = abi.Change{Field: c.Field, Key: c.Key, Value: v, Deleted: !ok}
			}
		}
		r.st.Apply(res.Delta)
	}
	return Outcome{Transition: name, Result: res, Fuel: fuel, StateHash: r.st.Hash(), Previous: prev}, nil
}

// rebuild replaces a failed guest with a fresh one holding the read model's
// state, and checks that the guest agrees with the read model.
func (r *Reducer) rebuild(ctx context.Context) error {
	g, err := r.newGuest(ctx)
	if err != nil {
		return fmt.Errorf("rebuild catalog instance: %w", err)
	}
	if r.st.Len() > 0 {
		entries := r.st.Entries()
		back, err := r.load(ctx, g, r.desc.Ref(), entries)
		if err == nil && !equalEntries(back, entries) {
			err = r.notVerbatim(back, entries)
		}
		if err != nil {
			g.Close(ctx)
			return fmt.Errorf("rebuild catalog instance: %w", err)
		}
	}
	r.guest, r.pristine = g, false
	r.rebuilds++
	return nil
}

// load imports entries produced by catalog from into g and returns what g
// then exports.
func (r *Reducer) load(ctx context.Context, g Guest, from abi.CatalogRef, entries []abi.Entry) ([]abi.Entry, error) {
	res, err := g.ImportState(ctx, &abi.ImportRequest{From: from, Entries: entries})
	if err != nil {
		return nil, err
	}
	if !res.Accepted() {
		return nil, fmt.Errorf("catalog %s refused the state: %s", r.desc.Ref(), (&GuestError{Code: res.Code, Detail: res.Detail}).Error())
	}
	return g.ExportState(ctx)
}

// notVerbatim describes a guest that does not export the state of its own
// shape it imported.
func (r *Reducer) notVerbatim(back, want []abi.Entry) error {
	return fmt.Errorf("catalog %s holds state %s after import, want %s",
		r.desc.Ref(), state.FromEntries(back).Hash(), state.FromEntries(want).Hash())
}

// equalEntries reports whether two sorted exports are the same, entry for
// entry: cheaper than hashing both.
func equalEntries(a, b []abi.Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Field != b[i].Field || a[i].Key != b[i].Key || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

// Restore replaces the whole state with entries produced by catalog from
// (this catalog, or one it migrates from), as when loading a snapshot. On
// error the state is unchanged. A guest that has run nothing yet takes the
// import itself; otherwise a fresh guest does.
func (r *Reducer) Restore(ctx context.Context, from abi.CatalogRef, entries []abi.Entry) error {
	_, err := r.importState(ctx, from, entries, nil)
	return err
}

// TakeOver replaces the whole state with st, the state of catalog from, as
// at a catalog swap: the guest imports it (migrating it if it declares a
// migration from from) and the read model becomes what the guest then
// exports. same reports that the export is st entry for entry; the read
// model is then a copy of st, with no rehashing. On error the state is
// unchanged. st is not modified.
func (r *Reducer) TakeOver(ctx context.Context, from abi.CatalogRef, st *state.State) (same bool, err error) {
	return r.importState(ctx, from, st.Entries(), st)
}

// importState is Restore and TakeOver: entries are the state imported, st
// (optional) the same state already built.
func (r *Reducer) importState(ctx context.Context, from abi.CatalogRef, entries []abi.Entry, st *state.State) (bool, error) {
	g, own := r.guest, r.pristine && r.guest != nil
	if !own {
		var err error
		if g, err = r.newGuest(ctx); err != nil {
			return false, err
		}
	}
	r.pristine = false
	fail := func(err error) (bool, error) {
		g.Close(ctx)
		if own {
			r.guest = nil // the next Apply rebuilds a guest from the read model
		}
		return false, err
	}
	back, err := r.load(ctx, g, from, entries)
	if err != nil {
		return fail(err)
	}
	same := equalEntries(back, entries)
	if !same && from == r.desc.Ref() {
		// A state of the catalog's own shape must come back as it went in.
		return fail(r.notVerbatim(back, entries))
	}
	next := st
	switch {
	case same && st != nil:
		next = st.Clone()
	default:
		next = state.FromEntries(back)
	}
	if r.guest != nil && !own {
		r.guest.Close(ctx)
	}
	r.guest, r.st = g, next
	return same, nil
}

// ExportGuestState asks the guest for its whole state (the read model is
// the cheap way to read state; this is for verification).
func (r *Reducer) ExportGuestState(ctx context.Context) ([]abi.Entry, error) {
	r.pristine = false
	if r.guest == nil {
		if err := r.rebuild(ctx); err != nil {
			return nil, err
		}
	}
	return r.guest.ExportState(ctx)
}

// Close releases the guest.
func (r *Reducer) Close(ctx context.Context) error {
	if r.guest == nil {
		return nil
	}
	err := r.guest.Close(ctx)
	r.guest = nil
	return err
}
