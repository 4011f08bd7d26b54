package guest

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/reprise-dev/reprise/abi"
)

// Catalog is a transition catalog: its identity, its state fields and its
// transitions. Declare it once, in a package-level variable, and build
// everything else from it during package initialisation.
type Catalog struct {
	name, version, doc string
	fields             []fieldDecl
	fieldIndex         map[string]int
	transitions        map[string]*transition
	migrations         []migration
	descriptor         []byte // cached canonical JSON
}

type fieldDecl struct {
	name string
	kind abi.FieldKind
	doc  string
}

type transition struct {
	info  abi.TransitionInfo
	apply func(tx *Tx, inputs []byte) error
}

type migration struct {
	info abi.MigrationInfo
	fn   func(m *Migration) error
}

// NewCatalog declares a catalog. Name and version identify it to operators;
// the host identifies a module by the SHA-256 of its bytes.
func NewCatalog(name, version, doc string) *Catalog {
	if name == "" || version == "" {
		panic("guest: catalog name and version must not be empty")
	}
	return &Catalog{
		name: name, version: version, doc: doc,
		fieldIndex:  map[string]int{},
		transitions: map[string]*transition{},
	}
}

// Name returns the catalog's name.
func (c *Catalog) Name() string { return c.name }

// Version returns the catalog's version.
func (c *Catalog) Version() string { return c.version }

func (c *Catalog) addField(name string, kind abi.FieldKind, doc string) int {
	if name == "" || strings.ContainsRune(name, 0) {
		panic(fmt.Sprintf("guest: invalid state field name %q", name))
	}
	if _, dup := c.fieldIndex[name]; dup {
		panic(fmt.Sprintf("guest: state field %q declared twice", name))
	}
	c.fieldIndex[name] = len(c.fields)
	c.fields = append(c.fields, fieldDecl{name: name, kind: kind, doc: doc})
	c.descriptor = nil
	return len(c.fields) - 1
}

// Handler is one transition: Guard decides whether the proposal may be
// applied and must not write state; Apply makes the mutation. Either may
// return an error made with Reject to choose the rejection code; any other
// error from Guard rejects with GuardRejected, and from Apply with
// PreconditionFailed. Whatever Apply wrote before failing is rolled back.
type Handler[In any] struct {
	Doc   string
	Guard func(tx *Tx, in In) error
	Apply func(tx *Tx, in In) error
}

// Transition declares a transition whose inputs decode (strictly, as
// canonical JSON) into In. Use struct{} for a transition without inputs.
func Transition[In any](c *Catalog, name string, h Handler[In]) {
	if name == "" {
		panic("guest: transition name must not be empty")
	}
	if _, dup := c.transitions[name]; dup {
		panic(fmt.Sprintf("guest: transition %q declared twice", name))
	}
	if h.Apply == nil {
		panic(fmt.Sprintf("guest: transition %q has no Apply", name))
	}
	guard, apply := h.Guard, h.Apply
	c.transitions[name] = &transition{
		info: abi.TransitionInfo{Name: name, Doc: h.Doc, Inputs: inputInfo(reflect.TypeFor[In]())},
		apply: func(tx *Tx, raw []byte) error {
			var in In
			if len(raw) > 0 {
				if err := decodeInputs(raw, &in); err != nil {
					return Reject(InvalidInputs, err.Error())
				}
			}
			if guard != nil {
				tx.readOnly = true
				err := guard(tx, in)
				tx.readOnly = false
				if err != nil {
					return asRejection(err, GuardRejected)
				}
			}
			if err := apply(tx, in); err != nil {
				return asRejection(err, PreconditionFailed)
			}
			return nil
		},
	}
	c.descriptor = nil
}

// MigrateFrom declares that this catalog can take over the state of catalog
// `from` at the versions matched by `versions` (exact, or a prefix ending
// in '*'). fn reads the old entries and writes this catalog's fields; it
// runs once, when the host activates this catalog over such a state, and
// again identically on every replay of that activation.
func (c *Catalog) MigrateFrom(from, versions, doc string, fn func(m *Migration) error) {
	c.migrations = append(c.migrations, migration{
		info: abi.MigrationInfo{Catalog: from, Versions: versions, Doc: doc},
		fn:   fn,
	})
	c.descriptor = nil
}

// Descriptor returns the catalog's self-description.
func (c *Catalog) Descriptor() abi.Descriptor {
	d := abi.Descriptor{ABI: abi.Version, Name: c.name, Version: c.version, Doc: c.doc,
		Fields: []abi.FieldInfo{}, Transitions: []abi.TransitionInfo{}}
	for _, f := range c.fields {
		d.Fields = append(d.Fields, abi.FieldInfo{Name: f.name, Kind: f.kind, Doc: f.doc})
	}
	names := make([]string, 0, len(c.transitions))
	for n := range c.transitions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		d.Transitions = append(d.Transitions, c.transitions[n].info)
	}
	for _, m := range c.migrations {
		d.MigratesFrom = append(d.MigratesFrom, m.info)
	}
	return d
}

// inputInfo lists the JSON members of a transition's inputs type.
func inputInfo(t reflect.Type) []abi.InputInfo {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []abi.InputInfo
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag, ok := f.Tag.Lookup("json"); ok {
			tn, _, _ := strings.Cut(tag, ",")
			if tn == "-" {
				continue
			}
			if tn != "" {
				name = tn
			}
		}
		out = append(out, abi.InputInfo{Name: name, Type: jsonType(f.Type)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "string"
		}
		return "array"
	case reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return "any"
}
