package main

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
)

// Raft timings short enough for failovers to be quick in a test, long
// enough for a loaded machine running race-instrumented nodes.
var clusterRaftFlags = []string{"--cluster-raft-heartbeat", "200ms", "--cluster-raft-election", "400ms"}

// primaryMember is the member that says it is a readable primary, and its
// epoch.
func (cl *cluster) primaryMember() (*member, uint64) {
	cl.t.Helper()
	ctx := context.Background()
	addr := cl.findPrimary(ctx)
	for _, m := range cl.members {
		if m.apiAddr == addr && addr != "" {
			v, err := cl.replication(ctx, m)
			if err != nil {
				cl.fatalf("node %s: %v", m.id, err)
			}
			return m, v.Epoch
		}
	}
	cl.fatalf("no node says it is a readable primary")
	return nil, 0
}

// TestClusterKill9Failover runs three real nodes under raft control in
// sync_quorum mode under concurrent increments, kills the primary with
// SIGKILL under that load, and requires: a new primary of a higher epoch
// that takes the load; the old primary, restarted on its data directory,
// rejoining as a replica; every node converging to the same state hash at
// the same index, with every replica at lag 0; and no acknowledged
// increment lost or applied twice (each key's total on every node equals
// the sum of its acknowledged increments, and each acknowledged operation
// resubmitted comes back as a duplicate of the index it was acknowledged
// at). Snapshots every 200 records make snapshots and WAL compaction run
// under the load.
func TestClusterKill9Failover(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level cluster test builds the reprise binary and kills nodes; skipped with -short")
	}
	flags := append([]string{"--cluster-mode", "sync_quorum"}, clusterRaftFlags...)
	cl := newCluster(t, []string{"a", "b", "c"}, 200, flags...)
	cl.start(cl.members...)
	cl.awaitSettled("three nodes to elect a primary, the two others its replicas", func(s settled) (bool, string) {
		return len(s.views) == 3, "not every node answers"
	})
	cl.mark("primary elected")

	load := newClusterLoad(cl, 8, 1)
	load.start()
	load.awaitAcked("400 operations acknowledged by the first primary", 400)
	victim, victimEpoch := cl.primaryMember()
	ackedAtKill := load.acked.Load()
	cl.kill(victim)
	cl.mark("primary killed")

	second := cl.awaitSettled(fmt.Sprintf("the survivors to elect a primary of an epoch above %d after %s was killed", victimEpoch, victim.id),
		func(s settled) (bool, string) {
			return s.epoch > victimEpoch, fmt.Sprintf("epoch %d", s.epoch)
		})
	cl.mark("new primary elected")
	load.awaitAcked("300 more operations acknowledged after the failover", ackedAtKill+300)

	cl.start(victim)
	cl.mark("old primary restarted")
	rejoined := cl.awaitSettled(fmt.Sprintf("the killed node %s to rejoin as a replica", victim.id), func(s settled) (bool, string) {
		v, ok := s.views[victim.id]
		return ok && v.Role == "replica" && len(s.views) == 3, "the restarted node is not a replica yet"
	})
	cl.mark("old primary a replica")
	load.awaitAcked("100 more operations acknowledged with the old primary back", load.acked.Load()+100)
	load.stopLoad()

	index, hash := cl.awaitConverged("every node to hold the primary's committed state, every replica at lag 0")
	cl.mark("converged")
	load.verify(index, hash)
	if load.redirects() == 0 {
		cl.fatalf("clients sent writes to replicas, yet none was answered with a 307 to the primary: %s", load.summary())
	}

	final, finalEpoch := cl.primaryMember()
	pv, err := cl.replication(context.Background(), final)
	if err != nil {
		cl.fatalf("%v", err)
	}
	vv, err := cl.replication(context.Background(), victim)
	if err != nil {
		cl.fatalf("%v", err)
	}
	snapshots := 0
	for _, m := range cl.members {
		snapshots += m.proc.snapshotsWritten()
	}
	t.Logf("cluster failover: killed primary %s of epoch %d with %d operations acknowledged; %s became primary of epoch %d; "+
		"%s rejoined at epoch %d (primary %s); final primary %s epoch %d; converged at index %d state hash %s; "+
		"primary's recovery sessions %s; snapshots installed on %s %d; snapshots written by the last processes %d; %s; milestones: %s; node errors: %s",
		victim.id, victimEpoch, ackedAtKill, second.primary.id, second.epoch, victim.id, rejoined.epoch, rejoined.primary.id,
		final.id, finalEpoch, index, hash, sessions(pv.Metrics.Sessions), victim.id, vv.Metrics.SnapshotsInstalled, snapshots, load.summary(), cl.timeline(), cl.errorLines())
}

// walBoundsView is the WAL part of GET /health.
type walBoundsView struct {
	WAL struct {
		FirstIndex uint64 `json:"first_index"`
		LastIndex  uint64 `json:"last_index"`
	} `json:"wal"`
}

// TestClusterReplicaRebuiltPastRetention stops a replica of a three-node
// cluster, writes until the primary has compacted its WAL past the
// replica's index (snapshots every 50 records, two kept), and restarts the
// replica under load: the gap is no longer in the WAL, so the replica must
// be rebuilt from a snapshot plus the WAL tail (it installs a snapshot),
// and it converges to the primary's state hash with nothing lost.
func TestClusterReplicaRebuiltPastRetention(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level cluster test builds the reprise binary and stops nodes; skipped with -short")
	}
	flags := append([]string{"--cluster-mode", "sync_quorum", "--snapshot-keep", "2"}, clusterRaftFlags...)
	cl := newCluster(t, []string{"a", "b", "c"}, 50, flags...)
	cl.start(cl.members...)
	cl.awaitSettled("three nodes to elect a primary, the two others its replicas", func(s settled) (bool, string) {
		return len(s.views) == 3, "not every node answers"
	})
	cl.mark("primary elected")

	load := newClusterLoad(cl, 4, 2)
	load.start()
	load.awaitAcked("60 operations acknowledged", 60)
	load.stopLoad()
	stoppedAt, _ := cl.awaitConverged("every node to hold the committed state before a replica is stopped")
	primary, _ := cl.primaryMember()
	var victim *member
	for _, m := range cl.members {
		if m != primary {
			victim = m
			break
		}
	}
	cl.terminate(victim)
	cl.mark("replica stopped")

	load.start()
	var compactedTo uint64
	cl.await(fmt.Sprintf("the primary to compact its WAL past index %d, where the stopped replica %s is", stoppedAt, victim.id),
		func() (bool, string) {
			p, _ := cl.primaryMember()
			raw, err := cl.get(context.Background(), p.apiAddr, "/health")
			if err != nil {
				return false, err.Error()
			}
			var h walBoundsView
			if err := json.Unmarshal(raw, &h); err != nil {
				cl.fatalf("GET /health on %s: %v: %s", p.id, err, raw)
			}
			compactedTo = h.WAL.FirstIndex
			return h.WAL.FirstIndex > stoppedAt+1, fmt.Sprintf("primary %s WAL holds [%d, %d]", p.id, h.WAL.FirstIndex, h.WAL.LastIndex)
		})

	cl.mark("WAL compacted past it")
	cl.start(victim)
	cl.mark("replica restarted")
	cl.awaitSettled(fmt.Sprintf("the stopped replica %s to rejoin as a replica", victim.id), func(s settled) (bool, string) {
		v, ok := s.views[victim.id]
		return ok && v.Role == "replica" && len(s.views) == 3, "the restarted node is not a replica yet"
	})
	cl.mark("replica rejoined")
	load.awaitAcked("50 more operations acknowledged with the replica back", load.acked.Load()+50)
	load.stopLoad()

	index, hash := cl.awaitConverged("the rebuilt replica to hold the primary's committed state, every replica at lag 0")
	cl.mark("converged")
	final, epoch := cl.primaryMember()
	pv, err := cl.replication(context.Background(), final)
	if err != nil {
		cl.fatalf("%v", err)
	}
	vv, err := cl.replication(context.Background(), victim)
	if err != nil {
		cl.fatalf("%v", err)
	}
	if vv.Metrics.SnapshotsInstalled == 0 {
		cl.fatalf("replica %s stopped at index %d came back after the primary's WAL was compacted to start at %d, "+
			"yet it installed no snapshot (its recovery sessions %s; the primary's %s): it was not rebuilt",
			victim.id, stoppedAt, compactedTo, sessions(vv.Metrics.Sessions), sessions(pv.Metrics.Sessions))
	}
	load.verify(index, hash)
	t.Logf("cluster rebuild: replica %s stopped at index %d; primary %s WAL compacted to start at %d; %s installed %d snapshot(s); "+
		"primary's recovery sessions %s; converged at index %d state hash %s (primary %s, epoch %d); %s; milestones: %s; node errors: %s",
		victim.id, stoppedAt, primary.id, compactedTo, victim.id, vv.Metrics.SnapshotsInstalled, sessions(pv.Metrics.Sessions),
		index, hash, final.id, epoch, load.summary(), cl.timeline(), cl.errorLines())
}
