package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/abi/canon"
	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/host/state"
)

// whooshRoutes are the WHOOSH-compatible adapter paths. SWOOSH's rule holds:
// a request that cannot be mapped to exactly one catalogued transition
// answers 501, naming the path and why. Council role claims map to the
// catalog's claim transition when the catalog in force has it.
func (s *Server) whooshRoutes(r chi.Router) {
	r.Post("/api/v1/opportunities/council", s.notMapped(
		"a council opportunity carries project metadata (repository, brief, UCXL address, role skills) that no transition records, "+
			"so it maps to TRANSITION_COUNCIL_ROLES_PLANNED only in part; submit that transition through POST /transition"))
	r.Get("/api/v1/tasks", s.notMapped("tasks are not catalogued: no transition or state field holds a task list"))
	r.Post("/api/v1/councils/{id}/claims", s.postCouncilClaim)
}

// notMapped answers 501 for an adapter request that maps to no single
// transition.
func (s *Server) notMapped(why string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := newProblem(http.StatusNotImplemented, "not_mapped", "request cannot be mapped to exactly one transition",
			r.Method+" "+r.URL.Path+": "+why)
		p.Path = r.URL.Path
		sendProblem(w, p)
	}
}

// Council role claims map to this transition, with exactly these inputs.
const claimTransition = "TRANSITION_COUNCIL_CLAIM_ROLE"

var claimInputs = []string{"agent_name", "council_id", "role_name"}

// claimRequest is the body of POST /api/v1/councils/{id}/claims: the role
// and agent of WHOOSH's role claim, plus the optional proposal envelope
// fields of POST /transition.
type claimRequest struct {
	RoleName         string   `json:"role_name"`
	AgentName        string   `json:"agent_name"`
	CouncilID        string   `json:"council_id"`
	IdemKey          string   `json:"idem_key"`
	Signer           string   `json:"signer"`
	HLC              string   `json:"hlc"`
	WindowID         string   `json:"window_id"`
	Evidence         []string `json:"evidence"`
	CurrentStateHash string   `json:"current_state_hash"`
}

// claimResponse is a claim's verdict: SWOOSH's verdict shape, with the
// standing claim the catalog returns.
type claimResponse = transitionResponse

// decodeClaim turns a claim request into a submission of the claim
// transition, or the problem to answer.
func decodeClaim(councilID string, body []byte) (executor.Submission, *Problem) {
	var req claimRequest
	if p := decodeStrict(body, &req, "council role claim"); p != nil {
		return executor.Submission{}, p
	}
	if councilID == "" {
		return executor.Submission{}, newProblem(http.StatusBadRequest, "bad_claim", "council role claim is incomplete", "the path names no council")
	}
	if req.CouncilID != "" && req.CouncilID != councilID {
		return executor.Submission{}, newProblem(http.StatusBadRequest, "bad_claim", "council role claim names two councils",
			fmt.Sprintf("the body names council %q, the path %q", truncate(req.CouncilID, 100), truncate(councilID, 100)))
	}
	var missing []string
	if req.RoleName == "" {
		missing = append(missing, `"role_name"`)
	}
	if req.AgentName == "" {
		missing = append(missing, `"agent_name"`)
	}
	if len(missing) > 0 {
		return executor.Submission{}, newProblem(http.StatusBadRequest, "bad_claim", "council role claim is incomplete",
			strings.Join(missing, " and ")+" required")
	}
	inputs, err := canon.Marshal(map[string]string{"council_id": councilID, "role_name": req.RoleName, "agent_name": req.AgentName})
	if err != nil {
		return executor.Submission{}, newProblem(http.StatusBadRequest, "bad_claim", "council role claim cannot be encoded", err.Error())
	}
	tr := transitionRequest{Transition: claimTransition, Inputs: inputs, IdemKey: req.IdemKey, Signer: req.Signer, HLC: req.HLC,
		WindowID: req.WindowID, Evidence: req.Evidence, CurrentStateHash: req.CurrentStateHash}
	return tr.submission()
}

func (s *Server) postCouncilClaim(w http.ResponseWriter, r *http.Request) {
	if s.refuseWriteOnFollower(w, r) {
		return
	}
	why, err := s.claimUnmapped()
	if err != nil {
		s.readError(w, err)
		return
	}
	if why != "" {
		s.notMapped(why)(w, r)
		return
	}
	body, p := readBody(r)
	if p != nil {
		sendProblem(w, p)
		return
	}
	sub, p := decodeClaim(chi.URLParam(r, "id"), body)
	if p != nil {
		sendProblem(w, p)
		return
	}
	v, err := s.submit(r.Context(), sub)
	if err != nil {
		s.submitError(w, r, err)
		return
	}
	if v.Accepted {
		writeJSON(w, http.StatusOK, claimResponse(s.verdictResponse(v)))
		return
	}
	p = newProblem(verdictStatus(v.Code), v.Code.Slug(), "council role claim refused", v.Detail)
	p.Error, p.StateHash = v.Code.Message(), v.StateHash.String()
	q := s.stateSummary().quarantined()
	p.Quarantined = &q
	sendProblem(w, p)
}

// claimUnmapped says why the catalog in force cannot take council role
// claims, or "" when it can.
func (s *Server) claimUnmapped() (string, error) {
	var why string
	err := s.exec.Read(func(_ *state.State, _ uint64, d *abi.Descriptor) {
		for _, t := range d.Transitions {
			if t.Name != claimTransition {
				continue
			}
			var names []string
			for _, in := range t.Inputs {
				if in.Type != "string" {
					why = fmt.Sprintf("catalog %s %s declares %s with input %s of type %s, not string", d.Name, d.Version, claimTransition, in.Name, in.Type)
					return
				}
				names = append(names, in.Name)
			}
			slices.Sort(names)
			if !slices.Equal(names, claimInputs) {
				why = fmt.Sprintf("catalog %s %s declares %s with inputs {%s}, not {%s}", d.Name, d.Version, claimTransition,
					strings.Join(names, ", "), strings.Join(claimInputs, ", "))
			}
			return
		}
		why = fmt.Sprintf("catalog %s %s has no transition %s", d.Name, d.Version, claimTransition)
	})
	return why, err
}

// verdictStatus is the HTTP status of a refused verdict outside SWOOSH's
// fixed shape: 422 for what the request itself got wrong, 409 for what the
// state does not allow now.
func verdictStatus(c abi.Code) int {
	switch c {
	case abi.InvalidPhase, abi.PreconditionFailed, abi.QuarantineBlocked, abi.StateConflict, abi.StaleHLC:
		return http.StatusConflict
	}
	return http.StatusUnprocessableEntity
}
