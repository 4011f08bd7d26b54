package replay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/state"
	"github.com/reprise-dev/reprise/wal"
)

// Catalogs loads catalog modules by hash (the SHA-256 of their bytes). It
// is trusted to return the module with that hash; the Machine checks the
// module's Hash field and nothing more.
type Catalogs interface {
	Load(ctx context.Context, hash [32]byte) (*host.Module, error)
}

// ModuleSet is a Catalogs over modules that are already loaded: a node
// without a catalog store, and tests. It is safe for concurrent use.
type ModuleSet struct {
	mu   sync.RWMutex
	mods map[[32]byte]*host.Module
}

// NewModuleSet returns a set holding mods.
func NewModuleSet(mods ...*host.Module) *ModuleSet {
	s := &ModuleSet{mods: map[[32]byte]*host.Module{}}
	for _, m := range mods {
		s.Add(m)
	}
	return s
}

// Add makes m available under its hash.
func (s *ModuleSet) Add(m *host.Module) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mods[m.Hash] = m
}

// Load implements Catalogs.
func (s *ModuleSet) Load(_ context.Context, hash [32]byte) (*host.Module, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if m, ok := s.mods[hash]; ok {
		return m, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownCatalog, HashHex(hash))
}

// ErrUnknownCatalog is wrapped by Catalogs implementations that do not hold
// the catalog asked for.
var ErrUnknownCatalog = errors.New("catalog not available")

// WrongCatalogError refuses to run a record under a catalog other than the
// one it names, which only a replay with a forced catalog may do.
type WrongCatalogError struct {
	Index    uint64
	Named    [32]byte
	InForce  [32]byte
	Activate bool // the record is an activation whose predecessor is not the catalog in force
}

func (e *WrongCatalogError) Error() string {
	if e.Activate {
		return fmt.Sprintf("activation record %d replaces catalog %s, but catalog %s is in force", e.Index, HashHex(e.Named), HashHex(e.InForce))
	}
	return fmt.Sprintf("record %d was produced by catalog %s, but catalog %s is in force; force a catalog version to run it under another one",
		e.Index, HashHex(e.Named), HashHex(e.InForce))
}

// Outcome is one side of a record's comparison: what the WAL recorded, or
// what re-applying the record gave.
type Outcome struct {
	Code      string // "" when accepted
	Detail    string
	Output    []byte
	Fuel      uint64
	StateHash state.Hash
	Migrated  *bool // activations only
}

// Step is what re-applying one record did.
type Step struct {
	Record   *wal.Record
	Replayed Outcome
	Delta    []abi.Change // what the replay changed (transitions)
	Previous []abi.Change // the entries Delta replaced, when the machine explains
	// Differences lists how the replay differs from the record, empty when
	// it reproduced it. Each is one readable sentence.
	Differences []string
	// StateDiffers is set when the state hashes differ.
	StateDiffers bool
	// Halted means the machine could not apply the record at all (an
	// activation that failed to hand over): the catalog in force is
	// unchanged and later records cannot be applied.
	Halted bool
	// Drift lists how the host that recorded an activation differs from
	// Engine, the fingerprint of the engine replaying it (see
	// host.Fingerprint.Diff).
	Drift  []string
	Engine host.Fingerprint
	// Skipped is set when a machine with a forced catalog passed over an
	// activation record.
	Skipped bool
}

// Diverged reports whether the replay differs from the record.
func (s *Step) Diverged() bool { return len(s.Differences) > 0 }

// Recorded is what the WAL holds for rec.
func Recorded(rec *wal.Record) Outcome {
	o := Outcome{Code: rec.Code, Output: rec.Output, Fuel: rec.Fuel, StateHash: rec.StateHash}
	if rec.Kind == wal.KindActivation {
		if a, err := DecodeActivation(rec); err == nil {
			o.Migrated = &a.Migrated
		}
	}
	return o
}

// ProposalOf rebuilds the proposal a transition record was applied from.
func ProposalOf(rec *wal.Record) abi.Proposal {
	return abi.Proposal{
		Transition: rec.Transition, Inputs: rec.Inputs, Index: rec.Index, Timestamp: rec.Timestamp,
		Signer: rec.Signer, HLC: rec.HLC, WindowID: rec.WindowID, IdemKey: rec.IdemKey,
		InputsHash: rec.InputsHash, Evidence: rec.Evidence,
	}
}

// Machine is a reducer together with the catalog in force and the
// activation that put it in force, positioned at a WAL index. It applies
// records in order. A Machine is not safe for concurrent use.
type Machine struct {
	catalogs Catalogs
	hash     [32]byte // catalog in force; zero before the first activation
	module   *host.Module
	reducer  *host.Reducer
	act      *Activation // the activation in force; nil when unknown (a log older than activation records)
	actIndex uint64      // index of that activation record
	index    uint64
	forced   bool
	// Explain makes the machine's reducers report the entries each delta
	// replaced (Step.Previous), so that a divergence can be shown as a
	// diff. It costs a lookup per changed entry.
	Explain bool
}

// NewMachine returns a machine at index 0 with no catalog in force, as at
// the start of a log.
func NewMachine(catalogs Catalogs) *Machine { return &Machine{catalogs: catalogs} }

// Index is the index of the last record applied (or of the base state).
func (m *Machine) Index() uint64 { return m.index }

// Hash is the catalog in force; zero before the first activation.
func (m *Machine) Hash() [32]byte { return m.hash }

// Module is the catalog in force; nil before the first activation.
func (m *Machine) Module() *host.Module { return m.module }

// Reducer applies proposals under the catalog in force; nil before the
// first activation.
func (m *Machine) Reducer() *host.Reducer { return m.reducer }

// Activation returns the activation in force and its record index; ok is
// false before the first activation and for a log that predates activation
// records.
func (m *Machine) Activation() (a Activation, index uint64, ok bool) {
	if m.act == nil {
		return Activation{}, 0, false
	}
	return *m.act, m.actIndex, true
}

// State is the read model; an empty state before the first activation.
func (m *Machine) State() *state.State {
	if m.reducer == nil {
		return state.New()
	}
	return m.reducer.State()
}

// Close releases the reducer's guest. The machine's state, catalog and
// position stay readable.
func (m *Machine) Close(ctx context.Context) error {
	if m.reducer == nil {
		return nil
	}
	return m.reducer.Close(ctx)
}

// Base is a known position to start a machine from: a snapshot.
type Base struct {
	Index     uint64
	Catalog   [32]byte
	Act       *Activation // the activation in force at Index, when known
	ActIndex  uint64
	Entries   []abi.Entry
	StateHash state.Hash
}

// Start positions a machine that has applied nothing at base: it loads the
// catalog in force, imports the entries and checks the state hash.
func (m *Machine) Start(ctx context.Context, base Base) error {
	if m.reducer != nil || m.index != 0 {
		return errors.New("replay: Start on a machine that is already positioned")
	}
	mod, err := m.load(ctx, base.Catalog)
	if err != nil {
		return fmt.Errorf("state at index %d: %w", base.Index, err)
	}
	r, err := m.newReducer(ctx, mod)
	if err != nil {
		return fmt.Errorf("state at index %d: %w", base.Index, err)
	}
	if base.Act != nil {
		r.Fuel = base.Act.Fuel
	}
	if err := r.Restore(ctx, r.Descriptor().Ref(), base.Entries); err != nil {
		r.Close(ctx)
		return fmt.Errorf("state at index %d: %w", base.Index, err)
	}
	if got := r.State().Hash(); got != base.StateHash {
		r.Close(ctx)
		return fmt.Errorf("state at index %d holds state %s but records state hash %s", base.Index, got, base.StateHash)
	}
	m.hash, m.module, m.reducer, m.index = base.Catalog, mod, r, base.Index
	m.act, m.actIndex = base.Act, base.ActIndex
	return nil
}

// Fork returns a machine at m's position that runs every later
// transition record under catalog hash, whatever catalog the record names,
// and passes over activation records (taking only their fuel budget). m's
// state is handed over to it (migrated if the catalog declares a migration
// from m's), with m's fuel budget; migrated reports whether it was. m is
// not changed.
func (m *Machine) Fork(ctx context.Context, hash [32]byte) (f *Machine, migrated bool, err error) {
	f = &Machine{catalogs: m.catalogs, act: m.act, actIndex: m.actIndex, index: m.index, forced: true, Explain: m.Explain}
	mod, err := f.load(ctx, hash)
	if err != nil {
		return nil, false, err
	}
	r, err := f.newReducer(ctx, mod)
	if err != nil {
		return nil, false, err
	}
	if m.reducer != nil {
		r.Fuel = m.reducer.Fuel
	}
	if migrated, err = Handover(ctx, m.reducer, r); err != nil {
		r.Close(ctx)
		return nil, false, err
	}
	f.hash, f.module, f.reducer = hash, mod, r
	return f, migrated, nil
}

func (m *Machine) newReducer(ctx context.Context, mod *host.Module) (*host.Reducer, error) {
	r, err := host.NewReducer(ctx, mod)
	if err != nil {
		return nil, err
	}
	r.KeepPrevious = m.Explain
	return r, nil
}

func (m *Machine) load(ctx context.Context, hash [32]byte) (*host.Module, error) {
	if m.catalogs == nil {
		return nil, fmt.Errorf("%w: %s (no catalogs to load it from)", ErrUnknownCatalog, HashHex(hash))
	}
	mod, err := m.catalogs.Load(ctx, hash)
	if err != nil {
		return nil, fmt.Errorf("load catalog %s: %w", HashHex(hash), err)
	}
	if mod.Hash != hash {
		return nil, fmt.Errorf("load catalog %s: the catalogs returned module %s", HashHex(hash), mod.HashHex())
	}
	return mod, nil
}

// Adopt puts a catalog in force whose activation was decided outside the
// machine (the executor's live swap): to has taken the state over and rec
// is the durable activation record. The previous reducer is closed.
func (m *Machine) Adopt(ctx context.Context, module *host.Module, to *host.Reducer, a Activation, index uint64) {
	m.Close(ctx)
	m.hash, m.module, m.reducer = module.Hash, module, to
	m.act, m.actIndex, m.index = &a, index, index
}

// Advance moves the machine's index past a record applied through its
// reducer directly (the executor's live path).
func (m *Machine) Advance(index uint64) { m.index = index }

// Apply re-applies rec, the record after the machine's index, and compares
// the outcome with what rec recorded. A difference is reported in the
// Step, not as an error; errors are for records that cannot be run at all
// (a gap, a catalog not available, a record naming another catalog than
// the one in force).
func (m *Machine) Apply(ctx context.Context, rec *wal.Record) (Step, error) {
	if rec.Index != m.index+1 {
		return Step{}, fmt.Errorf("replay: record %d does not follow index %d", rec.Index, m.index)
	}
	switch rec.Kind {
	case wal.KindTransition:
		return m.applyTransition(ctx, rec)
	case wal.KindActivation:
		return m.applyActivation(ctx, rec)
	}
	return Step{}, fmt.Errorf("record %d is a %s record, which this version cannot replay", rec.Index, rec.Kind)
}

func (m *Machine) applyTransition(ctx context.Context, rec *wal.Record) (Step, error) {
	if m.reducer == nil {
		// A log written before activation records existed starts with a
		// transition: the catalog it names is in force from the start.
		if m.index != 0 {
			return Step{}, fmt.Errorf("record %d: no catalog is in force", rec.Index)
		}
		mod, err := m.load(ctx, rec.CatalogHash)
		if err != nil {
			return Step{}, fmt.Errorf("record %d: %w", rec.Index, err)
		}
		r, err := m.newReducer(ctx, mod)
		if err != nil {
			return Step{}, fmt.Errorf("record %d: %w", rec.Index, err)
		}
		m.hash, m.module, m.reducer = rec.CatalogHash, mod, r
	}
	if rec.CatalogHash != m.hash && !m.forced {
		return Step{}, &WrongCatalogError{Index: rec.Index, Named: rec.CatalogHash, InForce: m.hash}
	}
	p := ProposalOf(rec)
	out, err := m.reducer.Apply(ctx, &p)
	if err != nil {
		return Step{}, fmt.Errorf("replay record %d: %w", rec.Index, err)
	}
	m.index = rec.Index
	st := Step{Record: rec, Delta: out.Result.Delta, Previous: out.Previous, Replayed: Outcome{
		Detail: out.Result.Detail, Output: out.Result.Output, Fuel: out.Fuel, StateHash: out.StateHash,
	}}
	if !out.Result.Accepted() {
		st.Replayed.Code = out.Result.Code.Slug()
	}
	st.compare(rec)
	return st, nil
}

// compare fills in the differences between the step and the record.
func (s *Step) compare(rec *wal.Record) {
	if s.Replayed.Code != rec.Code {
		s.Differences = append(s.Differences, fmt.Sprintf("recorded as %s, replays as %s", codeName(rec.Code), codeDetail(s.Replayed)))
	}
	if s.Replayed.StateHash != state.Hash(rec.StateHash) {
		s.StateDiffers = true
		s.Differences = append(s.Differences, "state hash differs")
	}
	if !bytes.Equal(s.Replayed.Output, rec.Output) {
		s.Differences = append(s.Differences, fmt.Sprintf("output differs: recorded %s, replayed %s", orNone(rec.Output), orNone(s.Replayed.Output)))
	}
}

func codeName(code string) string {
	if code == "" {
		return "accepted"
	}
	return code
}

func codeDetail(o Outcome) string {
	if o.Code == "" {
		return "accepted"
	}
	if o.Detail == "" {
		return o.Code
	}
	return o.Code + " (" + o.Detail + ")"
}

func orNone(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	return string(b)
}

func (m *Machine) applyActivation(ctx context.Context, rec *wal.Record) (Step, error) {
	a, err := DecodeActivation(rec)
	if err != nil {
		return Step{}, err
	}
	if m.forced {
		m.index = rec.Index
		m.reducer.Fuel = a.Fuel
		return Step{Record: rec, Skipped: true, Replayed: Outcome{StateHash: m.reducer.State().Hash()}}, nil
	}
	replaced, _ := a.ReplacedHash()
	switch {
	case a.Genesis() && (m.reducer != nil || m.index != 0):
		return Step{}, fmt.Errorf("activation record %d starts a log, but it follows index %d", rec.Index, m.index)
	case !a.Genesis() && replaced != m.hash:
		return Step{}, &WrongCatalogError{Index: rec.Index, Named: replaced, InForce: m.hash, Activate: true}
	}
	mod, err := m.load(ctx, rec.CatalogHash)
	if err != nil {
		return Step{}, fmt.Errorf("activation record %d: %w", rec.Index, err)
	}
	to, err := m.newReducer(ctx, mod)
	if err != nil {
		return Step{}, fmt.Errorf("activation record %d: %w", rec.Index, err)
	}
	to.Fuel = a.Fuel
	st := Step{Record: rec, Engine: mod.Engine().Fingerprint()}
	st.Drift = a.Fingerprint.Diff(st.Engine)
	migrated, err := Handover(ctx, m.reducer, to)
	if err != nil {
		to.Close(ctx)
		st.Halted = true
		st.Replayed = Outcome{Code: "refused", Detail: err.Error(), StateHash: m.State().Hash()}
		st.Differences = []string{"recorded as accepted, replays as refused: " + err.Error()}
		return st, nil
	}
	st.Replayed = Outcome{StateHash: to.State().Hash(), Migrated: &migrated}
	if migrated != a.Migrated {
		st.Differences = append(st.Differences, fmt.Sprintf("recorded migrated=%t, replays migrated=%t", a.Migrated, migrated))
	}
	if st.Replayed.StateHash != state.Hash(rec.StateHash) {
		st.StateDiffers = true
		st.Differences = append(st.Differences, "state hash differs")
	}
	m.Adopt(ctx, mod, to, a, rec.Index)
	return st, nil
}
