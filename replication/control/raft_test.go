package control

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/replication"
)

func TestThreeNodesAssignTheLeaderPrimaryAtEpochOne(t *testing.T) {
	c := newTestCluster(t, 3, replication.SyncQuorum)
	a := c.settled("a primary assigned on all three nodes", nil)
	ids := c.running()
	for _, id := range ids {
		seen := c.rec(id).all()
		if len(seen) == 0 {
			t.Fatalf("%s never heard of an assignment", id)
		}
		first := seen[0]
		if first.Epoch != 1 || first.Committed != 0 {
			t.Errorf("%s: first assignment is epoch %d committed %d, want epoch 1 committed 0", id, first.Epoch, first.Committed)
		}
		if !slices.Equal(first.Members, sortedPeers(c.peers)) {
			t.Errorf("%s: members %+v, want every peer sorted by ID", id, first.Members)
		}
	}
	c.checkHistories(ids...)
	if _, ok := a.Member(a.Primary); !ok {
		t.Errorf("primary %s is not a member of %+v", a.Primary, a.Members)
	}
}

func TestLeaderShutdownAssignsNewPrimaryAtNextEpoch(t *testing.T) {
	c := newTestCluster(t, 3, replication.SyncQuorum)
	old := c.settled("the first primary", nil)
	c.stop(old.Primary)
	next := c.settled("a new primary among the two remaining nodes", func(a Assignment) bool { return a.Primary != old.Primary })
	if next.Epoch <= old.Epoch {
		t.Fatalf("new primary %s at epoch %d, not above the old epoch %d", next.Primary, next.Epoch, old.Epoch)
	}
	survivors := c.running()
	if len(survivors) != 2 {
		t.Fatalf("running %v, want two nodes", survivors)
	}
	c.checkHistories(survivors...)
	// The first assignment after the stopped node's last one bumps the
	// epoch by one and names a survivor.
	for _, id := range survivors {
		seen := c.rec(id).all()
		last := slices.IndexFunc(seen, func(a Assignment) bool { return a.Primary == old.Primary && a.Epoch >= old.Epoch })
		for i := last + 1; i < len(seen) && seen[i].Primary == old.Primary; i++ {
			last = i
		}
		if last < 0 || last+1 >= len(seen) {
			t.Fatalf("%s saw %+v: no assignment after %s's", id, seen, old.Primary)
		}
		if after := seen[last+1]; after.Epoch != seen[last].Epoch+1 || after.Primary == old.Primary {
			t.Errorf("%s: after epoch %d of %s came %+v, want the next epoch naming a survivor", id, seen[last].Epoch, old.Primary, after)
		}
	}
}

func TestSuccessionTransfersLeadershipToTheEligibleNode(t *testing.T) {
	c := newTestCluster(t, 3, replication.SyncQuorum)
	// Nobody holds the committed index 10: no one may be assigned.
	for _, p := range c.peers {
		c.setFacts(p.ID, facts{Durable: 0, KnownCommitted: 10})
	}
	var leader string
	eventually(t, "a raft leader that asked for candidates twice", func() (bool, string) {
		ids := c.running()
		leader = c.node(ids[0]).LeaderID()
		return leader != "" && c.callCount(leader) >= 2, fmt.Sprintf("leader %q", leader)
	})
	for _, id := range c.running() {
		if a := c.node(id).Assignment(); a.Epoch != 0 {
			t.Fatalf("%s was assigned %+v while no candidate was eligible", id, a)
		}
	}
	// The leader falls short of the committed index; the two other nodes
	// hold it (sync_quorum needs two eligible of three), and the tie goes to
	// the smaller ID.
	var eligible string
	for _, p := range c.peers {
		if p.ID == leader {
			c.setFacts(p.ID, facts{Durable: 5, KnownCommitted: 10})
			continue
		}
		if eligible == "" {
			eligible = p.ID
		}
		c.setFacts(p.ID, facts{Durable: 10, KnownCommitted: 10})
	}
	a := c.settled("the eligible node assigned primary", nil)
	if a.Primary != eligible || a.Committed != 10 {
		t.Fatalf("assigned %+v, want %s with committed 10 (leader %s was ineligible)", a, eligible, leader)
	}
	for _, id := range c.running() {
		seen := c.rec(id).all()
		if seen[0].Epoch != 1 {
			t.Errorf("%s: first assignment %+v, want epoch 1", id, seen[0])
		}
		for _, a := range seen {
			if a.Primary != eligible {
				t.Errorf("%s saw %s assigned, want only %s: %+v", id, a.Primary, eligible, a)
			}
		}
	}
	c.checkHistories(c.running()...)
}

func TestNoEligibleCandidateKeepsTheEpochUntilOneIs(t *testing.T) {
	c := newTestCluster(t, 3, replication.BestEffort)
	old := c.settled("the first primary", nil)
	for _, p := range c.peers {
		c.setFacts(p.ID, facts{NeedsRebuild: true})
	}
	c.stop(old.Primary)
	var leader string
	var callsAtLeadership int
	eventually(t, "a new raft leader", func() (bool, string) {
		ids := c.running()
		leader = c.node(ids[0]).LeaderID()
		if leader != "" && leader != old.Primary {
			callsAtLeadership = c.callCount(leader)
			return true, ""
		}
		return false, fmt.Sprintf("leader %q", leader)
	})
	eventually(t, "the new leader to retry the succession", func() (bool, string) {
		n := c.callCount(leader)
		return n >= callsAtLeadership+3, fmt.Sprintf("%d calls", n)
	})
	for _, id := range c.running() {
		if a := c.node(id).Assignment(); a.Epoch != old.Epoch || a.Primary != old.Primary {
			t.Fatalf("%s moved to %+v while no candidate was eligible", id, a)
		}
	}
	for _, p := range c.peers {
		c.setFacts(p.ID, facts{})
	}
	next := c.settled("a primary once a candidate is eligible", func(a Assignment) bool { return a.Epoch > old.Epoch })
	if next.Epoch != old.Epoch+1 || next.Primary == old.Primary {
		t.Fatalf("assigned %+v, want a survivor at epoch %d", next, old.Epoch+1)
	}
	c.checkHistories(c.running()...)
}

func TestRestartRestoresTheAssignment(t *testing.T) {
	c := newTestCluster(t, 3, replication.SyncQuorum)
	cur := c.settled("the first primary", nil)
	var follower string
	for _, id := range c.running() {
		if id != cur.Primary {
			follower = id
			break
		}
	}
	restart := func(id string, atLeast uint64) {
		t.Helper()
		before := c.rec(id).all()
		rec := c.start(id, nil)
		// Start has returned: what it heard came from the node's own disk.
		got := rec.all()
		if len(got) == 0 {
			t.Fatalf("%s restarted and restored nothing; it had applied %+v", id, before)
		}
		if got[0].Epoch < atLeast || !slices.ContainsFunc(before, func(a Assignment) bool {
			return a.Epoch == got[0].Epoch && a.Primary == got[0].Primary && a.Committed == got[0].Committed
		}) {
			t.Fatalf("%s restarted and restored %+v, want one of the assignments it applied, %+v, at epoch %d or later", id, got[0], before, atLeast)
		}
	}
	c.stop(follower)
	restart(follower, cur.Epoch)
	// A restarted follower with an up-to-date log does not disturb the
	// leader (pre-vote), but a slow machine may still see an election, so
	// only the order of epochs is asserted.
	cur = c.settled("the restarted follower back in the cluster", func(a Assignment) bool { return a.Epoch >= cur.Epoch })

	// The whole cluster restarts: each node restores an assignment no older
	// than the one all had applied, then the leader elected after the
	// restart bumps the epoch.
	ids := c.running()
	for _, id := range ids {
		c.stop(id)
	}
	for _, id := range ids {
		restart(id, cur.Epoch)
	}
	next := c.settled("a primary after the whole cluster restarted", func(a Assignment) bool { return a.Epoch > cur.Epoch })
	if next.Epoch <= cur.Epoch {
		t.Fatalf("after a full restart the assignment is %+v, want an epoch above %d", next, cur.Epoch)
	}
	c.checkHistories(ids...)
}

func TestStartRefusesBadConfig(t *testing.T) {
	peers := []Peer{{ID: "a", RaftAddr: "127.0.0.1:1"}, {ID: "b", RaftAddr: "127.0.0.1:2"}}
	cands := func(context.Context) []replication.Candidate { return nil }
	dir := t.TempDir()
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no node ID", Config{Dir: dir, Peers: peers, Mode: replication.BestEffort, Candidates: cands}, "no node ID"},
		{"no dir", Config{NodeID: "a", Peers: peers, Mode: replication.BestEffort, Candidates: cands}, "no raft directory"},
		{"not a peer", Config{NodeID: "c", Dir: dir, Peers: peers, Mode: replication.BestEffort, Candidates: cands}, `"c" is not among`},
		{"duplicate peer", Config{NodeID: "a", Dir: dir, Peers: append(slices.Clone(peers), peers[0]), Mode: replication.BestEffort, Candidates: cands}, "listed twice"},
		{"shared address", Config{NodeID: "a", Dir: dir, Peers: []Peer{{ID: "a", RaftAddr: "x:1"}, {ID: "b", RaftAddr: "x:1"}}, Mode: replication.BestEffort, Candidates: cands}, "share the raft address"},
		{"empty address", Config{NodeID: "a", Dir: dir, Peers: []Peer{{ID: "a"}}, Mode: replication.BestEffort, Candidates: cands}, "empty raft address"},
		{"no mode", Config{NodeID: "a", Dir: dir, Peers: peers, Candidates: cands}, "invalid durability mode"},
		{"quorum of two", Config{NodeID: "a", Dir: dir, Peers: peers, Mode: replication.SyncQuorum, Candidates: cands}, "at least three nodes"},
		{"no candidates", Config{NodeID: "a", Dir: dir, Peers: peers, Mode: replication.BestEffort}, "no Candidates"},
		{"lease past heartbeat", Config{NodeID: "a", Dir: dir, Peers: []Peer{{ID: "a", RaftAddr: "127.0.0.1:0"}}, Mode: replication.BestEffort, Candidates: cands,
			HeartbeatTimeout: 100e6, LeaderLeaseTimeout: 200e6}, "raft timing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Start(context.Background(), tc.cfg)
			if err == nil {
				_ = r.Close()
				t.Fatalf("Start accepted the config")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}
