package api

import (
	"cmp"
	"encoding/hex"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/replication"
	replnode "github.com/reprise-dev/reprise/replication/node"
	"github.com/reprise-dev/reprise/snapshot"
)

// Metrics collects what the node does, for GET /metrics. It implements
// executor.Observer: pass it as the executor's Config.Observer and as the
// API's Config.Metrics. Its methods are safe for concurrent use; the
// executor's calls take one short lock each.
//
// Transition names are labels only once resolved against the catalog in
// force (a bare event name counts under its TRANSITION_ name); any other
// name counts as "unknown", so clients cannot grow the label set.
type Metrics struct {
	names atomic.Pointer[nameTable]

	mu          sync.Mutex
	accepted    map[string]uint64       // by transition
	rejected    map[rejectionKey]uint64 // by transition and reason
	duplicates  map[string]uint64       // by transition
	fuel        map[string]*histogram   // by transition
	commit      *histogram              // seconds per durable append
	batchProps  *histogram              // proposals per batch
	batchRecs   *histogram              // records per batch
	snapshots   map[string]uint64       // by result
	snapTook    *histogram              // seconds per snapshot
	requests    map[requestKey]uint64   // HTTP requests
	subscribers int                     // event streams open
	dropped     uint64                  // event streams dropped as too slow
}

type rejectionKey struct{ transition, reason string }

type requestKey struct {
	method, route string
	status        int
}

// nameTable maps submitted transition names to catalogued ones.
type nameTable struct {
	module [32]byte
	names  map[string]string
}

// Bucket bounds.
var (
	fuelBounds    = exponentialBounds(1_000, 10, 7)     // 1e3 … 1e9
	latencyBounds = exponentialBounds(0.0000625, 2, 16) // 62.5 µs … 2.05 s
	batchBounds   = exponentialBounds(1, 2, 11)         // 1 … 1024
	snapBounds    = exponentialBounds(0.001, 4, 10)     // 1 ms … 262 s
)

// unknownTransition labels names the catalog in force does not declare.
const unknownTransition = "unknown"

// NewMetrics returns empty metrics.
func NewMetrics() *Metrics {
	m := &Metrics{
		accepted: map[string]uint64{}, rejected: map[rejectionKey]uint64{}, duplicates: map[string]uint64{},
		fuel: map[string]*histogram{}, commit: newHistogram(latencyBounds), batchProps: newHistogram(batchBounds),
		batchRecs: newHistogram(batchBounds), snapshots: map[string]uint64{}, snapTook: newHistogram(snapBounds),
		requests: map[requestKey]uint64{},
	}
	m.names.Store(&nameTable{names: map[string]string{}})
	return m
}

// setCatalog makes d's transitions the known label values.
func (m *Metrics) setCatalog(d *abi.Descriptor, module [32]byte) {
	if t := m.names.Load(); t.module == module && len(t.names) > 0 {
		return
	}
	t := &nameTable{module: module, names: map[string]string{}}
	for _, tr := range d.Transitions {
		t.names[tr.Name] = tr.Name
	}
	for _, tr := range d.Transitions {
		// The other spelling, unless the catalog declares it itself.
		if resolved, ok := d.ResolveTransition(alternateName(tr.Name)); ok {
			if _, declared := t.names[alternateName(tr.Name)]; !declared {
				t.names[alternateName(tr.Name)] = resolved
			}
		}
	}
	m.names.Store(t)
}

func alternateName(name string) string {
	if bare, ok := strings.CutPrefix(name, abi.TransitionPrefix); ok {
		return bare
	}
	return abi.TransitionPrefix + name
}

func (m *Metrics) label(transition string) string {
	if name, ok := m.names.Load().names[transition]; ok {
		return name
	}
	return unknownTransition
}

// Verdict implements executor.Observer.
func (m *Metrics) Verdict(transition string, v executor.Verdict) {
	name := m.label(transition)
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case v.Duplicate:
		m.duplicates[name]++
		return // the reducer did not run
	case v.Accepted:
		m.accepted[name]++
	default:
		m.rejected[rejectionKey{name, v.Code.Slug()}]++
	}
	if v.Fuel > 0 {
		h := m.fuel[name]
		if h == nil {
			h = newHistogram(fuelBounds)
			m.fuel[name] = h
		}
		h.observe(float64(v.Fuel))
	}
}

// Batch implements executor.Observer.
func (m *Metrics) Batch(proposals, records int, commit time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.batchProps.observe(float64(proposals))
	m.batchRecs.observe(float64(records))
	if records > 0 {
		m.commit.observe(commit.Seconds())
	}
}

// Snapshot implements executor.Observer.
func (m *Metrics) Snapshot(_ snapshot.Info, took time.Duration, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.snapshots[result]++
	m.snapTook.observe(took.Seconds())
}

var _ executor.Observer = (*Metrics)(nil)

func (m *Metrics) request(method, route string, status int) {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
	default:
		method = "other" // methods are client input: keep the label set bounded
	}
	m.mu.Lock()
	m.requests[requestKey{method, route, status}]++
	m.mu.Unlock()
}

func (m *Metrics) eventSubscribers(n int) {
	m.mu.Lock()
	m.subscribers = n
	m.mu.Unlock()
}

func (m *Metrics) eventSubscriberDropped() {
	m.mu.Lock()
	m.dropped++
	m.mu.Unlock()
}

// opsRoutes are the operator endpoints.
func (s *Server) opsRoutes(r chi.Router) {
	r.Get("/metrics", s.getMetrics)
	r.Get("/openapi.json", getOpenAPI)
}

// nodeGauges are the figures read at scrape time.
type nodeGauges struct {
	status        executor.Status
	quarantined   bool
	snapshotIndex uint64
	snapshotAge   float64 // seconds; < 0 when there is no valid snapshot
	// cluster is the replication status, nil on a single node.
	cluster     *replnode.Status
	replication replnode.Metrics
}

func (s *Server) getMetrics(w http.ResponseWriter, r *http.Request) {
	g := nodeGauges{status: s.exec.Status(), quarantined: s.stateSummary().quarantined(), snapshotAge: -1}
	if infos, err := s.exec.Snapshots().List(); err == nil {
		for _, in := range infos { // newest first
			if in.Valid {
				g.snapshotIndex = in.Index
				g.snapshotAge = max(0, s.cfg.Now().Sub(time.Unix(in.CreatedUnix, 0)).Seconds())
				break
			}
		}
	}
	if s.cfg.Cluster != nil {
		st := s.cfg.Cluster.Status()
		g.cluster, g.replication = &st, s.cfg.Cluster.Metrics()
	}
	w.Header().Set("Content-Type", PrometheusContentType)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(s.metrics.exposition(g)))
}

// exposition renders every metric in the text format.
func (m *Metrics) exposition(g nodeGauges) string {
	m.mu.Lock()
	accepted, rejected, duplicates := maps.Clone(m.accepted), maps.Clone(m.rejected), maps.Clone(m.duplicates)
	fuel := make(map[string]*histogram, len(m.fuel))
	for k, h := range m.fuel {
		fuel[k] = h.clone()
	}
	commit, batchProps, batchRecs, snapTook := m.commit.clone(), m.batchProps.clone(), m.batchRecs.clone(), m.snapTook.clone()
	snapshots, requests := maps.Clone(m.snapshots), maps.Clone(m.requests)
	subscribers, dropped := m.subscribers, m.dropped
	m.mu.Unlock()

	var w expositionWriter
	w.family("reprise_transitions_accepted_total", "counter", "Transitions accepted and made durable, by catalogued transition name.")
	for _, name := range sortedKeys(accepted) {
		w.sample("reprise_transitions_accepted_total", []label{{"transition", name}}, float64(accepted[name]))
	}
	w.family("reprise_transitions_rejected_total", "counter", "Proposals refused, by transition name and reason (the verdict's code).")
	rkeys := make([]rejectionKey, 0, len(rejected))
	for k := range rejected {
		rkeys = append(rkeys, k)
	}
	slices.SortFunc(rkeys, func(a, b rejectionKey) int {
		return cmp.Or(cmp.Compare(a.transition, b.transition), cmp.Compare(a.reason, b.reason))
	})
	for _, k := range rkeys {
		w.sample("reprise_transitions_rejected_total", []label{{"transition", k.transition}, {"reason", k.reason}}, float64(rejected[k]))
	}
	w.family("reprise_transitions_duplicate_total", "counter", "Proposals answered from their idempotency key without applying anything, by transition name.")
	for _, name := range sortedKeys(duplicates) {
		w.sample("reprise_transitions_duplicate_total", []label{{"transition", name}}, float64(duplicates[name]))
	}
	w.family("reprise_transition_fuel", "histogram", "Fuel used per applied proposal (accepted or refused by the catalog), by transition name.")
	for _, name := range sortedKeys(fuel) {
		w.histogramSamples("reprise_transition_fuel", []label{{"transition", name}}, fuel[name])
	}
	w.family("reprise_commit_latency_seconds", "histogram", "Duration of each durable WAL append (one fsync per batch).")
	w.histogramSamples("reprise_commit_latency_seconds", nil, commit)
	w.family("reprise_batch_proposals", "histogram", "Proposals decided per writer batch.")
	w.histogramSamples("reprise_batch_proposals", nil, batchProps)
	w.family("reprise_batch_records", "histogram", "Records appended per writer batch.")
	w.histogramSamples("reprise_batch_records", nil, batchRecs)

	w.family("reprise_wal_index", "gauge", "Last durable WAL index.")
	w.sample("reprise_wal_index", nil, float64(g.status.Index))
	w.family("reprise_wal_first_index", "gauge", "First WAL index still held (older records are compacted into snapshots).")
	w.sample("reprise_wal_first_index", nil, float64(g.status.FirstWAL))
	w.family("reprise_snapshots_total", "counter", "Snapshots attempted, by result.")
	for _, result := range []string{"error", "ok"} {
		w.sample("reprise_snapshots_total", []label{{"result", result}}, float64(snapshots[result]))
	}
	w.family("reprise_snapshot_duration_seconds", "histogram", "Duration of each snapshot write.")
	w.histogramSamples("reprise_snapshot_duration_seconds", nil, snapTook)
	if g.snapshotAge >= 0 {
		w.family("reprise_snapshot_index", "gauge", "WAL index of the newest valid snapshot.")
		w.sample("reprise_snapshot_index", nil, float64(g.snapshotIndex))
		w.family("reprise_snapshot_age_seconds", "gauge", "Age of the newest valid snapshot.")
		w.sample("reprise_snapshot_age_seconds", nil, g.snapshotAge)
	}

	w.family("reprise_catalog_info", "gauge", "The catalog in force (value 1).")
	w.sample("reprise_catalog_info", []label{{"name", g.status.Catalog.Name}, {"version", g.status.Catalog.Version},
		{"hash", hex.EncodeToString(g.status.Module[:])}}, 1)
	w.family("reprise_quarantined", "gauge", "1 while the state's policy.quarantined is set.")
	w.sample("reprise_quarantined", nil, boolFloat(g.quarantined))
	w.family("reprise_writer_failed", "gauge", "1 once the writer stopped after a failure (restart the node).")
	w.sample("reprise_writer_failed", nil, boolFloat(g.status.Failure != nil))

	w.family("reprise_event_subscribers", "gauge", "Open GET /v1/events streams.")
	w.sample("reprise_event_subscribers", nil, float64(subscribers))
	w.family("reprise_event_subscribers_dropped_total", "counter", "Event streams dropped because they fell a whole buffer behind.")
	w.sample("reprise_event_subscribers_dropped_total", nil, float64(dropped))

	if g.cluster != nil {
		replicationExposition(&w, g.cluster, g.replication)
	}

	w.family("reprise_http_requests_total", "counter", "HTTP requests, by method, route pattern and status.")
	qkeys := make([]requestKey, 0, len(requests))
	for k := range requests {
		qkeys = append(qkeys, k)
	}
	slices.SortFunc(qkeys, func(a, b requestKey) int {
		return cmp.Or(cmp.Compare(a.route, b.route), cmp.Compare(a.method, b.method), cmp.Compare(a.status, b.status))
	})
	for _, k := range qkeys {
		w.sample("reprise_http_requests_total", []label{{"method", k.method}, {"route", k.route}, {"status", strconv.Itoa(k.status)}}, float64(requests[k]))
	}
	return w.String()
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// replicationRoles are the values of reprise_replication_role's label,
// sorted.
var replicationRoles = []replnode.Role{replnode.RoleNone, replnode.RolePrimary, replnode.RoleReplica}

// replicationExposition renders the replication series of a cluster node.
// Per-replica series exist on the primary only; every series is sorted by
// its label values.
func replicationExposition(w *expositionWriter, st *replnode.Status, m replnode.Metrics) {
	w.family("reprise_replication_epoch", "gauge", "The replication epoch this node follows.")
	w.sample("reprise_replication_epoch", nil, float64(st.Epoch))
	w.family("reprise_replication_committed_index", "gauge", "The committed index this node knows (acknowledged under the durability mode).")
	w.sample("reprise_replication_committed_index", nil, float64(st.Committed))
	w.family("reprise_replication_role", "gauge", "1 for the role this node has now (none, primary or replica), 0 for the others.")
	for _, role := range replicationRoles {
		w.sample("reprise_replication_role", []label{{"role", string(role)}}, boolFloat(st.Role == role))
	}
	var replicas []replication.SenderStatus
	if st.PrimaryStatus != nil {
		replicas = slices.Clone(st.PrimaryStatus.Replicas)
		slices.SortFunc(replicas, func(a, b replication.SenderStatus) int { return cmp.Compare(a.ID, b.ID) })
	}
	w.family("reprise_replication_replica_lag_records", "gauge", "Committed index minus the replica's durable index, by replica (on the primary).")
	for _, rs := range replicas {
		w.sample("reprise_replication_replica_lag_records", []label{{"replica", string(rs.ID)}}, float64(rs.Lag))
	}
	w.family("reprise_replication_replica_durable_index", "gauge", "The replica's durable index as the primary knows it, by replica (on the primary).")
	for _, rs := range replicas {
		w.sample("reprise_replication_replica_durable_index", []label{{"replica", string(rs.ID)}}, float64(rs.Durable))
	}
	w.family("reprise_replication_records_shipped_total", "counter", "Records this node shipped to replicas.")
	w.sample("reprise_replication_records_shipped_total", nil, float64(m.RecordsShipped))
	w.family("reprise_replication_records_received_total", "counter", "Records this node received from a primary.")
	w.sample("reprise_replication_records_received_total", nil, float64(m.RecordsReceived))
	w.family("reprise_replication_snapshots_installed_total", "counter", "Snapshots this node installed by a rebuild.")
	w.sample("reprise_replication_snapshots_installed_total", nil, float64(m.SnapshotsInstalled))
	w.family("reprise_replication_sessions_total", "counter", "Recovery sessions ended, by kind and outcome.")
	for _, key := range sortedKeys(m.Sessions) {
		kind, outcome, ok := strings.Cut(key, "/")
		if !ok {
			kind, outcome = key, "unknown"
		}
		w.sample("reprise_replication_sessions_total", []label{{"kind", kind}, {"outcome", outcome}}, float64(m.Sessions[key]))
	}
}
