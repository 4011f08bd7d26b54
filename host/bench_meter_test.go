package host_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/abi/canon"
	"github.com/reprise-dev/reprise/catalogs/builtin"
	"github.com/reprise-dev/reprise/catalogs/swoosh"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/meter"
	"github.com/reprise-dev/reprise/host/nan"
)

func swooshWasm(tb testing.TB) []byte {
	tb.Helper()
	b, ok := builtin.Lookup("swoosh")
	if !ok {
		tb.Fatal("swoosh is not built in")
	}
	return b
}

// swooshToWork drives a SWOOSH project from boot to the WORK phase of its
// first round: every region READY, content pinned, execution started and
// its plan approved.
func swooshToWork(tb testing.TB) []abi.Proposal {
	tb.Helper()
	const farFuture = 2_019_686_400 // 2034-01-01, in unix seconds
	steps := []struct {
		name   string
		inputs any
	}{
		{"CONFIG_OK", swoosh.ConfigOKInputs{NodeID: "node-001"}},
		{"LICENSE_CHECK_STARTED", nil},
		{"LICENSE_GRANTED", swoosh.LicenseGrantedInputs{LicenseValid: true, LicenseExpiry: farFuture}},
		{"PROJECT_START", nil},
		{"SOURCES_RESOLVED", swoosh.SourcesResolvedInputs{SourceSet: []string{"repo://a", "repo://b"}}},
		{"FETCH_COMPLETED", swoosh.ContentHashInputs{ContentHash: "sha256:c0ffee"}},
		{"VALIDATION_PASSED", swoosh.ContentHashInputs{ContentHash: "sha256:c0ffee"}},
		{"INDEX_COMPLETED", nil},
		{"COUNCIL_ROLES_PLANNED", swoosh.RolesPlannedInputs{CouncilID: "council-1", CoreRoles: []string{"lead", "reviewer"}}},
		{"COUNCIL_CLAIM_ROLE", swoosh.ClaimRoleInputs{CouncilID: "council-1", RoleName: "lead", AgentName: "alice"}},
		{"COUNCIL_CLAIM_ROLE", swoosh.ClaimRoleInputs{CouncilID: "council-1", RoleName: "reviewer", AgentName: "bob"}},
		{"COUNCIL_ELECTED", swoosh.ElectedInputs{Members: []string{"alice", "bob"}, QuorumCertHash: swoosh.MemberSetHash([]string{"alice", "bob"})}},
		{"TOOLING_SYNCED", nil},
		{"ENVIRONMENT_ALLOCATED", swoosh.AllocatedInputs{AllocationID: "alloc-1"}},
		{"ENVIRONMENT_PROVISIONED", swoosh.ProvisionedInputs{ProvisionRef: "image@1"}},
		{"HEALTHCHECK_PASSED", nil},
		{"PIN_CONTENT", swoosh.PinContentInputs{ContentHash: "sha256:c0ffee", Version: "v1"}},
		{"EXECUTION_START", nil},
		{"PLAN_APPROVED", nil},
	}
	ps := make([]abi.Proposal, len(steps))
	for i, s := range steps {
		ps[i] = abi.Proposal{Transition: "TRANSITION_" + s.name, Index: uint64(i + 1), Timestamp: 1_704_067_200e9 + int64(i)*1e9, Signer: "node-001"}
		if s.inputs != nil {
			b, err := canon.Marshal(s.inputs)
			if err != nil {
				tb.Fatal(err)
			}
			ps[i].Inputs = b
		}
	}
	return ps
}

// meteringPair is the same catalog admitted by a metered and an unmetered
// engine (both compilers), each with a reducer.
type meteringPair struct {
	metered, unmetered *host.Reducer
}

func newMeteringPair(b *testing.B, wasm []byte) meteringPair {
	b.Helper()
	ctx := context.Background()
	unmeteredEngine, err := host.NewUnmeteredEngine(ctx, host.EngineConfig{Kind: host.EngineCompiler, Limits: host.DefaultLimits})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unmeteredEngine.Close(ctx) })
	return meteringPair{
		metered:   wasmReducer(b, newEngine(b, host.EngineCompiler, host.DefaultLimits), wasm),
		unmetered: wasmReducer(b, unmeteredEngine, wasm),
	}
}

// measure runs proposal i on both reducers for every i, in small
// alternating batches, and reports the cost of one transition each way and
// their ratio. The figures are medians over the batches: the machine is
// shared, and a burst of other work (or a collection in the host) that
// lands on one batch then moves no figure. Each proposal must be accepted.
// ns/op covers one transition of each.
func (mp meteringPair) measure(b *testing.B, proposal func(i int) *abi.Proposal) {
	b.Helper()
	ctx := context.Background()
	const batch = 16
	var fuel uint64
	apply := func(r *host.Reducer, from, to int) time.Duration {
		start := time.Now()
		for i := from; i < to; i++ {
			p := proposal(i)
			o, err := r.Apply(ctx, p)
			if err != nil || !o.Result.Accepted() {
				b.Fatalf("%s: %v %s %q", p.Transition, err, o.Result.Code, o.Result.Detail)
			}
			if r == mp.metered {
				fuel = o.Fuel
			}
		}
		return time.Since(start)
	}
	// Warm both up past the first calls, which set up the Go runtime's
	// caches and cost several times a steady one.
	const warmUp = 64
	apply(mp.metered, 0, warmUp)
	apply(mp.unmetered, 0, warmUp)
	next := warmUp
	var metered, unmetered, ratios []float64
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(batch, b.N-done)
		var m, u time.Duration
		if len(ratios)%2 == 0 {
			m = apply(mp.metered, next, next+n)
			u = apply(mp.unmetered, next, next+n)
		} else {
			u = apply(mp.unmetered, next, next+n)
			m = apply(mp.metered, next, next+n)
		}
		metered = append(metered, float64(m.Nanoseconds())/float64(n)/1000)
		unmetered = append(unmetered, float64(u.Nanoseconds())/float64(n)/1000)
		ratios = append(ratios, float64(m)/float64(u))
		done += n
		next += n
	}
	b.ReportMetric(median(metered), "metered-µs/transition")
	b.ReportMetric(median(unmetered), "unmetered-µs/transition")
	b.ReportMetric(median(ratios), "metered/unmetered")
	b.ReportMetric(float64(fuel), "fuel/transition")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkMetering prints, in one run, what fuel and call stack metering
// cost: the per-transition cost of the counter and SWOOSH catalogs through
// the host reducer (read model and state hash included) in the same module
// admitted with and without metering, and SWOOSH's admission time, cold and
// with the compilation cache.
//
//	go test -run '^$' -bench Metering ./host/
func BenchmarkMetering(b *testing.B) {
	b.Run("counter", func(b *testing.B) {
		mp := newMeteringPair(b, counterWasm(b))
		ps := incrementProposals(100)
		for _, r := range []*host.Reducer{mp.metered, mp.unmetered} {
			restoredReducer(b, r, 100)
		}
		mp.measure(b, func(i int) *abi.Proposal { return &ps[i%len(ps)] })
	})
	b.Run("swoosh", func(b *testing.B) {
		mp := newMeteringPair(b, swooshWasm(b))
		prefix := swooshToWork(b)
		ctx := context.Background()
		for _, r := range []*host.Reducer{mp.metered, mp.unmetered} {
			for i := range prefix {
				if o, err := r.Apply(ctx, &prefix[i]); err != nil || !o.Result.Accepted() {
					b.Fatalf("%s: %v %s %q", prefix[i].Transition, err, o.Result.Code, o.Result.Detail)
				}
			}
		}
		// WORK ⇄ REVIEW: a round's work completed, then changes requested.
		loop := [2]abi.Proposal{
			{Transition: "TRANSITION_WORK_COMPLETED", Signer: "node-001"},
			{Transition: "TRANSITION_REVIEW_CHANGES_REQUESTED", Signer: "node-001"},
		}
		base := prefix[len(prefix)-1]
		mp.measure(b, func(i int) *abi.Proposal {
			p := &loop[i%2]
			p.Index, p.Timestamp = base.Index+uint64(i)+1, base.Timestamp+int64(i+1)*1e6
			return p
		})
	})
	b.Run("swoosh-admission", benchmarkSwooshAdmission)
}

// benchmarkSwooshAdmission times what admitting the SWOOSH catalog costs:
// the rewrites alone (validate, canonicalise NaNs, meter), a cold Load into
// a fresh engine (rewrites, compile, start-up and describe), and the same
// Load into a fresh engine whose compilation cache already holds the module.
func benchmarkSwooshAdmission(b *testing.B) {
	ctx := context.Background()
	wasm := swooshWasm(b)
	cacheDir := b.TempDir()
	load := func(dir string) time.Duration {
		start := time.Now()
		e, err := host.NewEngine(ctx, host.EngineConfig{Kind: host.EngineCompiler, CacheDir: dir, Limits: host.DefaultLimits})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Load(ctx, wasm); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		if err := e.Close(ctx); err != nil {
			b.Fatal(err)
		}
		return elapsed
	}
	load(cacheDir) // fills the cache
	var rewrite, cold, cached time.Duration
	for b.Loop() {
		start := time.Now()
		if _, problems := host.Validate(wasm, host.DefaultLimits); len(problems) > 0 {
			b.Fatal(problems)
		}
		canonical, err := nan.Canonicalize(wasm)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := meter.Inject(canonical); err != nil {
			b.Fatal(err)
		}
		rewrite += time.Since(start)
		cold += load("")
		cached += load(cacheDir)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(ms(rewrite), "rewrite-ms")
	b.ReportMetric(ms(cold), "cold-load-ms")
	b.ReportMetric(ms(cached), "cached-load-ms")
	b.ReportMetric(float64(cold)/float64(cached), "cold/cached")
	b.ReportMetric(float64(len(wasm))/1e6, "module-MB")
}
