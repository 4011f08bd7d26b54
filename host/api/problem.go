package api

import (
	"encoding/json"
	"net/http"
)

// Problem is an RFC 9457 problem details body. Code is a stable,
// machine-readable slug.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`
}

// problemTypeBase prefixes a problem's code to form its type URI.
const problemTypeBase = "https://reprise.dev/problems/"

func writeProblem(w http.ResponseWriter, status int, code, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Problem{Type: problemTypeBase + code, Title: title, Status: status, Detail: detail, Code: code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
