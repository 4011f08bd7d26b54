package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestMetrics drives a counter node through accepted, refused, duplicate
// and conflicting proposals and a snapshot, and checks what /metrics says
// about each, in a valid exposition.
func TestMetrics(t *testing.T) {
	n := startNode(t, "counter", Config{})
	first := n.mustAccept(`{"transition":"TRANSITION_INCREMENT","inputs":{"key":"a","by":1},"idem_key":"m-1"}`)
	n.mustAccept(`{"transition":"INCREMENT","inputs":{"key":"a","by":2}}`)
	n.mustAccept(`{"transition":"TRANSITION_INCREMENT","inputs":{"key":"b","by":3}}`)
	if _, v := n.submit(`{"transition":"TRANSITION_INCREMENT","inputs":{"key":"a","by":1},"idem_key":"m-1"}`); !v.Duplicate {
		t.Fatalf("repeat is not a duplicate: %+v", v)
	}
	for _, body := range []string{
		`{"transition":"TRANSITION_INCREMENT","inputs":{"key":"a","by":0}}`,
		`{"transition":"TRANSITION_FLY_TO_THE_MOON"}`,
		fmt.Sprintf(`{"transition":"TRANSITION_RESET","inputs":{"key":"a"},"current_state_hash":%q}`, first.StateHash),
	} {
		if r, v := n.submit(body); v.Success || r.status == http.StatusOK {
			t.Fatalf("%s: %s", body, r)
		}
	}
	if r := n.post("/v1/snapshots", ""); r.status != http.StatusCreated {
		t.Fatalf("snapshot: %s", r)
	}
	n.get("/no/such/path")

	r := n.get("/metrics")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != PrometheusContentType {
		t.Fatalf("GET /metrics: %d %s", r.status, r.header.Get("Content-Type"))
	}
	m := checkExposition(t, string(r.body))
	h := n.health()
	want := map[string]float64{
		`reprise_transitions_accepted_total{transition="TRANSITION_INCREMENT"}`:                         3,
		`reprise_transitions_duplicate_total{transition="TRANSITION_INCREMENT"}`:                        1,
		`reprise_transitions_rejected_total{transition="TRANSITION_INCREMENT",reason="guard_rejected"}`: 1,
		`reprise_transitions_rejected_total{transition="unknown",reason="unknown_transition"}`:          1,
		`reprise_transitions_rejected_total{transition="TRANSITION_RESET",reason="state_conflict"}`:     1,
		`reprise_transition_fuel_count{transition="TRANSITION_INCREMENT"}`:                              4,
		`reprise_wal_index`:                       float64(h.Index),
		`reprise_snapshot_index`:                  float64(h.Index),
		`reprise_snapshots_total{result="ok"}`:    1,
		`reprise_snapshots_total{result="error"}`: 0,
		`reprise_quarantined`:                     0,
		`reprise_writer_failed`:                   0,
		`reprise_http_requests_total{method="POST",route="/transition",status="200"}`:                     4,
		`reprise_http_requests_total{method="POST",route="/transition",status="400"}`:                     2,
		`reprise_http_requests_total{method="POST",route="/transition",status="409"}`:                     1,
		`reprise_http_requests_total{method="POST",route="/v1/snapshots",status="201"}`:                   1,
		`reprise_http_requests_total{method="GET",route="unmatched",status="404"}`:                        1,
		fmt.Sprintf(`reprise_catalog_info{name="counter",version="1.0.0",hash="%s"}`, n.module.HashHex()): 1,
	}
	for series, v := range want {
		if got, ok := m[series]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, v)
		}
	}
	// Every accepted transition was committed in a batch of its own.
	if c := m["reprise_commit_latency_seconds_count"]; c < 3 {
		t.Errorf("commit latency count %v, want at least 3", c)
	}
	if c, p := m["reprise_batch_records_count"], m["reprise_batch_proposals_count"]; c < 3 || p < c {
		t.Errorf("batch counts: records %v, proposals %v", c, p)
	}
	if age, ok := m["reprise_snapshot_age_seconds"]; !ok || age < 0 {
		t.Errorf("snapshot age %v (present %v)", age, ok)
	}
	for series := range m {
		if strings.Contains(series, "FLY_TO_THE_MOON") {
			t.Errorf("an unknown transition name became a label: %s", series)
		}
	}
}
