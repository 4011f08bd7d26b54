package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/host/state"
)

// incrementN accepts n counter increments and returns their verdicts.
func incrementN(n *node, count int) []verdict {
	n.t.Helper()
	out := make([]verdict, count)
	for i := range out {
		out[i] = n.mustAccept(fmt.Sprintf(`{"transition":"TRANSITION_INCREMENT","inputs":{"key":"k%d","by":%d},"idem_key":"inc-%d","evidence":["e-%d"]}`, i%3, i+1, i, i))
	}
	return out
}

func TestWALPages(t *testing.T) {
	n := startNodeKeeping(t, "counter", Config{WALPageLimit: 4}, 1)
	acks := incrementN(n, 10)
	h := n.health()

	// Paging through the whole log with the largest page.
	var all []recordJSON
	from := h.WAL.FirstIndex
	for pages := 0; ; pages++ {
		var page walPage
		decode(t, n.get(fmt.Sprintf("/v1/wal?from=%d&limit=4", from)), &page)
		if page.FirstIndex != h.WAL.FirstIndex || page.LastIndex != h.Index || len(page.Records) > 4 {
			t.Fatalf("page from %d: bounds %d..%d, %d records", from, page.FirstIndex, page.LastIndex, len(page.Records))
		}
		all = append(all, page.Records...)
		if page.NextFrom == 0 {
			break
		}
		if page.NextFrom != page.Records[len(page.Records)-1].Index+1 || pages > 10 {
			t.Fatalf("next_from %d after %d", page.NextFrom, page.Records[len(page.Records)-1].Index)
		}
		from = page.NextFrom
	}
	if uint64(len(all)) != h.Index-h.WAL.FirstIndex+1 {
		t.Fatalf("%d records for %d..%d", len(all), h.WAL.FirstIndex, h.Index)
	}
	byIndex := map[uint64]recordJSON{}
	for i, rec := range all {
		if rec.Index != h.WAL.FirstIndex+uint64(i) {
			t.Fatalf("record %d has index %d", i, rec.Index)
		}
		byIndex[rec.Index] = rec
	}
	for i, v := range acks {
		rec := byIndex[v.Index]
		if rec.Kind != "transition" || rec.Transition != "TRANSITION_INCREMENT" || rec.StateHash != v.StateHash ||
			rec.IdemKey != fmt.Sprintf("inc-%d", i) || string(rec.Inputs) != fmt.Sprintf(`{"by":%d,"key":"k%d"}`, i+1, i%3) ||
			len(rec.Evidence) != 1 || rec.Evidence[0] != fmt.Sprintf("e-%d", i) || rec.Fuel == 0 || rec.CatalogHash != n.module.HashHex() {
			t.Errorf("record %d: %+v", v.Index, rec)
		}
	}

	// A bounded range, and a range reaching past the end.
	var page walPage
	decode(t, n.get(fmt.Sprintf("/v1/wal?from=%d&to=%d", acks[2].Index, acks[3].Index)), &page)
	if len(page.Records) != 2 || page.Records[0].Index != acks[2].Index || page.NextFrom != 0 {
		t.Fatalf("range %d..%d: %+v", acks[2].Index, acks[3].Index, page)
	}
	decode(t, n.get(fmt.Sprintf("/v1/wal?from=%d&to=%d", h.Index, h.Index+100)), &page)
	if len(page.Records) != 1 || page.NextFrom != 0 {
		t.Fatalf("range past the end: %+v", page)
	}
	decode(t, n.get(fmt.Sprintf("/v1/wal?from=%d", h.Index+5)), &page)
	if len(page.Records) != 0 || page.Records == nil {
		t.Fatalf("range after the end: %+v", page)
	}
	wantProblem(t, n.get("/v1/wal?limit=5"), http.StatusBadRequest, "bad_parameter")

	// After a snapshot the WAL is compacted: older records are gone (410),
	// and their state hashes are still known where a snapshot was taken.
	if r := n.post("/v1/snapshots", ""); r.status != http.StatusCreated {
		t.Fatalf("snapshot: %s", r)
	}
	p := wantProblem(t, n.get(fmt.Sprintf("/v1/wal?from=%d", acks[0].Index)), http.StatusGone, "wal_compacted")
	if p.FirstIndex == nil || *p.FirstIndex != h.Index+1 {
		t.Fatalf("compacted problem: %+v", p)
	}
}

func TestStateAndHashAtIndex(t *testing.T) {
	n := startNodeKeeping(t, "counter", Config{}, 2)
	acks := incrementN(n, 3)
	h := n.health()

	var at stateAtIndex
	decode(t, n.get(fmt.Sprintf("/v1/state?index=%d", h.Index)), &at)
	if at.Index != h.Index || at.StateHash != h.StateHash || string(at.State) != `{"counts":{"k0":1,"k1":2,"k2":3}}` {
		t.Fatalf("state at the current index: %+v", at)
	}
	// Past indexes are rebuilt: the state each increment left, with the
	// catalog in force then, a projection of it, and the empty state at 0.
	wantAt := []string{`{"counts":{"k0":1}}`, `{"counts":{"k0":1,"k1":2}}`}
	for i, want := range wantAt {
		decode(t, n.get(fmt.Sprintf("/v1/state?index=%d", acks[i].Index)), &at)
		if at.Index != acks[i].Index || at.StateHash != acks[i].StateHash || string(at.State) != want ||
			at.Catalog != (catalogRef{Name: n.module.Descriptor.Name, Version: n.module.Descriptor.Version, Hash: n.module.HashHex()}) {
			t.Fatalf("state at index %d: %+v, want %s with hash %s", acks[i].Index, at, want, acks[i].StateHash)
		}
	}
	decode(t, n.get(fmt.Sprintf("/v1/state?index=%d&projection=counts.k1", acks[1].Index)), &at)
	if string(at.State) != `{"counts":{"k1":2}}` {
		t.Fatalf("projection at index %d: %s", acks[1].Index, at.State)
	}
	decode(t, n.get("/v1/state?index=0"), &at)
	if at.Index != 0 || at.StateHash != state.New().Hash().String() || at.Catalog != (catalogRef{Hash: strings.Repeat("0", 64)}) || string(at.State) != "{}" {
		t.Fatalf("state at index 0: %+v", at)
	}
	wantProblem(t, n.get(fmt.Sprintf("/v1/state?index=%d", h.Index+1)), http.StatusNotFound, "index_not_found")

	hashAt := func(index uint64) stateHashAt {
		t.Helper()
		var s stateHashAt
		decode(t, n.get(fmt.Sprintf("/v1/state/hash?index=%d", index)), &s)
		return s
	}
	if s := hashAt(acks[0].Index); s.StateHash != acks[0].StateHash || s.Source != "wal" {
		t.Fatalf("hash at %d: %+v, want %s from the WAL", acks[0].Index, s, acks[0].StateHash)
	}
	if s := hashAt(0); s.StateHash != state.New().Hash().String() || s.Source != "genesis" {
		t.Fatalf("hash at 0: %+v", s)
	}
	var cur stateHashAt
	decode(t, n.get("/v1/state/hash"), &cur)
	if cur.Index != h.Index || cur.StateHash != h.StateHash || cur.Source != "current" {
		t.Fatalf("current hash: %+v", cur)
	}

	// A snapshot at acks[1] keeps that hash known once the WAL is
	// compacted past it; acks[0]'s is gone.
	if r := n.post("/v1/snapshots", ""); r.status != http.StatusCreated {
		t.Fatal(r)
	}
	n.mustAccept(`{"transition":"TRANSITION_INCREMENT","inputs":{"key":"z","by":1}}`)
	if r := n.post("/v1/snapshots", ""); r.status != http.StatusCreated {
		t.Fatal(r)
	}
	if s := hashAt(h.Index); s.StateHash != h.StateHash || s.Source != "snapshot" {
		t.Fatalf("hash at the snapshot's index %d: %+v", h.Index, s)
	}
	wantProblem(t, n.get(fmt.Sprintf("/v1/state/hash?index=%d", acks[0].Index)), http.StatusGone, "wal_compacted")

	// The WAL now starts after the first snapshot (at h.Index): the state
	// there is rebuilt from it, the states before it are gone.
	decode(t, n.get(fmt.Sprintf("/v1/state?index=%d", h.Index)), &at)
	if at.Index != h.Index || at.StateHash != h.StateHash || string(at.State) != `{"counts":{"k0":1,"k1":2,"k2":3}}` {
		t.Fatalf("state at the first snapshot's index %d: %+v", h.Index, at)
	}
	p := wantProblem(t, n.get(fmt.Sprintf("/v1/state?index=%d", acks[0].Index)), http.StatusGone, "wal_compacted")
	if p.FirstIndex == nil || *p.FirstIndex != h.Index+1 || !strings.Contains(p.Detail, fmt.Sprintf("index %d", acks[0].Index)) {
		t.Fatalf("state at a compacted index: %+v", p)
	}
}

// TestStateAtCompactedIndex: with one snapshot kept, the WAL is compacted
// up to the newest snapshot; states before it are gone (410 with the first
// index held), the state at the snapshot and after it are rebuilt.
func TestStateAtCompactedIndex(t *testing.T) {
	n := startNodeKeeping(t, "counter", Config{}, 1)
	acks := incrementN(n, 2)
	if r := n.post("/v1/snapshots", ""); r.status != http.StatusCreated {
		t.Fatal(r)
	}
	more := make([]verdict, 3)
	for i := range more {
		more[i] = n.mustAccept(fmt.Sprintf(`{"transition":"TRANSITION_INCREMENT","inputs":{"key":"m%d","by":1}}`, i))
	}
	if r := n.post("/v1/snapshots", ""); r.status != http.StatusCreated {
		t.Fatal(r)
	}
	last := n.mustAccept(`{"transition":"TRANSITION_INCREMENT","inputs":{"key":"z","by":1}}`)
	h := n.health()
	if h.WAL.FirstIndex != more[2].Index+1 {
		t.Fatalf("after two snapshots with one kept the WAL starts at %d, want %d", h.WAL.FirstIndex, more[2].Index+1)
	}
	for _, index := range []uint64{0, acks[0].Index, acks[1].Index, more[1].Index} {
		p := wantProblem(t, n.get(fmt.Sprintf("/v1/state?index=%d", index)), http.StatusGone, "wal_compacted")
		if p.FirstIndex == nil || *p.FirstIndex != h.WAL.FirstIndex {
			t.Fatalf("state at compacted index %d: %+v", index, p)
		}
	}
	var at stateAtIndex
	decode(t, n.get(fmt.Sprintf("/v1/state?index=%d", more[2].Index)), &at)
	if at.Index != more[2].Index || at.StateHash != more[2].StateHash {
		t.Fatalf("state at the snapshot's index %d: %+v, want hash %s", more[2].Index, at, more[2].StateHash)
	}
	if last.Index != h.Index {
		t.Fatalf("last accepted at %d, node at %d", last.Index, h.Index)
	}
	wantProblem(t, n.get(fmt.Sprintf("/v1/state?index=%d", h.Index+1)), http.StatusNotFound, "index_not_found")
}

func TestSnapshotsAndCatalog(t *testing.T) {
	n := startNode(t, "counter", Config{})
	if h := n.health(); h.Index == 0 {
		wantProblem(t, n.post("/v1/snapshots", ""), http.StatusConflict, "nothing_to_snapshot")
	}
	incrementN(n, 2)
	h := n.health()
	r := n.post("/v1/snapshots", "")
	var snap snapshotJSON
	decode(t, r, &snap)
	if r.status != http.StatusCreated || snap.Index != h.Index || snap.StateHash != h.StateHash || !snap.Valid ||
		snap.CatalogHash != n.module.HashHex() || snap.File == "" || strings.Contains(snap.File, "/") || snap.Size == 0 {
		t.Fatalf("POST /v1/snapshots: %s", r)
	}
	var list snapshotList
	decode(t, n.get("/v1/snapshots"), &list)
	if len(list.Snapshots) != 1 || list.Snapshots[0] != snap {
		t.Fatalf("GET /v1/snapshots: %+v, want [%+v]", list, snap)
	}

	var cat catalogJSON
	decode(t, n.get("/v1/catalog"), &cat)
	if cat.Hash != n.module.HashHex() || cat.Name != "counter" || cat.Version != "1.0.0" ||
		strings.Join(cat.TransitionNames(), ",") != "TRANSITION_INCREMENT,TRANSITION_RESET" {
		t.Fatalf("GET /v1/catalog: %+v", cat)
	}
}
