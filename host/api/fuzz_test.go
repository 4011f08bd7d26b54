package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reprise-dev/reprise/abi/canon"
)

// The fuzz targets run their seed corpus (testdata/fuzz/<target>) as
// ordinary tests; `go test -fuzz <target> ./host/api/` explores further.

// checkProblem requires p to be a client error with a stable code that
// encodes as JSON.
func checkProblem(t *testing.T, p *Problem) {
	t.Helper()
	if p.Status < 400 || p.Status > 499 || p.Code == "" || p.Title == "" || p.Type != problemTypeBase+p.Code {
		t.Fatalf("problem %+v is not a client error with a code", p)
	}
	if _, err := json.Marshal(p); err != nil {
		t.Fatalf("problem does not encode: %v", err)
	}
}

func FuzzDecodeProposal(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		sub, p := decodeProposal(body)
		sub2, p2 := decodeProposal(body)
		if !reflect.DeepEqual(sub, sub2) || !reflect.DeepEqual(p, p2) {
			t.Fatal("decoding the same body twice gave different results")
		}
		if p != nil {
			checkProblem(t, p)
			return
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(body, &raw); err != nil {
			t.Fatalf("accepted a body that is not a JSON object: %v", err)
		}
		for name := range raw {
			if !slices.Contains(jsonFieldNames(reflect.TypeFor[transitionRequest]()), name) {
				t.Fatalf("accepted member %q", name)
			}
		}
		pr := sub.Proposal
		if pr.Transition == "" {
			t.Fatal("accepted a proposal without a transition")
		}
		for _, s := range append([]string{pr.Transition, pr.Signer, pr.IdemKey, pr.HLC, pr.WindowID, pr.InputsHash}, pr.Evidence...) {
			if len(s) > maxFieldBytes {
				t.Fatalf("accepted a %d-byte field", len(s))
			}
		}
		if len(pr.Evidence) > maxEvidenceItems {
			t.Fatalf("accepted %d evidence items", len(pr.Evidence))
		}
		if pr.Inputs != nil {
			again, err := canon.Canonicalize(pr.Inputs)
			if err != nil || !bytes.Equal(again, pr.Inputs) || pr.Inputs[0] != '{' {
				t.Fatalf("inputs %q are not a canonical object (%v)", pr.Inputs, err)
			}
			if pr.InputsHash != "" {
				sum := sha256.Sum256(pr.Inputs)
				if !strings.EqualFold(pr.InputsHash, hex.EncodeToString(sum[:])) {
					t.Fatalf("accepted inputs_hash %s for inputs %s", pr.InputsHash, pr.Inputs)
				}
			}
		}
		var csh string
		if v, ok := raw["current_state_hash"]; ok {
			_ = json.Unmarshal(v, &csh)
		}
		if (sub.ExpectedHash != nil) != (csh != "") || (sub.ExpectedHash != nil && !strings.EqualFold(sub.ExpectedHash.String(), csh)) {
			t.Fatalf("current_state_hash %q gave expected hash %v", csh, sub.ExpectedHash)
		}
	})
}

func FuzzDecodeClaim(f *testing.F) {
	f.Fuzz(func(t *testing.T, council string, body []byte) {
		sub, p := decodeClaim(council, body)
		if p != nil {
			checkProblem(t, p)
			return
		}
		if sub.Proposal.Transition != claimTransition {
			t.Fatalf("claim became %s", sub.Proposal.Transition)
		}
		var in map[string]string
		if err := json.Unmarshal(sub.Proposal.Inputs, &in); err != nil {
			t.Fatalf("claim inputs %s: %v", sub.Proposal.Inputs, err)
		}
		keys := make([]string, 0, len(in))
		for k := range in {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, claimInputs) || in["council_id"] != strings.ToValidUTF8(council, "\uFFFD") || in["role_name"] == "" || in["agent_name"] == "" {
			t.Fatalf("claim inputs %s for council %q", sub.Proposal.Inputs, council)
		}
	})
}

func FuzzProjection(f *testing.F) {
	st, d := projectionFixture()
	f.Fuzz(func(t *testing.T, q string) {
		proj, p := parseProjection(q)
		if p != nil {
			checkProblem(t, p)
			return
		}
		out, p := proj.render(st, d)
		if p != nil {
			checkProblem(t, p)
			return
		}
		if !json.Valid(out) {
			t.Fatalf("projection %q rendered invalid JSON: %s", q, out)
		}
		again, _ := proj.render(st, d)
		if !bytes.Equal(out, again) {
			t.Fatalf("projection %q renders differently twice", q)
		}
	})
}

// fuzzMethods are the methods FuzzHandlers chooses from.
var fuzzMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodHead, http.MethodPatch, http.MethodOptions}

// notImplementedPaths answer 501 by design (WHOOSH requests that map to no
// single transition).
var notImplementedPaths = []string{"/api/v1/opportunities/council", "/api/v1/tasks"}

// ack is an accepted, acknowledged transition and the request that got it.
type ack struct {
	method, target string
	body           []byte
	auth           byte
	index          uint64
	stateHash      string
}

// FuzzHandlers sends arbitrary requests through the real router to a real
// swoosh node (executor, Badger WAL, token required on writes). Every
// answer must be a success, a SWOOSH-shaped refusal of POST /transition, a
// designed 501, or a 4xx problem+json with a code: never another 5xx or a
// crash. Every acknowledged transition must be in the WAL with the hash the
// client was told, and, when it carried an idem_key, still be acknowledged
// identically after a restart.
func FuzzHandlers(f *testing.F) {
	n := startNode(f, "swoosh", Config{AuthToken: testToken, WALPageLimit: 50, EventHeartbeat: time.Hour})
	var acks []ack
	f.Cleanup(func() {
		if n.exec == nil || len(acks) == 0 {
			return
		}
		n.restart()
		f.Logf("re-checking %d acknowledged transitions after a restart", len(acks))
		for _, a := range acks {
			rec := httptest.NewRecorder()
			n.api.ServeHTTP(rec, fuzzRequest(a.method, a.target, a.body, a.auth))
			var v verdict
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || !v.Success || !v.Duplicate || v.Index != a.index || v.StateHash != a.stateHash {
				f.Errorf("%s %s after a restart: %d %s; acknowledged before as %d/%s", a.method, a.target, rec.Code, rec.Body, a.index, a.stateHash)
			}
		}
	})
	f.Fuzz(func(t *testing.T, method byte, target string, body []byte, auth byte) {
		m := fuzzMethods[int(method)%len(fuzzMethods)]
		if !strings.HasPrefix(target, "/") {
			return
		}
		req := fuzzRequest(m, target, body, auth)
		if req == nil {
			return // not a request an HTTP client could send
		}
		ctx := context.Background()
		if strings.HasPrefix(req.URL.Path, "/v1/events") {
			// A stream never ends by itself: end it once it has caught up.
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, 20*time.Millisecond)
			defer cancel()
		}
		rec := httptest.NewRecorder()
		n.api.ServeHTTP(rec, req.WithContext(ctx))
		res := rec.Result()
		status, ct := res.StatusCode, res.Header.Get("Content-Type")
		path := req.URL.Path
		switch {
		case status == http.StatusNotImplemented && slices.Contains(notImplementedPaths, path):
			var p Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || ct != ProblemContentType || p.Code != "not_mapped" {
				t.Fatalf("%s %s: 501 without a not_mapped problem: %s", m, target, rec.Body)
			}
		case status >= 500:
			t.Fatalf("%s %q: server error %d: %s", m, target, status, rec.Body)
		case status >= 400 && path == "/transition" && m == http.MethodPost && ct == "application/json":
			var v verdict
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || v.Success || v.Error == "" || v.Code == "" || len(v.StateHash) != 64 {
				t.Fatalf("POST /transition refusal %d is not SWOOSH-shaped: %s", status, rec.Body)
			}
		case status >= 400:
			var p Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || ct != ProblemContentType || p.Status != status || p.Code == "" {
				t.Fatalf("%s %q: %d without a problem body (%s): %s", m, target, status, ct, rec.Body)
			}
		}
		if auth != 1 && !safeMethod(m) && status < 400 {
			t.Fatalf("%s %q without the token: %d", m, target, status)
		}
		if m != http.MethodPost || status != http.StatusOK || !(path == "/transition" || strings.HasSuffix(path, "/claims")) {
			return
		}
		var v verdict
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || !v.Success || v.Index == 0 {
			t.Fatalf("POST %s: 200 that is not an acceptance: %s", target, rec.Body)
		}
		// Acknowledged: the record is durable with the hash the client saw.
		r, err := n.exec.WAL().Get(v.Index)
		if err != nil {
			if n.exec.WAL().FirstIndex() > v.Index { // compacted by a snapshot the fuzzer asked for
				return
			}
			t.Fatalf("acknowledged index %d is not in the WAL: %v", v.Index, err)
		}
		if got := hex.EncodeToString(r.StateHash[:]); got != v.StateHash {
			t.Fatalf("acknowledged index %d with hash %s; the WAL records %s", v.Index, v.StateHash, got)
		}
		if !v.Duplicate && idemKeyOf(path, body) != "" {
			acks = append(acks, ack{method: m, target: target, body: bytes.Clone(body), auth: auth, index: v.Index, stateHash: v.StateHash})
		}
	})
}

// idemKeyOf is the idempotency key of an accepted POST body.
func idemKeyOf(path string, body []byte) string {
	if path == "/transition" {
		sub, _ := decodeProposal(body)
		return sub.Proposal.IdemKey
	}
	council := strings.TrimSuffix(strings.TrimPrefix(path, "/api/v1/councils/"), "/claims")
	sub, _ := decodeClaim(council, body)
	return sub.Proposal.IdemKey
}

// fuzzRequest builds a request, or nil when the target is not a URL a
// client could send. auth 1 sends the node's token, 2 a wrong one.
func fuzzRequest(method, target string, body []byte, auth byte) *http.Request {
	req, err := http.NewRequest(method, "http://node"+target, bytes.NewReader(body))
	if err != nil || req.URL.Host != "node" {
		return nil
	}
	req.RequestURI = target
	switch auth {
	case 1:
		req.Header.Set("Authorization", "Bearer "+testToken)
	case 2:
		req.Header.Set("Authorization", "Bearer not-the-token")
	}
	return req
}
