package api

import (
	"encoding/json"
	"net/http"

	"github.com/reprise-dev/reprise/host/replay"
)

// Problem is an RFC 9457 problem details body. Code is a stable,
// machine-readable slug; the optional members after it are extensions that
// some problems carry.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`

	// Error is SWOOSH's text for a verdict (for example "precondition
	// failed") when the problem is a refused transition.
	Error string `json:"error,omitempty"`
	// StateHash is the current state hash when the problem concerns state.
	StateHash string `json:"state_hash,omitempty"`
	// Quarantined is set on refused transitions, as in SWOOSH's verdicts.
	Quarantined *bool `json:"quarantined,omitempty"`
	// Path names the request path the problem is about, where a client
	// needs it (the WHOOSH-compatible adapter's 501 answers).
	Path string `json:"path,omitempty"`
	// FirstIndex is the first index still held, on answers about
	// compacted WAL records.
	FirstIndex *uint64 `json:"first_index,omitempty"`
	// Problems lists every reason a module was refused at admission.
	Problems []string `json:"problems,omitempty"`
	// Shadow is the shadow replay that made an activation refuse.
	Shadow *replay.Report `json:"shadow,omitempty"`
	// Primary and PrimaryAPI name the cluster's primary (its node ID and
	// API address) on answers of a node that cannot take a write or
	// serve a read.
	Primary    string `json:"primary,omitempty"`
	PrimaryAPI string `json:"primary_api,omitempty"`
	// Index is the record a not_acknowledged problem is about.
	Index *uint64 `json:"index,omitempty"`
	// NotInSync lists the replicas whose absence refused a write.
	NotInSync []string `json:"not_in_sync,omitempty"`
}

// problemTypeBase prefixes a problem's code to form its type URI.
const problemTypeBase = "https://reprise.dev/problems/"

// ProblemContentType is the media type of every error body except the
// verdicts of POST /transition, whose shape SWOOSH fixes.
const ProblemContentType = "application/problem+json"

func newProblem(status int, code, title, detail string) *Problem {
	return &Problem{Type: problemTypeBase + code, Title: title, Status: status, Detail: detail, Code: code}
}

func writeProblem(w http.ResponseWriter, status int, code, title, detail string) {
	sendProblem(w, newProblem(status, code, title, detail))
}

func sendProblem(w http.ResponseWriter, p *Problem) {
	h := w.Header()
	h.Set("Content-Type", ProblemContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
