package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/abi/canon"
	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/host/state"
)

// Config configures the HTTP surface.
type Config struct {
	// MaxBodyBytes caps request bodies; default 1 MiB.
	MaxBodyBytes int64
	// SubmitTimeout bounds how long a request waits for its verdict;
	// default 30s.
	SubmitTimeout time.Duration
	Logger        *slog.Logger
}

// Server is the HTTP handler of a node.
type Server struct {
	cfg  Config
	exec *executor.Executor
	log  *slog.Logger
	mux  *chi.Mux
	// quarantine mirrors the committed state's quarantine flag, updated by
	// the writer once per batch so that answering a request never waits
	// for the writer's lock.
	quarantine atomic.Bool
}

// New builds the router.
func New(exec *executor.Executor, cfg Config) *Server {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.SubmitTimeout == 0 {
		cfg.SubmitTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, exec: exec, log: cfg.Logger, mux: chi.NewRouter()}
	exec.OnCommit(func(st *state.State, _ uint64) { s.quarantine.Store(policyQuarantined(st)) })
	s.mux.Use(middleware.Recoverer)
	s.mux.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusNotFound, "not_found", "no such endpoint", r.Method+" "+r.URL.Path)
	})
	s.mux.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed", r.Method+" "+r.URL.Path)
	})
	s.mux.Post("/transition", s.postTransition)
	s.mux.Get("/state", s.getState)
	s.mux.Get("/health", s.getHealth)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Router exposes the router so later surfaces can mount on it.
func (s *Server) Router() chi.Router { return s.mux }

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

// transitionResponse is SWOOSH's verdict shape, plus Reprise's extras.
type transitionResponse struct {
	Success     bool            `json:"success"`
	Error       string          `json:"error,omitempty"`
	StateHash   string          `json:"state_hash"`
	Quarantined bool            `json:"quarantined"`
	Code        string          `json:"code,omitempty"`
	Detail      string          `json:"detail,omitempty"`
	Index       uint64          `json:"index,omitempty"`
	Duplicate   bool            `json:"duplicate,omitempty"`
	Output      json.RawMessage `json:"output,omitempty"`
}

// Limits on proposal fields, so one request cannot bloat the WAL.
const (
	maxFieldBytes    = 1024
	maxEvidenceItems = 256
)

// decodeProposal turns a request body into a submission, or a problem.
func (s *Server) decodeProposal(w http.ResponseWriter, r *http.Request) (executor.Submission, bool) {
	var sub executor.Submission
	// The body must be JSON whatever the Content-Type says: curl's -d sends
	// a form type, and a clear error about the body helps more than a 415.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeProblem(w, http.StatusRequestEntityTooLarge, "body_too_large", "request body too large", fmt.Sprintf("the limit is %d bytes", tooBig.Limit))
			return sub, false
		}
		writeProblem(w, http.StatusBadRequest, "bad_body", "cannot read request body", err.Error())
		return sub, false
	}
	var req transitionRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeProblem(w, http.StatusBadRequest, "malformed_json", "request body is not a valid proposal", err.Error())
		return sub, false
	}
	if dec.More() {
		writeProblem(w, http.StatusBadRequest, "malformed_json", "request body is not a valid proposal", "trailing data after the JSON object")
		return sub, false
	}
	if req.Transition == "" {
		writeProblem(w, http.StatusBadRequest, "missing_transition", "proposal names no transition", `field "transition" is required`)
		return sub, false
	}
	for name, v := range map[string]string{"transition": req.Transition, "signer": req.Signer, "idem_key": req.IdemKey,
		"hlc": req.HLC, "window_id": req.WindowID, "inputs_hash": req.InputsHash, "current_state_hash": req.CurrentStateHash} {
		if len(v) > maxFieldBytes {
			writeProblem(w, http.StatusBadRequest, "field_too_long", "proposal field too long", fmt.Sprintf("%s is %d bytes; the limit is %d", name, len(v), maxFieldBytes))
			return sub, false
		}
	}
	if len(req.Evidence) > maxEvidenceItems {
		writeProblem(w, http.StatusBadRequest, "too_much_evidence", "too many evidence items", fmt.Sprintf("%d items; the limit is %d", len(req.Evidence), maxEvidenceItems))
		return sub, false
	}
	p := abi.Proposal{Transition: req.Transition, Signer: req.Signer, IdemKey: req.IdemKey, HLC: req.HLC,
		WindowID: req.WindowID, InputsHash: req.InputsHash, Evidence: req.Evidence}
	if len(req.Inputs) > 0 && string(req.Inputs) != "null" {
		inputs, err := canon.Canonicalize(req.Inputs)
		if err != nil {
			writeProblem(w, http.StatusBadRequest, "bad_inputs", "inputs are not valid JSON", err.Error())
			return sub, false
		}
		if inputs[0] != '{' {
			writeProblem(w, http.StatusBadRequest, "bad_inputs", "inputs must be a JSON object", "got "+string(inputs))
			return sub, false
		}
		if req.InputsHash != "" {
			sum := sha256.Sum256(inputs)
			if want := hex.EncodeToString(sum[:]); !strings.EqualFold(req.InputsHash, want) {
				writeProblem(w, http.StatusBadRequest, "inputs_hash_mismatch", "inputs_hash does not match inputs",
					fmt.Sprintf("inputs_hash is %s; the SHA-256 of the canonical inputs %s is %s", req.InputsHash, inputs, want))
				return sub, false
			}
		}
		p.Inputs = inputs
	}
	if req.CurrentStateHash != "" {
		h, err := state.ParseHash(req.CurrentStateHash)
		if err != nil {
			writeProblem(w, http.StatusBadRequest, "bad_state_hash", "current_state_hash is malformed", err.Error())
			return sub, false
		}
		sub.ExpectedHash = &h
	}
	sub.Proposal = p
	return sub, true
}

func (s *Server) postTransition(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.decodeProposal(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.SubmitTimeout)
	defer cancel()
	v, err := s.exec.Submit(ctx, sub)
	if err != nil {
		s.submitError(w, err)
		return
	}
	resp := transitionResponse{Success: v.Accepted, StateHash: v.StateHash.String(), Index: v.Index, Duplicate: v.Duplicate, Quarantined: s.quarantined()}
	if len(v.Output) > 0 {
		resp.Output = v.Output
	}
	status := http.StatusOK
	if !v.Accepted {
		resp.Error, resp.Code, resp.Detail = v.Code.Message(), v.Code.Slug(), v.Detail
		status = http.StatusBadRequest
		if v.Code == abi.StateConflict {
			status = http.StatusConflict
		}
	}
	writeJSON(w, status, resp)
}

func (s *Server) submitError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, executor.ErrClosed):
		writeProblem(w, http.StatusServiceUnavailable, "shutting_down", "node is shutting down", "resubmit with the same idem_key to another node or after restart")
	case errors.Is(err, executor.ErrStopped):
		writeProblem(w, http.StatusServiceUnavailable, "writer_stopped", "node stopped accepting writes after a failure", err.Error())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		writeProblem(w, http.StatusServiceUnavailable, "timeout", "no verdict in time", "the proposal may still be applied; resubmit with the same idem_key to learn its fate")
	default:
		writeProblem(w, http.StatusInternalServerError, "internal", "internal error", err.Error())
	}
}

func (s *Server) quarantined() bool { return s.quarantine.Load() }

// policyQuarantined reads the conventional quarantine flag of a catalog's
// state: a value field "policy" holding {"quarantined": true}.
func policyQuarantined(st *state.State) bool {
	v, ok := st.Get("policy", "")
	if !ok {
		return false
	}
	var p struct {
		Quarantined bool `json:"quarantined"`
	}
	return json.Unmarshal(v, &p) == nil && p.Quarantined
}

func (s *Server) getState(w http.ResponseWriter, r *http.Request) {
	var body []byte
	var index uint64
	var hash state.Hash
	err := s.exec.Read(func(st *state.State, idx uint64, d *abi.Descriptor) {
		body, index, hash = st.View(d), idx, st.Hash()
	})
	if err != nil {
		s.submitError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Reprise-Index", strconv.FormatUint(index, 10))
	w.Header().Set("Reprise-State-Hash", hash.String())
	w.Header().Set("ETag", `"`+hash.String()+`"`)
	w.Write(append(body, '\n'))
}

func (s *Server) getHealth(w http.ResponseWriter, r *http.Request) {
	st := s.exec.Status()
	ready := st.Failure == nil
	body := map[string]any{
		"status": "ok", "live": true, "ready": ready,
		"index": st.Index, "state_hash": st.StateHash.String(),
		"catalog":     map[string]string{"name": st.Catalog.Name, "version": st.Catalog.Version, "hash": hex.EncodeToString(st.Module[:])},
		"quarantined": s.quarantined(),
	}
	status := http.StatusOK
	if !ready {
		body["status"] = "degraded"
		body["error"] = st.Failure.Error()
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, body)
}
