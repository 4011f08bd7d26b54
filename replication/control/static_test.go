package control

import (
	"slices"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/replication"
)

func TestStaticReturnsItsFixedAssignment(t *testing.T) {
	members := []Peer{
		{ID: "b", ReplAddr: "h:12"}, // no raft address: static mode runs no raft
		{ID: "a", ReplAddr: "h:11"},
	}
	in := Assignment{Epoch: 4, Primary: "a", Committed: 9, Members: members}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	s := Static(in)
	members[0].ID = "changed" // the plane holds its own copy
	got := s.Assignment()
	if got.Epoch != 4 || got.Primary != "a" || got.Committed != 9 {
		t.Fatalf("assignment %+v", got)
	}
	if ids := []string{got.Members[0].ID, got.Members[1].ID}; !slices.Equal(ids, []string{"a", "b"}) {
		t.Fatalf("members %v, want sorted a, b", ids)
	}
	got.Members[0].ID = "mutated"
	if s.Assignment().Members[0].ID != "a" {
		t.Fatal("a caller's change to a returned assignment reached the plane")
	}
	if s.LeaderID() != "a" {
		t.Fatalf("leader %q, want the fixed primary", s.LeaderID())
	}
	want := []replication.Member{{ID: "b", Endpoint: "h:12"}}
	if rm := s.Assignment().ReplicaMembers(); !slices.Equal(rm, want) {
		t.Fatalf("replica members %+v, want %+v", rm, want)
	}
	var heard []Assignment
	s.Notify(func(a Assignment) { heard = append(heard, a) })
	if len(heard) != 1 || heard[0].Epoch != 4 {
		t.Fatalf("Notify delivered %+v", heard)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestAssignmentValidateNamesTheProblem(t *testing.T) {
	ok := []Peer{{ID: "a", RaftAddr: "h:1"}}
	for _, tc := range []struct {
		a    Assignment
		want string
	}{
		{Assignment{Primary: "a", Members: ok}, "epoch 0"},
		{Assignment{Epoch: 1, Members: ok}, "names no primary"},
		{Assignment{Epoch: 1, Primary: "z", Members: ok}, `"z", which is not a member`},
		{Assignment{Epoch: 1, Primary: "a"}, "no peers"},
		{Assignment{Epoch: 1, Primary: "a", Members: []Peer{{ID: "a", RaftAddr: "h:1"}, {ID: "a", RaftAddr: "h:2"}}}, "listed twice"},
	} {
		err := tc.a.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want it to say %q", tc.a, err, tc.want)
		}
	}
}
