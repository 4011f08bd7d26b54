package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/abi/canon"
	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/host/state"
)

// transitionRequest is SWOOSH's proposal body, plus Reprise's inputs.
type transitionRequest struct {
	CurrentStateHash string          `json:"current_state_hash"`
	Transition       string          `json:"transition"`
	InputsHash       string          `json:"inputs_hash"`
	Signer           string          `json:"signer"`
	IdemKey          string          `json:"idem_key"`
	HLC              string          `json:"hlc"`
	WindowID         string          `json:"window_id"`
	Evidence         []string        `json:"evidence"`
	Inputs           json.RawMessage `json:"inputs"`
}

// Limits on proposal fields, so one request cannot bloat the WAL.
const (
	maxFieldBytes    = 1024
	maxEvidenceItems = 256
)

// maxDetailBytes bounds the part of a problem detail that echoes what the
// client sent.
const maxDetailBytes = 512

// readBody reads a request body under the limit the body-limit middleware
// set, or returns the problem to answer.
func readBody(r *http.Request) ([]byte, *Problem) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, bodyTooLarge(tooBig.Limit)
		}
		return nil, newProblem(http.StatusBadRequest, "bad_body", "cannot read request body", err.Error())
	}
	return body, nil
}

func bodyTooLarge(limit int64) *Problem {
	return newProblem(http.StatusRequestEntityTooLarge, "body_too_large", "request body too large", fmt.Sprintf("the limit is %d bytes", limit))
}

// decodeStrict decodes one JSON object into v, a pointer to a struct. It
// refuses what encoding/json lets through: member names that match a field
// only when case is ignored, members given twice, and data after the
// object; and, like DisallowUnknownFields, unknown members. what names the
// body in the problem's title.
func decodeStrict(body []byte, v any, what string) *Problem {
	bad := func(detail string) *Problem {
		return newProblem(http.StatusBadRequest, "malformed_json", "request body is not a valid "+what, truncate(detail, maxDetailBytes))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		if err == nil || err == io.EOF {
			return bad("the body must be a JSON object")
		}
		return bad(err.Error())
	}
	names := jsonFieldNames(reflect.TypeOf(v).Elem())
	seen := make(map[string]bool, len(names))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad(err.Error())
		}
		name, _ := tok.(string)
		switch {
		case !slices.Contains(names, name):
			return bad(fmt.Sprintf("unknown field %q (field names are case-sensitive: %s)", name, strings.Join(names, ", ")))
		case seen[name]:
			return bad(fmt.Sprintf("field %q appears twice", name))
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return bad(err.Error())
		}
	}
	if _, err := dec.Token(); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return bad(err.Error())
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("trailing data after the JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return bad(err.Error())
	}
	return nil
}

// fieldNames caches jsonFieldNames by type.
var fieldNames sync.Map // reflect.Type → []string

// jsonFieldNames lists the JSON member names of a struct type's fields.
func jsonFieldNames(t reflect.Type) []string {
	if names, ok := fieldNames.Load(t); ok {
		return names.([]string)
	}
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	fieldNames.Store(t, names)
	return names
}

// decodeProposal turns a POST /transition body into a submission, or the
// problem to answer. It checks everything that can be checked without the
// state: field sizes, the inputs object and its hash, the state hash's
// syntax.
func decodeProposal(body []byte) (executor.Submission, *Problem) {
	var req transitionRequest
	if p := decodeStrict(body, &req, "proposal"); p != nil {
		return executor.Submission{}, p
	}
	return req.submission()
}

func (req *transitionRequest) submission() (executor.Submission, *Problem) {
	var sub executor.Submission
	if req.Transition == "" {
		return sub, newProblem(http.StatusBadRequest, "missing_transition", "proposal names no transition", `field "transition" is required`)
	}
	// A slice, not a map: the first offending field reported must not
	// depend on iteration order.
	for _, f := range [...]struct{ name, value string }{
		{"transition", req.Transition}, {"current_state_hash", req.CurrentStateHash}, {"inputs_hash", req.InputsHash},
		{"signer", req.Signer}, {"idem_key", req.IdemKey}, {"hlc", req.HLC}, {"window_id", req.WindowID},
	} {
		if len(f.value) > maxFieldBytes {
			return sub, newProblem(http.StatusBadRequest, "field_too_long", "proposal field too long",
				fmt.Sprintf("%s is %d bytes; the limit is %d", f.name, len(f.value), maxFieldBytes))
		}
	}
	if len(req.Evidence) > maxEvidenceItems {
		return sub, newProblem(http.StatusBadRequest, "too_much_evidence", "too many evidence items",
			fmt.Sprintf("%d items; the limit is %d", len(req.Evidence), maxEvidenceItems))
	}
	for i, e := range req.Evidence {
		if len(e) > maxFieldBytes {
			return sub, newProblem(http.StatusBadRequest, "field_too_long", "proposal field too long",
				fmt.Sprintf("evidence[%d] is %d bytes; the limit is %d", i, len(e), maxFieldBytes))
		}
	}
	p := abi.Proposal{Transition: req.Transition, Signer: req.Signer, IdemKey: req.IdemKey, HLC: req.HLC,
		WindowID: req.WindowID, InputsHash: req.InputsHash, Evidence: req.Evidence}
	if len(req.Inputs) > 0 && string(req.Inputs) != "null" {
		inputs, err := canon.Canonicalize(req.Inputs)
		if err != nil {
			return sub, newProblem(http.StatusBadRequest, "bad_inputs", "inputs are not valid JSON", err.Error())
		}
		if inputs[0] != '{' {
			return sub, newProblem(http.StatusBadRequest, "bad_inputs", "inputs must be a JSON object", "got "+truncate(string(inputs), 200))
		}
		if req.InputsHash != "" {
			sum := sha256.Sum256(inputs)
			if want := hex.EncodeToString(sum[:]); !strings.EqualFold(req.InputsHash, want) {
				return sub, newProblem(http.StatusBadRequest, "inputs_hash_mismatch", "inputs_hash does not match inputs",
					fmt.Sprintf("inputs_hash is %s; the SHA-256 of the canonical inputs %s is %s", req.InputsHash, truncate(string(inputs), 200), want))
			}
		}
		p.Inputs = inputs
	}
	if req.CurrentStateHash != "" {
		h, err := state.ParseHash(req.CurrentStateHash)
		if err != nil {
			return sub, newProblem(http.StatusBadRequest, "bad_state_hash", "current_state_hash is malformed", err.Error())
		}
		sub.ExpectedHash = &h
	}
	sub.Proposal = p
	return sub, nil
}

// truncate shortens s for a problem detail, on a UTF-8 boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
