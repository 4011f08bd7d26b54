package api

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/catalogstore"
	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/host/replay"
)

// catalogRoutes are the catalog versions: the store (upload, list), shadow
// replay of a candidate, activation (hot swap, and rollback, which is an
// activation of the older version), and replay of the node's own WAL.
func (s *Server) catalogRoutes(r chi.Router) {
	r.Get("/v1/catalogs", s.listCatalogs)
	r.Post("/v1/catalogs", s.pushCatalog)
	r.Post("/v1/catalogs/{hash}/activate", s.activateCatalog)
	r.Post("/v1/catalogs/{hash}/shadow", s.shadowCatalog)
	r.Get("/v1/catalogs/{hash}/module", s.getCatalogModule)
	r.Post("/v1/replay", s.postReplay)
}

// catalogUploadPath is the one route whose body is a module, not JSON: it
// takes bodies up to MaxModuleBytes instead of MaxBodyBytes.
const catalogUploadPath = "/v1/catalogs"

func (s *Server) store(w http.ResponseWriter) *catalogstore.Store {
	if s.cfg.Catalogs == nil {
		writeProblem(w, http.StatusServiceUnavailable, "no_catalog_store", "this node has no catalog store", "the server was started without one")
	}
	return s.cfg.Catalogs
}

func (s *Server) listCatalogs(w http.ResponseWriter, r *http.Request) {
	store := s.store(w)
	if store == nil {
		return
	}
	infos, err := store.List()
	if err != nil && len(infos) == 0 {
		s.log.Error("catalog list failed", "err", err)
		writeProblem(w, http.StatusInternalServerError, "catalog_store", "cannot list catalogs", err.Error())
		return
	}
	if err != nil { // some catalogs are damaged: list the others, log which
		s.log.Warn("catalog store holds damaged catalogs", "err", err)
	}
	reply := catalogstore.NewListReply(infos)
	inForce := s.exec.Catalog().Hash
	for i := range reply.Catalogs {
		active := reply.Catalogs[i].Hash == hex.EncodeToString(inForce[:])
		reply.Catalogs[i].Active = &active
	}
	writeJSON(w, http.StatusOK, reply)
}

// pushCatalog stores a sealed module sent as the raw request body. The
// module is admitted exactly as the host admits it before anything is
// stored; storing the same bytes again is not an error (200, added false).
func (s *Server) pushCatalog(w http.ResponseWriter, r *http.Request) {
	store := s.store(w)
	if store == nil {
		return
	}
	wasm, p := readBody(r)
	if p != nil {
		sendProblem(w, p)
		return
	}
	if len(wasm) == 0 {
		writeProblem(w, http.StatusBadRequest, "empty_module", "no module in the request body", "send the sealed .wasm bytes as the body (Content-Type: application/wasm)")
		return
	}
	info, added, err := store.Put(r.Context(), wasm)
	if err != nil {
		var refused *host.RefusedError
		if errors.As(err, &refused) {
			p := newProblem(http.StatusUnprocessableEntity, "catalog_refused", "the module was refused at admission", err.Error())
			p.Problems = refused.Problems
			sendProblem(w, p)
			return
		}
		s.log.Error("catalog push failed", "err", err)
		writeProblem(w, http.StatusInternalServerError, "catalog_store", "cannot store the catalog", err.Error())
		return
	}
	status := http.StatusOK
	if added {
		status = http.StatusCreated
	}
	sum := info.Summary()
	active := info.Hash == s.exec.Catalog().Hash
	sum.Active = &active
	writeJSON(w, status, catalogstore.PushReply{Added: added, Catalog: sum})
}

// resolveCatalog turns the {hash} path parameter (a full hash or a unique
// prefix of at least catalogstore.MinPrefixLen hex digits) into a hash.
func (s *Server) resolveCatalog(w http.ResponseWriter, r *http.Request) ([32]byte, bool) {
	store := s.store(w)
	if store == nil {
		return [32]byte{}, false
	}
	hash, err := store.Resolve(chi.URLParam(r, "hash"))
	if err != nil {
		status, code := http.StatusBadRequest, "bad_catalog_hash"
		switch {
		case errors.Is(err, catalogstore.ErrNotFound):
			status, code = http.StatusNotFound, "unknown_catalog"
		case errors.Is(err, catalogstore.ErrAmbiguous):
			code = "ambiguous_catalog_hash"
		}
		writeProblem(w, status, code, "no single catalog with that hash", err.Error())
		return hash, false
	}
	return hash, true
}

// activateRequest is the optional body of an activation.
type activateRequest struct {
	// RequireCleanShadow refuses the activation unless a shadow replay of
	// the recent WAL under the candidate reproduces every record.
	RequireCleanShadow bool `json:"require_clean_shadow"`
	// ShadowRecent is how many of the latest records that shadow replay
	// covers; 0 means from the oldest retained snapshot.
	ShadowRecent uint64 `json:"shadow_recent"`
}

// activatedJSON is the answer to a successful activation.
type activatedJSON struct {
	Index       uint64          `json:"index"`
	StateHash   string          `json:"state_hash"`
	Catalog     catalogRefJSON  `json:"catalog"`
	Replaced    *catalogRefJSON `json:"replaced,omitempty"`
	Migrated    bool            `json:"migrated"`
	Fuel        uint64          `json:"transition_fuel"`
	PauseMs     float64         `json:"pause_ms"`
	HandOverMs  float64         `json:"hand_over_ms"`
	CommitMs    float64         `json:"commit_ms"`
	ShadowCheck *replay.Report  `json:"shadow,omitempty"`
}

type catalogRefJSON struct {
	Hash    string `json:"hash"`
	Name    string `json:"name"`
	Version string `json:"version"`
}

func (s *Server) activateCatalog(w http.ResponseWriter, r *http.Request) {
	if s.refuseWriteOnFollower(w, r) {
		return
	}
	hash, ok := s.resolveCatalog(w, r)
	if !ok {
		return
	}
	var req activateRequest
	body, p := readBody(r)
	if p == nil && len(body) > 0 {
		p = decodeStrict(body, &req, "activation request is not valid")
	}
	if p != nil {
		sendProblem(w, p)
		return
	}
	a, err := s.exec.Activate(r.Context(), hash, executor.ActivateOptions{RequireCleanShadow: req.RequireCleanShadow, ShadowRecent: req.ShadowRecent})
	if err != nil {
		s.catalogError(w, r, err)
		return
	}
	ms := func(d time.Duration) float64 { return d.Seconds() * 1e3 }
	out := activatedJSON{
		Index: a.Index, StateHash: a.StateHash.String(),
		Catalog:  catalogRefJSON{Hash: hex.EncodeToString(a.Catalog[:]), Name: a.Ref.Name, Version: a.Ref.Version},
		Migrated: a.Migrated, Fuel: a.Fuel,
		PauseMs: ms(a.Pause), HandOverMs: ms(a.HandOver), CommitMs: ms(a.Commit),
		ShadowCheck: a.Shadow,
	}
	if a.Replaced != ([32]byte{}) {
		out.Replaced = &catalogRefJSON{Hash: hex.EncodeToString(a.Replaced[:]), Name: a.ReplacedRef.Name, Version: a.ReplacedRef.Version}
	}
	writeJSON(w, http.StatusOK, out)
}

// shadowCatalog replays the recent WAL (?recent=N records; default from
// the oldest retained snapshot) under a candidate catalog and reports the
// first record where it would have decided differently. Nothing changes.
func (s *Server) shadowCatalog(w http.ResponseWriter, r *http.Request) {
	hash, ok := s.resolveCatalog(w, r)
	if !ok {
		return
	}
	var recent uint64
	if v := r.URL.Query().Get("recent"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeProblem(w, http.StatusBadRequest, "bad_parameter", "recent must be a non-negative integer", "recent="+truncate(v, maxDetailBytes))
			return
		}
		recent = n
	}
	report, err := s.exec.Shadow(r.Context(), hash, recent)
	if err != nil {
		s.catalogError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, report)
}

// replayRequest is the body of POST /v1/replay.
type replayRequest struct {
	From    uint64 `json:"from"`
	To      uint64 `json:"to"`
	Catalog string `json:"catalog"` // a hash or unique prefix: force this version for the range
	MaxDiff int    `json:"max_diff"`
}

// postReplay replays part of the node's WAL beside the writer, honouring
// the activation records or forcing one catalog version, and reports what
// differs from what the WAL recorded.
func (s *Server) postReplay(w http.ResponseWriter, r *http.Request) {
	var req replayRequest
	body, p := readBody(r)
	if p == nil && len(body) > 0 {
		p = decodeStrict(body, &req, "replay request is not valid")
	}
	if p != nil {
		sendProblem(w, p)
		return
	}
	if req.MaxDiff < 0 || (req.To != 0 && req.From > req.To) {
		writeProblem(w, http.StatusBadRequest, "bad_parameter", "replay range is not valid",
			"from must not exceed to, and max_diff must not be negative")
		return
	}
	rr := executor.ReplayRequest{From: req.From, To: req.To, MaxDiff: req.MaxDiff}
	if req.Catalog != "" {
		store := s.store(w)
		if store == nil {
			return
		}
		hash, err := store.Resolve(req.Catalog)
		if err != nil {
			status := http.StatusBadRequest
			if errors.Is(err, catalogstore.ErrNotFound) {
				status = http.StatusNotFound
			}
			writeProblem(w, status, "unknown_catalog", "no single catalog with that hash", err.Error())
			return
		}
		rr.Catalog = &hash
	}
	report, err := s.exec.Replay(r.Context(), rr)
	if err != nil {
		s.catalogError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, report)
}

// catalogError answers a failed activation, shadow or replay.
func (s *Server) catalogError(w http.ResponseWriter, r *http.Request, err error) {
	if s.replicationError(w, r, err) {
		return
	}
	var (
		inForce  *executor.AlreadyInForceError
		diverged *executor.ShadowDivergedError
		handover *replay.HandoverError
		refused  *host.RefusedError
	)
	switch {
	case errors.As(err, &inForce):
		writeProblem(w, http.StatusConflict, "already_in_force", "the catalog is already in force", err.Error())
	case errors.As(err, &diverged):
		p := newProblem(http.StatusConflict, "shadow_diverged", "the shadow replay diverged; nothing was activated", err.Error())
		p.Shadow = &diverged.Report
		sendProblem(w, p)
	case errors.As(err, &handover):
		writeProblem(w, http.StatusUnprocessableEntity, "handover_refused", "the catalog cannot take over the current state; nothing changed", err.Error())
	case errors.As(err, &refused):
		writeProblem(w, http.StatusUnprocessableEntity, "catalog_refused", "the module was refused at admission", err.Error())
	case errors.Is(err, replay.ErrUnknownCatalog):
		writeProblem(w, http.StatusNotFound, "unknown_catalog", "catalog not available", err.Error())
	case errors.Is(err, executor.ErrStopped), errors.Is(err, executor.ErrClosed):
		writeProblem(w, http.StatusServiceUnavailable, "writer_stopped", "node is not accepting changes", err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeProblem(w, http.StatusServiceUnavailable, "timeout", "the request ended before the operation finished", err.Error())
	default:
		s.log.Error("catalog operation failed", "err", err)
		writeProblem(w, http.StatusInternalServerError, "internal", "internal error", err.Error())
	}
}

// getCatalogModule serves the sealed module bytes of a stored catalog,
// named by its full hex SHA-256 (no prefixes: a caller fetching a module
// knows exactly which one it needs, and the bytes it gets must hash to
// it). Replicas fetch catalogs they lack from the primary this way.
func (s *Server) getCatalogModule(w http.ResponseWriter, r *http.Request) {
	store := s.store(w)
	if store == nil {
		return
	}
	raw := chi.URLParam(r, "hash")
	var hash [32]byte
	if n, err := hex.Decode(hash[:], []byte(raw)); err != nil || n != len(hash) || len(raw) != 2*len(hash) {
		writeProblem(w, http.StatusNotFound, "catalog_not_found", "no catalog with that hash",
			fmt.Sprintf("%q is not a full SHA-256 in hex (64 hex digits)", truncate(raw, 80)))
		return
	}
	wasm, err := store.Get(hash)
	var corrupt *catalogstore.CorruptError
	switch {
	case errors.Is(err, catalogstore.ErrNotFound):
		writeProblem(w, http.StatusNotFound, "catalog_not_found", "no catalog with that hash", "catalog "+raw+" is not in this node's store")
		return
	case errors.As(err, &corrupt):
		s.log.Error("catalog store holds a damaged module", "err", err)
		writeProblem(w, http.StatusInternalServerError, "catalog_store", "the stored module is damaged", err.Error())
		return
	case err != nil:
		s.log.Error("catalog read failed", "err", err)
		writeProblem(w, http.StatusInternalServerError, "catalog_store", "cannot read the catalog", err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/wasm")
	h.Set("Content-Length", strconv.Itoa(len(wasm)))
	h.Set("ETag", `"`+hex.EncodeToString(hash[:])+`"`)
	// Content-addressed: the bytes under a hash never change.
	h.Set("Cache-Control", "private, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(wasm)
	}
}
