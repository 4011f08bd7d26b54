package host

import (
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
	// rebuilds counts guests restored after a failure.
	rebuilds int
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
	r.guest = g
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
	if res.Accepted() {
		r.st.Apply(res.Delta)
	}
	return Outcome{Transition: name, Result: res, Fuel: fuel, StateHash: r.st.Hash()}, nil
}

// rebuild replaces a failed guest with a fresh one holding the read model's
// state, and checks that the guest agrees with the read model.
func (r *Reducer) rebuild(ctx context.Context) error {
	g, err := r.newGuest(ctx)
	if err != nil {
		return fmt.Errorf("rebuild catalog instance: %w", err)
	}
	if r.st.Len() > 0 {
		if _, err := r.load(ctx, g, r.desc.Ref(), r.st.Entries(), r.st.Hash()); err != nil {
			g.Close(ctx)
			return fmt.Errorf("rebuild catalog instance: %w", err)
		}
	}
	r.guest = g
	r.rebuilds++
	return nil
}

// load imports entries into g and, unless want is the zero hash, checks
// that g then exports a state whose hash is want; it returns that export
// (nil when it did not check).
func (r *Reducer) load(ctx context.Context, g Guest, from abi.CatalogRef, entries []abi.Entry, want state.Hash) ([]abi.Entry, error) {
	res, err := g.ImportState(ctx, &abi.ImportRequest{From: from, Entries: entries})
	if err != nil {
		return nil, err
	}
	if !res.Accepted() {
		return nil, fmt.Errorf("catalog %s refused the state: %s", r.desc.Ref(), (&GuestError{Code: res.Code, Detail: res.Detail}).Error())
	}
	if want == (state.Hash{}) {
		return nil, nil
	}
	back, err := g.ExportState(ctx)
	if err != nil {
		return nil, err
	}
	if got := state.FromEntries(back).Hash(); got != want {
		return nil, fmt.Errorf("catalog %s holds state %s after import, want %s", r.desc.Ref(), got, want)
	}
	return back, nil
}

// Restore replaces the whole state with entries produced by catalog from
// (this catalog, or one it migrates from), as when loading a snapshot or
// handing state over at a catalog swap. On error nothing changes.
func (r *Reducer) Restore(ctx context.Context, from abi.CatalogRef, entries []abi.Entry) error {
	g, err := r.newGuest(ctx)
	if err != nil {
		return err
	}
	var want state.Hash
	if from == r.desc.Ref() {
		want = state.FromEntries(entries).Hash()
	}
	back, err := r.load(ctx, g, from, entries, want)
	if err != nil {
		g.Close(ctx)
		return err
	}
	if back == nil {
		// The guest migrated the entries: its export is the new state.
		if back, err = g.ExportState(ctx); err != nil {
			g.Close(ctx)
			return err
		}
	}
	if r.guest != nil {
		r.guest.Close(ctx)
	}
	r.guest, r.st = g, state.FromEntries(back)
	return nil
}

// ExportGuestState asks the guest for its whole state (the read model is
// the cheap way to read state; this is for verification).
func (r *Reducer) ExportGuestState(ctx context.Context) ([]abi.Entry, error) {
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
