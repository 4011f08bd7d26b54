package swoosh_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/abi/canon"
	"github.com/reprise-dev/reprise/catalogs/swoosh"
	"github.com/reprise-dev/reprise/guest"
	"github.com/reprise-dev/reprise/host/state"
)

var onlySeed = flag.Uint64("swoosh.seed", 0, "run only the property sequence with this seed")

const (
	propertySequences = 200
	propertySteps     = 500
)

var (
	agentPool   = []string{"alice", "bob", "carol", "dave", "erin"}
	contentPool = []string{"c1", "c2", "c3"}
	sourcePool  = []string{"s1", "s2", "s3", "s4"}
	regions     = []string{"ingestion", "council", "environment"}
)

// generator draws proposals, valid and invalid, biased towards the
// transitions the current state enables so that sequences get deep.
type generator struct {
	rng   *rand.Rand
	names []string // every catalogued transition
	clock uint64   // physical part of the HLC
	ts    int64
	index uint64 // index of the last accepted proposal
}

func newGenerator(seed uint64) *generator {
	d := swoosh.Catalog.Descriptor()
	return &generator{rng: rand.New(rand.NewPCG(seed, 0x5305)), names: d.TransitionNames(), clock: 1, ts: baseTime}
}

type weighted struct {
	name   string
	weight int
}

// natural lists the transitions the state enables, with weights.
func natural(s snapshot) []weighted {
	var w []weighted
	add := func(weight int, names ...string) {
		for _, n := range names {
			w = append(w, weighted{"TRANSITION_" + n, weight})
		}
	}
	switch s.bootPhase() {
	case swoosh.PhaseUninitialized:
		add(20, "CONFIG_OK")
	case swoosh.PhaseConfigOK:
		add(20, "LICENSE_CHECK_STARTED")
	case swoosh.PhaseLicenseCheck:
		add(20, "LICENSE_GRANTED")
		add(1, "LICENSE_DENIED")
	case swoosh.PhaseLicenseFailed:
		add(20, "TERMINATE")
	case swoosh.PhaseLicensed:
		add(20, "PROJECT_START")
	}
	switch s.regionPhase("ingestion") {
	case swoosh.PhaseDiscover:
		add(20, "SOURCES_RESOLVED")
	case swoosh.PhaseFetch:
		add(20, "FETCH_COMPLETED")
		add(2, "INGESTION_FAILED")
	case swoosh.PhaseValidate:
		add(20, "VALIDATION_PASSED")
		add(2, "INGESTION_FAILED")
	case swoosh.PhaseIndex:
		add(20, "INDEX_COMPLETED")
		add(2, "INGESTION_FAILED")
	case swoosh.PhaseReady:
		add(2, "COMPENSATE_INDEX", "SOURCES_RESOLVED")
	}
	switch s.regionPhase("council") {
	case swoosh.PhasePlanRoles:
		add(20, "COUNCIL_ROLES_PLANNED")
	case swoosh.PhaseElect:
		add(20, "COUNCIL_CLAIM_ROLE")
		add(12, "COUNCIL_ELECTED")
		add(1, "COUNCIL_ROLES_PLANNED")
	case swoosh.PhaseToolingSync:
		add(20, "TOOLING_SYNCED")
		add(2, "COMPENSATE_ELECT")
	case swoosh.PhaseReady:
		add(2, "COMPENSATE_ELECT")
	}
	switch s.regionPhase("environment") {
	case swoosh.PhaseAllocate:
		add(20, "ENVIRONMENT_ALLOCATED")
	case swoosh.PhaseProvision:
		add(20, "ENVIRONMENT_PROVISIONED")
	case swoosh.PhaseHealthcheck:
		add(20, "HEALTHCHECK_PASSED")
		add(4, "HEALTHCHECK_FAILED")
		add(2, "COMPENSATE_PROVISION")
	case swoosh.PhaseDegraded:
		add(10, "HEALTHCHECK_RETRY")
		add(6, "COMPENSATE_PROVISION")
	case swoosh.PhaseReady:
		add(2, "COMPENSATE_PROVISION")
	}
	switch s.regionPhase("execution") {
	case swoosh.PhaseIdle:
		add(10, "PIN_CONTENT")
		add(20, "EXECUTION_START")
	case swoosh.PhasePlan:
		add(20, "PLAN_APPROVED")
	case swoosh.PhaseWork:
		add(20, "WORK_COMPLETED")
	case swoosh.PhaseReview:
		add(20, "REVIEW_PASSED")
		add(4, "REVIEW_CHANGES_REQUESTED")
	case swoosh.PhaseReverb:
		add(20, "SUBMIT_FINAL")
		add(8, "NEXT_ROUND")
		add(2, "EXECUTION_STOP")
	}
	p := swoosh.Policy{}
	if s.Policy != nil {
		p = *s.Policy
	}
	switch {
	case p.Quarantined:
		add(12, "QUARANTINE_RELEASE")
		add(2, "QUARANTINE")
	default:
		add(1, "QUARANTINE")
	}
	if p.Paused {
		add(16, "RESUME")
	} else {
		add(1, "PAUSE")
	}
	switch {
	case p.Recovery:
		add(12, "RECOVERY_COMPLETE")
	case p.Degraded:
		add(12, "RECOVERY_START")
	default:
		add(1, "DEGRADE")
	}
	return w
}

func (g *generator) pick(w []weighted) string {
	total := 0
	for _, x := range w {
		total += x.weight
	}
	n := g.rng.IntN(total)
	for _, x := range w {
		if n < x.weight {
			return x.name
		}
		n -= x.weight
	}
	return w[len(w)-1].name
}

func (g *generator) of(xs []string) string { return xs[g.rng.IntN(len(xs))] }

// subset draws a random subset of pool (possibly empty).
func (g *generator) subset(pool []string) []string {
	var out []string
	for _, x := range pool {
		if g.rng.IntN(2) == 0 {
			out = append(out, x)
		}
	}
	return out
}

// hlc draws the proposal's HLC: mostly not older than the last, sometimes
// older, equal in another spelling, absent or malformed.
func (g *generator) hlc() string {
	switch n := g.rng.IntN(100); {
	case n < 75:
		g.clock += uint64(g.rng.IntN(3))
		return hlc(g.clock)
	case n < 85:
		return hlc(g.clock - min(g.clock, uint64(1+g.rng.IntN(5))))
	case n < 90:
		return fmt.Sprintf("%08X-00-1", g.clock) // same value, other spelling
	case n < 95:
		return ""
	default:
		return g.of([]string{"zz-1", "1--1", "-", "1-0-g"})
	}
}

// proposal draws the next proposal for state s.
func (g *generator) proposal(s snapshot) abi.Proposal {
	p := abi.Proposal{Index: g.index + 1, Timestamp: g.ts, HLC: g.hlc(), Signer: "node-001"}
	g.ts += int64(1+g.rng.IntN(30)) * 1e9
	switch n := g.rng.IntN(100); {
	case n < 70:
		p.Transition = g.pick(natural(s))
	case n < 96:
		p.Transition = g.of(g.names)
	case n < 98:
		p.Transition = g.of([]string{"TRANSITION_NOPE", "TRANSITION_", "RESET"})
		return p
	default:
		p.Transition = g.of(g.names)
		p.Inputs = []byte(g.of([]string{`{"unexpected":true}`, `[1]`, `{"reason":7}`, `{`, `{"members":"alice"}`}))
		return p
	}
	p.Inputs = g.inputs(p.Transition, s, g.rng.IntN(5) != 0)
	return p
}

func (g *generator) marshal(v any) []byte {
	b, err := canon.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// inputs draws inputs for a transition: plausible for the state when good,
// otherwise wrong in a way a guard should notice.
func (g *generator) inputs(name string, s snapshot, good bool) []byte {
	council := swoosh.Council{}
	if s.Council != nil {
		council = *s.Council
	}
	content := ""
	if s.Ingestion != nil {
		content = s.Ingestion.ContentHash
	}
	now := g.ts / 1e9
	switch name {
	case "TRANSITION_CONFIG_OK":
		if !good {
			return g.marshal(swoosh.ConfigOKInputs{NodeID: g.of([]string{"", "bad\x01id"})})
		}
		return g.marshal(swoosh.ConfigOKInputs{NodeID: "node-001"})
	case "TRANSITION_LICENSE_GRANTED":
		in := swoosh.LicenseGrantedInputs{LicenseValid: good || g.rng.IntN(2) == 0}
		switch {
		case !good && in.LicenseValid:
			in.LicenseExpiry = now - int64(g.rng.IntN(100))
		case g.rng.IntN(2) == 0:
			in.LicenseExpiry = now + 100 + int64(g.rng.IntN(20000))
		}
		return g.marshal(in)
	case "TRANSITION_LICENSE_DENIED", "TRANSITION_QUARANTINE", "TRANSITION_PAUSE", "TRANSITION_DEGRADE",
		"TRANSITION_RESUME", "TRANSITION_RECOVERY_START", "TRANSITION_RECOVERY_COMPLETE":
		if !good {
			return g.marshal(swoosh.ReasonInputs{Reason: "bell\x07"})
		}
		if g.rng.IntN(3) == 0 {
			return nil
		}
		return g.marshal(swoosh.ReasonInputs{Reason: g.of([]string{"audit", "maintenance", "operator request"})})
	case "TRANSITION_SOURCES_RESOLVED":
		set := g.subset(sourcePool)
		if good && len(set) == 0 {
			set = []string{"s1"}
		}
		if !good && len(set) > 0 {
			set = append(set, set[0])
		}
		return g.marshal(swoosh.SourcesResolvedInputs{SourceSet: set})
	case "TRANSITION_FETCH_COMPLETED":
		if !good {
			return g.marshal(swoosh.ContentHashInputs{})
		}
		return g.marshal(swoosh.ContentHashInputs{ContentHash: g.of(contentPool)})
	case "TRANSITION_VALIDATION_PASSED":
		if good && content != "" {
			return g.marshal(swoosh.ContentHashInputs{ContentHash: content})
		}
		return g.marshal(swoosh.ContentHashInputs{ContentHash: g.of(contentPool)})
	case "TRANSITION_INGESTION_FAILED", "TRANSITION_HEALTHCHECK_FAILED":
		if !good {
			return g.marshal(swoosh.ErrorInputs{})
		}
		return g.marshal(swoosh.ErrorInputs{Error: g.of([]string{"timeout", "404", "checksum mismatch"})})
	case "TRANSITION_COUNCIL_ROLES_PLANNED":
		in := swoosh.RolesPlannedInputs{CouncilID: g.of([]string{"council-1", "council-2"}), CoreRoles: []string{"lead", "reviewer"}}
		if g.rng.IntN(2) == 0 {
			in.OptionalRoles = []string{"scribe"}
		}
		switch g.rng.IntN(10) {
		case 0, 1:
			in.FormationDeadline = now + 60 + int64(g.rng.IntN(3000))
		case 2:
			in.FormationDeadline = now - 1
		}
		if !good {
			switch g.rng.IntN(3) {
			case 0:
				in.CoreRoles = nil
			case 1:
				in.OptionalRoles = []string{"lead"}
			default:
				in.CouncilID = ""
			}
		}
		return g.marshal(in)
	case "TRANSITION_COUNCIL_CLAIM_ROLE":
		in := swoosh.ClaimRoleInputs{CouncilID: council.CouncilID, AgentName: g.of(agentPool)}
		roles := append(slices.Clone(council.CoreRoles), council.OptionalRoles...)
		if len(roles) > 0 {
			in.RoleName = g.of(roles)
		}
		if !good {
			switch g.rng.IntN(3) {
			case 0:
				in.CouncilID = "council-other"
			case 1:
				in.RoleName = "juggler"
			default:
				in.AgentName = ""
			}
		}
		return g.marshal(in)
	case "TRANSITION_COUNCIL_ELECTED":
		set := map[string]bool{}
		for _, a := range g.subset(agentPool) {
			set[a] = true
		}
		for _, c := range s.Claims {
			if good || g.rng.IntN(2) == 0 {
				set[c.AgentName] = true
			}
		}
		if len(set) == 0 {
			set["alice"] = true
		}
		var ms []string
		for a := range set {
			ms = append(ms, a)
		}
		sort.Strings(ms)
		g.rng.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
		qc := swoosh.MemberSetHash(ms)
		if !good && g.rng.IntN(2) == 0 {
			qc = swoosh.MemberSetHash(append(ms, "mallory"))
		}
		return g.marshal(swoosh.ElectedInputs{Members: ms, QuorumCertHash: qc})
	case "TRANSITION_ENVIRONMENT_ALLOCATED":
		if !good {
			return g.marshal(swoosh.AllocatedInputs{})
		}
		return g.marshal(swoosh.AllocatedInputs{AllocationID: g.of([]string{"alloc-1", "alloc-2"})})
	case "TRANSITION_ENVIRONMENT_PROVISIONED":
		if !good {
			return g.marshal(swoosh.ProvisionedInputs{ProvisionRef: strings.Repeat("x", swoosh.MaxNameBytes+1)})
		}
		return g.marshal(swoosh.ProvisionedInputs{ProvisionRef: g.of([]string{"img@1", "img@2"})})
	case "TRANSITION_PIN_CONTENT":
		in := swoosh.PinContentInputs{ContentHash: content, Version: g.of([]string{"v1", "v2"})}
		if !good || content == "" {
			in.ContentHash = g.of(contentPool)
		}
		return g.marshal(in)
	case "TRANSITION_SUBMIT_FINAL":
		in := swoosh.SubmitFinalInputs{SubmissionID: fmt.Sprintf("sub-%d", g.rng.IntN(8)), ContentHash: g.of(contentPool), AgentName: g.of(agentPool)}
		if good && len(council.Members) > 0 {
			in.AgentName = g.of(council.Members)
		}
		if !good {
			in.AgentName = "mallory"
		}
		return g.marshal(in)
	}
	// Transitions without inputs: mostly none, sometimes an empty object.
	if g.rng.IntN(4) == 0 {
		return []byte(`{}`)
	}
	return nil
}

// invariants checks what must hold of every state.
func invariants(s snapshot) error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, r := range regions {
		if s.regionPhase(r) != "" && s.bootPhase() != swoosh.PhaseProjectLifecycle {
			bad("%s is %s but boot is %s", r, s.regionPhase(r), s.bootPhase())
		}
	}
	if ep := s.regionPhase("execution"); ep != "" && ep != swoosh.PhaseIdle {
		for _, r := range regions {
			if s.regionPhase(r) != swoosh.PhaseReady {
				bad("execution is %s but %s is %s", ep, r, s.regionPhase(r))
			}
		}
		if s.Execution.PinnedContentHash == "" || s.Execution.PinnedVersion == "" {
			bad("execution is %s with nothing pinned", ep)
		}
	}
	if e := s.Execution; e != nil && e.PinnedContentHash != "" {
		if s.regionPhase("ingestion") != swoosh.PhaseReady || e.PinnedContentHash != s.Ingestion.ContentHash {
			bad("pinned %q but ingestion is %s with content %q", e.PinnedContentHash, s.Ingestion.Phase, s.Ingestion.ContentHash)
		}
	}
	if i := s.Ingestion; i != nil && i.Phase == swoosh.PhaseReady && (i.ContentHash == "" || len(i.SourceSet) == 0) {
		bad("ingestion READY without content or sources: %+v", *i)
	}
	if e := s.Environment; e != nil && e.Phase == swoosh.PhaseReady && (e.AllocationID == "" || e.ProvisionRef == "") {
		bad("environment READY without allocation or provisioning: %+v", *e)
	}
	if c := s.Council; c != nil {
		elected := c.Phase == swoosh.PhaseToolingSync || c.Phase == swoosh.PhaseReady
		switch {
		case elected && (len(c.Members) == 0 || c.MembersHash != swoosh.MemberSetHash(c.Members) || c.QuorumCertHash != c.MembersHash):
			bad("council %s: quorum certificate %q, members hash %q, hash of members %v is %q",
				c.Phase, c.QuorumCertHash, c.MembersHash, c.Members, swoosh.MemberSetHash(c.Members))
		case !elected && (len(c.Members) != 0 || c.QuorumCertHash != "" || c.MembersHash != ""):
			bad("council %s keeps an election: %+v", c.Phase, *c)
		}
		holders := map[string]string{}
		for role, cl := range s.Claims {
			if other, dup := holders[cl.AgentName]; dup {
				bad("agent %q holds roles %q and %q", cl.AgentName, other, role)
			}
			holders[cl.AgentName] = role
			if elected && !slices.Contains(c.Members, cl.AgentName) {
				bad("claimant %q of %q is not a member", cl.AgentName, role)
			}
			if cl.CouncilID != c.CouncilID {
				bad("claim of %q is for council %q, not %q", role, cl.CouncilID, c.CouncilID)
			}
		}
	}
	if e := s.Execution; e != nil {
		var thisRound uint64
		for id, sub := range s.Submissions {
			if sub.Round > e.Round || sub.Round == 0 {
				bad("submission %q has round %d, execution round %d", id, sub.Round, e.Round)
			}
			if sub.Round == e.Round {
				thisRound++
			}
		}
		if thisRound != e.Submissions {
			bad("execution.submissions %d, but %d submissions carry round %d", e.Submissions, thisRound, e.Round)
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// stats accumulates what the property sequences exercised.
type stats struct {
	accepted   map[string]int
	codes      map[abi.Code]int
	maxRound   uint64
	maxEpoch   map[string]uint64
	quarantine int // steps taken while quarantined
}

func newStats() *stats {
	return &stats{accepted: map[string]int{}, codes: map[abi.Code]int{}, maxEpoch: map[string]uint64{}}
}

// checkStep checks one proposal's outcome against the properties.
func checkStep(p abi.Proposal, res abi.Result, before, after []byte, sb, sa snapshot, passes map[string]uint64) error {
	accepted := res.Accepted()
	if !accepted {
		if !bytes.Equal(before, after) {
			return fmt.Errorf("refused (%v: %s) but the exported state changed", res.Code, res.Detail)
		}
		if len(res.Delta) != 0 {
			return fmt.Errorf("refused with a delta %s", formatDelta(res.Delta))
		}
	}
	if err := invariants(sa); err != nil {
		return fmt.Errorf("invariant broken: %v", err)
	}
	if accepted && (len(res.Delta) == 0) != bytes.Equal(before, after) {
		return fmt.Errorf("delta %s disagrees with the state change", formatDelta(res.Delta))
	}

	// HLC never goes backwards in accepted transitions.
	last := sb.hlcLast()
	if accepted && p.HLC != "" && last != "" {
		if c, err := swoosh.CompareHLC(p.HLC, last); err != nil || c < 0 {
			return fmt.Errorf("accepted hlc %q against hlc_last %q (%d, %v)", p.HLC, last, c, err)
		}
	}
	if last != "" {
		if c, err := swoosh.CompareHLC(sa.hlcLast(), last); err != nil || c < 0 {
			return fmt.Errorf("hlc_last went from %q to %q", last, sa.hlcLast())
		}
	}
	if changed := !bytes.Equal(before, after); changed && p.HLC != "" && sa.hlcLast() != p.HLC {
		return fmt.Errorf("state changed under hlc %q but hlc_last is %q", p.HLC, sa.hlcLast())
	} else if !changed && sa.hlcLast() != last {
		return fmt.Errorf("hlc_last changed without a state change")
	}

	// Each region's epoch advances exactly once per pass (on entering READY).
	for _, r := range regions {
		entered := sa.regionPhase(r) == swoosh.PhaseReady && sb.regionPhase(r) != swoosh.PhaseReady
		if entered {
			passes[r]++
		}
		if sa.epoch(r) != passes[r] {
			return fmt.Errorf("%s epoch %d after %d completed passes (phase %s → %s)", r, sa.epoch(r), passes[r], sb.regionPhase(r), sa.regionPhase(r))
		}
	}

	// Nothing but release leaves quarantine, and nothing else runs in it.
	release := p.Transition == "TRANSITION_QUARANTINE_RELEASE"
	exempt := release || p.Transition == "TRANSITION_QUARANTINE"
	if sb.quarantined() && !sa.quarantined() && !release {
		return fmt.Errorf("%s left quarantine", p.Transition)
	}
	if !sb.quarantined() && sa.quarantined() && p.Transition != "TRANSITION_QUARANTINE" {
		return fmt.Errorf("%s entered quarantine", p.Transition)
	}
	if sb.quarantined() && !exempt {
		switch res.Code {
		case guest.QuarantineBlocked, guest.InvalidInputs, abi.UnknownTransition:
		default:
			return fmt.Errorf("%s while quarantined: %v (%s), want %v", p.Transition, res.Code, res.Detail, guest.QuarantineBlocked)
		}
	}
	return nil
}

// runSequence applies steps random proposals from seed to a fresh runner
// and checks every step.
func runSequence(t *testing.T, seed uint64, steps int, st *stats) {
	t.Helper()
	g := newGenerator(seed)
	r := guest.NewRunner(swoosh.Catalog)
	readModel := state.New()
	passes := map[string]uint64{}
	before := bytes.Clone(r.ExportState())
	sb, err := decodeSnapshot(before)
	if err != nil {
		t.Fatal(err)
	}
	for i := range steps {
		p := g.proposal(sb)
		res, err := abi.DecodeResult(bytes.Clone(r.Apply(abi.AppendProposal(nil, &p))))
		if err != nil {
			t.Fatalf("seed %d step %d: result does not decode: %v (rerun: go test ./catalogs/swoosh/ -run TestProperties -swoosh.seed=%d)", seed, i, err, seed)
		}
		after := bytes.Clone(r.ExportState())
		sa, err := decodeSnapshot(after)
		if err != nil {
			t.Fatalf("seed %d step %d: state does not decode: %v (rerun: go test ./catalogs/swoosh/ -run TestProperties -swoosh.seed=%d)", seed, i, err, seed)
		}
		if err := checkStep(p, res, before, after, sb, sa, passes); err != nil {
			t.Fatalf("seed %d step %d: %s %s hlc %q: %v\nrerun: go test ./catalogs/swoosh/ -run TestProperties -swoosh.seed=%d",
				seed, i, p.Transition, p.Inputs, p.HLC, err, seed)
		}
		if sb.quarantined() {
			st.quarantine++
		}
		st.codes[res.Code]++
		if res.Accepted() {
			g.index++
			st.accepted[p.Transition]++
			readModel.Apply(res.Delta)
		}
		before, sb = after, sa
	}
	entries, err := abi.DecodeState(before)
	if err != nil {
		t.Fatal(err)
	}
	if readModel.Hash() != state.FromEntries(entries).Hash() {
		t.Fatalf("seed %d: the read model built from deltas disagrees with the export", seed)
	}
	if sb.Execution != nil {
		st.maxRound = max(st.maxRound, sb.Execution.Round)
	}
	for _, r := range regions {
		st.maxEpoch[r] = max(st.maxEpoch[r], sb.epoch(r))
	}
}

// TestProperties runs 200 seeded sequences of 500 random proposals each
// and checks, at every step: a refused proposal leaves the export
// byte-identical; the HLC never goes backwards; each region's epoch counts
// its completed passes; execution implies READY regions and pinned
// content; quorum certificates match their member sets; only release
// leaves quarantine.
func TestProperties(t *testing.T) {
	st := newStats()
	if *onlySeed != 0 {
		runSequence(t, *onlySeed, propertySteps, st)
		return
	}
	for seed := uint64(1); seed <= propertySequences; seed++ {
		runSequence(t, seed, propertySteps, st)
	}
	// The sequences must have exercised the whole catalog.
	d := swoosh.Catalog.Descriptor()
	for _, name := range d.TransitionNames() {
		if st.accepted[name] == 0 {
			t.Errorf("no sequence had %s accepted", name)
		}
	}
	for _, code := range []abi.Code{abi.OK, guest.GuardRejected, abi.UnknownTransition, guest.QuarantineBlocked, guest.InvalidPhase, guest.PreconditionFailed, guest.InvalidInputs} {
		if st.codes[code] == 0 {
			t.Errorf("no proposal ended with %v", code)
		}
	}
	if st.maxRound < 3 || st.quarantine == 0 {
		t.Errorf("shallow sequences: highest round %d, %d steps under quarantine", st.maxRound, st.quarantine)
	}
	for _, r := range regions {
		if st.maxEpoch[r] < 2 {
			t.Errorf("no sequence completed a second %s pass", r)
		}
	}
	var codes []string
	for code, n := range st.codes {
		codes = append(codes, fmt.Sprintf("%v=%d", code, n))
	}
	sort.Strings(codes)
	t.Logf("%d sequences × %d steps: %s; highest round %d; highest epochs %v; %d steps under quarantine",
		propertySequences, propertySteps, strings.Join(codes, " "), st.maxRound, st.maxEpoch, st.quarantine)
}
