package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/replication"
	replnode "github.com/reprise-dev/reprise/replication/node"
)

// Replication headers. Every response says what this node is; responses
// that serve state or records say the index they reflect.
const (
	// RoleHeader is "primary", "replica", "single" (no cluster) or "none"
	// (a cluster node with no assignment yet, or between roles).
	RoleHeader = "Reprise-Role"
	// ReadIndexHeader is the index of the state (or the last record) a
	// read serves.
	ReadIndexHeader = "Reprise-Read-Index"
)

// roleSingle is the role of a node without a cluster.
const roleSingle = "single"

// replicationRoutes are the cluster endpoints.
func (s *Server) replicationRoutes(r chi.Router) {
	r.Get("/v1/replication", s.getReplication)
	r.Get("/v1/replication/candidate", s.getCandidate)
}

// getCandidate answers the control plane's leader choosing a primary with
// this node's facts (replication.Candidate).
func (s *Server) getCandidate(w http.ResponseWriter, _ *http.Request) {
	if s.cfg.Cluster == nil {
		writeProblem(w, http.StatusNotFound, "not_clustered", "This node runs without replication", "there is no control plane to answer")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.cfg.Cluster.EncodeCandidate(w); err != nil {
		s.log.Warn("writing the candidate facts", "err", err)
	}
}

// role is what the node does now, as RoleHeader spells it.
func (s *Server) role() string {
	if s.cfg.Cluster == nil {
		return roleSingle
	}
	return string(s.cfg.Cluster.Status().Role)
}

// tagRole sets RoleHeader on every response.
func (s *Server) tagRole(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(RoleHeader, s.role())
		next.ServeHTTP(w, r)
	})
}

func setReadIndex(w http.ResponseWriter, index uint64) {
	w.Header().Set(ReadIndexHeader, strconv.FormatUint(index, 10))
}

// refuseUnreadable answers 503 and reports true when the node's state must
// not be served: a replica being rebuilt, one whose state hash mismatched,
// one that follows nothing yet, or a primary not serving yet. A node
// without a cluster always serves.
func (s *Server) refuseUnreadable(w http.ResponseWriter) bool {
	if s.cfg.Cluster == nil {
		return false
	}
	st := s.cfg.Cluster.Status()
	if st.Readable {
		return false
	}
	var why string
	switch {
	case st.Role == replnode.RolePrimary:
		why = fmt.Sprintf("this node is the primary of epoch %d but is not serving yet (it is still cutting its log back to the committed index)", st.Epoch)
	case st.Role == replnode.RoleNone:
		why = "this node has no replication assignment yet"
	case st.ReplicaStatus != nil && st.ReplicaStatus.NeedsRebuild:
		why = "a record shipped to this replica did not reproduce the primary's recorded state hash; it serves nothing until it is rebuilt"
	case st.ReplicaStatus != nil && st.ReplicaStatus.Rebuilding:
		why = "this replica is being rebuilt"
	default:
		why = fmt.Sprintf("this replica's state (index %d) is ahead of the committed index it knows (%d)", st.ReadIndex, st.Committed)
	}
	sendProblem(w, notReadable(why, st))
	return true
}

func notReadable(why string, st replnode.Status) *Problem {
	detail := why
	if st.PrimaryAPI != "" && st.Role != replnode.RolePrimary {
		detail += fmt.Sprintf("; read from the primary %s at %s, or retry later", st.Primary, st.PrimaryAPI)
	} else {
		detail += "; retry later"
	}
	p := newProblem(http.StatusServiceUnavailable, "replica_not_readable", "this node cannot serve its state now", detail)
	p.Primary, p.PrimaryAPI = string(st.Primary), st.PrimaryAPI
	return p
}

// clusterStatus is the cluster's status, or the zero status on a single
// node.
func (s *Server) clusterStatus() replnode.Status {
	if s.cfg.Cluster == nil {
		return replnode.Status{}
	}
	return s.cfg.Cluster.Status()
}

// refuseWriteOnFollower answers a mutating request on a node that follows
// (see notPrimary) and reports true; the request goes no further, so
// nothing of it is applied or even decoded here.
//
// It reads the node's published status, never the executor's lock: a
// primary's writer holds that lock while a batch waits for the replicas,
// and every write would queue behind it here. A node the status calls
// primary whose executor does not write yet refuses in the executor
// (ErrNotPrimary), and that answer maps here too.
func (s *Server) refuseWriteOnFollower(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.Cluster == nil || s.cfg.Cluster.Status().Role == replnode.RolePrimary {
		return false
	}
	s.notPrimary(w, r)
	return true
}

// notPrimary answers a write this node cannot take because it follows: a
// 307 to the same path and query on the primary's API when it is known,
// 503 otherwise. Both carry a not_primary problem naming the primary.
func (s *Server) notPrimary(w http.ResponseWriter, r *http.Request) {
	st := s.clusterStatus()
	switch {
	case st.Primary == "" || st.PrimaryAPI == "":
		p := newProblem(http.StatusServiceUnavailable, "not_primary", "this node is not the primary",
			"no primary is assigned (or its API address is not known) yet; nothing was applied; retry later")
		p.Primary = string(st.Primary)
		w.Header().Set("Retry-After", "1")
		sendProblem(w, p)
	case st.Primary == st.ID:
		// Assigned the primary but not writing yet: a redirect would point
		// back here.
		p := newProblem(http.StatusServiceUnavailable, "not_primary", "this node is not the primary yet",
			fmt.Sprintf("this node (%s) is becoming the primary of epoch %d; nothing was applied; retry shortly", st.ID, st.Epoch))
		p.Primary, p.PrimaryAPI = string(st.Primary), st.PrimaryAPI
		w.Header().Set("Retry-After", "1")
		sendProblem(w, p)
	default:
		p := newProblem(http.StatusTemporaryRedirect, "not_primary", "this node is not the primary",
			fmt.Sprintf("writes go to the primary %s at %s (epoch %d); nothing was applied here; send the same request there", st.Primary, st.PrimaryAPI, st.Epoch))
		p.Primary, p.PrimaryAPI = string(st.Primary), st.PrimaryAPI
		w.Header().Set("Location", "http://"+st.PrimaryAPI+r.URL.RequestURI())
		sendProblem(w, p)
	}
}

// replicationError answers the replication failures of a write and reports
// whether err was one.
func (s *Server) replicationError(w http.ResponseWriter, r *http.Request, err error) bool {
	var (
		notEnough *replication.NotEnoughReplicasError
		notAcked  *executor.NotAcknowledgedError
	)
	switch {
	case errors.Is(err, executor.ErrNotPrimary):
		s.notPrimary(w, r)
	case errors.As(err, &notEnough):
		p := newProblem(http.StatusServiceUnavailable, "replicas_unavailable", "not enough replicas in sync to acknowledge a write",
			err.Error()+"; nothing was applied; it is safe to retry")
		for _, id := range notEnough.NotInSync {
			p.NotInSync = append(p.NotInSync, string(id))
		}
		w.Header().Set("Retry-After", "1")
		sendProblem(w, p)
	case errors.Is(err, replication.ErrNotEnoughReplicas):
		w.Header().Set("Retry-After", "1")
		writeProblem(w, http.StatusServiceUnavailable, "replicas_unavailable", "not enough replicas in sync to acknowledge a write",
			err.Error()+"; nothing was applied; it is safe to retry")
	case errors.As(err, &notAcked):
		index := notAcked.Index
		p := newProblem(http.StatusServiceUnavailable, "not_acknowledged", "the write was not acknowledged by the replicas",
			fmt.Sprintf("%v. Its fate is unknown: it may still be committed, or be dropped by a failover; resubmit with the same idem_key to learn it", err))
		p.Index = &index
		sendProblem(w, p)
	default:
		return false
	}
	return true
}

// replicationJSON is GET /v1/replication.
type replicationJSON struct {
	NodeID     string       `json:"node_id"`
	Role       string       `json:"role"`
	Epoch      uint64       `json:"epoch"`
	Mode       string       `json:"mode"`
	Primary    string       `json:"primary"`
	PrimaryAPI string       `json:"primary_api"`
	Committed  uint64       `json:"committed"`
	ReadIndex  uint64       `json:"read_index"`
	Readable   bool         `json:"readable"`
	Members    []memberJSON `json:"members"`
	// Replicas is set on the primary (empty when it has none), Replica
	// on a replica.
	Replicas []senderJSON           `json:"replicas,omitzero"`
	Replica  *replicaJSON           `json:"replica,omitempty"`
	Metrics  replicationMetricsJSON `json:"metrics"`
}

type memberJSON struct {
	ID       string `json:"id"`
	Endpoint string `json:"endpoint"`
	API      string `json:"api"`
}

// senderJSON is one replica as the primary sees it.
type senderJSON struct {
	ID       string `json:"id"`
	Endpoint string `json:"endpoint"`
	State    string `json:"state"`
	Durable  uint64 `json:"durable"`
	Received uint64 `json:"received"`
	Sent     uint64 `json:"sent"`
	Lag      uint64 `json:"lag"`
	// RetryAt is the engine tick of the next reconnect, 0 unless
	// disconnected.
	RetryAt     uint64       `json:"retry_at"`
	Session     *sessionJSON `json:"session"`
	LastOutcome *string      `json:"last_outcome"`
	LastReason  string       `json:"last_reason"`
}

type sessionJSON struct {
	ID       uint64 `json:"id"`
	Kind     string `json:"kind"`
	Phase    string `json:"phase"`
	Target   uint64 `json:"target"`
	Progress uint64 `json:"progress"`
	PinFrom  uint64 `json:"pin_from"`
}

// replicaJSON is a replica's own view.
type replicaJSON struct {
	Epoch          uint64 `json:"epoch"`
	Session        uint64 `json:"session"`
	Received       uint64 `json:"received"`
	Durable        uint64 `json:"durable"`
	Applied        uint64 `json:"applied"`
	Floor          uint64 `json:"floor"`
	KnownCommitted uint64 `json:"known_committed"`
	LineageEpoch   uint64 `json:"lineage_epoch"`
	Rebuilding     bool   `json:"rebuilding"`
	NeedsRebuild   bool   `json:"needs_rebuild"`
}

type replicationMetricsJSON struct {
	RecordsShipped     uint64 `json:"records_shipped"`
	RecordsReceived    uint64 `json:"records_received"`
	SnapshotsInstalled uint64 `json:"snapshots_installed"`
	// Sessions counts ended recovery sessions by "kind/outcome".
	Sessions map[string]uint64 `json:"sessions"`
}

func (s *Server) getReplication(w http.ResponseWriter, _ *http.Request) {
	var out replicationJSON
	if s.cfg.Cluster == nil {
		st := s.exec.Status()
		out = replicationJSON{Role: roleSingle, Committed: st.Index, ReadIndex: st.Index, Readable: st.Failure == nil,
			Members: []memberJSON{}, Metrics: replicationMetricsJSON{Sessions: map[string]uint64{}}}
	} else {
		out = newReplicationJSON(s.cfg.Cluster.Status(), s.cfg.Cluster.Metrics())
	}
	setReadIndex(w, out.ReadIndex)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

func newReplicationJSON(st replnode.Status, m replnode.Metrics) replicationJSON {
	out := replicationJSON{NodeID: string(st.ID), Role: string(st.Role), Epoch: st.Epoch, Primary: string(st.Primary), PrimaryAPI: st.PrimaryAPI,
		Committed: st.Committed, ReadIndex: st.ReadIndex, Readable: st.Readable, Members: make([]memberJSON, 0, len(st.Members)),
		Metrics: replicationMetricsJSON{RecordsShipped: m.RecordsShipped, RecordsReceived: m.RecordsReceived,
			SnapshotsInstalled: m.SnapshotsInstalled, Sessions: make(map[string]uint64, len(m.Sessions))}}
	if st.Mode != 0 {
		out.Mode = st.Mode.String()
	}
	for _, mb := range st.Members {
		out.Members = append(out.Members, memberJSON{ID: string(mb.ID), Endpoint: mb.Endpoint, API: mb.API})
	}
	slices.SortFunc(out.Members, func(a, b memberJSON) int { return strings.Compare(a.ID, b.ID) })
	for k, v := range m.Sessions {
		out.Metrics.Sessions[k] = v
	}
	if ps := st.PrimaryStatus; ps != nil {
		out.Replicas = make([]senderJSON, 0, len(ps.Replicas))
		for _, rs := range ps.Replicas {
			out.Replicas = append(out.Replicas, newSenderJSON(rs))
		}
		slices.SortFunc(out.Replicas, func(a, b senderJSON) int { return strings.Compare(a.ID, b.ID) })
	}
	if rs := st.ReplicaStatus; rs != nil {
		out.Replica = &replicaJSON{Epoch: rs.Epoch, Session: uint64(rs.Session), Received: rs.Received, Durable: rs.Durable,
			Applied: rs.Applied, Floor: rs.Floor, KnownCommitted: rs.KnownCommitted, LineageEpoch: rs.LineageEpoch,
			Rebuilding: rs.Rebuilding, NeedsRebuild: rs.NeedsRebuild}
	}
	return out
}

func newSenderJSON(rs replication.SenderStatus) senderJSON {
	out := senderJSON{ID: string(rs.ID), Endpoint: rs.Endpoint, State: rs.State.String(), Durable: rs.Durable, Received: rs.Received,
		Sent: rs.Sent, Lag: rs.Lag, RetryAt: rs.RetryAt, LastReason: rs.LastReason}
	if rs.LastOutcome != 0 {
		o := rs.LastOutcome.String()
		out.LastOutcome = &o
	}
	if ss := rs.Session; ss != nil {
		out.Session = &sessionJSON{ID: uint64(ss.ID), Kind: ss.Kind.String(), Phase: ss.Phase.String(), Target: ss.Target,
			Progress: ss.Progress, PinFrom: ss.PinFrom}
	}
	return out
}
