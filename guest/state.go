package guest

import (
	"fmt"
	"slices"
	"sort"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/abi/canon"
)

// store holds a runner's state as canonical JSON bytes per (field, key).
// Keeping bytes rather than decoded values means a Get always hands the
// author a fresh copy (so nothing can change state behind the undo log),
// and a delta is the stored bytes themselves.
type store struct {
	fields []map[string][]byte // indexed like Catalog.fields
}

func newStore(n int) store {
	s := store{fields: make([]map[string][]byte, n)}
	for i := range s.fields {
		s.fields[i] = map[string][]byte{}
	}
	return s
}

// Tx is the view of state a transition runs against. Every write is
// recorded so that a rejection can undo it and an acceptance can report
// exactly what changed.
type Tx struct {
	st       *store
	c        *Catalog
	p        *abi.Proposal
	readOnly bool
	undo     []undoEntry
	output   []byte
}

type undoEntry struct {
	field   int
	key     string
	old     []byte
	existed bool
}

// Index is the WAL index this transition will have if it is accepted.
func (tx *Tx) Index() uint64 { return tx.p.Index }

// Timestamp is the time the primary assigned to the proposal, in unix
// nanoseconds. It is recorded, so replays see the same value.
func (tx *Tx) Timestamp() int64 { return tx.p.Timestamp }

// Signer is the proposal's signer.
func (tx *Tx) Signer() string { return tx.p.Signer }

// HLC is the proposal's hybrid logical clock value, as submitted.
func (tx *Tx) HLC() string { return tx.p.HLC }

// WindowID is the proposal's window identifier.
func (tx *Tx) WindowID() string { return tx.p.WindowID }

// IdemKey is the proposal's idempotency key.
func (tx *Tx) IdemKey() string { return tx.p.IdemKey }

// InputsHash is the hash of the inputs the submitter declared.
func (tx *Tx) InputsHash() string { return tx.p.InputsHash }

// Evidence lists the evidence references submitted with the proposal.
func (tx *Tx) Evidence() []string { return append([]string(nil), tx.p.Evidence...) }

// Transition is the catalogued name of the running transition.
func (tx *Tx) Transition() string { return tx.p.Transition }

// SetOutput sets the value returned to the submitter with the result.
func (tx *Tx) SetOutput(v any) {
	b, err := canon.Marshal(v)
	if err != nil {
		panic(&Rejection{Code: abi.GuestPanic, Detail: "cannot encode output: " + err.Error()})
	}
	tx.output = b
}

func (tx *Tx) get(field int, key string) ([]byte, bool) {
	v, ok := tx.st.fields[field][key]
	return v, ok
}

func (tx *Tx) put(field int, key string, v []byte, del bool) {
	if tx.readOnly {
		panic(&Rejection{Code: abi.GuestPanic,
			Detail: fmt.Sprintf("guard of %s wrote state field %q", tx.p.Transition, tx.c.fields[field].name)})
	}
	m := tx.st.fields[field]
	old, existed := m[key]
	if del && !existed {
		return
	}
	tx.undo = append(tx.undo, undoEntry{field: field, key: key, old: old, existed: existed})
	if del {
		delete(m, key)
	} else {
		m[key] = v
	}
}

// rollback restores every entry the transaction wrote, newest first.
func (tx *Tx) rollback() {
	for i := len(tx.undo) - 1; i >= 0; i-- {
		u := tx.undo[i]
		if u.existed {
			tx.st.fields[u.field][u.key] = u.old
		} else {
			delete(tx.st.fields[u.field], u.key)
		}
	}
	tx.undo = tx.undo[:0]
}

// delta lists each touched entry whose final value differs from its value
// before the transaction, sorted by field name, then key.
func (tx *Tx) delta() []abi.Change {
	if len(tx.undo) == 0 {
		return nil
	}
	out := make([]abi.Change, 0, len(tx.undo))
	// The first undo entry of a (field, key) holds its value before the
	// transaction; later ones are skipped. A short log is scanned, a long
	// one indexed, so a transition touching many keys stays linear.
	var seen map[undoKey]struct{}
	if len(tx.undo) > 16 {
		seen = make(map[undoKey]struct{}, len(tx.undo))
	}
	for i, u := range tx.undo {
		if seen != nil {
			k := undoKey{u.field, u.key}
			if _, dup := seen[k]; dup {
				continue
			}
			seen[k] = struct{}{}
		} else if seenBefore(tx.undo[:i], u.field, u.key) {
			continue
		}
		cur, exists := tx.st.fields[u.field][u.key]
		switch {
		case !exists && !u.existed:
			continue
		case exists && u.existed && string(cur) == string(u.old):
			continue
		}
		out = append(out, abi.Change{Field: tx.c.fields[u.field].name, Key: u.key, Value: cur, Deleted: !exists})
	}
	if len(out) > 1 {
		slices.SortFunc(out, func(a, b abi.Change) int { return abi.CompareEntry(a.Field, a.Key, b.Field, b.Key) })
	}
	return out
}

type undoKey struct {
	field int
	key   string
}

// seenBefore reports whether (field, key) already appears in the undo
// entries; the first appearance holds the value before the transaction.
func seenBefore(undo []undoEntry, field int, key string) bool {
	for i := range undo {
		if undo[i].field == field && undo[i].key == key {
			return true
		}
	}
	return false
}

func encodeValue(name string, v any) []byte {
	b, err := canon.Marshal(v)
	if err != nil {
		panic(&Rejection{Code: abi.GuestPanic, Detail: fmt.Sprintf("cannot encode state field %q: %v", name, err)})
	}
	return b
}

func decodeValue(name, key string, b []byte, v any) {
	if err := canon.Unmarshal(b, v); err != nil {
		panic(&Rejection{Code: abi.GuestPanic, Detail: fmt.Sprintf("state field %q key %q does not decode: %v", name, key, err)})
	}
}

func decodeInputs(b []byte, v any) error { return canon.Unmarshal(b, v) }

// Value is a state field holding one value of type T.
type Value[T any] struct {
	c  *Catalog
	id int
}

// NewValue declares a state field holding one value. Its JSON name in the
// state view is name.
func NewValue[T any](c *Catalog, name, doc string) *Value[T] {
	return &Value[T]{c: c, id: c.addField(name, abi.FieldValue, doc)}
}

// Get returns a copy of the value, or the zero value when it was never set.
func (f *Value[T]) Get(tx *Tx) T {
	var v T
	if b, ok := tx.get(f.id, ""); ok {
		decodeValue(f.c.fields[f.id].name, "", b, &v)
	}
	return v
}

// IsSet reports whether the value was ever set (and not cleared).
func (f *Value[T]) IsSet(tx *Tx) bool {
	_, ok := tx.get(f.id, "")
	return ok
}

// Set stores v.
func (f *Value[T]) Set(tx *Tx, v T) { tx.put(f.id, "", encodeValue(f.c.fields[f.id].name, v), false) }

// Clear removes the value.
func (f *Value[T]) Clear(tx *Tx) { tx.put(f.id, "", nil, true) }

// Map is a state field holding values of type T by string key.
type Map[T any] struct {
	c  *Catalog
	id int
}

// NewMap declares a state field that maps string keys to values of type T.
func NewMap[T any](c *Catalog, name, doc string) *Map[T] {
	return &Map[T]{c: c, id: c.addField(name, abi.FieldMap, doc)}
}

// Get returns a copy of the value under key.
func (f *Map[T]) Get(tx *Tx, key string) (T, bool) {
	var v T
	b, ok := tx.get(f.id, key)
	if ok {
		decodeValue(f.c.fields[f.id].name, key, b, &v)
	}
	return v, ok
}

// Has reports whether key is present.
func (f *Map[T]) Has(tx *Tx, key string) bool {
	_, ok := tx.get(f.id, key)
	return ok
}

// Set stores v under key.
func (f *Map[T]) Set(tx *Tx, key string, v T) {
	tx.put(f.id, key, encodeValue(f.c.fields[f.id].name, v), false)
}

// Delete removes key.
func (f *Map[T]) Delete(tx *Tx, key string) { tx.put(f.id, key, nil, true) }

// Len is the number of keys.
func (f *Map[T]) Len(tx *Tx) int { return len(tx.st.fields[f.id]) }

// Keys returns the keys in sorted order. It costs in proportion to the size
// of the map: keep it off hot transitions of large maps.
func (f *Map[T]) Keys(tx *Tx) []string {
	m := tx.st.fields[f.id]
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
