package state

import (
	"testing"

	"github.com/reprise-dev/reprise/abi"
)

// TestHashGoldenVectors pins the state hash function: these values are in
// every WAL record and snapshot ever written, so any change to how a hash is
// computed (domain strings, lane expansion, digest) breaks replay of old
// logs and must show up here first.
func TestHashGoldenVectors(t *testing.T) {
	check := func(what string, s *State, want string) {
		t.Helper()
		if got := s.Hash().String(); got != want {
			t.Fatalf("%s: state hash %s, want %s", what, got, want)
		}
	}
	s := New()
	check("empty state", s, "dae2703ae71a86b392adf0076ae6d9b3cfc072a72461685df13e8f705f3c7a8d")
	s.Apply([]abi.Change{
		{Field: "counts", Key: "a", Value: []byte("1")},
		{Field: "counts", Key: "b\"", Value: []byte("2")},
		{Field: "meta", Key: "", Value: []byte(`{"x":[1,2.5,"é"]}`)},
	})
	check("three entries", s, "3ad9cb1e0fc20ceff48f7675cdd129f19855fb4ceedfae96c42afa7a4c8e5d57")
	s.Apply([]abi.Change{{Field: "counts", Key: "a", Deleted: true}, {Field: "counts", Key: "b\"", Value: []byte("3")}})
	check("after a delete and an update", s, "c500b2b88392149aea403c356a255ccc0901fc17e8c830487d848bc77cd8eed5")
	check("rebuilt from entries", FromEntries(s.Entries()), "c500b2b88392149aea403c356a255ccc0901fc17e8c830487d848bc77cd8eed5")
	check("clone", s.Clone(), "c500b2b88392149aea403c356a255ccc0901fc17e8c830487d848bc77cd8eed5")
}
