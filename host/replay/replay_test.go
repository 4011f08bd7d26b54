package replay_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/replay"
	"github.com/reprise-dev/reprise/wal"
)

// counterLog submits 20 increments over three keys (k1 reaches 77), a
// reset of k1, then 10 more increments; it returns the index of the reset.
func counterLog(t testing.TB, submit func(abi.Proposal) uint64) uint64 {
	t.Helper()
	for i := range 20 {
		submit(inc(fmt.Sprintf("k%d", i%3), int64(i+1)))
	}
	at := submit(reset("k1"))
	for i := range 10 {
		submit(inc(fmt.Sprintf("k%d", i%3), 1))
	}
	return at
}

// TestFingerprintDriftWithoutDivergence replays counter and SWOOSH logs
// written under the compiler with modules of the interpreter engine: the
// report names the fingerprint difference of each activation and finds no
// divergence.
func TestFingerprintDriftWithoutDivergence(t *testing.T) {
	ctx := context.Background()
	farFuture := int64(2019686400)
	logs := map[string][]abi.Proposal{
		"counter": {inc("a", 1), inc("b", 2), reset("a"), inc("b", 3)},
		"swoosh": {
			{Transition: "TRANSITION_CONFIG_OK", Inputs: []byte(`{"node_id":"node-001"}`)},
			{Transition: "TRANSITION_LICENSE_CHECK_STARTED"},
			{Transition: "TRANSITION_LICENSE_GRANTED", Inputs: fmt.Appendf(nil, `{"license_expiry":%d,"license_valid":true}`, farFuture)},
			{Transition: "TRANSITION_PROJECT_START"},
		},
	}
	for _, name := range []string{"counter", "swoosh"} {
		t.Run(name, func(t *testing.T) {
			compiled := module(t, host.EngineCompiler, name)
			e := node(t, compiled, nil)
			for _, p := range logs[name] {
				mustAccept(t, e, p)
			}
			interpreted := module(t, host.EngineInterpreter, name)
			rep, err := replay.Run(ctx, source(e, replay.NewModuleSet(interpreted)), replay.Request{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("report:\n%s", rep.Text())
			if !rep.Clean() || rep.Replayed != uint64(1+len(logs[name])) || rep.FinalStateHash != e.Status().StateHash.String() {
				t.Fatalf("replay under the interpreter:\n%s", rep.Text())
			}
			if len(rep.Drift) != 1 || rep.Drift[0].Index != 1 || strings.Join(rep.Drift[0].Diff, ";") != "engine: compiler -> interpreter" {
				t.Fatalf("drift %+v, want the genesis activation's engine: compiler -> interpreter", rep.Drift)
			}
			for _, want := range []string{"no divergence", "fingerprint drift: activation record 1", "engine: compiler -> interpreter"} {
				if !strings.Contains(rep.Text(), want) {
					t.Fatalf("report text lacks %q", want)
				}
			}
			// Under the engine that wrote it, there is no drift.
			same, err := replay.Run(ctx, source(e, replay.NewModuleSet(compiled)), replay.Request{})
			if err != nil || !same.Clean() || len(same.Drift) != 0 {
				t.Fatalf("replay under the compiler: %v\n%s", err, same.Text())
			}
		})
	}
}

// TestSubstitutedCatalogNamesTheFirstDivergentRecord: a host that hands
// the replay other code under the recorded catalog hash (a test double
// standing in for a non-deterministic host change) makes the replay differ
// from the WAL at exactly the first record where that code behaves
// differently, and the report shows what the replay changed there.
func TestSubstitutedCatalogNamesTheFirstDivergentRecord(t *testing.T) {
	ctx := context.Background()
	v1 := module(t, host.EngineCompiler, "counter")
	e := node(t, v1, nil)
	firstReset := counterLog(t, func(p abi.Proposal) uint64 { return mustAccept(t, e, p).Index })

	double := substitutingCatalogs{Catalogs: replay.NewModuleSet(v1), want: v1.Hash, with: module(t, host.EngineCompiler, "counterdiverge")}
	rep, err := replay.Run(ctx, source(e, double), replay.Request{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", rep.Text())
	d := rep.First
	if d == nil || d.Index != firstReset || d.Transition != "TRANSITION_RESET" || d.Reference || rep.Divergent != 1 {
		t.Fatalf("first divergence %+v (%d divergent), want record %d", d, rep.Divergent, firstReset)
	}
	if len(d.StateDiff) != 1 || d.StateDiff[0].String() != "counts/k1: 77 → 0" || !strings.HasPrefix(d.DiffOf, "entries the replay of this record changed") {
		t.Fatalf("state diff %s %+v", d.DiffOf, d.StateDiff)
	}
	if len(rep.Drift) != 0 {
		t.Fatalf("drift %+v: the fingerprint cannot see a substituted module", rep.Drift)
	}
	if rep.Replayed != e.WAL().LastIndex() {
		t.Fatalf("the replay stopped at the divergence: %+v", rep)
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatalf("the report does not encode as JSON: %v", err)
	}
}

// TestRecordsRunOnlyUnderTheirCatalog: a machine honouring activations
// refuses a record that names another catalog than the one in force; a
// forced machine runs it.
func TestRecordsRunOnlyUnderTheirCatalog(t *testing.T) {
	ctx := context.Background()
	v1, v11 := module(t, host.EngineCompiler, "counter"), module(t, host.EngineCompiler, "counterdiverge")
	e := node(t, v1, nil)
	mustAccept(t, e, inc("a", 1))
	var recs []wal.Record
	if err := e.WAL().Range(1, 2, func(r wal.Record) error { recs = append(recs, r); return nil }); err != nil {
		t.Fatal(err)
	}
	set := replay.NewModuleSet(v1, v11)
	m := replay.NewMachine(set)
	defer m.Close(ctx)
	if st, err := m.Apply(ctx, &recs[0]); err != nil || st.Diverged() {
		t.Fatalf("genesis: %+v, %v", st, err)
	}
	other := recs[1]
	other.CatalogHash = v11.Hash
	_, err := m.Apply(ctx, &other)
	if !isWrongCatalog(err) || !strings.Contains(err.Error(), v11.HashHex()) || !strings.Contains(err.Error(), v1.HashHex()) {
		t.Fatalf("record naming %s under %s: %v", v11.HashHex(), v1.HashHex(), err)
	}
	forced, _, err := m.Fork(ctx, v11.Hash)
	if err != nil {
		t.Fatal(err)
	}
	defer forced.Close(ctx)
	if st, err := forced.Apply(ctx, &other); err != nil || st.Diverged() {
		t.Fatalf("forced: %+v, %v", st, err)
	}
}

// TestReplayRangesAndSnapshots: with the WAL compacted up to the oldest
// kept snapshot, a replay from 0 starts at that snapshot, one from a later
// index starts at the newest snapshot before it and applies the records in
// between first, one from genesis is refused with a reason, and progress
// is reported for every record applied.
func TestReplayRangesAndSnapshots(t *testing.T) {
	ctx := context.Background()
	v1 := module(t, host.EngineCompiler, "counter")
	e := node(t, v1, nil)
	var snaps []uint64
	for i := range 40 {
		mustAccept(t, e, inc(fmt.Sprintf("k%d", i%4), 1))
		if i%10 == 9 {
			idx, err := e.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			snaps = append(snaps, idx)
		}
	}
	// Keep is 3: the WAL starts after the second snapshot.
	if first := e.WAL().FirstIndex(); first != snaps[1]+1 {
		t.Fatalf("WAL first index %d, want %d", first, snaps[1]+1)
	}
	src := source(e, replay.NewModuleSet(v1))
	last := e.WAL().LastIndex()

	rep, err := replay.Run(ctx, src, replay.Request{})
	if err != nil || !rep.Clean() || rep.Base != "snapshot" || rep.BaseIndex != snaps[1] || rep.From != snaps[1]+1 || rep.Replayed != last-snaps[1] {
		t.Fatalf("replay from 0: %v\n%+v", err, rep)
	}
	var calls, total uint64
	rep, err = replay.Run(ctx, src, replay.Request{From: snaps[2] + 3, To: last - 1, Progress: func(done, all uint64) { calls, total = done, all }})
	if err != nil || !rep.Clean() || rep.BaseIndex != snaps[2] || rep.LeadIn != 2 || rep.Replayed != last-1-(snaps[2]+3)+1 {
		t.Fatalf("replay of a middle range: %v\n%+v", err, rep)
	}
	if calls != rep.LeadIn+rep.Replayed || total != calls {
		t.Fatalf("progress reported %d of %d, want %d", calls, total, rep.LeadIn+rep.Replayed)
	}
	if _, err := replay.Run(ctx, src, replay.Request{From: 1}); err == nil || !strings.Contains(err.Error(), "cannot start at genesis") {
		t.Fatalf("replay from genesis of a compacted WAL: %v", err)
	}
	if _, err := replay.Run(ctx, src, replay.Request{From: snaps[0] + 1}); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("cannot rebuild the state at index %d", snaps[0])) {
		t.Fatalf("replay from a compacted index: %v", err)
	}
	if _, err := replay.Run(ctx, src, replay.Request{From: last + 5}); err == nil {
		t.Fatal("replay of a range beyond the log succeeded")
	}
	if _, err := replay.Run(ctx, src, replay.Request{Force: true, Catalog: [32]byte{9}}); !errors.Is(err, replay.ErrUnknownCatalog) {
		t.Fatalf("forced replay under an unknown catalog: %v", err)
	}
}
