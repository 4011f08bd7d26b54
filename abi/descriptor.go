package abi

import (
	"fmt"
	"sort"
	"strings"
)

// Descriptor is what a catalog module says about itself, readable without
// running any transition. It travels as canonical JSON.
type Descriptor struct {
	ABI          int              `json:"abi"`
	Name         string           `json:"name"`
	Version      string           `json:"version"`
	Doc          string           `json:"doc,omitempty"`
	Fields       []FieldInfo      `json:"fields"`
	Transitions  []TransitionInfo `json:"transitions"`
	MigratesFrom []MigrationInfo  `json:"migrates_from,omitempty"`
}

// FieldKind says how a state field is shaped in the state view: a single
// value (one entry with the empty key) or a map of keyed entries.
type FieldKind string

const (
	FieldValue FieldKind = "value"
	FieldMap   FieldKind = "map"
)

// FieldInfo describes one top-level state field.
type FieldInfo struct {
	Name string    `json:"name"`
	Kind FieldKind `json:"kind"`
	Doc  string    `json:"doc,omitempty"`
}

// TransitionInfo describes one transition and the inputs it takes.
type TransitionInfo struct {
	Name   string      `json:"name"`
	Doc    string      `json:"doc,omitempty"`
	Inputs []InputInfo `json:"inputs,omitempty"`
}

// InputInfo describes one member of a transition's inputs object.
type InputInfo struct {
	Name string `json:"name"`
	Type string `json:"type"` // JSON type: string, integer, number, boolean, object, array
}

// MigrationInfo declares that a catalog can take over the state of another
// catalog version. Versions is a version or a prefix ending in '*'.
type MigrationInfo struct {
	Catalog  string `json:"catalog"`
	Versions string `json:"versions"`
	Doc      string `json:"doc,omitempty"`
}

// Ref is the descriptor's catalog name and version.
func (d *Descriptor) Ref() CatalogRef { return CatalogRef{Name: d.Name, Version: d.Version} }

// Check reports every structural problem of a descriptor, or nil.
func (d *Descriptor) Check() error {
	var problems []string
	if d.ABI != Version {
		problems = append(problems, fmt.Sprintf("descriptor ABI version %d, want %d", d.ABI, Version))
	}
	if d.Name == "" {
		problems = append(problems, "catalog name is empty")
	}
	if d.Version == "" {
		problems = append(problems, "catalog version is empty")
	}
	seen := map[string]bool{}
	for _, f := range d.Fields {
		switch {
		case f.Name == "":
			problems = append(problems, "a state field has an empty name")
		case seen["f:"+f.Name]:
			problems = append(problems, fmt.Sprintf("state field %q declared twice", f.Name))
		case f.Kind != FieldValue && f.Kind != FieldMap:
			problems = append(problems, fmt.Sprintf("state field %q has unknown kind %q", f.Name, f.Kind))
		}
		seen["f:"+f.Name] = true
	}
	for _, t := range d.Transitions {
		switch {
		case t.Name == "":
			problems = append(problems, "a transition has an empty name")
		case seen["t:"+t.Name]:
			problems = append(problems, fmt.Sprintf("transition %q declared twice", t.Name))
		}
		seen["t:"+t.Name] = true
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid catalog descriptor: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Field returns the field's description.
func (d *Descriptor) Field(name string) (FieldInfo, bool) {
	for _, f := range d.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return FieldInfo{}, false
}

// TransitionPrefix is the conventional prefix of transition names. A
// proposal may name a transition with or without it (SWOOSH clients send
// both "TRANSITION_LICENSE_GRANTED" and "LICENSE_GRANTED").
const TransitionPrefix = "TRANSITION_"

// ResolveTransition maps a submitted transition name to the catalogued name.
func (d *Descriptor) ResolveTransition(name string) (string, bool) {
	var alt string
	if strings.HasPrefix(name, TransitionPrefix) {
		alt = strings.TrimPrefix(name, TransitionPrefix)
	} else {
		alt = TransitionPrefix + name
	}
	found := ""
	for _, t := range d.Transitions {
		if t.Name == name {
			return name, true
		}
		if t.Name == alt {
			found = alt
		}
	}
	return found, found != ""
}

// MigratesFromRef reports whether the catalog declares a migration from ref.
func (d *Descriptor) MigratesFromRef(ref CatalogRef) bool {
	for _, m := range d.MigratesFrom {
		if m.Catalog == ref.Name && VersionMatches(m.Versions, ref.Version) {
			return true
		}
	}
	return false
}

// VersionMatches matches a version against a pattern: an exact version, or
// a prefix ending in '*'.
func VersionMatches(pattern, version string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(version, p)
	}
	return pattern == version
}

// TransitionNames returns the catalogued transition names, sorted.
func (d *Descriptor) TransitionNames() []string {
	names := make([]string, len(d.Transitions))
	for i, t := range d.Transitions {
		names[i] = t.Name
	}
	sort.Strings(names)
	return names
}
