package control

import (
	"fmt"
	"slices"
	"strings"

	"github.com/reprise-dev/reprise/replication"
)

// Peer is one node of the cluster as configured.
type Peer struct {
	ID       string `json:"id"`        // stable node ID (replication.ReplicaID)
	RaftAddr string `json:"raft_addr"` // host:port of its raft transport
	ReplAddr string `json:"repl_addr"` // host:port of its replication listener
	APIAddr  string `json:"api_addr"`  // host:port of its HTTP API (redirects, candidate queries)
}

// Assignment is what the control plane decided. Under raft it is committed
// through the log, so every node applies the same sequence of assignments.
type Assignment struct {
	Epoch   uint64 `json:"epoch"`
	Primary string `json:"primary"` // node ID; "" before the first election
	// Committed is the committed boundary the primary is promoted with
	// (replication.Succession.Committed).
	Committed uint64 `json:"committed"`
	Members   []Peer `json:"members"` // every node, sorted by ID, primary included
}

// Clone returns a copy that shares no memory with a.
func (a Assignment) Clone() Assignment {
	a.Members = slices.Clone(a.Members)
	return a
}

// Member returns the member with the given ID.
func (a Assignment) Member(id string) (Peer, bool) {
	for _, p := range a.Members {
		if p.ID == id {
			return p, true
		}
	}
	return Peer{}, false
}

// Validate checks that a names a primary among its members at an epoch
// above zero, and that the members are well formed.
func (a Assignment) Validate() error {
	if a.Epoch == 0 {
		return fmt.Errorf("control: assignment has epoch 0; epochs start at 1")
	}
	if a.Primary == "" {
		return fmt.Errorf("control: assignment at epoch %d names no primary", a.Epoch)
	}
	if err := validatePeers(a.Members, false); err != nil {
		return err
	}
	if _, ok := a.Member(a.Primary); !ok {
		return fmt.Errorf("control: assignment at epoch %d names primary %q, which is not a member", a.Epoch, a.Primary)
	}
	return nil
}

// ReplicaMembers returns the members other than the primary in the form the
// primary's replication engine takes them (replication.PrimaryConfig).
func (a Assignment) ReplicaMembers() []replication.Member {
	var out []replication.Member
	for _, p := range a.Members {
		if p.ID != a.Primary {
			out = append(out, replication.Member{ID: replication.ReplicaID(p.ID), Endpoint: p.ReplAddr})
		}
	}
	return out
}

// validatePeers checks IDs are present and unique and, when raft runs among
// the peers (needRaft), that each has its own raft address.
func validatePeers(peers []Peer, needRaft bool) error {
	if len(peers) == 0 {
		return fmt.Errorf("control: no peers configured")
	}
	ids := make(map[string]bool, len(peers))
	addrs := make(map[string]string, len(peers))
	for i, p := range peers {
		switch {
		case p.ID == "":
			return fmt.Errorf("control: peer %d has an empty ID", i)
		case ids[p.ID]:
			return fmt.Errorf("control: peer %q is listed twice", p.ID)
		case needRaft && p.RaftAddr == "":
			return fmt.Errorf("control: peer %q has an empty raft address", p.ID)
		case needRaft && addrs[p.RaftAddr] != "":
			return fmt.Errorf("control: peers %q and %q share the raft address %s", addrs[p.RaftAddr], p.ID, p.RaftAddr)
		}
		ids[p.ID] = true
		addrs[p.RaftAddr] = p.ID
	}
	return nil
}

func sortedPeers(peers []Peer) []Peer {
	out := slices.Clone(peers)
	slices.SortFunc(out, func(a, b Peer) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Plane is what the node runtime needs of a control plane, whichever mode.
type Plane interface {
	// Assignment returns the current assignment.
	Assignment() Assignment
	// LeaderID returns the node that currently leads the control plane
	// ("" if none is known).
	LeaderID() string
	// Close stops the control plane.
	Close() error
}

// StaticPlane is the operator-set mode: a fixed primary and epoch from
// configuration, no consensus. It suits two nodes, where a majority cannot
// survive either one failing; failover is the operator's act (a new
// configuration with a higher epoch).
type StaticPlane struct {
	a Assignment
}

// Static returns a control plane that always answers a, its members sorted
// by ID. Check a with Assignment.Validate first when it comes from
// configuration.
func Static(a Assignment) *StaticPlane {
	a = a.Clone()
	a.Members = sortedPeers(a.Members)
	return &StaticPlane{a: a}
}

// Assignment returns the fixed assignment.
func (s *StaticPlane) Assignment() Assignment { return s.a.Clone() }

// LeaderID returns the fixed primary: in static mode it is the authority.
func (s *StaticPlane) LeaderID() string { return s.a.Primary }

// Notify calls onAssignment once with the fixed assignment, as Raft does at
// Start with the assignment it restored, so callers treat both modes alike.
func (s *StaticPlane) Notify(onAssignment func(Assignment)) {
	if onAssignment != nil {
		onAssignment(s.Assignment())
	}
}

// Close does nothing; it exists so StaticPlane is a Plane.
func (s *StaticPlane) Close() error { return nil }

var (
	_ Plane = (*StaticPlane)(nil)
	_ Plane = (*Raft)(nil)
)
