package state

import (
	"fmt"
	"sort"
	"strings"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/abi/canon"
)

// State is the read model. It is not safe for concurrent mutation; readers
// that run beside the writer take a Clone.
type State struct {
	fields map[string]map[string][]byte
	n      int
	acc    lthash
	hash   Hash
	dirty  bool
	x      *scratch // hashing buffers, made on first use
}

// scratch returns the state's hashing buffers.
func (s *State) scratch() *scratch {
	if s.x == nil {
		s.x = newScratch()
	}
	return s.x
}

// New returns an empty state.
func New() *State {
	s := &State{fields: map[string]map[string][]byte{}}
	s.hash = s.acc.digest(s.scratch())
	return s
}

// FromEntries builds a state from a full export (any order).
func FromEntries(entries []abi.Entry) *State {
	s := New()
	x := s.scratch()
	for _, e := range entries {
		m := s.fields[e.Field]
		if m == nil {
			m = map[string][]byte{}
			s.fields[e.Field] = m
		}
		if old, ok := m[e.Key]; ok {
			s.acc.sub(x.expand(e.Field, e.Key, old))
			s.n--
		}
		m[e.Key] = append([]byte(nil), e.Value...)
		s.acc.add(x.expand(e.Field, e.Key, e.Value))
		s.n++
	}
	s.dirty = true
	return s
}

// Apply applies a delta. Values are copied.
func (s *State) Apply(delta []abi.Change) {
	x := s.scratch()
	for i := range delta {
		c := &delta[i]
		m := s.fields[c.Field]
		if old, ok := m[c.Key]; ok {
			s.acc.sub(x.expand(c.Field, c.Key, old))
			s.n--
			if c.Deleted {
				delete(m, c.Key)
				if len(m) == 0 {
					delete(s.fields, c.Field)
				}
			}
		}
		if c.Deleted {
			continue
		}
		if m == nil {
			m = map[string][]byte{}
			s.fields[c.Field] = m
		}
		m[c.Key] = append([]byte(nil), c.Value...)
		s.acc.add(x.expand(c.Field, c.Key, c.Value))
		s.n++
	}
	if len(delta) > 0 {
		s.dirty = true
	}
}

// Hash returns the state hash.
func (s *State) Hash() Hash {
	if s.dirty {
		s.hash = s.acc.digest(s.scratch())
		s.dirty = false
	}
	return s.hash
}

// Len is the number of entries.
func (s *State) Len() int { return s.n }

// Get returns the value at (field, key).
func (s *State) Get(field, key string) ([]byte, bool) {
	v, ok := s.fields[field][key]
	return v, ok
}

// Entries returns every entry sorted by field, then key. Values are shared
// with the state: do not modify them.
func (s *State) Entries() []abi.Entry {
	names := make([]string, 0, len(s.fields))
	for f := range s.fields {
		names = append(names, f)
	}
	sort.Strings(names)
	out := make([]abi.Entry, 0, s.n)
	for _, f := range names {
		m := s.fields[f]
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(out, abi.Entry{Field: f, Key: k, Value: m[k]})
		}
	}
	return out
}

// Clone returns an independent copy (values are immutable once stored, so
// they are shared).
func (s *State) Clone() *State {
	c := &State{fields: make(map[string]map[string][]byte, len(s.fields)), n: s.n, acc: s.acc, hash: s.hash, dirty: s.dirty}
	for f, m := range s.fields {
		cm := make(map[string][]byte, len(m))
		for k, v := range m {
			cm[k] = v
		}
		c.fields[f] = cm
	}
	return c
}

// View renders the state as one JSON object: each declared field by name,
// a value field as its value (null when unset), a map field as an object of
// its keys. Fields the descriptor does not declare are rendered as maps
// under their own names, so nothing in the state is ever hidden.
func (s *State) View(d *abi.Descriptor) []byte {
	type fieldView struct {
		name string
		kind abi.FieldKind
	}
	var fields []fieldView
	declared := map[string]bool{}
	for _, f := range d.Fields {
		fields = append(fields, fieldView{f.Name, f.Kind})
		declared[f.Name] = true
	}
	for f := range s.fields {
		if !declared[f] {
			fields = append(fields, fieldView{f, abi.FieldMap})
		}
	}
	sort.Slice(fields, func(i, j int) bool { return fields[i].name < fields[j].name })
	out := []byte{'{'}
	for i, f := range fields {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendJSONString(out, f.name)
		out = append(out, ':')
		out = s.appendField(out, f.name, f.kind)
	}
	return append(out, '}')
}

// FieldView renders one field as View does.
func (s *State) FieldView(d *abi.Descriptor, name string) ([]byte, error) {
	kind := abi.FieldMap
	if f, ok := d.Field(name); ok {
		kind = f.Kind
	} else if _, ok := s.fields[name]; !ok {
		return nil, fmt.Errorf("no state field %q", name)
	}
	return s.appendField(nil, name, kind), nil
}

func (s *State) appendField(out []byte, name string, kind abi.FieldKind) []byte {
	m := s.fields[name]
	if kind == abi.FieldValue {
		if v, ok := m[""]; ok {
			return append(out, v...)
		}
		return append(out, "null"...)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out = append(out, '{')
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendJSONString(out, k)
		out = append(out, ':')
		out = append(out, m[k]...)
	}
	return append(out, '}')
}

// appendJSONString writes s as a canonical JSON string. Keys a guest
// reported are normally valid UTF-8; any invalid byte is shown as U+FFFD so
// the view is always valid JSON.
func appendJSONString(dst []byte, s string) []byte {
	out, err := canon.AppendString(dst, s)
	if err != nil {
		out, _ = canon.AppendString(dst, strings.ToValidUTF8(s, "\uFFFD"))
	}
	return out
}
