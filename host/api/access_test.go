package api

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

const testToken = "s3cret-token"

// TestAuthProtectsWrites: with a token, every mutating endpoint needs it,
// reads stay open.
func TestAuthProtectsWrites(t *testing.T) {
	n := startNode(t, "swoosh", Config{AuthToken: testToken})
	writes := []struct{ path, body string }{
		{"/transition", `{"transition":"TRANSITION_CONFIG_OK","inputs":{"node_id":"n1"}}`},
		{"/v1/snapshots", ""},
		{"/api/v1/councils/c/claims", `{"role_name":"r","agent_name":"a"}`},
		{"/api/v1/opportunities/council", `{}`},
	}
	for _, w := range writes {
		r := n.post(w.path, w.body)
		wantProblem(t, r, http.StatusUnauthorized, "unauthorized")
		if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="reprise"` {
			t.Errorf("POST %s: WWW-Authenticate %q", w.path, got)
		}
		r = n.post(w.path, w.body, "Authorization", "Bearer wrong-"+testToken)
		wantProblem(t, r, http.StatusUnauthorized, "invalid_token")
		if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
			t.Errorf("POST %s with a wrong token: WWW-Authenticate %q", w.path, got)
		}
		wantProblem(t, n.post(w.path, w.body, "Authorization", "Basic "+testToken), http.StatusUnauthorized, "unauthorized")
		wantProblem(t, n.post(w.path, w.body, "Authorization", "Bearer"), http.StatusUnauthorized, "unauthorized")
	}
	if got := n.health().Index; got != n.exec.Status().Index {
		t.Fatalf("health index %d", got)
	}
	before := n.health().Index
	v := n.mustAccept(writes[0].body, "Authorization", "Bearer "+testToken)
	if v.Index != before+1 {
		t.Fatalf("index %d after %d", v.Index, before)
	}
	if r := n.post("/api/v1/opportunities/council", `{}`, "Authorization", "bearer "+testToken); r.status != http.StatusNotImplemented {
		t.Fatalf("authorised adapter request: %s", r)
	}
	for _, path := range []string{"/health", "/state", "/metrics", "/v1/wal", "/v1/catalog", "/openapi.json"} {
		if r := n.get(path); r.status != http.StatusOK {
			t.Errorf("GET %s without a token: %s", path, r)
		}
	}
}

// TestAuthProtectsReads: with protect_reads, every endpoint needs the token.
func TestAuthProtectsReads(t *testing.T) {
	n := startNode(t, "counter", Config{AuthToken: testToken, ProtectReads: true})
	for _, path := range []string{"/health", "/state", "/metrics", "/v1/wal", "/v1/state", "/v1/events", "/openapi.json", "/nowhere"} {
		wantProblem(t, n.get(path), http.StatusUnauthorized, "unauthorized")
	}
	if r := n.get("/health", "Authorization", "Bearer "+testToken); r.status != http.StatusOK {
		t.Fatalf("GET /health with the token: %s", r)
	}
}

// TestBodyLimit: a body over the limit is refused with 413, whether its
// length is declared or it is streamed, and nothing is applied.
func TestBodyLimit(t *testing.T) {
	n := startNode(t, "counter", Config{MaxBodyBytes: 256})
	big := `{"transition":"TRANSITION_INCREMENT","inputs":{"key":"` + strings.Repeat("k", 300) + `","by":1}}`
	p := wantProblem(t, n.post("/transition", big), http.StatusRequestEntityTooLarge, "body_too_large")
	if !strings.Contains(p.Detail, "256 bytes") {
		t.Fatalf("detail %q", p.Detail)
	}
	// Without a declared length (chunked), the limit applies while reading.
	req, err := http.NewRequest(http.MethodPost, n.url+"/transition", io.MultiReader(strings.NewReader(big)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	resp, err := n.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantProblem(t, reply{status: resp.StatusCode, header: resp.Header, body: raw}, http.StatusRequestEntityTooLarge, "body_too_large")
	wantProblem(t, n.post("/api/v1/councils/c/claims", `{"role_name":"`+strings.Repeat("r", 300)+`"}`), http.StatusRequestEntityTooLarge, "body_too_large")
	if idx := n.health().Index; idx != n.exec.Status().Index || bytes.Contains(n.get("/state").body, []byte("kkk")) {
		t.Fatal("an oversized proposal was applied")
	}
}

// TestServerTimeouts: HTTPServer sets every phase's timeout from the
// configuration, and the configuration is checked.
func TestServerTimeouts(t *testing.T) {
	n := startNode(t, "counter", Config{ReadHeaderTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 3 * time.Second,
		IdleTimeout: 4 * time.Second, SubmitTimeout: 2 * time.Second, MaxHeaderBytes: 4096})
	srv := n.api.HTTPServer()
	if srv.ReadHeaderTimeout != time.Second || srv.ReadTimeout != 2*time.Second || srv.WriteTimeout != 3*time.Second ||
		srv.IdleTimeout != 4*time.Second || srv.MaxHeaderBytes != 4096 {
		t.Fatalf("server timeouts %v %v %v %v, header limit %d", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout, srv.MaxHeaderBytes)
	}
	defaults := startNode(t, "counter", Config{}).api.HTTPServer()
	if defaults.ReadHeaderTimeout <= 0 || defaults.ReadTimeout <= 0 || defaults.WriteTimeout <= 0 || defaults.IdleTimeout <= 0 {
		t.Fatalf("a default timeout is off: %v %v %v %v", defaults.ReadHeaderTimeout, defaults.ReadTimeout, defaults.WriteTimeout, defaults.IdleTimeout)
	}
	for _, c := range []struct {
		cfg     Config
		mention string
	}{
		{Config{SubmitTimeout: time.Minute, WriteTimeout: time.Minute}, "must be shorter than write timeout"},
		{Config{ReadTimeout: -time.Second}, "negative"},
		{Config{MaxBodyBytes: -1}, "negative"},
	} {
		if _, err := New(n.exec, c.cfg); err == nil || !strings.Contains(err.Error(), c.mention) {
			t.Errorf("config %+v: error %v, want one mentioning %q", c.cfg, err, c.mention)
		}
	}
}

// TestProblemsEverywhere: unknown paths, wrong methods and malformed
// requests get problem+json with a stable code.
func TestProblemsEverywhere(t *testing.T) {
	n := startNode(t, "counter", Config{})
	wantProblem(t, n.get("/nowhere"), http.StatusNotFound, "not_found")
	wantProblem(t, n.do(http.MethodDelete, "/transition", ""), http.StatusMethodNotAllowed, "method_not_allowed")
	wantProblem(t, n.do(http.MethodPut, "/state", "{}"), http.StatusMethodNotAllowed, "method_not_allowed")
	for body, code := range map[string]string{
		`{"transition":"TRANSITION_INCREMENT","inputs":{"key":"a","by":1`: "malformed_json",
		`{"transition":"TRANSITION_INCREMENT","extra":1}`:                 "malformed_json",
		`{"transition":"TRANSITION_INCREMENT"} {}`:                        "malformed_json",
		`{"inputs":{}}`: "missing_transition",
		`{"transition":"TRANSITION_INCREMENT","inputs":[1]}`:                                  "bad_inputs",
		`{"transition":"TRANSITION_INCREMENT","inputs":{"a":1,"a":2}}`:                        "bad_inputs",
		`{"transition":"TRANSITION_INCREMENT","current_state_hash":"xyz"}`:                    "bad_state_hash",
		`{"transition":"` + strings.Repeat("T", maxFieldBytes+1) + `"}`:                       "field_too_long",
		`{"transition":"T","evidence":[` + strings.Repeat(`"e",`, maxEvidenceItems) + `"e"]}`: "too_much_evidence",
	} {
		wantProblem(t, n.post("/transition", body), http.StatusBadRequest, code)
	}
	for query, code := range map[string]string{
		"/v1/wal?from=x":             "bad_parameter",
		"/v1/wal?from=0":             "bad_parameter",
		"/v1/wal?from=5&to=4":        "bad_parameter",
		"/v1/wal?limit=0":            "bad_parameter",
		"/v1/wal?limit=1001":         "bad_parameter",
		"/v1/wal?from=1&from=2":      "bad_parameter",
		"/v1/state?index=-1":         "bad_parameter",
		"/v1/state/hash?index=1e3":   "bad_parameter",
		"/v1/events?from=0":          "bad_parameter",
		"/state?projection=a..b":     "bad_projection",
		"/v1/state?projection=nope":  "unknown_projection_field",
		"/v1/state?index=99999":      "index_not_found",
		"/v1/state/hash?index=99999": "index_not_found",
	} {
		status := http.StatusBadRequest
		if code == "index_not_found" {
			status = http.StatusNotFound
		}
		wantProblem(t, n.get(query), status, code)
	}
	wantProblem(t, n.get("/v1/events", "Last-Event-ID", "abc"), http.StatusBadRequest, "bad_parameter")
}
