package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host/state"
)

// A projection selects parts of the state (GET /state?projection=,
// GET /v1/state?projection=). Its syntax:
//
//	projection = path *( "," path )
//	path       = segment *( "." segment )
//	segment    = 1*( char / "~0" / "~1" / "~2" )   ; "~", ".", ","
//
// The first segment of a path names a top-level state field; each further
// segment selects a member of the object below it (for a map field, the
// second segment is the map key). A path selects everything under it, so
// "boot,boot.phase" is "boot". The answer is one JSON object holding only
// the selected parts, nested as in the full state, members in byte order.
// A path that names a field the state does not have is refused (400
// unknown_projection_field); a path that runs past what the current state
// holds (a key not present, a member of a value that is not an object)
// selects null. An empty projection selects the whole state.
//
// Escapes keep every key addressable: a key "a.b" is written "a~1b".
const (
	maxProjectionPaths    = 64
	maxProjectionSegments = 16
)

// projection is a parsed projection: a tree of selected paths.
type projection struct {
	whole    bool // everything below this node is selected
	children map[string]*projection
}

// parseProjection parses the projection syntax above. It checks syntax
// only; field names are checked against the state by render.
func parseProjection(q string) (*projection, *Problem) {
	root := &projection{children: map[string]*projection{}}
	if q == "" {
		root.whole = true
		return root, nil
	}
	paths := strings.Split(q, ",")
	if len(paths) > maxProjectionPaths {
		return nil, badProjection(fmt.Sprintf("%d paths; the limit is %d", len(paths), maxProjectionPaths))
	}
	for _, path := range paths {
		raw := strings.Split(path, ".")
		if len(raw) > maxProjectionSegments {
			return nil, badProjection(fmt.Sprintf("path %q has %d segments; the limit is %d", truncate(path, 100), len(raw), maxProjectionSegments))
		}
		node := root
		for i, seg := range raw {
			name, err := unescapeSegment(seg)
			if err != "" {
				return nil, badProjection(fmt.Sprintf("path %q: %s", truncate(path, 100), err))
			}
			if node.whole {
				break // an enclosing path already selects all of it
			}
			child := node.children[name]
			if child == nil {
				child = &projection{children: map[string]*projection{}}
				node.children[name] = child
			}
			if i == len(raw)-1 {
				child.whole, child.children = true, nil
			}
			node = child
		}
	}
	return root, nil
}

func unescapeSegment(seg string) (string, string) {
	if seg == "" {
		return "", "empty segment (a key containing \".\", \",\" or \"~\" is written with ~1, ~2, ~0)"
	}
	if !strings.Contains(seg, "~") {
		return seg, ""
	}
	var b strings.Builder
	for i := 0; i < len(seg); i++ {
		if seg[i] != '~' {
			b.WriteByte(seg[i])
			continue
		}
		if i+1 == len(seg) {
			return "", `"~" at the end of a segment; escapes are ~0 ("~"), ~1 ("."), ~2 (",")`
		}
		switch seg[i+1] {
		case '0':
			b.WriteByte('~')
		case '1':
			b.WriteByte('.')
		case '2':
			b.WriteByte(',')
		default:
			return "", fmt.Sprintf("unknown escape %q; escapes are ~0 (\"~\"), ~1 (\".\"), ~2 (\",\")", seg[i:i+2])
		}
		i++
	}
	return b.String(), ""
}

func badProjection(detail string) *Problem {
	return newProblem(http.StatusBadRequest, "bad_projection", "projection is malformed", detail)
}

// render writes the selected parts of st as one JSON object. It must run
// while st may be read (inside Executor.Read).
func (p *projection) render(st *state.State, d *abi.Descriptor) ([]byte, *Problem) {
	if p.whole {
		return st.View(d), nil
	}
	names := sortedKeys(p.children)
	for _, name := range names {
		if _, declared := d.Field(name); declared {
			continue
		}
		if _, err := st.FieldView(d, name); err != nil {
			known := make([]string, len(d.Fields))
			for i, f := range d.Fields {
				known[i] = f.Name
			}
			return nil, newProblem(http.StatusBadRequest, "unknown_projection_field", "projection names an unknown state field",
				fmt.Sprintf("the state has no field %q; the catalog %s declares: %s", truncate(name, 100), d.Name, strings.Join(known, ", ")))
		}
	}
	out := []byte{'{'}
	for i, name := range names {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendJSONString(out, name)
		out = append(out, ':')
		out = p.children[name].renderField(out, st, d, name)
	}
	return append(out, '}'), nil
}

func (p *projection) renderField(out []byte, st *state.State, d *abi.Descriptor, name string) []byte {
	if p.whole {
		v, _ := st.FieldView(d, name)
		return append(out, v...)
	}
	kind := abi.FieldMap
	if f, ok := d.Field(name); ok {
		kind = f.Kind
	}
	if kind == abi.FieldValue {
		v, ok := st.Get(name, "")
		if !ok {
			v = nil
		}
		return p.renderValue(out, v)
	}
	// A map field: the first level below it is the map's keys, read
	// directly so that a large map is never rendered whole.
	out = append(out, '{')
	for i, key := range sortedKeys(p.children) {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendJSONString(out, key)
		out = append(out, ':')
		v, ok := st.Get(name, key)
		if !ok {
			v = nil
		}
		out = p.children[key].renderValue(out, v)
	}
	return append(out, '}')
}

// renderValue renders the selected parts of a JSON value; nil is absent.
func (p *projection) renderValue(out []byte, v []byte) []byte {
	if v == nil {
		if p.whole {
			return append(out, "null"...)
		}
	} else if p.whole {
		return append(out, v...)
	}
	var members map[string]json.RawMessage
	if v != nil {
		if err := json.Unmarshal(v, &members); err != nil {
			members = nil // not an object: everything below selects null
		}
	}
	out = append(out, '{')
	for i, key := range sortedKeys(p.children) {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendJSONString(out, key)
		out = append(out, ':')
		m, ok := members[key]
		if !ok {
			m = nil
		}
		out = p.children[key].renderValue(out, m)
	}
	return append(out, '}')
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
