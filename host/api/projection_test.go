package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host/state"
)

// projectionFixture is a small state in the swoosh catalog's style: value
// fields holding objects, a map field, and an undeclared field.
func projectionFixture() (*state.State, *abi.Descriptor) {
	d := &abi.Descriptor{Name: "fixture", Version: "1", Fields: []abi.FieldInfo{
		{Name: "boot", Kind: abi.FieldValue}, {Name: "policy", Kind: abi.FieldValue},
		{Name: "claims", Kind: abi.FieldMap}, {Name: "hlc_last", Kind: abi.FieldValue},
	}}
	st := state.FromEntries([]abi.Entry{
		{Field: "boot", Value: []byte(`{"licensed":true,"phase":"LICENSED","tags":["a","b"]}`)},
		{Field: "claims", Key: "lead", Value: []byte(`{"agent_name":"alice","claimed_at":3}`)},
		{Field: "claims", Key: "re.view,er~", Value: []byte(`{"agent_name":"bob","claimed_at":4}`)},
		{Field: "extra", Key: "k", Value: []byte(`1`)},
	})
	return st, d
}

func TestProjection(t *testing.T) {
	st, d := projectionFixture()
	for _, c := range []struct{ q, want string }{
		{"", string(st.View(d))},
		{"boot", `{"boot":{"licensed":true,"phase":"LICENSED","tags":["a","b"]}}`},
		{"boot.phase", `{"boot":{"phase":"LICENSED"}}`},
		{"boot.phase,boot.licensed", `{"boot":{"licensed":true,"phase":"LICENSED"}}`},
		{"boot,boot.phase", `{"boot":{"licensed":true,"phase":"LICENSED","tags":["a","b"]}}`},
		{"boot.phase,boot", `{"boot":{"licensed":true,"phase":"LICENSED","tags":["a","b"]}}`},
		{"claims.lead.agent_name,boot.phase", `{"boot":{"phase":"LICENSED"},"claims":{"lead":{"agent_name":"alice"}}}`},
		{"claims.re~1view~2er~0", `{"claims":{"re.view,er~":{"agent_name":"bob","claimed_at":4}}}`},
		{"claims", `{"claims":{"lead":{"agent_name":"alice","claimed_at":3},"re.view,er~":{"agent_name":"bob","claimed_at":4}}}`},
		// Paths past what the state holds select null.
		{"claims.nobody", `{"claims":{"nobody":null}}`},
		{"claims.nobody.agent_name", `{"claims":{"nobody":{"agent_name":null}}}`},
		{"policy", `{"policy":null}`},
		{"policy.quarantined", `{"policy":{"quarantined":null}}`},
		{"boot.phase.x", `{"boot":{"phase":{"x":null}}}`},
		{"boot.tags.0", `{"boot":{"tags":{"0":null}}}`},
		// A field the descriptor does not declare but the state holds.
		{"extra", `{"extra":{"k":1}}`},
		{"extra.k", `{"extra":{"k":1}}`},
	} {
		proj, p := parseProjection(c.q)
		if p != nil {
			t.Errorf("%q: %+v", c.q, p)
			continue
		}
		got, p := proj.render(st, d)
		if p != nil {
			t.Errorf("%q: %+v", c.q, p)
			continue
		}
		if string(got) != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.q, got, c.want)
		}
		if !json.Valid(got) {
			t.Errorf("%q: invalid JSON %s", c.q, got)
		}
	}
}

func TestProjectionRefusals(t *testing.T) {
	st, d := projectionFixture()
	for _, c := range []struct{ q, code, mention string }{
		{"nope", "unknown_projection_field", `"nope"`},
		{"boot,nope.x", "unknown_projection_field", "boot, policy, claims, hlc_last"},
		{"boot,", "bad_projection", "empty segment"},
		{"boot..phase", "bad_projection", "empty segment"},
		{".boot", "bad_projection", "empty segment"},
		{"boot.~3", "bad_projection", `unknown escape "~3"`},
		{"boot.a~", "bad_projection", "at the end"},
		{strings.Repeat("a,", maxProjectionPaths) + "a", "bad_projection", "the limit is 64"},
		{strings.Repeat("a.", maxProjectionSegments) + "a", "bad_projection", "the limit is 16"},
	} {
		proj, p := parseProjection(c.q)
		if p == nil {
			_, p = proj.render(st, d)
		}
		if p == nil {
			t.Errorf("%q: accepted", c.q)
			continue
		}
		if p.Status != http.StatusBadRequest || p.Code != c.code || !strings.Contains(p.Detail, c.mention) {
			t.Errorf("%q: %+v, want 400 %s mentioning %q", c.q, p, c.code, c.mention)
		}
	}
}

// TestProjectionOverHTTP checks the endpoints that take a projection.
func TestProjectionOverHTTP(t *testing.T) {
	n := startNode(t, "counter", Config{})
	n.mustAccept(`{"transition":"TRANSITION_INCREMENT","inputs":{"key":"a","by":2}}`)
	n.mustAccept(`{"transition":"TRANSITION_INCREMENT","inputs":{"key":"b","by":3}}`)
	r := n.get("/state?projection=counts.b,counts.zz")
	if r.status != http.StatusOK || string(r.body) != `{"counts":{"b":3,"zz":null}}`+"\n" || r.header.Get("Reprise-Index") == "" {
		t.Fatalf("GET /state?projection: %s %v", r, r.header)
	}
	var v1 stateAtIndex
	decode(t, n.get("/v1/state?projection=counts.a"), &v1)
	if string(v1.State) != `{"counts":{"a":2}}` || v1.Catalog.Name != "counter" || v1.Catalog.Hash != n.module.HashHex() {
		t.Fatalf("GET /v1/state?projection: %+v", v1)
	}
	p := wantProblem(t, n.get("/state?projection=count"), http.StatusBadRequest, "unknown_projection_field")
	if !strings.Contains(p.Detail, `"count"`) || !strings.Contains(p.Detail, "counts") {
		t.Fatalf("unknown field: %+v", p)
	}
	wantProblem(t, n.get("/v1/state?projection=counts..a"), http.StatusBadRequest, "bad_projection")
}
