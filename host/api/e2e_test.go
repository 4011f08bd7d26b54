package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// licenceExpiry is a licence expiry no test reaches: 2100-01-01.
const licenceExpiry = 4102444800

// memberSetHash is the catalog's member-set hash: the SHA-256 of the sorted
// member names joined by "\n".
func memberSetHash(sorted ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(sorted, "\n")))
	return hex.EncodeToString(sum[:])
}

// lifecycle drives a swoosh node over HTTP and checks each step's answer
// and that the WAL grows by exactly one record per accepted transition.
type lifecycle struct {
	t    *testing.T
	n    *node
	last uint64 // index of the last record
	hlc  uint64 // physical part of the last HLC sent
}

// accept submits transition with inputs (JSON text, or "" for none) and a
// fresh HLC, and requires a new record right after the last one.
func (l *lifecycle) accept(transition, inputs string, extra ...string) verdict {
	l.t.Helper()
	v := l.n.mustAccept(l.proposal(transition, inputs, extra...))
	if v.Index != l.last+1 {
		l.t.Fatalf("%s: index %d, want %d", transition, v.Index, l.last+1)
	}
	l.last = v.Index
	return v
}

// proposal builds a POST /transition body; extra are further "key":value
// members, written as JSON text.
func (l *lifecycle) proposal(transition, inputs string, extra ...string) string {
	l.hlc++
	members := []string{fmt.Sprintf(`"transition":%q`, transition), fmt.Sprintf(`"hlc":"%x-0-0000000000000001"`, l.hlc), `"signer":"node-001"`}
	if inputs != "" {
		members = append(members, `"inputs":`+inputs)
	}
	members = append(members, extra...)
	return "{" + strings.Join(members, ",") + "}"
}

// refuse requires a SWOOSH-shaped refusal with SWOOSH's exact error text,
// the state hash unchanged and nothing appended.
func (l *lifecycle) refuse(status int, text, code, transition, inputs string, extra ...string) verdict {
	l.t.Helper()
	before := l.n.health()
	r, v := l.n.submit(l.proposal(transition, inputs, extra...))
	if r.status != status || v.Success || v.Error != text || v.Code != code || v.Detail == "" {
		l.t.Fatalf("%s %s: %s; want %d with error %q code %s", transition, inputs, r, status, text, code)
	}
	if v.StateHash != before.StateHash {
		l.t.Fatalf("%s: refusal reports state hash %s, the state's is %s", transition, v.StateHash, before.StateHash)
	}
	if after := l.n.health(); after.Index != before.Index || after.StateHash != before.StateHash {
		l.t.Fatalf("%s: a refusal moved the node from %d/%s to %d/%s", transition, before.Index, before.StateHash, after.Index, after.StateHash)
	}
	return v
}

// claim posts a WHOOSH role claim.
func (l *lifecycle) claim(council, body string) reply {
	l.t.Helper()
	return l.n.post("/api/v1/councils/"+council+"/claims", body)
}

// observable is everything a client can read that a restart must not
// change.
type observable struct {
	state, stateHash, stateIndex string
	v1State, wal, hash1          string
	health                       healthResponse
}

func (l *lifecycle) observe() observable {
	l.t.Helper()
	st := l.n.get("/state")
	o := observable{state: string(st.body), stateHash: st.header.Get("Reprise-State-Hash"), stateIndex: st.header.Get("Reprise-Index"),
		v1State: string(l.n.get("/v1/state").body), wal: string(l.n.get("/v1/wal?limit=1000").body),
		hash1: string(l.n.get("/v1/state/hash?index=2").body), health: l.n.health()}
	return o
}

// TestSwooshLifecycleOverHTTP walks the swoosh catalog through a whole
// project over real HTTP on loopback, against a real executor and Badger
// WAL: licence, ingestion, council (with role claims through the WHOOSH
// adapter), environment, PLAN → WORK → REVIEW → REVERB and a final
// submission there; refusals with SWOOSH's exact texts, an idempotent
// repeat, a stale current_state_hash, a quarantine and its release, and a
// restart in the middle after which every answer is the same.
func TestSwooshLifecycleOverHTTP(t *testing.T) {
	n := startNode(t, "swoosh", Config{})
	l := &lifecycle{t: t, n: n}

	h := n.health()
	if !h.Live || !h.Ready || h.Status != "ok" || h.Catalog.Name != "swoosh" || h.Catalog.Version != "1.0.0" ||
		h.Catalog.Hash != n.module.HashHex() || h.License != nil || h.Quarantined {
		t.Fatalf("health of a fresh swoosh node: %+v", h)
	}
	l.last = h.Index

	// Licence, with the bare event name and an idempotency key.
	boot := l.accept("CONFIG_OK", `{"node_id":"node-001"}`, `"idem_key":"boot-1"`)
	r, dup := n.submit(l.proposal("CONFIG_OK", `{"node_id":"node-001"}`, `"idem_key":"boot-1"`))
	if r.status != http.StatusOK || !dup.Success || !dup.Duplicate || dup.Index != boot.Index || dup.StateHash != boot.StateHash {
		t.Fatalf("repeat of idem_key boot-1: %s; first answer was %+v", r, boot)
	}
	if got := n.health().Index; got != l.last {
		t.Fatalf("an idempotent repeat appended: index %d, want %d", got, l.last)
	}
	// Snapshot now, so that the snapshot the restart takes does not compact
	// the WAL this test reads back: the oldest kept snapshot bounds
	// compaction.
	if r := n.post("/v1/snapshots", ""); r.status != http.StatusCreated {
		t.Fatalf("POST /v1/snapshots: %s", r)
	}
	l.accept("TRANSITION_LICENSE_CHECK_STARTED", "")
	l.refuse(http.StatusBadRequest, "guard rejected transition", "guard_rejected", "LICENSE_GRANTED", "")
	l.refuse(http.StatusBadRequest, "invalid phase for transition", "invalid_phase", "TRANSITION_PROJECT_START", "")
	l.refuse(http.StatusBadRequest, "unknown transition", "unknown_transition", "TRANSITION_LAUNCH_ROCKET", "")
	// inputs_hash is the SHA-256 of the canonical inputs (keys sorted).
	grant := fmt.Sprintf(`{"license_expiry":%d,"license_valid":true}`, licenceExpiry)
	sum := sha256.Sum256([]byte(grant))
	wantProblem(t, n.post("/transition", l.proposal("TRANSITION_LICENSE_GRANTED", grant, `"inputs_hash":"00"`)), http.StatusBadRequest, "inputs_hash_mismatch")
	l.accept("TRANSITION_LICENSE_GRANTED", grant, fmt.Sprintf(`"inputs_hash":"%x"`, sum))
	if h := n.health(); h.License == nil || !h.License.Licensed || h.License.Expiry != licenceExpiry || h.License.Expired || h.License.Phase != "LICENSED" {
		t.Fatalf("health after the licence: %+v", h.License)
	}
	l.accept("TRANSITION_PROJECT_START", "")

	// Ingestion.
	l.accept("TRANSITION_SOURCES_RESOLVED", `{"source_set":["repo://b","repo://a"]}`)
	l.accept("TRANSITION_FETCH_COMPLETED", `{"content_hash":"sha256:c0ffee"}`)
	l.refuse(http.StatusBadRequest, "guard rejected transition", "guard_rejected", "TRANSITION_VALIDATION_PASSED", `{"content_hash":"sha256:other"}`)
	l.accept("TRANSITION_VALIDATION_PASSED", `{"content_hash":"sha256:c0ffee"}`)
	l.accept("TRANSITION_INDEX_COMPLETED", "")

	// Council: roles planned, then claimed through the WHOOSH adapter.
	l.accept("TRANSITION_COUNCIL_ROLES_PLANNED", `{"council_id":"council-7","core_roles":["lead","reviewer"],"optional_roles":["scribe"],"formation_deadline":0}`)
	r = l.claim("council-7", `{"role_name":"lead","agent_name":"alice","idem_key":"claim-lead"}`)
	var claim verdict
	decode(t, r, &claim)
	if r.status != http.StatusOK || !claim.Success || claim.Index != l.last+1 ||
		string(claim.Output) != fmt.Sprintf(`{"agent_name":"alice","claimed_at":%d,"council_id":"council-7","role_name":"lead"}`, claim.Index) {
		t.Fatalf("claim of lead by alice: %s", r)
	}
	l.last = claim.Index
	rec := n.get(fmt.Sprintf("/v1/wal?from=%d&to=%d", claim.Index, claim.Index))
	if !bytes.Contains(rec.body, []byte(`"transition":"TRANSITION_COUNCIL_CLAIM_ROLE","inputs":{"agent_name":"alice","council_id":"council-7","role_name":"lead"},"idem_key":"claim-lead"`)) {
		t.Fatalf("the claim's WAL record: %s", rec.body)
	}
	// The same claim again is a no-op: accepted, state unchanged.
	r = l.claim("council-7", `{"role_name":"lead","agent_name":"alice"}`)
	var again verdict
	decode(t, r, &again)
	if r.status != http.StatusOK || !again.Success || again.StateHash != claim.StateHash {
		t.Fatalf("repeated claim: %s; the first left state %s", r, claim.StateHash)
	}
	l.last = again.Index
	p := wantProblem(t, l.claim("council-7", `{"role_name":"lead","agent_name":"carol"}`), http.StatusConflict, "precondition_failed")
	if p.Error != "precondition failed" || !strings.Contains(p.Detail, `"alice"`) || p.StateHash != claim.StateHash || p.Quarantined == nil || *p.Quarantined {
		t.Fatalf("claim of a taken role: %+v", p)
	}
	p = wantProblem(t, l.claim("council-8", `{"role_name":"reviewer","agent_name":"bob"}`), http.StatusUnprocessableEntity, "guard_rejected")
	if p.Error != "guard rejected transition" || !strings.Contains(p.Detail, "council-8") {
		t.Fatalf("claim for another council: %+v", p)
	}
	wantProblem(t, l.claim("council-7", `{"role_name":"reviewer"}`), http.StatusBadRequest, "bad_claim")
	wantProblem(t, l.claim("council-7", `{"role_name":"reviewer","agent_name":"bob","seat":3}`), http.StatusBadRequest, "malformed_json")
	r = l.claim("council-7", `{"role_name":"reviewer","agent_name":"bob"}`)
	decode(t, r, &claim)
	if r.status != http.StatusOK || claim.Index != l.last+1 {
		t.Fatalf("claim of reviewer by bob: %s", r)
	}
	l.last = claim.Index

	// A restart in the middle changes nothing a client can observe, and
	// exactly-once holds across it.
	before := l.observe()
	n.restart()
	after := l.observe()
	if !reflect.DeepEqual(before.health, after.health) {
		t.Fatalf("health changed across the restart:\n before %+v\n after  %+v", before.health, after.health)
	}
	for _, c := range []struct{ what, before, after string }{
		{"GET /state", before.state, after.state}, {"Reprise-State-Hash", before.stateHash, after.stateHash},
		{"Reprise-Index", before.stateIndex, after.stateIndex}, {"GET /v1/state", before.v1State, after.v1State},
		{"GET /v1/wal", before.wal, after.wal}, {"GET /v1/state/hash?index=2", before.hash1, after.hash1},
	} {
		if c.before != c.after {
			t.Fatalf("%s changed across the restart:\n before %s\n after  %s", c.what, c.before, c.after)
		}
	}
	r, dup = n.submit(l.proposal("CONFIG_OK", `{"node_id":"node-001"}`, `"idem_key":"boot-1"`))
	if r.status != http.StatusOK || !dup.Duplicate || dup.Index != boot.Index || dup.StateHash != boot.StateHash {
		t.Fatalf("idem_key boot-1 after the restart: %s; first answer was %+v", r, boot)
	}

	members := `["carol","alice","bob"]`
	l.refuse(http.StatusBadRequest, "guard rejected transition", "guard_rejected", "TRANSITION_COUNCIL_ELECTED",
		fmt.Sprintf(`{"members":%s,"quorum_cert_hash":%q}`, members, memberSetHash("alice", "bob")))
	l.accept("TRANSITION_COUNCIL_ELECTED", fmt.Sprintf(`{"members":%s,"quorum_cert_hash":%q}`, members, memberSetHash("alice", "bob", "carol")))
	l.accept("TRANSITION_TOOLING_SYNCED", "")

	// Environment.
	l.accept("TRANSITION_ENVIRONMENT_ALLOCATED", `{"allocation_id":"alloc-1"}`)
	l.accept("TRANSITION_ENVIRONMENT_PROVISIONED", `{"provision_ref":"image@sha256:0a"}`)
	l.accept("TRANSITION_HEALTHCHECK_PASSED", "")

	// Execution: PLAN → WORK → REVIEW → REVERB, a final submission in
	// REVERB and not before.
	l.refuse(http.StatusBadRequest, "precondition failed", "precondition_failed", "TRANSITION_EXECUTION_START", "")
	l.accept("TRANSITION_PIN_CONTENT", `{"content_hash":"sha256:c0ffee","version":"v1.0.0"}`)
	l.accept("TRANSITION_EXECUTION_START", "")
	l.accept("TRANSITION_PLAN_APPROVED", "")
	final := `{"submission_id":"sub-1","agent_name":"alice","content_hash":"sha256:result"}`
	l.refuse(http.StatusBadRequest, "invalid phase for transition", "invalid_phase", "TRANSITION_SUBMIT_FINAL", final)
	l.accept("TRANSITION_WORK_COMPLETED", "")
	l.accept("TRANSITION_REVIEW_PASSED", "")
	sub := l.accept("TRANSITION_SUBMIT_FINAL", final, `"idem_key":"final-1"`, `"evidence":["ucxl://proof/123"]`, `"window_id":"window-1"`)
	if want := fmt.Sprintf(`{"agent_name":"alice","content_hash":"sha256:result","round":1,"submission_id":"sub-1","submitted_at":%d}`, sub.Index); string(sub.Output) != want {
		t.Fatalf("submission output %s, want %s", sub.Output, want)
	}
	st := n.get("/state?projection=execution.phase,execution.round,submissions.sub-1.agent_name,council_claims")
	var proj struct {
		CouncilClaims map[string]struct {
			AgentName string `json:"agent_name"`
		} `json:"council_claims"`
		Execution struct {
			Phase string `json:"phase"`
			Round int    `json:"round"`
		} `json:"execution"`
		Submissions struct {
			Sub1 struct {
				AgentName string `json:"agent_name"`
			} `json:"sub-1"`
		} `json:"submissions"`
	}
	if err := json.Unmarshal(st.body, &proj); err != nil || st.status != http.StatusOK {
		t.Fatalf("projection: %s (%v)", st, err)
	}
	if proj.Execution.Phase != "REVERB" || proj.Execution.Round != 1 || proj.Submissions.Sub1.AgentName != "alice" ||
		proj.CouncilClaims["lead"].AgentName != "alice" || proj.CouncilClaims["reviewer"].AgentName != "bob" {
		t.Fatalf("projection: %s", st.body)
	}

	// A stale current_state_hash: 409 with the current hash, nothing
	// appended.
	cur := n.health()
	r, v := n.submit(l.proposal("TRANSITION_NEXT_ROUND", "", fmt.Sprintf(`"current_state_hash":%q`, boot.StateHash)))
	if r.status != http.StatusConflict || v.Success || v.Code != "state_conflict" || v.StateHash != cur.StateHash {
		t.Fatalf("stale current_state_hash: %s; current is %s", r, cur.StateHash)
	}
	if got := n.health(); got.Index != cur.Index {
		t.Fatalf("a conflict appended: index %d, want %d", got.Index, cur.Index)
	}
	// The current hash is accepted.
	l.accept("TRANSITION_PAUSE", `{"reason":"lunch"}`, fmt.Sprintf(`"current_state_hash":%q`, cur.StateHash))
	l.refuse(http.StatusBadRequest, "precondition failed", "precondition_failed", "TRANSITION_NEXT_ROUND", "")
	l.accept("TRANSITION_RESUME", "")
	// An HLC older than the last one is refused before the catalog sees it.
	r, v = n.submit(`{"transition":"TRANSITION_NEXT_ROUND","hlc":"1-0-0000000000000001"}`)
	if r.status != http.StatusBadRequest || v.Code != "stale_hlc" {
		t.Fatalf("stale HLC: %s", r)
	}

	// Quarantine: sticky, reported everywhere, left only by release.
	q := l.accept("TRANSITION_QUARANTINE", `{"reason":"audit"}`)
	if !q.Quarantined {
		t.Fatalf("the quarantining verdict does not report the quarantine: %+v", q)
	}
	if h := n.health(); !h.Quarantined || h.Status != "quarantined" || !h.Ready {
		t.Fatalf("health under quarantine: %+v", h)
	}
	v = l.refuse(http.StatusBadRequest, "transition blocked by quarantine", "quarantine_blocked", "TRANSITION_NEXT_ROUND", "")
	if !v.Quarantined {
		t.Fatalf("a refusal under quarantine does not report it: %+v", v)
	}
	p = wantProblem(t, l.claim("council-7", `{"role_name":"scribe","agent_name":"carol"}`), http.StatusConflict, "quarantine_blocked")
	if p.Error != "transition blocked by quarantine" || p.Quarantined == nil || !*p.Quarantined {
		t.Fatalf("claim under quarantine: %+v", p)
	}
	if !strings.Contains(string(n.get("/metrics").body), "\nreprise_quarantined 1\n") {
		t.Fatal("metrics do not report the quarantine")
	}
	rel := l.accept("TRANSITION_QUARANTINE_RELEASE", "")
	if rel.Quarantined || n.health().Quarantined {
		t.Fatalf("still quarantined after release: %+v", rel)
	}
	l.accept("TRANSITION_NEXT_ROUND", "")

	// The WAL holds exactly the accepted transitions, contiguous, and its
	// last record's state hash is the state's.
	var page walPage
	decode(t, n.get("/v1/wal?limit=1000"), &page)
	end := n.health()
	if page.LastIndex != end.Index || len(page.Records) == 0 || page.Records[len(page.Records)-1].StateHash != end.StateHash {
		t.Fatalf("WAL ends at %d, the node at %d/%s", page.LastIndex, end.Index, end.StateHash)
	}
	for i, rec := range page.Records {
		if rec.Index != page.Records[0].Index+uint64(i) {
			t.Fatalf("WAL record %d has index %d", i, rec.Index)
		}
	}
	var v1 stateAtIndex
	decode(t, n.get("/v1/state"), &v1)
	var whole map[string]json.RawMessage
	if err := json.Unmarshal(v1.State, &whole); err != nil || v1.Index != end.Index || v1.StateHash != end.StateHash || len(whole) != 10 {
		t.Fatalf("/v1/state: %d %s %d fields (%v)", v1.Index, v1.StateHash, len(whole), err)
	}
}

// TestWhooshAdapterPaths checks the adapter's answers: 501 problems naming
// the path and why for requests that map to no single transition, and a
// 501 for claims when the catalog in force has no claim transition.
func TestWhooshAdapterPaths(t *testing.T) {
	n := startNode(t, "counter", Config{})
	for _, c := range []struct{ method, path, body, mention string }{
		{http.MethodPost, "/api/v1/opportunities/council", `{"council_id":"c"}`, "TRANSITION_COUNCIL_ROLES_PLANNED"},
		{http.MethodGet, "/api/v1/tasks", "", "tasks are not catalogued"},
		{http.MethodPost, "/api/v1/councils/c-1/claims", `{"role_name":"lead","agent_name":"alice"}`, "catalog counter 1.0.0 has no transition TRANSITION_COUNCIL_CLAIM_ROLE"},
	} {
		p := wantProblem(t, n.do(c.method, c.path, c.body), http.StatusNotImplemented, "not_mapped")
		if p.Path != c.path || !strings.Contains(p.Detail, c.path) || !strings.Contains(p.Detail, c.mention) {
			t.Errorf("%s %s: %+v", c.method, c.path, p)
		}
	}
}
