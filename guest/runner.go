package guest

import (
	"fmt"
	"sort"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/abi/canon"
)

// Runner holds one live copy of a catalog's state and answers the abi
// calls on encoded bytes. The wasm exports are a thin shim over a Runner;
// natively, the host and tests use a Runner directly. A Runner is not safe
// for concurrent use: the host applies transitions one at a time.
type Runner struct {
	c   *Catalog
	st  store
	tx  Tx
	out []byte
}

// NewRunner returns a runner with an empty state.
func NewRunner(c *Catalog) *Runner {
	r := &Runner{c: c, st: newStore(len(c.fields))}
	r.tx = Tx{st: &r.st, c: c}
	return r
}

// Catalog returns the runner's catalog.
func (r *Runner) Catalog() *Catalog { return r.c }

// Describe returns the canonical JSON descriptor. The slice is shared:
// do not modify it.
func (r *Runner) Describe() []byte {
	if r.c.descriptor == nil {
		d := r.c.Descriptor()
		b, err := canon.Marshal(&d)
		if err != nil {
			panic(fmt.Sprintf("guest: cannot encode descriptor: %v", err))
		}
		r.c.descriptor = b
	}
	return r.c.descriptor
}

// Apply applies an encoded abi.Proposal and returns the encoded abi.Result.
// The returned slice is valid until the next call on the runner.
func (r *Runner) Apply(req []byte) []byte {
	res := r.apply(req)
	r.out = abi.AppendResult(r.out[:0], &res)
	return r.out
}

func (r *Runner) apply(req []byte) abi.Result {
	p, err := abi.DecodeProposal(req)
	if err != nil {
		return abi.Result{Code: abi.ABIViolation, Detail: err.Error()}
	}
	t, ok := r.c.transitions[p.Transition]
	if !ok {
		return abi.Result{Code: abi.UnknownTransition, Detail: p.Transition}
	}
	tx := &r.tx
	tx.p, tx.output, tx.undo = &p, nil, tx.undo[:0]
	if rej := run(func() error { return t.apply(tx, p.Inputs) }); rej != nil {
		tx.rollback()
		tx.p = nil
		return abi.Result{Code: rej.Code, Detail: rej.Detail}
	}
	res := abi.Result{Code: abi.OK, Output: tx.output, Delta: tx.delta()}
	tx.undo, tx.p, tx.output = tx.undo[:0], nil, nil
	return res
}

// run calls fn and turns an error or a panic into a rejection.
func run(fn func() error) (rej *Rejection) {
	defer func() {
		if v := recover(); v != nil {
			if r, ok := v.(*Rejection); ok {
				rej = r
				return
			}
			rej = &Rejection{Code: abi.GuestPanic, Detail: fmt.Sprint(v)}
		}
	}()
	if err := fn(); err != nil {
		return asRejection(err, abi.PreconditionFailed)
	}
	return nil
}

// ExportState returns the whole state, encoded by abi.AppendState. The
// returned slice is valid until the next call on the runner.
func (r *Runner) ExportState() []byte {
	r.out = abi.AppendState(r.out[:0], r.entries())
	return r.out
}

func (r *Runner) entries() []abi.Entry {
	order := make([]int, len(r.c.fields))
	n := 0
	for i := range order {
		order[i] = i
		n += len(r.st.fields[i])
	}
	sort.Slice(order, func(a, b int) bool { return r.c.fields[order[a]].name < r.c.fields[order[b]].name })
	entries := make([]abi.Entry, 0, n)
	for _, fi := range order {
		m := r.st.fields[fi]
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			entries = append(entries, abi.Entry{Field: r.c.fields[fi].name, Key: k, Value: m[k]})
		}
	}
	return entries
}

// ImportState replaces the whole state with an encoded abi.ImportRequest,
// migrating it when it comes from another catalog that this one declares a
// migration from. It is all or nothing: on a rejection the state is as it
// was. The returned slice is valid until the next call on the runner.
func (r *Runner) ImportState(req []byte) []byte {
	res := r.importState(req)
	r.out = abi.AppendResult(r.out[:0], &res)
	return r.out
}

func (r *Runner) importState(req []byte) abi.Result {
	in, err := abi.DecodeImport(req)
	if err != nil {
		return abi.Result{Code: abi.ABIViolation, Detail: err.Error()}
	}
	self := abi.CatalogRef{Name: r.c.name, Version: r.c.version}
	var mig *migration
	for i := range r.c.migrations {
		m := &r.c.migrations[i]
		if m.info.Catalog == in.From.Name && abi.VersionMatches(m.info.Versions, in.From.Version) {
			mig = m
			break
		}
	}
	next := newStore(len(r.c.fields))
	switch {
	case mig != nil && in.From != self:
		m := &Migration{From: in.From, old: map[string]map[string][]byte{}}
		for _, e := range in.Entries {
			if m.old[e.Field] == nil {
				m.old[e.Field] = map[string][]byte{}
			}
			m.old[e.Field][e.Key] = clone(e.Value)
		}
		m.tx = Tx{st: &next, c: r.c, p: &abi.Proposal{Transition: "migration from " + in.From.String()}}
		if rej := run(func() error { return mig.fn(m) }); rej != nil {
			return abi.Result{Code: rej.Code, Detail: "migration from " + in.From.String() + ": " + rej.Detail}
		}
	case in.From.Name == r.c.name:
		for _, e := range in.Entries {
			fi, ok := r.c.fieldIndex[e.Field]
			if !ok {
				return abi.Result{Code: abi.PreconditionFailed,
					Detail: fmt.Sprintf("state from %s has field %q, unknown to %s and no migration is declared", in.From, e.Field, self)}
			}
			if r.c.fields[fi].kind == abi.FieldValue && e.Key != "" {
				return abi.Result{Code: abi.PreconditionFailed,
					Detail: fmt.Sprintf("state from %s has key %q in value field %q", in.From, e.Key, e.Field)}
			}
			next.fields[fi][e.Key] = clone(e.Value)
		}
	default:
		return abi.Result{Code: abi.PreconditionFailed,
			Detail: fmt.Sprintf("%s declares no migration from %s", self, in.From)}
	}
	r.st.fields = next.fields
	return abi.Result{Code: abi.OK}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// Migration gives a migration function the state of the catalog version it
// migrates from, and a transaction over the new (initially empty) state.
type Migration struct {
	From abi.CatalogRef
	old  map[string]map[string][]byte
	tx   Tx
}

// Tx is the transaction that writes the migrated state; use the catalog's
// field handles with it.
func (m *Migration) Tx() *Tx { return &m.tx }

// Keys lists the keys of an old field, sorted ("" for a value field).
func (m *Migration) Keys(field string) []string {
	keys := make([]string, 0, len(m.old[field]))
	for k := range m.old[field] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Decode decodes the old value at (field, key) into v and reports whether
// it existed.
func (m *Migration) Decode(field, key string, v any) (bool, error) {
	b, ok := m.old[field][key]
	if !ok {
		return false, nil
	}
	if err := canon.Unmarshal(b, v); err != nil {
		return true, fmt.Errorf("old field %q key %q: %w", field, key, err)
	}
	return true, nil
}
