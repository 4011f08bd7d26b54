package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/viper"

	"github.com/reprise-dev/reprise/replication"
	"github.com/reprise-dev/reprise/replication/control"
	replnode "github.com/reprise-dev/reprise/replication/node"
	"github.com/reprise-dev/reprise/replication/transport"
)

// Cluster configuration keys.
const (
	keyClusterNodeID    = "cluster.node_id"
	keyClusterPeers     = "cluster.peers"
	keyClusterName      = "cluster.name"
	keyClusterToken     = "cluster.token"
	keyClusterMode      = "cluster.mode"
	keyClusterControl   = "cluster.control"
	keyClusterPrimary   = "cluster.primary"
	keyClusterEpoch     = "cluster.epoch"
	keyClusterTick      = "cluster.tick"
	keyClusterHeartbeat = "cluster.raft_heartbeat"
	keyClusterElection  = "cluster.raft_election"
	keyBudgetHandshake  = "cluster.budget.handshake_ticks"
	keyBudgetBarrier    = "cluster.budget.barrier_ticks"
	keyBudgetCatchUp    = "cluster.budget.catch_up_ticks"
	keyBudgetCatchUpRec = "cluster.budget.catch_up_records"
	keyBudgetStall      = "cluster.budget.stall_ticks"
	keyBudgetRebuild    = "cluster.budget.rebuild_ticks"
	keyBudgetRetry      = "cluster.budget.retry_ticks"
	keyBudgetInFlight   = "cluster.budget.max_in_flight"
)

var defaultBudgets = replication.DefaultBudgets()

// clusterSettings are the replication settings of `reprise serve`.
var clusterSettings = []serveSetting{
	{keyClusterNodeID, "cluster-node-id", "", "this node's stable ID; empty runs a single node without replication"},
	{keyClusterPeers, "cluster-peers", "", "every node of the cluster, this one included: id=host:api_port/raft_port/replication_port, comma-separated"},
	{keyClusterName, "cluster-name", "reprise", "cluster name; nodes of another cluster are refused"},
	{keyClusterToken, "cluster-token", "", "shared secret between the nodes (prefer REPRISE_CLUSTER_TOKEN)"},
	{keyClusterMode, "cluster-mode", "", "durability mode: best_effort, sync_all or sync_quorum (default: sync_quorum with three or more nodes, sync_all with two)"},
	{keyClusterControl, "cluster-control", "raft", "who assigns the primary: raft (elected) or static (cluster.primary at cluster.epoch)"},
	{keyClusterPrimary, "cluster-primary", "", "static control: the primary's node ID"},
	{keyClusterEpoch, "cluster-epoch", uint64(1), "static control: the epoch; raise it on every change of primary"},
	{keyClusterTick, "cluster-tick", 10 * time.Millisecond, "replication's unit of time; the budgets below count it"},
	{keyClusterHeartbeat, "cluster-raft-heartbeat", 500 * time.Millisecond, "raft heartbeat timeout"},
	{keyClusterElection, "cluster-raft-election", time.Second, "raft election timeout"},
	{keyBudgetHandshake, "cluster-budget-handshake-ticks", defaultBudgets.HandshakeTicks, "ticks from connect to a replica's classification"},
	{keyBudgetBarrier, "cluster-budget-barrier-ticks", defaultBudgets.BarrierTicks, "ticks a barrier may go unanswered"},
	{keyBudgetCatchUp, "cluster-budget-catch-up-ticks", defaultBudgets.CatchUpTicks, "ticks a catch-up may take before it escalates to a rebuild"},
	{keyBudgetCatchUpRec, "cluster-budget-catch-up-records", defaultBudgets.CatchUpRecords, "largest gap caught up; a larger one is rebuilt"},
	{keyBudgetStall, "cluster-budget-stall-ticks", defaultBudgets.StallTicks, "ticks a session may make no progress"},
	{keyBudgetRebuild, "cluster-budget-rebuild-ticks", defaultBudgets.RebuildTicks, "ticks a rebuild may take before it starts over"},
	{keyBudgetRetry, "cluster-budget-retry-ticks", defaultBudgets.RetryTicks, "ticks before reconnecting a replica whose session failed"},
	{keyBudgetInFlight, "cluster-budget-max-in-flight", defaultBudgets.MaxInFlight, "records shipped to one replica and not yet acknowledged"},
}

// clusterConfig is the cluster part of the configuration, checked.
type clusterConfig struct {
	self    control.Peer
	peers   []control.Peer
	mode    replication.Mode
	control string
	static  control.Assignment
	budgets replication.Budgets
	tick    time.Duration
	name    string
	token   string
	hb, el  time.Duration
}

// parsePeers reads id=host:api_port/raft_port/replication_port, ...
func parsePeers(s string) ([]control.Peer, error) {
	var peers []control.Peer
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, rest, ok := strings.Cut(part, "=")
		if !ok || id == "" {
			return nil, fmt.Errorf("%s: %q is not id=host:api_port/raft_port/replication_port", keyClusterPeers, part)
		}
		ports := strings.Split(rest, "/")
		if len(ports) != 3 {
			return nil, fmt.Errorf("%s: peer %s: %q is not host:api_port/raft_port/replication_port", keyClusterPeers, id, rest)
		}
		host, api, err := net.SplitHostPort(ports[0])
		if err != nil {
			return nil, fmt.Errorf("%s: peer %s: %w", keyClusterPeers, id, err)
		}
		for _, p := range []string{api, ports[1], ports[2]} {
			if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
				return nil, fmt.Errorf("%s: peer %s: %q is not a port", keyClusterPeers, id, p)
			}
		}
		if seen[id] {
			return nil, fmt.Errorf("%s: peer %s is listed twice", keyClusterPeers, id)
		}
		seen[id] = true
		peers = append(peers, control.Peer{ID: id, APIAddr: net.JoinHostPort(host, api),
			RaftAddr: net.JoinHostPort(host, ports[1]), ReplAddr: net.JoinHostPort(host, ports[2])})
	}
	return peers, nil
}

// readClusterConfig returns nil for a single node.
func readClusterConfig(v *viper.Viper) (*clusterConfig, error) {
	id := v.GetString(keyClusterNodeID)
	if id == "" {
		return nil, nil
	}
	peers, err := parsePeers(v.GetString(keyClusterPeers))
	if err != nil {
		return nil, err
	}
	c := &clusterConfig{peers: peers, control: v.GetString(keyClusterControl), name: v.GetString(keyClusterName),
		token: v.GetString(keyClusterToken), tick: v.GetDuration(keyClusterTick),
		hb: v.GetDuration(keyClusterHeartbeat), el: v.GetDuration(keyClusterElection)}
	found := false
	for _, p := range peers {
		if p.ID == id {
			c.self, found = p, true
		}
	}
	if !found {
		return nil, fmt.Errorf("%s %q is not among %s (%s)", keyClusterNodeID, id, keyClusterPeers, v.GetString(keyClusterPeers))
	}
	if len(peers) < 2 {
		return nil, fmt.Errorf("%s lists %d node; a cluster needs at least two", keyClusterPeers, len(peers))
	}
	switch m := v.GetString(keyClusterMode); {
	case m != "":
		if c.mode, err = replication.ParseMode(m); err != nil {
			return nil, err
		}
	case len(peers) >= 3:
		c.mode = replication.SyncQuorum
	default:
		c.mode = replication.SyncAll
	}
	if c.tick <= 0 {
		return nil, fmt.Errorf("%s must be a positive duration", keyClusterTick)
	}
	c.budgets = replication.Budgets{
		HandshakeTicks: v.GetUint64(keyBudgetHandshake), BarrierTicks: v.GetUint64(keyBudgetBarrier),
		CatchUpTicks: v.GetUint64(keyBudgetCatchUp), CatchUpRecords: v.GetUint64(keyBudgetCatchUpRec),
		StallTicks: v.GetUint64(keyBudgetStall), RebuildTicks: v.GetUint64(keyBudgetRebuild),
		RetryTicks: v.GetUint64(keyBudgetRetry), MaxInFlight: v.GetUint64(keyBudgetInFlight),
	}
	switch c.control {
	case "raft":
	case "static":
		c.static = control.Assignment{Epoch: v.GetUint64(keyClusterEpoch), Primary: v.GetString(keyClusterPrimary), Members: peers}
		if err := c.static.Validate(); err != nil {
			return nil, fmt.Errorf("static control (%s, %s): %w", keyClusterPrimary, keyClusterEpoch, err)
		}
	default:
		return nil, fmt.Errorf("%s is %q; want raft or static", keyClusterControl, c.control)
	}
	return c, nil
}

// nodeAssignment turns the control plane's decision into the node's.
func nodeAssignment(a control.Assignment) replnode.Assignment {
	out := replnode.Assignment{Epoch: a.Epoch, Primary: replication.ReplicaID(a.Primary), Committed: a.Committed}
	for _, m := range a.Members {
		out.Members = append(out.Members, replnode.Member{ID: replication.ReplicaID(m.ID), Endpoint: m.ReplAddr, API: m.APIAddr})
	}
	return out
}

// startCluster starts the node's replication and its control plane.
func startCluster(ctx context.Context, c *clusterConfig, n *replnode.Node, dataDir, apiToken string, logger *slog.Logger) (control.Plane, error) {
	if c.control == "static" {
		plane := control.Static(c.static)
		n.Assign(nodeAssignment(c.static))
		return plane, nil
	}
	client := &http.Client{Timeout: 2 * time.Second}
	candidates := func(ctx context.Context) []replication.Candidate {
		out := make([]replication.Candidate, len(c.peers))
		ok := make([]bool, len(c.peers))
		var wg sync.WaitGroup
		for i, p := range c.peers {
			if p.ID == c.self.ID {
				out[i], ok[i] = n.Candidate(), true
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				cand, err := replnode.FetchCandidate(ctx, client, p.APIAddr, apiToken)
				if err != nil {
					logger.Debug("candidate unreachable", "peer", p.ID, "err", err)
					return
				}
				out[i], ok[i] = cand, true
			}()
		}
		wg.Wait()
		var cands []replication.Candidate
		for i := range out {
			if ok[i] {
				cands = append(cands, out[i])
			}
		}
		return cands
	}
	return control.Start(ctx, control.Config{
		NodeID: c.self.ID, Dir: filepath.Join(dataDir, "raft"), Peers: c.peers, Mode: c.mode,
		Candidates:       candidates,
		OnAssignment:     func(a control.Assignment) { n.Assign(nodeAssignment(a)) },
		Logger:           logger.With("component", "raft"),
		HeartbeatTimeout: c.hb, ElectionTimeout: c.el,
	})
}

// nodeConfig is the replication node's configuration.
func (c *clusterConfig) nodeConfig(logger *slog.Logger) replnode.Config {
	return replnode.Config{ID: replication.ReplicaID(c.self.ID), Listen: c.self.ReplAddr, Mode: c.mode, Budgets: c.budgets, Tick: c.tick,
		Transport: transport.Config{Cluster: c.name, Token: c.token}, Logger: logger}
}
