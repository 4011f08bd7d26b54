package host_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/abi/canon"
	"github.com/reprise-dev/reprise/catalogs/swoosh"
	"github.com/reprise-dev/reprise/guest"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/meter"
	"github.com/reprise-dev/reprise/host/state"
)

// engineKinds are wazero's two engines, the compiler first.
var engineKinds = []host.EngineKind{host.EngineCompiler, host.EngineInterpreter}

// bothEngines returns a compiler and an interpreter engine with the same
// limits.
func bothEngines(t *testing.T, limits host.Limits) []*host.Engine {
	t.Helper()
	var engines []*host.Engine
	for _, kind := range engineKinds {
		engines = append(engines, newEngine(t, kind, limits))
	}
	return engines
}

// differential applies the same proposals to a fresh reducer in each engine
// (and, when native is set, to the catalog run natively) and requires every
// outcome to be identical: verdict, detail, output, delta, fuel and state
// hash (fuel is not compared with the native run, which uses none). next
// draws the proposal of step i from the state so far. It returns how many
// proposals were accepted and how many were rejected, by code.
func differential(t *testing.T, engines []*host.Engine, wasm []byte, native *host.Reducer, steps int, next func(i int, s *state.State) *abi.Proposal) (accepted int, rejected map[abi.Code]int) {
	t.Helper()
	ctx := context.Background()
	var reducers []*host.Reducer
	for _, e := range engines {
		reducers = append(reducers, wasmReducer(t, e, wasm))
	}
	rejected = map[abi.Code]int{}
	for i := range steps {
		p := next(i, reducers[0].State())
		var first host.Outcome
		for k, r := range reducers {
			o, err := r.Apply(ctx, p)
			if err != nil {
				t.Fatalf("step %d (%s %s) under %s: %v", i, p.Transition, p.Inputs, engineKinds[k], err)
			}
			if k == 0 {
				first = o
				continue
			}
			if fmt.Sprint(o) != fmt.Sprint(first) {
				t.Fatalf("step %d (%s %s):\n %s: %+v\n %s: %+v", i, p.Transition, p.Inputs, engineKinds[0], first, engineKinds[k], o)
			}
		}
		if native != nil {
			want, err := native.Apply(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			got := first
			got.Fuel = 0
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("step %d (%s %s): wasm and native disagree:\n wasm: %+v\n native: %+v", i, p.Transition, p.Inputs, got, want)
			}
		}
		if first.Result.Accepted() {
			accepted++
		} else {
			rejected[first.Result.Code]++
		}
	}
	// The guests agree with their read models, and with each other.
	var exported []string
	for k, r := range reducers {
		entries, err := r.ExportGuestState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if state.FromEntries(entries).Hash() != r.State().Hash() {
			t.Fatalf("%s: the guest's state and the read model disagree", engineKinds[k])
		}
		exported = append(exported, string(abi.AppendState(nil, entries)))
		if r.Rebuilds() != reducers[0].Rebuilds() {
			t.Fatalf("%s rebuilt its guest %d times, %s %d times", engineKinds[k], r.Rebuilds(), engineKinds[0], reducers[0].Rebuilds())
		}
	}
	if exported[0] != exported[1] {
		t.Fatal("the engines' guests export different states")
	}
	return accepted, rejected
}

// TestEnginesAgreeOnCounter: random counter sequences (fixed seeds) give
// the same results, fuel figures and state hashes under the compiler and
// the interpreter, and the same results as the catalog run natively.
func TestEnginesAgreeOnCounter(t *testing.T) {
	engines := bothEngines(t, host.DefaultLimits)
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			accepted, rejected := differential(t, engines, counterWasm(t), nativeCounter(t), 1000,
				func(i int, _ *state.State) *abi.Proposal { return randomProposal(rng, i) })
			t.Logf("%d accepted, rejected %v", accepted, rejected)
			if accepted < 500 || len(rejected) < 2 {
				t.Fatalf("poor coverage: %d accepted, rejected %v", accepted, rejected)
			}
		})
	}
}

// TestEnginesAgreeOnSWOOSH: the same for the SWOOSH catalog, with
// sequences that follow its lifecycles deep enough to reach the execution
// loop.
func TestEnginesAgreeOnSWOOSH(t *testing.T) {
	wasm := swooshWasm(t)
	engines := bothEngines(t, host.DefaultLimits)
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			native, err := host.NewNativeReducer(func() host.NativeRunner { return guest.NewRunner(swoosh.Catalog) })
			if err != nil {
				t.Fatal(err)
			}
			g := newSwooshGen(seed)
			accepted, rejected := differential(t, engines, wasm, native, 400, g.next)
			t.Logf("%d accepted, rejected %v, execution rounds reached %d", accepted, rejected, g.maxRound)
			if accepted < 120 || len(rejected) < 3 || g.maxRound < 1 {
				t.Fatalf("poor coverage: %d accepted, rejected %v, execution round %d", accepted, rejected, g.maxRound)
			}
		})
	}
}

// TestEnginesAgreeOnMisbehavingTransitions mixes the misbehave catalog's
// failures (endless loop, unbounded recursion, panic, exit) with ordinary
// increments: every rejection, fuel figure and state hash must be the same
// on both engines, including the fuel of the transitions that run on a
// guest rebuilt after a failure.
func TestEnginesAgreeOnMisbehavingTransitions(t *testing.T) {
	limits := host.DefaultLimits
	limits.TransitionFuel = 20_000_000
	rng := rand.New(rand.NewPCG(11, 7))
	names := []string{"TRANSITION_INCREMENT", "TRANSITION_INCREMENT", "TRANSITION_INCREMENT", "TRANSITION_INCREMENT",
		"TRANSITION_SPIN", "TRANSITION_RECURSE", "TRANSITION_PANIC", "TRANSITION_EXIT"}
	accepted, rejected := differential(t, bothEngines(t, limits), misbehaveModule(t).Wasm, nil, 120, func(i int, _ *state.State) *abi.Proposal {
		return &abi.Proposal{
			Transition: names[rng.IntN(len(names))],
			Inputs:     fmt.Appendf(nil, `{"key":"k%d"}`, rng.IntN(5)),
			Index:      uint64(i + 1), Timestamp: int64(i),
		}
	})
	t.Logf("%d accepted, rejected %v", accepted, rejected)
	if accepted < 40 || rejected[abi.OutOfFuel] < 10 || rejected[abi.GuestPanic] < 5 || rejected[abi.Trap] < 5 {
		t.Fatalf("poor coverage: %d accepted, rejected %v", accepted, rejected)
	}
}

// TestUnboundedGoRecursionStopsTheSameOnBothEngines: a Go transition that
// recurses without bound, given fuel enough to outlast the call stack, is
// stopped by the metered call stack at the same point on both engines (left
// to themselves, the interpreter would stop at 2,000 frames and the
// compiler far deeper), and the next transition succeeds.
func TestUnboundedGoRecursionStopsTheSameOnBothEngines(t *testing.T) {
	ctx := context.Background()
	limits := host.DefaultLimits
	limits.TransitionFuel = 1_000_000_000
	var runs []string
	for _, kind := range engineKinds {
		r := wasmReducer(t, newEngine(t, kind, limits), misbehaveModule(t).Wasm)
		var outcomes []string
		for _, name := range []string{"TRANSITION_INCREMENT", "TRANSITION_RECURSE", "TRANSITION_INCREMENT"} {
			o, err := r.Apply(ctx, &abi.Proposal{Transition: name, Inputs: []byte(`{"key":"a"}`)})
			if err != nil {
				t.Fatal(err)
			}
			outcomes = append(outcomes, fmt.Sprintf("%s: %s %q fuel %d", name, o.Result.Code, o.Result.Detail, o.Fuel))
			if accepted := name == "TRANSITION_INCREMENT"; o.Result.Accepted() != accepted {
				t.Fatalf("%s: %s", kind, outcomes[len(outcomes)-1])
			}
		}
		want := fmt.Sprintf("TRANSITION_RECURSE: %s %q", abi.Trap, fmt.Sprintf("stack overflow: nested calls used all %d units of call stack", meter.StackUnits))
		if !strings.HasPrefix(outcomes[1], want) {
			t.Fatalf("%s: %s, want %s", kind, outcomes[1], want)
		}
		runs = append(runs, strings.Join(outcomes, "; "))
	}
	if runs[0] != runs[1] {
		t.Fatalf("the engines disagree:\n %s\n %s", runs[0], runs[1])
	}
	t.Logf("both engines: %s", runs[0])
}

// TestLoopingTransitionIsRejectedTheSameEverywhere: a catalog transition
// that loops forever is rejected for fuel with the same reason and the same
// fuel on every run and on both engines, and the next transition succeeds.
// Every run starts from a fresh engine (sharing a compilation cache, so
// later runs load compiled code from disk), and repeats the whole history:
// admission, start-up, one increment, the loop, one increment.
func TestLoopingTransitionIsRejectedTheSameEverywhere(t *testing.T) {
	ctx := context.Background()
	limits := host.DefaultLimits
	limits.TransitionFuel = 30_000_000
	cacheDir := t.TempDir()
	spin := &abi.Proposal{Transition: "TRANSITION_SPIN", Inputs: []byte(`{"key":"a"}`), Index: 2, Timestamp: 2}
	var runs []string
	for _, kind := range engineKinds {
		for run := range 2 {
			e, err := host.NewEngine(ctx, host.EngineConfig{Kind: kind, CacheDir: cacheDir, Limits: limits})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close(ctx) })
			r := wasmReducer(t, e, misbehaveModule(t).Wasm)
			inc := func(index uint64) host.Outcome {
				o, err := r.Apply(ctx, &abi.Proposal{Transition: "TRANSITION_INCREMENT", Inputs: []byte(`{"key":"a"}`), Index: index, Timestamp: int64(index)})
				if err != nil || !o.Result.Accepted() {
					t.Fatalf("%s run %d: increment %d: %v %+v", kind, run, index, err, o.Result)
				}
				return o
			}
			first := inc(1)
			o, err := r.Apply(ctx, spin)
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("used all %d units of fuel", limits.TransitionFuel)
			if o.Result.Code != abi.OutOfFuel || o.Result.Detail != want || o.Fuel != limits.TransitionFuel || o.StateHash != first.StateHash {
				t.Fatalf("%s run %d: SPIN gave %s %q after %d fuel; want %s %q after %d, state unchanged",
					kind, run, o.Result.Code, o.Result.Detail, o.Fuel, abi.OutOfFuel, want, limits.TransitionFuel)
			}
			next := inc(3)
			if v, _ := r.State().Get("counts", "a"); string(v) != "2" {
				t.Fatalf("%s run %d: counts/a = %s after two increments around the loop", kind, run, v)
			}
			runs = append(runs, fmt.Sprintf("%s %q fuel %d; increments used %d then %d fuel, state %s",
				o.Result.Code, o.Result.Detail, o.Fuel, first.Fuel, next.Fuel, next.StateHash))
		}
	}
	for i, run := range runs {
		if run != runs[0] {
			t.Fatalf("run %d differs:\n%s\nrun 0:\n%s", i, run, runs[0])
		}
	}
	t.Logf("every run: %s", runs[0])
}

// swooshGen draws SWOOSH proposals, valid and invalid, mostly among the
// transitions the current state enables, so that sequences reach the
// execution loop and the control states.
type swooshGen struct {
	rng      *rand.Rand
	names    []string
	clock    uint64 // physical part of the next HLC
	ts       int64  // unix nanoseconds of the next proposal
	maxRound uint64 // the highest execution round seen
}

func newSwooshGen(seed uint64) *swooshGen {
	d := swoosh.Catalog.Descriptor()
	return &swooshGen{rng: rand.New(rand.NewPCG(seed, 0xD1FF)), names: d.TransitionNames(), clock: 1, ts: 1_704_067_200e9}
}

var (
	swooshAgents  = []string{"alice", "bob", "carol", "dave"}
	swooshContent = []string{"sha256:aa", "sha256:bb"}
)

// section decodes one value field of the read model (zero when absent).
func section[T any](s *state.State, field string) T {
	var v T
	if raw, ok := s.Get(field, ""); ok {
		_ = canon.Unmarshal(raw, &v)
	}
	return v
}

func (g *swooshGen) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

// enabled lists transitions that the state may accept, one entry per unit
// of weight.
func (g *swooshGen) enabled(s *state.State) []string {
	var w []string
	add := func(weight int, names ...string) {
		for _, n := range names {
			for range weight {
				w = append(w, "TRANSITION_"+n)
			}
		}
	}
	switch section[swoosh.Boot](s, "boot").Phase {
	case "", swoosh.PhaseUninitialized:
		add(10, "CONFIG_OK")
	case swoosh.PhaseConfigOK:
		add(10, "LICENSE_CHECK_STARTED")
	case swoosh.PhaseLicenseCheck:
		add(10, "LICENSE_GRANTED")
		add(1, "LICENSE_DENIED")
	case swoosh.PhaseLicenseFailed:
		add(10, "TERMINATE")
	case swoosh.PhaseLicensed:
		add(10, "PROJECT_START")
	}
	switch section[swoosh.Ingestion](s, "ingestion").Phase {
	case swoosh.PhaseDiscover:
		add(10, "SOURCES_RESOLVED")
	case swoosh.PhaseFetch:
		add(10, "FETCH_COMPLETED")
		add(1, "INGESTION_FAILED")
	case swoosh.PhaseValidate:
		add(10, "VALIDATION_PASSED")
	case swoosh.PhaseIndex:
		add(10, "INDEX_COMPLETED")
	case swoosh.PhaseReady:
		add(1, "COMPENSATE_INDEX")
	}
	switch section[swoosh.Council](s, "council").Phase {
	case swoosh.PhasePlanRoles:
		add(10, "COUNCIL_ROLES_PLANNED")
	case swoosh.PhaseElect:
		add(10, "COUNCIL_CLAIM_ROLE")
		add(6, "COUNCIL_ELECTED")
	case swoosh.PhaseToolingSync:
		add(10, "TOOLING_SYNCED")
	case swoosh.PhaseReady:
		add(1, "COMPENSATE_ELECT")
	}
	switch section[swoosh.Environment](s, "environment").Phase {
	case swoosh.PhaseAllocate:
		add(10, "ENVIRONMENT_ALLOCATED")
	case swoosh.PhaseProvision:
		add(10, "ENVIRONMENT_PROVISIONED")
	case swoosh.PhaseHealthcheck:
		add(10, "HEALTHCHECK_PASSED")
		add(2, "HEALTHCHECK_FAILED")
	case swoosh.PhaseDegraded:
		add(10, "HEALTHCHECK_RETRY")
	case swoosh.PhaseReady:
		add(1, "COMPENSATE_PROVISION")
	}
	exec := section[swoosh.Execution](s, "execution")
	g.maxRound = max(g.maxRound, exec.Round)
	switch exec.Phase {
	case swoosh.PhaseIdle:
		add(10, "PIN_CONTENT", "EXECUTION_START")
	case swoosh.PhasePlan:
		add(10, "PLAN_APPROVED")
	case swoosh.PhaseWork:
		add(10, "WORK_COMPLETED")
	case swoosh.PhaseReview:
		add(10, "REVIEW_PASSED")
		add(3, "REVIEW_CHANGES_REQUESTED")
	case swoosh.PhaseReverb:
		add(10, "SUBMIT_FINAL")
		add(4, "NEXT_ROUND")
		add(1, "EXECUTION_STOP")
	}
	policy := section[swoosh.Policy](s, "policy")
	switch {
	case policy.Quarantined:
		add(8, "QUARANTINE_RELEASE")
	case policy.Paused:
		add(8, "RESUME")
	case policy.Recovery:
		add(8, "RECOVERY_COMPLETE")
	case policy.Degraded:
		add(8, "RECOVERY_START")
	default:
		add(1, "QUARANTINE", "PAUSE", "DEGRADE")
	}
	return w
}

func (g *swooshGen) next(i int, s *state.State) *abi.Proposal {
	p := &abi.Proposal{Index: uint64(i + 1), Timestamp: g.ts, Signer: "node-001"}
	g.ts += int64(1+g.rng.IntN(20)) * 1e9
	switch n := g.rng.IntN(100); {
	case n < 80:
		g.clock += uint64(g.rng.IntN(2))
	case n < 90:
		g.clock-- // an older HLC: rejected as stale
	}
	p.HLC = fmt.Sprintf("%x-0-0000000000000001", g.clock)
	g.clock++
	if w := g.enabled(s); len(w) > 0 && g.rng.IntN(100) < 75 {
		p.Transition = g.pick(w)
	} else {
		p.Transition = g.pick(g.names)
	}
	p.Inputs = g.inputs(p.Transition, s, g.rng.IntN(6) != 0)
	return p
}

// inputs draws plausible inputs for a transition, or (when good is false)
// inputs with one thing wrong.
func (g *swooshGen) inputs(name string, s *state.State, good bool) []byte {
	now := g.ts / 1e9
	council := section[swoosh.Council](s, "council")
	content := section[swoosh.Ingestion](s, "ingestion").ContentHash
	var v any
	switch name {
	case "TRANSITION_CONFIG_OK":
		v = swoosh.ConfigOKInputs{NodeID: "node-001"}
		if !good {
			v = swoosh.ConfigOKInputs{}
		}
	case "TRANSITION_LICENSE_GRANTED":
		v = swoosh.LicenseGrantedInputs{LicenseValid: true, LicenseExpiry: now + 1_000_000}
		if !good {
			v = swoosh.LicenseGrantedInputs{LicenseValid: true, LicenseExpiry: now - 10}
		}
	case "TRANSITION_LICENSE_DENIED", "TRANSITION_QUARANTINE", "TRANSITION_PAUSE", "TRANSITION_DEGRADE",
		"TRANSITION_RESUME", "TRANSITION_RECOVERY_START", "TRANSITION_RECOVERY_COMPLETE":
		v = swoosh.ReasonInputs{Reason: g.pick([]string{"audit", "operator request"})}
		if !good {
			v = swoosh.ReasonInputs{Reason: "bell\x07"}
		}
	case "TRANSITION_SOURCES_RESOLVED":
		v = swoosh.SourcesResolvedInputs{SourceSet: []string{"repo://b", "repo://a"}}
		if !good {
			v = swoosh.SourcesResolvedInputs{SourceSet: []string{"repo://a", "repo://a"}}
		}
	case "TRANSITION_FETCH_COMPLETED":
		v = swoosh.ContentHashInputs{ContentHash: g.pick(swooshContent)}
		if !good {
			v = swoosh.ContentHashInputs{}
		}
	case "TRANSITION_VALIDATION_PASSED", "TRANSITION_PIN_CONTENT":
		h := content
		if !good || h == "" {
			h = g.pick(swooshContent)
		}
		if name == "TRANSITION_PIN_CONTENT" {
			v = swoosh.PinContentInputs{ContentHash: h, Version: "v1"}
		} else {
			v = swoosh.ContentHashInputs{ContentHash: h}
		}
	case "TRANSITION_INGESTION_FAILED", "TRANSITION_HEALTHCHECK_FAILED":
		v = swoosh.ErrorInputs{Error: "timeout"}
		if !good {
			v = swoosh.ErrorInputs{}
		}
	case "TRANSITION_COUNCIL_ROLES_PLANNED":
		in := swoosh.RolesPlannedInputs{CouncilID: "council-1", CoreRoles: []string{"lead", "reviewer"}, OptionalRoles: []string{"scribe"}}
		if !good {
			in.CoreRoles = nil
		}
		v = in
	case "TRANSITION_COUNCIL_CLAIM_ROLE":
		roles := append(slices.Clone(council.CoreRoles), council.OptionalRoles...)
		in := swoosh.ClaimRoleInputs{CouncilID: council.CouncilID, AgentName: g.pick(swooshAgents), RoleName: "lead"}
		if len(roles) > 0 {
			in.RoleName = g.pick(roles)
		}
		if !good {
			in.RoleName = "juggler"
		}
		v = in
	case "TRANSITION_COUNCIL_ELECTED":
		members := []string{}
		for _, e := range s.Entries() {
			if e.Field == "council_claims" {
				var c swoosh.Claim
				if canon.Unmarshal(e.Value, &c) == nil && !slices.Contains(members, c.AgentName) {
					members = append(members, c.AgentName)
				}
			}
		}
		if len(members) == 0 || !good {
			members = append(members, "mallory")
		}
		v = swoosh.ElectedInputs{Members: members, QuorumCertHash: swoosh.MemberSetHash(members)}
	case "TRANSITION_ENVIRONMENT_ALLOCATED":
		v = swoosh.AllocatedInputs{AllocationID: "alloc-1"}
		if !good {
			v = swoosh.AllocatedInputs{}
		}
	case "TRANSITION_ENVIRONMENT_PROVISIONED":
		v = swoosh.ProvisionedInputs{ProvisionRef: "image@1"}
		if !good {
			v = swoosh.ProvisionedInputs{}
		}
	case "TRANSITION_SUBMIT_FINAL":
		in := swoosh.SubmitFinalInputs{SubmissionID: fmt.Sprintf("sub-%d", g.rng.IntN(6)), ContentHash: g.pick(swooshContent), AgentName: g.pick(swooshAgents)}
		if len(council.Members) > 0 && good {
			in.AgentName = g.pick(council.Members)
		}
		v = in
	default:
		if !good {
			return []byte(`{"unexpected":true}`)
		}
		return nil
	}
	b, err := canon.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
