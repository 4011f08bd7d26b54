package control

import (
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

var twoPeers = []Peer{{ID: "a", RaftAddr: "127.0.0.1:1"}, {ID: "b", RaftAddr: "127.0.0.1:2"}}

func assignEntry(t *testing.T, index uint64, a Assignment) *raft.Log {
	t.Helper()
	data, err := encodeAssign(a)
	if err != nil {
		t.Fatal(err)
	}
	return &raft.Log{Index: index, Type: raft.LogCommand, Data: data}
}

func TestFSMIgnoresAssignmentsThatDoNotRaiseTheEpoch(t *testing.T) {
	rec := &recorder{}
	f := newFSM(slog.New(slog.DiscardHandler), rec.record)
	first := Assignment{Epoch: 2, Primary: "a", Committed: 7, Members: twoPeers}
	if resp := f.Apply(assignEntry(t, 1, first)); resp != nil {
		t.Fatalf("first assignment refused: %v", resp)
	}
	for i, stale := range []Assignment{
		{Epoch: 2, Primary: "b", Members: twoPeers},
		{Epoch: 1, Primary: "b", Members: twoPeers},
	} {
		resp := f.Apply(assignEntry(t, uint64(i+2), stale))
		err, _ := resp.(error)
		if err == nil || !strings.Contains(err.Error(), "not above the current epoch 2") {
			t.Fatalf("stale assignment %+v: response %v, want a refusal naming the current epoch", stale, resp)
		}
	}
	if got := f.assignment(); got.Epoch != 2 || got.Primary != "a" || got.Committed != 7 {
		t.Fatalf("state %+v after stale assignments, want the first one", got)
	}
	if seen := rec.all(); len(seen) != 1 {
		t.Fatalf("OnAssignment heard %d assignments, want 1: %+v", len(seen), seen)
	}
}

func TestFSMRefusesMalformedEntries(t *testing.T) {
	f := newFSM(slog.New(slog.DiscardHandler), nil)
	for _, tc := range []struct {
		name string
		data string
		want string
	}{
		{"not JSON", "\x00garbage", "not a control command"},
		{"no command", `{}`, "no known command"},
		{"epoch zero", `{"assign":{"epoch":0,"primary":"a","members":[{"id":"a","raft_addr":"x:1"}]}}`, "epoch 0"},
		{"no primary", `{"assign":{"epoch":1,"members":[{"id":"a","raft_addr":"x:1"}]}}`, "names no primary"},
		{"primary not a member", `{"assign":{"epoch":1,"primary":"z","members":[{"id":"a","raft_addr":"x:1"}]}}`, "not a member"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err, _ := f.Apply(&raft.Log{Index: 9, Type: raft.LogCommand, Data: []byte(tc.data)}).(error)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "entry 9") {
				t.Fatalf("got %v, want an error naming entry 9 and saying %q", err, tc.want)
			}
			if a := f.assignment(); a.Epoch != 0 {
				t.Fatalf("state changed to %+v", a)
			}
		})
	}
}

func TestFSMSnapshotRoundTrip(t *testing.T) {
	src := newFSM(slog.New(slog.DiscardHandler), nil)
	want := Assignment{Epoch: 3, Primary: "b", Committed: 42, Members: twoPeers}
	if resp := src.Apply(assignEntry(t, 5, want)); resp != nil {
		t.Fatal(resp)
	}
	snap, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	store := raft.NewInmemSnapshotStore()
	sink, err := store.Create(raft.SnapshotVersionMax, 5, 1, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	metas, err := store.List()
	if err != nil || len(metas) != 1 {
		t.Fatalf("snapshots %v, %v", metas, err)
	}
	_, rc, err := store.Open(metas[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	const wantBody = `{"assignment":{"epoch":3,"primary":"b","committed":42,"members":[{"id":"a","raft_addr":"127.0.0.1:1","repl_addr":"","api_addr":""},{"id":"b","raft_addr":"127.0.0.1:2","repl_addr":"","api_addr":""}]}}`
	if string(body) != wantBody {
		t.Fatalf("snapshot is\n%s\nwant\n%s", body, wantBody)
	}

	rec := &recorder{}
	dst := newFSM(slog.New(slog.DiscardHandler), rec.record)
	for range 2 { // the second restore of the same epoch is not news
		if err := dst.Restore(io.NopCloser(strings.NewReader(string(body)))); err != nil {
			t.Fatal(err)
		}
	}
	got := dst.assignment()
	if b1, _ := json.Marshal(got); string(b1) != string(mustJSON(t, want)) {
		t.Fatalf("restored %+v, want %+v", got, want)
	}
	if seen := rec.all(); len(seen) != 1 || seen[0].Epoch != 3 {
		t.Fatalf("OnAssignment heard %+v, want the restored assignment once", seen)
	}
	if err := dst.Restore(io.NopCloser(strings.NewReader("{"))); err == nil {
		t.Fatal("a truncated snapshot was restored")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
