package api

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/host/state"
	replnode "github.com/reprise-dev/reprise/replication/node"
)

// swooshRoutes are the endpoints SWOOSH serves, in SWOOSH's shapes.
func (s *Server) swooshRoutes(r chi.Router) {
	r.Post("/transition", s.postTransition)
	r.Get("/state", s.getState)
	r.Get("/health", s.getHealth)
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

func (s *Server) postTransition(w http.ResponseWriter, r *http.Request) {
	if s.refuseWriteOnFollower(w, r) {
		return
	}
	body, p := readBody(r)
	if p != nil {
		sendProblem(w, p)
		return
	}
	sub, p := decodeProposal(body)
	if p != nil {
		sendProblem(w, p)
		return
	}
	v, err := s.submit(r.Context(), sub)
	if err != nil {
		s.submitError(w, r, err)
		return
	}
	resp := s.verdictResponse(v)
	status := http.StatusOK
	if !v.Accepted {
		status = http.StatusBadRequest
		if v.Code == abi.StateConflict {
			status = http.StatusConflict
		}
	}
	writeJSON(w, status, resp)
}

// submit hands a submission to the executor and waits, at most
// SubmitTimeout, for its verdict.
func (s *Server) submit(ctx context.Context, sub executor.Submission) (executor.Verdict, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SubmitTimeout)
	defer cancel()
	return s.exec.Submit(ctx, sub)
}

// verdictResponse is SWOOSH's verdict body for v.
func (s *Server) verdictResponse(v executor.Verdict) transitionResponse {
	resp := transitionResponse{Success: v.Accepted, StateHash: v.StateHash.String(), Index: v.Index, Duplicate: v.Duplicate,
		Quarantined: s.stateSummary().quarantined(), Output: jsonOutput(v.Output)}
	if !v.Accepted {
		resp.Error, resp.Code, resp.Detail = v.Code.Message(), v.Code.Slug(), v.Detail
	}
	return resp
}

// jsonOutput is a transition's output as JSON: the output itself when it is
// JSON (what the guest SDK produces), else a JSON string of its bytes.
func jsonOutput(out []byte) json.RawMessage {
	if len(out) == 0 {
		return nil
	}
	if json.Valid(out) {
		return out
	}
	b, _ := json.Marshal(string(out))
	return b
}

// submitError answers a submission that got no verdict.
func (s *Server) submitError(w http.ResponseWriter, r *http.Request, err error) {
	if s.replicationError(w, r, err) {
		return
	}
	switch {
	case errors.Is(err, executor.ErrClosed):
		writeProblem(w, http.StatusServiceUnavailable, "shutting_down", "node is shutting down", "resubmit with the same idem_key to another node or after restart")
	case errors.Is(err, executor.ErrStopped):
		writeProblem(w, http.StatusServiceUnavailable, "writer_stopped", "node stopped accepting writes after a failure", err.Error())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		writeProblem(w, http.StatusServiceUnavailable, "timeout", "no verdict in time", "the proposal may still be applied; resubmit with the same idem_key to learn its fate")
	default:
		s.log.Error("submission failed", "err", err)
		writeProblem(w, http.StatusInternalServerError, "internal", "internal error", err.Error())
	}
}

// readError answers a read of the state that failed.
func (s *Server) readError(w http.ResponseWriter, err error) {
	if errors.Is(err, executor.ErrNoState) {
		sendProblem(w, notReadable("this replica has not received any state from the primary yet", s.clusterStatus()))
		return
	}
	if errors.Is(err, executor.ErrStopped) {
		writeProblem(w, http.StatusServiceUnavailable, "writer_stopped", "node stopped serving state after a failure", err.Error())
		return
	}
	s.log.Error("state read failed", "err", err)
	writeProblem(w, http.StatusInternalServerError, "internal", "internal error", err.Error())
}

// getState is SWOOSH's GET /state: the state as one JSON object, or the
// parts a projection selects, with the index and hash it reflects in
// headers.
func (s *Server) getState(w http.ResponseWriter, r *http.Request) {
	proj, p := parseProjection(r.URL.Query().Get("projection"))
	if p != nil {
		sendProblem(w, p)
		return
	}
	if s.refuseUnreadable(w) {
		return
	}
	var body []byte
	var index uint64
	var hash state.Hash
	err := s.exec.Read(func(st *state.State, idx uint64, d *abi.Descriptor) {
		body, p = proj.render(st, d)
		index, hash = idx, st.Hash()
	})
	if err != nil {
		s.readError(w, err)
		return
	}
	if p != nil {
		sendProblem(w, p)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Reprise-Index", strconv.FormatUint(index, 10))
	setReadIndex(w, index)
	h.Set("Reprise-State-Hash", hash.String())
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", `"`+hash.String()+`"`)
	_, _ = w.Write(append(body, '\n'))
}

// healthResponse is GET /health.
type healthResponse struct {
	// Status is "ok", "quarantined", "degraded" (the catalog's control
	// state), "failed" (the writer stopped; Error says why), or, in a
	// cluster, "not_readable" (a node whose state must not be served now:
	// a replica being rebuilt or not yet following, a primary not serving
	// yet; such a node is live but not ready).
	Status      string          `json:"status"`
	Live        bool            `json:"live"`
	Ready       bool            `json:"ready"`
	Error       string          `json:"error,omitempty"`
	Index       uint64          `json:"index"`
	StateHash   string          `json:"state_hash"`
	WAL         walBounds       `json:"wal"`
	Catalog     catalogRef      `json:"catalog"`
	Quarantined bool            `json:"quarantined"`
	Degraded    bool            `json:"degraded"`
	License     *licenseSummary `json:"license"`
	// Role, Epoch and Primary are set when the node is part of a cluster
	// (Primary is "" while none is assigned).
	Role    string  `json:"role,omitempty"`
	Epoch   *uint64 `json:"epoch,omitempty"`
	Primary *string `json:"primary,omitempty"`
}

type walBounds struct {
	FirstIndex uint64 `json:"first_index"`
	LastIndex  uint64 `json:"last_index"`
}

type catalogRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Hash    string `json:"hash"`
}

// licenseSummary is the catalog's boot section as far as licensing goes;
// null in /health for a catalog without one.
type licenseSummary struct {
	Licensed bool   `json:"licensed"`
	Expiry   int64  `json:"expiry"`
	Expired  bool   `json:"expired"`
	Phase    string `json:"phase"`
}

func (s *Server) getHealth(w http.ResponseWriter, r *http.Request) {
	st := s.exec.Status()
	sum := s.stateSummary()
	resp := healthResponse{
		Status: "ok", Live: true, Ready: st.Failure == nil,
		Index: st.Index, StateHash: st.StateHash.String(),
		WAL:         walBounds{FirstIndex: st.FirstWAL, LastIndex: st.Index},
		Catalog:     catalogRef{Name: st.Catalog.Name, Version: st.Catalog.Version, Hash: hex.EncodeToString(st.Module[:])},
		Quarantined: sum.quarantined(),
		Degraded:    sum.Policy.Degraded,
	}
	if sum.HasBoot {
		now := s.cfg.Now().Unix()
		resp.License = &licenseSummary{Licensed: sum.Boot.Licensed, Expiry: sum.Boot.LicenseExpiry, Phase: sum.Boot.Phase,
			Expired: sum.Boot.Licensed && sum.Boot.LicenseExpiry != 0 && now > sum.Boot.LicenseExpiry}
	}
	var cluster replnode.Status
	if s.cfg.Cluster != nil {
		cluster = s.cfg.Cluster.Status()
		primary := string(cluster.Primary)
		resp.Role, resp.Epoch, resp.Primary = string(cluster.Role), &cluster.Epoch, &primary
		resp.Ready = resp.Ready && cluster.Readable
	}
	status := http.StatusOK
	switch {
	case st.Failure != nil:
		resp.Status, resp.Error = "failed", st.Failure.Error()
		status = http.StatusServiceUnavailable
	case s.cfg.Cluster != nil && !cluster.Readable:
		// Live, but its state must not be served: not ready.
		resp.Status = "not_readable"
		status = http.StatusServiceUnavailable
	case resp.Quarantined:
		resp.Status = "quarantined"
	case resp.Degraded:
		resp.Status = "degraded"
	}
	setReadIndex(w, st.Index)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, resp)
}
