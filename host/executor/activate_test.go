package executor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/host/replay"
	"github.com/reprise-dev/reprise/host/state"
	"github.com/reprise-dev/reprise/wal"
)

// activationBody decodes the activation record at index.
func activationBody(t testing.TB, recs map[uint64]wal.Record, index uint64) replay.Activation {
	t.Helper()
	rec, ok := recs[index]
	if !ok {
		t.Fatalf("no record %d in the WAL", index)
	}
	a, err := replay.DecodeActivation(&rec)
	if err != nil {
		t.Fatalf("record %d: %v", index, err)
	}
	return a
}

// TestGenesisRecordActivatesTheConfiguredCatalog: a fresh data directory
// starts with the activation of the configured catalog as record 1,
// carrying the engine's fingerprint and fuel budget.
func TestGenesisRecordActivatesTheConfiguredCatalog(t *testing.T) {
	cfg := config(t, t.TempDir())
	e := open(t, cfg)
	recs := walRecords(t, e)
	if len(recs) != genesis || recs[1].Kind != wal.KindActivation || recs[1].CatalogHash != cfg.Module.Hash {
		t.Fatalf("fresh WAL %+v, want one activation record of %s", recs, hashOf(cfg.Module))
	}
	a := activationBody(t, recs, 1)
	want := replay.Activation{Catalog: cfg.Module.HashHex(), Name: "counter", Version: "1.0.0",
		Fingerprint: cfg.Module.Engine().Fingerprint(), Fuel: host.DefaultLimits.TransitionFuel}
	if fmt.Sprint(a) != fmt.Sprint(want) || !a.Genesis() {
		t.Fatalf("genesis activation %+v, want %+v", a, want)
	}
	if recs[1].StateHash != state.New().Hash() {
		t.Fatalf("genesis record state hash %x, want the empty state's", recs[1].StateHash)
	}
	c := e.Catalog()
	if c.Hash != cfg.Module.Hash || c.ActivatedAt != 1 || !c.Configured || len(c.Drift) != 0 || c.Fuel != a.Fuel {
		t.Fatalf("catalog in force %+v", c)
	}
	if v := mustAccept(t, e, inc("a", 1)); v.Index != genesis+1 {
		t.Fatalf("first transition at index %d, want %d", v.Index, genesis+1)
	}
	// A closed executor still reports where it stopped.
	closeExec(t, e)
	if st, c := e.Status(), e.Catalog(); st.Index != genesis+1 || c.Hash != cfg.Module.Hash {
		t.Fatalf("after Close: status %+v, catalog %+v", st, c)
	}
}

// TestActivateUnderLoadThenRollBack swaps counter 1.0.0 for 1.1.0 and back
// while 8 goroutines submit increments: no submission fails or is lost,
// every record between the swaps carries 1.1.0's hash and every other
// transition 1.0.0's, and both a full replay of the WAL at reopening and an
// online replay reach the same state hash.
func TestActivateUnderLoadThenRollBack(t *testing.T) {
	ctx := context.Background()
	vs := counterVersions(t)
	cfg := config(t, t.TempDir())
	cfg.Catalogs = vs.catalog
	e := open(t, cfg)

	const submitters = 8
	type ack struct {
		key string
		by  int64
		v   executor.Verdict
	}
	var (
		mu       sync.Mutex
		acks     []ack
		failures []error
		acked    atomic.Int64
		wg       sync.WaitGroup
	)
	stop := make(chan struct{})
	for g := range submitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key, by := fmt.Sprintf("g%d-%d", g, i%3), int64(i%7+1)
				v, err := e.Submit(ctx, executor.Submission{Proposal: incKey(key, by, fmt.Sprintf("g%d-%d", g, i))})
				mu.Lock()
				if err != nil || !v.Accepted || v.Duplicate {
					failures = append(failures, fmt.Errorf("submitter %d, submission %d: %+v, %v", g, i, v, err))
					mu.Unlock()
					return
				}
				acks = append(acks, ack{key, by, v})
				mu.Unlock()
				acked.Add(1)
			}
		}()
	}
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(failures) > 0
	}
	waitFor := func(n int64) {
		for acked.Load() < n && !failed() {
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(150)
	up, err := e.Activate(ctx, vs.v11.Hash, executor.ActivateOptions{})
	if err != nil {
		t.Fatalf("activate %s: %v", hashOf(vs.v11), err)
	}
	waitFor(acked.Load() + 150)
	down, err := e.Activate(ctx, vs.v1.Hash, executor.ActivateOptions{})
	if err != nil {
		t.Fatalf("roll back to %s: %v", hashOf(vs.v1), err)
	}
	waitFor(acked.Load() + 150)
	close(stop)
	wg.Wait()
	for _, err := range failures {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d transitions; activation of 1.1.0 at %d (pause %v), roll back at %d (pause %v)",
		len(acks), up.Index, up.Pause, down.Index, down.Pause)

	if up.Replaced != vs.v1.Hash || up.Migrated || down.Replaced != vs.v11.Hash || down.Migrated || up.Index >= down.Index {
		t.Fatalf("activations %+v and %+v", up, down)
	}
	var before, between, after int
	for _, a := range acks {
		switch i := a.v.Index; {
		case i < up.Index:
			before++
		case i > up.Index && i < down.Index:
			between++
		case i > down.Index:
			after++
		default:
			t.Fatalf("transition acknowledged at the index of an activation: %+v", a.v)
		}
	}
	if before == 0 || between == 0 || after == 0 {
		t.Fatalf("transitions before, between and after the swaps: %d, %d, %d; the swaps did not happen under load", before, between, after)
	}

	recs := walRecords(t, e)
	if len(recs) != genesis+2+len(acks) {
		t.Fatalf("WAL holds %d records; %d transitions were acknowledged, plus %d activations", len(recs), len(acks), genesis+2)
	}
	for _, a := range acks {
		r := recs[a.v.Index]
		if r.Kind != wal.KindTransition || state.Hash(r.StateHash) != a.v.StateHash {
			t.Fatalf("acknowledged record %d: WAL holds %+v", a.v.Index, r)
		}
	}
	for i, r := range recs {
		want := vs.v1.Hash
		if i > up.Index && i <= down.Index-1 || i == up.Index {
			want = vs.v11.Hash
		}
		if r.CatalogHash != want {
			t.Fatalf("record %d (%s) carries catalog %x, want %s", i, r.Kind, r.CatalogHash, hashOf(map[bool]*host.Module{true: vs.v11, false: vs.v1}[want == vs.v11.Hash]))
		}
	}
	if a := activationBody(t, recs, up.Index); a.Replaced != vs.v1.HashHex() || a.Version != "1.1.0" {
		t.Fatalf("activation record %d: %+v", up.Index, a)
	}
	if a := activationBody(t, recs, down.Index); a.Replaced != vs.v11.HashHex() || a.Version != "1.0.0" {
		t.Fatalf("activation record %d: %+v", down.Index, a)
	}

	// No increment was lost or applied twice.
	totals := map[string]int64{}
	for _, a := range acks {
		totals[a.key] += a.by
	}
	final := readPosition(t, e)
	var view struct{ Counts map[string]int64 }
	if err := json.Unmarshal([]byte(final.View), &view); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(view.Counts) != fmt.Sprint(totals) {
		t.Fatalf("state %v, acknowledged increments sum to %v", view.Counts, totals)
	}

	// Both versions are in use by the retained WAL; 2.0.0 is not.
	inUse, err := e.CatalogsInUse()
	if err != nil || !inUse[vs.v1.Hash] || !inUse[vs.v11.Hash] || inUse[vs.v2.Hash] || len(inUse) != 2 {
		t.Fatalf("catalogs in use %v, %v; want exactly %s and %s", inUse, err, hashOf(vs.v1), hashOf(vs.v11))
	}

	// An online replay honouring the activations reproduces every record.
	rep, err := e.Replay(ctx, executor.ReplayRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Clean() || rep.Activations != 3 || rep.FinalStateHash != final.Hash.String() || rep.Replayed != uint64(len(recs)) {
		t.Fatalf("online replay:\n%s", rep.Text())
	}

	// Reopening without snapshots replays the whole WAL across both swaps.
	crash(t, e)
	if err := os.RemoveAll(snapDir(cfg.DataDir)); err != nil {
		t.Fatal(err)
	}
	e = open(t, cfg)
	if pos := readPosition(t, e); pos != final {
		t.Fatalf("reopened at %+v, want %+v", pos, final)
	}
	if st := e.Recovery(); st.SnapshotIndex != 0 || st.Replayed != uint64(len(recs)) {
		t.Fatalf("recovery %+v, want all %d records replayed", st, len(recs))
	}
	if c := e.Catalog(); c.Hash != vs.v1.Hash || c.ActivatedAt != down.Index || c.Replaced != vs.v11.Hash {
		t.Fatalf("catalog in force after reopening: %+v", c)
	}
	// And from the final snapshot, taken under the rolled-back catalog.
	closeExec(t, e)
	e = open(t, cfg)
	if pos := readPosition(t, e); pos != final {
		t.Fatalf("reopened from the snapshot at %+v, want %+v", pos, final)
	}
	if c := e.Catalog(); c.Hash != vs.v1.Hash || c.ActivatedAt != down.Index {
		t.Fatalf("catalog in force after reopening from the snapshot: %+v", c)
	}
}

// countsView decodes {"counts": {...}}.
func countsView(t testing.TB, view string) map[string]int64 {
	t.Helper()
	var v struct{ Counts map[string]int64 }
	if err := json.Unmarshal([]byte(view), &v); err != nil {
		t.Fatalf("state view %s: %v", view, err)
	}
	return v.Counts
}

// migratedView is the state view counter 2.0.0 holds after migrating
// counts.
func migratedView(counts map[string]int64) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(`{"totals":{`)
	for i, k := range keys {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `%q:{"updates":0,"value":%d}`, k, counts[k])
	}
	b.WriteString("}}")
	return b.String()
}

// TestMigrationOnActivation activates counter 2.0.0 over a counter 1.0.0
// state: its declared migration turns counts into totals exactly once, the
// new shape is what 2.0.0 then works with, and both a replay at reopening
// and a restart from a snapshot taken after the swap reproduce it.
func TestMigrationOnActivation(t *testing.T) {
	ctx := context.Background()
	vs := counterVersions(t)
	cfg := config(t, t.TempDir())
	cfg.Catalogs = vs.catalog
	e := open(t, cfg)
	workload(t, e, 30)
	counts := countsView(t, readPosition(t, e).View)

	act, err := e.Activate(ctx, vs.v2.Hash, executor.ActivateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !act.Migrated || act.Replaced != vs.v1.Hash || act.Ref != (abi.CatalogRef{Name: "counter", Version: "2.0.0"}) {
		t.Fatalf("activation %+v", act)
	}
	migrated := readPosition(t, e)
	if want := migratedView(counts); migrated.View != want || migrated.Index != act.Index || migrated.Hash != act.StateHash {
		t.Fatalf("after the migration: %+v\nwant view %s at index %d with %s", migrated, want, act.Index, act.StateHash)
	}
	if a := activationBody(t, walRecords(t, e), act.Index); !a.Migrated || a.ReplacedVersion != "1.0.0" {
		t.Fatalf("activation record %+v", a)
	}
	v := mustAccept(t, e, inc("k0", 5))
	after := readPosition(t, e)
	if want := fmt.Sprintf(`"k0":{"updates":1,"value":%d}`, counts["k0"]+5); !strings.Contains(after.View, want) {
		t.Fatalf("increment under 2.0.0: %s, want %s", after.View, want)
	}
	if v.Index != act.Index+1 {
		t.Fatalf("first record under 2.0.0 at %d, want %d", v.Index, act.Index+1)
	}

	crash(t, e)
	e = open(t, cfg)
	if pos := readPosition(t, e); pos != after {
		t.Fatalf("after replaying the migration: %+v, want %+v", pos, after)
	}
	rep, err := e.Replay(ctx, executor.ReplayRequest{})
	if err != nil || !rep.Clean() || rep.FinalStateHash != after.Hash.String() {
		t.Fatalf("replay: %v\n%s", err, rep.Text())
	}
	closeExec(t, e)
	e = open(t, cfg)
	if pos := readPosition(t, e); pos != after {
		t.Fatalf("after a restart from the snapshot: %+v, want %+v", pos, after)
	}
	if c := e.Catalog(); c.Hash != vs.v2.Hash || !c.Migrated || c.ActivatedAt != act.Index || c.Configured {
		t.Fatalf("catalog in force: %+v", c)
	}
}

// position plus what a refused activation must leave unchanged.
type nodeState struct {
	pos     position
	catalog executor.CatalogInForce
	last    uint64
}

func observe(t testing.TB, e *executor.Executor) nodeState {
	t.Helper()
	return nodeState{pos: readPosition(t, e), catalog: e.Catalog(), last: e.WAL().LastIndex()}
}

func requireUnchanged(t testing.TB, e *executor.Executor, before nodeState) {
	t.Helper()
	now := observe(t, e)
	if now.pos != before.pos || now.last != before.last || fmt.Sprint(now.catalog) != fmt.Sprint(before.catalog) {
		t.Fatalf("a refused activation changed the node:\nbefore %+v\nafter  %+v", before, now)
	}
}

// TestActivationThatCannotTakeTheStateChangesNothing: every way an
// activation can be refused leaves the state, the WAL and the catalog in
// force as they were, with an error that says why; the node goes on.
func TestActivationThatCannotTakeTheStateChangesNothing(t *testing.T) {
	ctx := context.Background()
	vs := counterVersions(t)
	cfg := config(t, t.TempDir())
	cfg.Catalogs = vs.catalog
	e := open(t, cfg)
	workload(t, e, 5)
	mustAccept(t, e, inc("a/b", 1))

	cases := []struct {
		name     string
		hash     [32]byte
		mentions []string
		check    func(error) bool
	}{
		{"migration refuses the state", vs.v2.Hash, []string{"counter@2.0.0", `key "a/b" contains '/'`},
			func(err error) bool { var he *replay.HandoverError; return errors.As(err, &he) }},
		{"another catalog without a migration", vs.other.Hash, []string{"misbehave@1.0.0", "counter@1.0.0", "declares no migrations"},
			func(err error) bool { var he *replay.HandoverError; return errors.As(err, &he) }},
		{"a catalog not in the store", [32]byte{1, 2, 3}, []string{"0102030000"},
			func(err error) bool { return errors.Is(err, replay.ErrUnknownCatalog) }},
		{"the catalog in force", vs.v1.Hash, []string{"already in force"},
			func(err error) bool { var ae *executor.AlreadyInForceError; return errors.As(err, &ae) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := observe(t, e)
			_, err := e.Activate(ctx, c.hash, executor.ActivateOptions{})
			if err == nil || !c.check(err) {
				t.Fatalf("Activate: %v", err)
			}
			for _, m := range c.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Fatalf("error %q does not mention %q", err, m)
				}
			}
			requireUnchanged(t, e, before)
			mustAccept(t, e, inc("a", 1))
		})
	}

	// After a migration to 2.0.0, 1.0.0 cannot read the new shape: the
	// roll back is refused by 1.0.0's import, and 2.0.0 stays in force.
	mustAccept(t, e, abi.Proposal{Transition: reset, Inputs: []byte(`{"key":"a/b"}`)})
	if _, err := e.Activate(ctx, vs.v2.Hash, executor.ActivateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := observe(t, e)
	_, err := e.Activate(ctx, vs.v1.Hash, executor.ActivateOptions{})
	var he *replay.HandoverError
	if !errors.As(err, &he) || !strings.Contains(err.Error(), `field "totals"`) {
		t.Fatalf("roll back over a migrated shape: %v", err)
	}
	requireUnchanged(t, e, before)
	if v := mustAccept(t, e, inc("a", 1)); v.Index != before.last+1 {
		t.Fatalf("next record at %d, want %d", v.Index, before.last+1)
	}
	// The refusals left nothing to replay differently.
	crash(t, e)
	e = open(t, cfg)
	if c := e.Catalog(); c.Hash != vs.v2.Hash {
		t.Fatalf("catalog in force after reopening: %+v", c)
	}
}

// TestShadowNamesTheFirstDivergentRecord: counter 1.1.0 keeps a reset key
// at zero where 1.0.0 removes it. A shadow replay of a 1.0.0 log under
// 1.1.0 names exactly the first reset as the first divergent record, with
// a diff of the state at that point; a shadow over the recent records
// starts from the state handed over and names the reset in its range;
// activation requiring a clean shadow is refused for 1.1.0, and granted
// for 2.0.0 (same results, another state shape).
func TestShadowNamesTheFirstDivergentRecord(t *testing.T) {
	ctx := context.Background()
	vs := counterVersions(t)
	cfg := config(t, t.TempDir())
	cfg.Catalogs = vs.catalog
	e := open(t, cfg)
	for i := range 20 {
		mustAccept(t, e, inc(fmt.Sprintf("k%d", i%3), int64(i+1)))
	}
	firstReset := mustAccept(t, e, abi.Proposal{Transition: reset, Inputs: []byte(`{"key":"k1"}`)}).Index
	for i := range 10 {
		mustAccept(t, e, inc(fmt.Sprintf("k%d", i%2*2), 1))
	}
	secondReset := mustAccept(t, e, abi.Proposal{Transition: reset, Inputs: []byte(`{"key":"k2"}`)}).Index
	for range 3 {
		mustAccept(t, e, inc("k0", 1))
	}

	rep, err := e.Shadow(ctx, vs.v11.Hash, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("shadow report:\n%s", rep.Text())
	d := rep.First
	if d == nil || d.Index != firstReset || d.Transition != reset || rep.Divergent != 1 {
		t.Fatalf("shadow of 1.1.0: first divergence %+v, want record %d (%s), 1 divergent record", d, firstReset, reset)
	}
	if len(d.StateDiff) != 1 || d.StateDiff[0].String() != "counts/k1: (absent) → 0" || !strings.Contains(strings.Join(d.Reasons, ";"), "state hash differs") {
		t.Fatalf("divergence %+v", d)
	}
	if d.Recorded.Code != "accepted" || d.Replayed.Code != "accepted" || d.Recorded.StateHash == d.Replayed.StateHash {
		t.Fatalf("divergence results %+v / %+v", d.Recorded, d.Replayed)
	}
	if rep.Base != "genesis" || rep.Replayed != e.WAL().LastIndex() || !rep.StateCompared {
		t.Fatalf("shadow range: %+v", rep)
	}
	for _, want := range []string{fmt.Sprintf("the first is record %d (transition %s", firstReset, reset), "counts/k1: (absent) → 0"} {
		if !strings.Contains(rep.Text(), want) {
			t.Fatalf("report text lacks %q:\n%s", want, rep.Text())
		}
	}

	recent, err := e.Shadow(ctx, vs.v11.Hash, e.WAL().LastIndex()-firstReset)
	if err != nil {
		t.Fatal(err)
	}
	if recent.First == nil || recent.First.Index != secondReset || recent.From != firstReset+1 || recent.LeadIn != firstReset {
		t.Fatalf("shadow of the recent records:\n%s", recent.Text())
	}

	forced, err := e.Replay(ctx, executor.ReplayRequest{Catalog: &vs.v11.Hash})
	if err != nil || forced.First == nil || forced.First.Index != firstReset {
		t.Fatalf("forced replay: %v\n%s", err, forced.Text())
	}

	before := observe(t, e)
	_, err = e.Activate(ctx, vs.v11.Hash, executor.ActivateOptions{RequireCleanShadow: true})
	var se *executor.ShadowDivergedError
	if !errors.As(err, &se) || se.Report.First.Index != firstReset || !strings.Contains(err.Error(), fmt.Sprintf("record %d", firstReset)) {
		t.Fatalf("activation requiring a clean shadow: %v", err)
	}
	requireUnchanged(t, e, before)

	act, err := e.Activate(ctx, vs.v2.Hash, executor.ActivateOptions{RequireCleanShadow: true})
	if err != nil {
		t.Fatal(err)
	}
	if act.Shadow == nil || !act.Shadow.Clean() || act.Shadow.StateCompared || !act.Migrated {
		t.Fatalf("activation of 2.0.0 after a clean shadow: %+v, shadow %+v", act, act.Shadow)
	}
}

// TestRecoveryFromASnapshotAcrossActivations: a snapshot taken under
// 1.0.0, then a swap to 1.1.0 and a migrating swap to 2.0.0 in the WAL
// after it: recovery starts at the snapshot and replays both swaps to the
// same state, and so does an online replay of that range.
func TestRecoveryFromASnapshotAcrossActivations(t *testing.T) {
	ctx := context.Background()
	vs := counterVersions(t)
	cfg := config(t, t.TempDir())
	cfg.Catalogs = vs.catalog
	e := open(t, cfg)
	workload(t, e, 12)
	snap, err := e.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Activate(ctx, vs.v11.Hash, executor.ActivateOptions{}); err != nil {
		t.Fatal(err)
	}
	workload(t, e, 12)
	if _, err := e.Activate(ctx, vs.v2.Hash, executor.ActivateOptions{}); err != nil {
		t.Fatal(err)
	}
	mustAccept(t, e, inc("k1", 1))
	before := readPosition(t, e)

	rep, err := e.Replay(ctx, executor.ReplayRequest{From: snap + 1})
	if err != nil || !rep.Clean() || rep.Base != "snapshot" || rep.BaseIndex != snap || rep.Activations != 2 || rep.FinalStateHash != before.Hash.String() {
		t.Fatalf("replay from the snapshot: %v\n%s", err, rep.Text())
	}
	crash(t, e)
	e = open(t, cfg)
	if pos := readPosition(t, e); pos != before {
		t.Fatalf("recovered %+v, want %+v", pos, before)
	}
	if st := e.Recovery(); st.SnapshotIndex != snap || st.Replayed != before.Index-snap {
		t.Fatalf("recovery %+v, want the snapshot at %d and %d records replayed", st, snap, before.Index-snap)
	}
	if c := e.Catalog(); c.Hash != vs.v2.Hash || !c.Migrated {
		t.Fatalf("catalog in force %+v", c)
	}
}
