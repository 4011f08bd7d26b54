package api

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/host/state"
	"github.com/reprise-dev/reprise/snapshot"
	"github.com/reprise-dev/reprise/wal"
)

// v1Routes are Reprise's own read and operations endpoints.
func (s *Server) v1Routes(r chi.Router) {
	r.Get("/v1/state", s.getStateV1)
	r.Get("/v1/state/hash", s.getStateHash)
	r.Get("/v1/wal", s.getWAL)
	r.Get("/v1/snapshots", s.getSnapshots)
	r.Post("/v1/snapshots", s.postSnapshot)
	r.Get("/v1/catalog", s.getCatalog)
}

// defaultWALPage is the page size of GET /v1/wal without a limit.
const defaultWALPage = 100

// indexParam reads an optional index query parameter: a decimal uint64.
func indexParam(r *http.Request, name string) (uint64, bool, *Problem) {
	raw, ok := r.URL.Query()[name]
	if !ok {
		return 0, false, nil
	}
	v := raw[0]
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || len(raw) > 1 {
		detail := fmt.Sprintf("%s=%q is not a decimal index", name, truncate(v, 40))
		if err == nil {
			detail = fmt.Sprintf("%s is given %d times", name, len(raw))
		}
		return 0, false, newProblem(http.StatusBadRequest, "bad_parameter", "query parameter is malformed", detail)
	}
	return n, true, nil
}

func indexNotFound(index, current uint64) *Problem {
	return newProblem(http.StatusNotFound, "index_not_found", "index not committed",
		fmt.Sprintf("index %d is not committed; the last durable index is %d", index, current))
}

// stateAtIndex is GET /v1/state.
type stateAtIndex struct {
	Index     uint64          `json:"index"`
	StateHash string          `json:"state_hash"`
	Catalog   catalogRef      `json:"catalog"`
	State     json.RawMessage `json:"state"`
}

// getStateV1 serves the state (or a projection of it) with its index and
// hash. The current state is read as it is; the state at a past index is
// rebuilt beside the writer from the newest snapshot at or before it and
// the WAL records after that snapshot, as long as they are kept.
func (s *Server) getStateV1(w http.ResponseWriter, r *http.Request) {
	want, pinned, p := indexParam(r, "index")
	if p != nil {
		sendProblem(w, p)
		return
	}
	proj, p := parseProjection(r.URL.Query().Get("projection"))
	if p != nil {
		sendProblem(w, p)
		return
	}
	if s.refuseUnreadable(w) {
		return
	}
	var (
		resp stateAtIndex
		past bool
	)
	err := s.exec.Read(func(st *state.State, idx uint64, d *abi.Descriptor) {
		switch {
		case pinned && want > idx:
			p = indexNotFound(want, idx)
			return
		case pinned && want < idx:
			past = true
			return
		}
		var body []byte
		body, p = proj.render(st, d)
		resp = stateAtIndex{Index: idx, StateHash: st.Hash().String(), Catalog: catalogRef{Name: d.Name, Version: d.Version}, State: body}
	})
	if err != nil {
		s.readError(w, err)
		return
	}
	if past {
		s.getPastState(w, r, want, proj)
		return
	}
	if p != nil {
		sendProblem(w, p)
		return
	}
	module := s.exec.Status().Module
	resp.Catalog.Hash = hex.EncodeToString(module[:])
	setReadIndex(w, resp.Index)
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}

// getPastState answers GET /v1/state at an index below the current one
// with the state rebuilt at that index.
func (s *Server) getPastState(w http.ResponseWriter, r *http.Request, index uint64, proj *projection) {
	ps, err := s.exec.StateAt(r.Context(), index)
	var notCommitted *executor.NotCommittedError
	switch {
	case errors.As(err, &notCommitted):
		sendProblem(w, indexNotFound(index, notCommitted.Committed))
		return
	case errors.Is(err, executor.ErrStateUnavailable):
		first := s.exec.WAL().FirstIndex()
		p := newProblem(http.StatusGone, "wal_compacted", "records compacted",
			fmt.Sprintf("the state at index %d can no longer be rebuilt: %v. The WAL now starts at index %d; the states still available "+
				"are those at the indexes of the snapshots kept (GET /v1/snapshots) and after them", index, err, first))
		p.FirstIndex = &first
		sendProblem(w, p)
		return
	case err != nil && r.Context().Err() != nil:
		return // the client is gone
	case err != nil:
		s.readError(w, err)
		return
	}
	d := ps.Descriptor
	if d == nil {
		d = &abi.Descriptor{} // index 0: the empty state, before any catalog (its hash is all zeros)
	}
	resp := stateAtIndex{Index: ps.Index, StateHash: ps.State.Hash().String(),
		Catalog: catalogRef{Name: d.Name, Version: d.Version, Hash: hex.EncodeToString(ps.Catalog[:])}}
	body, p := proj.render(ps.State, d)
	if p != nil {
		sendProblem(w, p)
		return
	}
	resp.State = body
	setReadIndex(w, ps.Index)
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}

// stateHashAt is GET /v1/state/hash.
type stateHashAt struct {
	Index     uint64 `json:"index"`
	StateHash string `json:"state_hash"`
	// Source says where the hash comes from: "current" (the live state),
	// "wal" (the record at the index), "snapshot" (a snapshot at the
	// index) or "genesis" (index 0, the empty state).
	Source string `json:"source"`
}

func (s *Server) getStateHash(w http.ResponseWriter, r *http.Request) {
	want, pinned, p := indexParam(r, "index")
	if p != nil {
		sendProblem(w, p)
		return
	}
	if s.refuseUnreadable(w) {
		return
	}
	var current stateHashAt
	if err := s.exec.Read(func(st *state.State, idx uint64, _ *abi.Descriptor) {
		current = stateHashAt{Index: idx, StateHash: st.Hash().String(), Source: "current"}
	}); err != nil {
		s.readError(w, err)
		return
	}
	setReadIndex(w, current.Index)
	switch {
	case !pinned || want == current.Index:
		writeJSON(w, http.StatusOK, current)
		return
	case want > current.Index:
		sendProblem(w, indexNotFound(want, current.Index))
		return
	case want == 0:
		writeJSON(w, http.StatusOK, stateHashAt{Index: 0, StateHash: state.New().Hash().String(), Source: "genesis"})
		return
	}
	rec, err := s.exec.WAL().Get(want)
	if err == nil {
		writeJSON(w, http.StatusOK, stateHashAt{Index: want, StateHash: hex.EncodeToString(rec.StateHash[:]), Source: "wal"})
		return
	}
	if !errors.Is(err, wal.ErrCompacted) {
		s.walError(w, err)
		return
	}
	infos, lerr := s.exec.Snapshots().List()
	if lerr == nil {
		for _, in := range infos {
			if in.Index == want && in.Valid {
				writeJSON(w, http.StatusOK, stateHashAt{Index: want, StateHash: hex.EncodeToString(in.StateHash[:]), Source: "snapshot"})
				return
			}
		}
	}
	s.walError(w, err)
}

// walError answers a failed WAL read.
func (s *Server) walError(w http.ResponseWriter, err error) {
	var corrupt *wal.CorruptError
	switch {
	case errors.Is(err, wal.ErrCompacted):
		first := s.exec.WAL().FirstIndex()
		p := newProblem(http.StatusGone, "wal_compacted", "records compacted",
			fmt.Sprintf("%v; the WAL now starts at index %d, and older state is only in snapshots (GET /v1/snapshots)", err, first))
		p.FirstIndex = &first
		sendProblem(w, p)
	case errors.Is(err, wal.ErrClosed):
		writeProblem(w, http.StatusServiceUnavailable, "shutting_down", "node is shutting down", err.Error())
	case errors.As(err, &corrupt):
		s.log.Error("WAL read found a corrupt record", "err", err)
		writeProblem(w, http.StatusInternalServerError, "wal_corrupt", "WAL record is corrupt", err.Error())
	default:
		s.log.Error("WAL read failed", "err", err)
		writeProblem(w, http.StatusInternalServerError, "internal", "internal error", err.Error())
	}
}

// walPage is GET /v1/wal.
type walPage struct {
	FirstIndex uint64       `json:"first_index"`
	LastIndex  uint64       `json:"last_index"`
	Records    []recordJSON `json:"records"`
	// NextFrom is the from of the next page, when the range asked for
	// goes on beyond this one.
	NextFrom uint64 `json:"next_from,omitempty"`
}

// getWAL lists records from..to (inclusive), at most limit of them. In a
// cluster it lists only records the node has applied: a replica stores
// records before it knows they are committed, and a primary appends them
// before its replicas acknowledge them.
func (s *Server) getWAL(w http.ResponseWriter, r *http.Request) {
	if s.refuseUnreadable(w) {
		return
	}
	log := s.exec.WAL()
	from, hasFrom, p := indexParam(r, "from")
	if p != nil {
		sendProblem(w, p)
		return
	}
	to, hasTo, p := indexParam(r, "to")
	if p != nil {
		sendProblem(w, p)
		return
	}
	limit, hasLimit, p := indexParam(r, "limit")
	if p != nil {
		sendProblem(w, p)
		return
	}
	first, last := log.FirstIndex(), s.lastVisible()
	switch {
	case !hasFrom:
		from = max(first, 1)
	case from == 0:
		writeProblem(w, http.StatusBadRequest, "bad_parameter", "query parameter is out of range", "from=0: indexes start at 1")
		return
	}
	if !hasTo {
		to = ^uint64(0)
	} else if to < from {
		writeProblem(w, http.StatusBadRequest, "bad_parameter", "query parameter is out of range", fmt.Sprintf("to=%d is before from=%d", to, from))
		return
	}
	switch {
	case !hasLimit:
		limit = defaultWALPage
	case limit == 0 || limit > uint64(s.cfg.WALPageLimit):
		writeProblem(w, http.StatusBadRequest, "bad_parameter", "query parameter is out of range",
			fmt.Sprintf("limit=%d; a page holds 1 to %d records", limit, s.cfg.WALPageLimit))
		return
	}
	page := walPage{FirstIndex: first, LastIndex: last, Records: []recordJSON{}}
	end := min(to, last)
	if end >= from && end-from >= limit {
		end = from + limit - 1
	}
	err := log.Range(from, end, func(rec wal.Record) error {
		page.Records = append(page.Records, newRecordJSON(&rec))
		return nil
	})
	if err != nil {
		s.walError(w, err)
		return
	}
	if n := len(page.Records); n > 0 {
		if next := page.Records[n-1].Index + 1; next <= to && next <= s.lastVisible() {
			page.NextFrom = next
		}
	}
	setReadIndex(w, last)
	writeJSON(w, http.StatusOK, page)
}

// lastVisible is the last WAL index reads may show: the last record on a
// single node, the applied index in a cluster.
func (s *Server) lastVisible() uint64 {
	last := s.exec.WAL().LastIndex()
	if s.cfg.Cluster != nil {
		last = min(last, s.exec.Status().Index)
	}
	return last
}

// snapshotJSON describes one snapshot file.
type snapshotJSON struct {
	Index       uint64 `json:"index"`
	Epoch       uint64 `json:"epoch"`
	StateHash   string `json:"state_hash"`
	CatalogHash string `json:"catalog_hash"`
	Entries     uint64 `json:"entries"`
	Created     string `json:"created,omitempty"`
	CreatedUnix int64  `json:"created_unix"`
	File        string `json:"file"`
	Size        int64  `json:"size"`
	Valid       bool   `json:"valid"`
	Error       string `json:"error,omitempty"`
}

func newSnapshotJSON(in snapshot.Info) snapshotJSON {
	out := snapshotJSON{Index: in.Index, Epoch: in.Epoch, StateHash: hex.EncodeToString(in.StateHash[:]),
		CatalogHash: hex.EncodeToString(in.CatalogHash[:]), Entries: in.Entries, CreatedUnix: in.CreatedUnix,
		File: filepath.Base(in.Path), Size: in.Size, Valid: in.Valid}
	if in.CreatedUnix != 0 {
		out.Created = time.Unix(in.CreatedUnix, 0).UTC().Format(time.RFC3339)
	}
	if in.Err != nil {
		out.Error = in.Err.Error()
	}
	return out
}

type snapshotList struct {
	Snapshots []snapshotJSON `json:"snapshots"`
}

func (s *Server) listSnapshots() ([]snapshotJSON, error) {
	infos, err := s.exec.Snapshots().List()
	if err != nil {
		return nil, err
	}
	out := make([]snapshotJSON, len(infos))
	for i, in := range infos {
		out[i] = newSnapshotJSON(in)
	}
	return out, nil
}

func (s *Server) getSnapshots(w http.ResponseWriter, r *http.Request) {
	list, err := s.listSnapshots()
	if err != nil {
		s.snapshotError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, snapshotList{Snapshots: list})
}

// postSnapshot takes a snapshot of the current durable state now and
// answers once it is written (201), with its description.
func (s *Server) postSnapshot(w http.ResponseWriter, r *http.Request) {
	if st := s.exec.Status(); st.Failure == nil && st.Index == 0 {
		writeProblem(w, http.StatusConflict, "nothing_to_snapshot", "nothing to snapshot", "no transition has been committed yet")
		return
	}
	index, err := s.exec.Snapshot()
	if err != nil {
		s.snapshotError(w, err)
		return
	}
	list, err := s.listSnapshots()
	if err != nil {
		s.snapshotError(w, err)
		return
	}
	for _, in := range list {
		if in.Index == index {
			w.Header().Set("Location", "/v1/snapshots")
			writeJSON(w, http.StatusCreated, in)
			return
		}
	}
	// Pruning never removes the snapshot just written, so this means
	// another writer replaced the directory's contents.
	writeProblem(w, http.StatusInternalServerError, "snapshot_failed", "snapshot not found after writing it", fmt.Sprintf("index %d", index))
}

func (s *Server) snapshotError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, executor.ErrStopped):
		writeProblem(w, http.StatusServiceUnavailable, "writer_stopped", "node stopped after a failure", err.Error())
	case errors.Is(err, snapshot.ErrClosed):
		writeProblem(w, http.StatusServiceUnavailable, "shutting_down", "node is shutting down", err.Error())
	default:
		s.log.Error("snapshot request failed", "err", err)
		writeProblem(w, http.StatusInternalServerError, "snapshot_failed", "snapshot failed", err.Error())
	}
}

// catalogJSON is GET /v1/catalog: the descriptor of the catalog in force
// and the SHA-256 of its module.
type catalogJSON struct {
	Hash string `json:"hash"`
	abi.Descriptor
}

func (s *Server) getCatalog(w http.ResponseWriter, r *http.Request) {
	if s.refuseUnreadable(w) {
		return
	}
	var desc abi.Descriptor
	var index uint64
	if err := s.exec.Read(func(_ *state.State, idx uint64, d *abi.Descriptor) { desc, index = *d, idx }); err != nil {
		s.readError(w, err)
		return
	}
	setReadIndex(w, index)
	module := s.exec.Status().Module
	writeJSON(w, http.StatusOK, catalogJSON{Hash: hex.EncodeToString(module[:]), Descriptor: desc})
}
