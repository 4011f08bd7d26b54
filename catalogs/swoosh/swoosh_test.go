package swoosh_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/abi/canon"
	"github.com/reprise-dev/reprise/catalogs/swoosh"
	"github.com/reprise-dev/reprise/guest"
	"github.com/reprise-dev/reprise/host/state"
)

// farFuture is a licence expiry no test reaches: 2034-01-01.
const farFuture = int64(2019686400)

var (
	members      = []string{"bob", "alice", "carol"}
	councilRoles = swoosh.RolesPlannedInputs{CouncilID: "council-7", CoreRoles: []string{"lead", "reviewer"}, OptionalRoles: []string{"scribe"}}
)

// Milestones. Each drives a fresh machine from the previous one.

func toLicenseCheck(m *machine) {
	m.mustDo("TRANSITION_CONFIG_OK", swoosh.ConfigOKInputs{NodeID: "node-001"})
	m.mustDo("TRANSITION_LICENSE_CHECK_STARTED", nil)
}

func toLifecycle(m *machine) {
	toLicenseCheck(m)
	m.mustDo("TRANSITION_LICENSE_GRANTED", swoosh.LicenseGrantedInputs{LicenseValid: true, LicenseExpiry: farFuture})
	m.mustDo("TRANSITION_PROJECT_START", nil)
}

func ingest(m *machine) {
	m.mustDo("TRANSITION_SOURCES_RESOLVED", swoosh.SourcesResolvedInputs{SourceSet: []string{"repo://b", "repo://a"}})
	m.mustDo("TRANSITION_FETCH_COMPLETED", swoosh.ContentHashInputs{ContentHash: "sha256:c0ffee"})
	m.mustDo("TRANSITION_VALIDATION_PASSED", swoosh.ContentHashInputs{ContentHash: "sha256:c0ffee"})
	m.mustDo("TRANSITION_INDEX_COMPLETED", nil)
}

func toElect(m *machine) {
	m.mustDo("TRANSITION_COUNCIL_ROLES_PLANNED", councilRoles)
}

func claimCoreRoles(m *machine) {
	m.mustDo("TRANSITION_COUNCIL_CLAIM_ROLE", swoosh.ClaimRoleInputs{CouncilID: "council-7", RoleName: "lead", AgentName: "alice"})
	m.mustDo("TRANSITION_COUNCIL_CLAIM_ROLE", swoosh.ClaimRoleInputs{CouncilID: "council-7", RoleName: "reviewer", AgentName: "bob"})
}

func elect(m *machine) {
	m.mustDo("TRANSITION_COUNCIL_ELECTED", swoosh.ElectedInputs{Members: members, QuorumCertHash: swoosh.MemberSetHash(members)})
}

func formCouncil(m *machine) {
	toElect(m)
	claimCoreRoles(m)
	elect(m)
	m.mustDo("TRANSITION_TOOLING_SYNCED", nil)
}

func provision(m *machine) {
	m.mustDo("TRANSITION_ENVIRONMENT_ALLOCATED", swoosh.AllocatedInputs{AllocationID: "alloc-1"})
	m.mustDo("TRANSITION_ENVIRONMENT_PROVISIONED", swoosh.ProvisionedInputs{ProvisionRef: "image@sha256:0a"})
	m.mustDo("TRANSITION_HEALTHCHECK_PASSED", nil)
}

func toAllReady(m *machine) {
	toLifecycle(m)
	ingest(m)
	formCouncil(m)
	provision(m)
}

func pin(m *machine) {
	m.mustDo("TRANSITION_PIN_CONTENT", swoosh.PinContentInputs{ContentHash: "sha256:c0ffee", Version: "v1.0.0"})
}

func toWork(m *machine) {
	toAllReady(m)
	pin(m)
	m.mustDo("TRANSITION_EXECUTION_START", nil)
	m.mustDo("TRANSITION_PLAN_APPROVED", nil)
}

func toReverb(m *machine) {
	toWork(m)
	m.mustDo("TRANSITION_WORK_COMPLETED", nil)
	m.mustDo("TRANSITION_REVIEW_PASSED", nil)
}

func TestDescriptor(t *testing.T) {
	r := guest.NewRunner(swoosh.Catalog)
	var d abi.Descriptor
	if err := canon.Unmarshal(r.Describe(), &d); err != nil {
		t.Fatalf("descriptor does not decode: %v", err)
	}
	if err := d.Check(); err != nil {
		t.Fatal(err)
	}
	if d.Name != "swoosh" || d.Version != "1.0.0" {
		t.Fatalf("identity %s@%s, want swoosh@1.0.0", d.Name, d.Version)
	}
	var fields []string
	for _, f := range d.Fields {
		fields = append(fields, f.Name+":"+string(f.Kind))
		if f.Doc == "" {
			t.Errorf("field %s has no documentation", f.Name)
		}
	}
	wantFields := []string{"meta:value", "boot:value", "ingestion:value", "council:value", "environment:value",
		"execution:value", "policy:value", "hlc_last:value", "council_claims:map", "submissions:map"}
	if !slices.Equal(fields, wantFields) {
		t.Fatalf("fields %v, want %v", fields, wantFields)
	}
	if len(d.Transitions) != 39 {
		t.Errorf("%d transitions, want 39", len(d.Transitions))
	}
	for _, tr := range d.Transitions {
		if !strings.HasPrefix(tr.Name, abi.TransitionPrefix) {
			t.Errorf("transition %s lacks the %s prefix", tr.Name, abi.TransitionPrefix)
		}
		if tr.Doc == "" || strings.ContainsAny(tr.Doc, "\n\r") {
			t.Errorf("%s: doc %q is not one line", tr.Name, tr.Doc)
		}
		if bare := strings.TrimPrefix(tr.Name, abi.TransitionPrefix); func() bool { n, ok := d.ResolveTransition(bare); return !ok || n != tr.Name }() {
			t.Errorf("bare event %s does not resolve to %s", bare, tr.Name)
		}
	}
	wantInputs := map[string][]abi.InputInfo{
		"TRANSITION_COUNCIL_CLAIM_ROLE": {{Name: "agent_name", Type: "string"}, {Name: "council_id", Type: "string"}, {Name: "role_name", Type: "string"}},
		"TRANSITION_COUNCIL_ELECTED":    {{Name: "members", Type: "array"}, {Name: "quorum_cert_hash", Type: "string"}},
		"TRANSITION_LICENSE_GRANTED":    {{Name: "license_expiry", Type: "integer"}, {Name: "license_valid", Type: "boolean"}},
		"TRANSITION_QUARANTINE":         {{Name: "reason", Type: "string"}},
		"TRANSITION_QUARANTINE_RELEASE": nil,
	}
	for _, tr := range d.Transitions {
		if want, ok := wantInputs[tr.Name]; ok && !slices.Equal(tr.Inputs, want) {
			t.Errorf("%s inputs %+v, want %+v", tr.Name, tr.Inputs, want)
		}
	}
}

// TestSchemaIsStable pins the JSON shape of the state: a change here is a
// change of the state's API and needs a migration.
func TestSchemaIsStable(t *testing.T) {
	const want = `boot value {license_error:string,license_expiry:integer,licensed:boolean,node_id:string,phase:string}
council value {core_roles:[string],council_id:string,epoch:integer,formation_deadline:integer,members:[string],members_hash:string,optional_roles:[string],phase:string,quorum_cert_hash:string}
council_claims map {agent_name:string,claimed_at:integer,council_id:string}
environment value {allocation_id:string,epoch:integer,last_error:string,phase:string,provision_ref:string}
execution value {phase:string,pinned_content_hash:string,pinned_version:string,round:integer,submissions:integer}
hlc_last value string
ingestion value {content_hash:string,epoch:integer,last_error:string,phase:string,source_set:[string]}
meta value {schema_hash:string,version:string}
policy value {degraded:boolean,degraded_reason:string,pause_reason:string,paused:boolean,quarantine_reason:string,quarantined:boolean,recovery:boolean}
submissions map {agent_name:string,content_hash:string,round:integer,submitted_at:integer}
`
	if got := swoosh.Schema(); got != want {
		t.Fatalf("schema changed:\n%s\nwant:\n%s", got, want)
	}
	sum := sha256.Sum256([]byte(want))
	if got := swoosh.SchemaHash(); got != hex.EncodeToString(sum[:]) {
		t.Fatalf("schema hash %s is not the SHA-256 of the schema", got)
	}
}

func TestMemberSetHash(t *testing.T) {
	sum := sha256.Sum256([]byte("alice\nbob\ncarol"))
	want := hex.EncodeToString(sum[:])
	if got := swoosh.MemberSetHash([]string{"carol", "alice", "bob"}); got != want {
		t.Fatalf("MemberSetHash = %s, want %s", got, want)
	}
	in := []string{"b", "a"}
	swoosh.MemberSetHash(in)
	if in[0] != "b" {
		t.Fatal("MemberSetHash reordered its argument")
	}
	one := sha256.Sum256([]byte("solo"))
	if got := swoosh.MemberSetHash([]string{"solo"}); got != hex.EncodeToString(one[:]) {
		t.Fatalf("single member hash %s", got)
	}
}

// TestReadmeDocumentsEverything keeps README.md in step with the catalog.
func TestReadmeDocumentsEverything(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	d := swoosh.Catalog.Descriptor()
	for _, tr := range d.Transitions {
		if !strings.Contains(text, "### "+tr.Name+"\n") {
			t.Errorf("README.md has no section for %s", tr.Name)
		}
		for _, in := range tr.Inputs {
			if !strings.Contains(text, "`"+in.Name+"`") {
				t.Errorf("README.md does not mention input %s of %s", in.Name, tr.Name)
			}
		}
	}
	for _, f := range d.Fields {
		if !strings.Contains(text, "`"+f.Name+"`") {
			t.Errorf("README.md does not document field %s", f.Name)
		}
	}
	for _, line := range strings.Split(swoosh.Schema(), "\n") {
		name, _, _ := strings.Cut(line, " ")
		_, shape, _ := strings.Cut(line, "{")
		for _, member := range strings.Split(strings.TrimSuffix(shape, "}"), ",") {
			if m, _, _ := strings.Cut(member, ":"); m != "" && !strings.Contains(text, "`"+m+"`") {
				t.Errorf("README.md does not document %s.%s", name, m)
			}
		}
	}
}

// TestHappyPath walks the whole lifecycle and checks the entire state
// after every step.
func TestHappyPath(t *testing.T) {
	m := newMachine(t)
	meta := &swoosh.Meta{Version: "1.0.0", SchemaHash: swoosh.SchemaHash()}
	want := snapshot{Claims: map[string]swoosh.Claim{}, Submissions: map[string]swoosh.Submission{}}
	if d := diff(m.state(), want); d != "" {
		t.Fatalf("initial state:\n%s", d)
	}
	step := func(name string, inputs any, change func()) abi.Result {
		t.Helper()
		h := m.nextHLC()
		res := m.mustDo(name, inputs)
		change()
		want.Meta, want.HLCLast = meta, ptr(h)
		if d := diff(m.state(), want); d != "" {
			t.Fatalf("after %s:\n%s", name, d)
		}
		return res
	}
	step("TRANSITION_CONFIG_OK", swoosh.ConfigOKInputs{NodeID: "node-001"}, func() {
		want.Boot = &swoosh.Boot{Phase: swoosh.PhaseConfigOK, NodeID: "node-001"}
	})
	step("TRANSITION_LICENSE_CHECK_STARTED", nil, func() { want.Boot.Phase = swoosh.PhaseLicenseCheck })
	step("TRANSITION_LICENSE_GRANTED", swoosh.LicenseGrantedInputs{LicenseValid: true, LicenseExpiry: farFuture}, func() {
		want.Boot.Phase, want.Boot.Licensed, want.Boot.LicenseExpiry = swoosh.PhaseLicensed, true, farFuture
	})
	step("TRANSITION_PROJECT_START", nil, func() {
		want.Boot.Phase = swoosh.PhaseProjectLifecycle
		want.Ingestion = &swoosh.Ingestion{Phase: swoosh.PhaseDiscover, SourceSet: []string{}}
		want.Council = &swoosh.Council{Phase: swoosh.PhasePlanRoles, CoreRoles: []string{}, OptionalRoles: []string{}, Members: []string{}}
		want.Environment = &swoosh.Environment{Phase: swoosh.PhaseAllocate}
		want.Execution = &swoosh.Execution{Phase: swoosh.PhaseIdle}
	})

	// Ingestion.
	step("TRANSITION_SOURCES_RESOLVED", swoosh.SourcesResolvedInputs{SourceSet: []string{"repo://b", "repo://a"}}, func() {
		want.Ingestion.Phase, want.Ingestion.SourceSet = swoosh.PhaseFetch, []string{"repo://a", "repo://b"}
	})
	step("TRANSITION_FETCH_COMPLETED", swoosh.ContentHashInputs{ContentHash: "sha256:c0ffee"}, func() {
		want.Ingestion.Phase, want.Ingestion.ContentHash = swoosh.PhaseValidate, "sha256:c0ffee"
	})
	step("TRANSITION_VALIDATION_PASSED", swoosh.ContentHashInputs{ContentHash: "sha256:c0ffee"}, func() { want.Ingestion.Phase = swoosh.PhaseIndex })
	step("TRANSITION_INDEX_COMPLETED", nil, func() { want.Ingestion.Phase, want.Ingestion.Epoch = swoosh.PhaseReady, 1 })

	// Council, with role claims.
	deadline := baseTime/1e9 + 86400
	roles := councilRoles
	roles.FormationDeadline = deadline
	step("TRANSITION_COUNCIL_ROLES_PLANNED", roles, func() {
		want.Council.Phase, want.Council.CouncilID, want.Council.FormationDeadline = swoosh.PhaseElect, "council-7", deadline
		want.Council.CoreRoles, want.Council.OptionalRoles = []string{"lead", "reviewer"}, []string{"scribe"}
	})
	claimIndex := m.index + 1
	res := step("TRANSITION_COUNCIL_CLAIM_ROLE", swoosh.ClaimRoleInputs{CouncilID: "council-7", RoleName: "lead", AgentName: "alice"}, func() {
		want.Claims["lead"] = swoosh.Claim{AgentName: "alice", CouncilID: "council-7", ClaimedAt: claimIndex}
	})
	if got, wantOut := string(res.Output), `{"agent_name":"alice","claimed_at":`+itoa(claimIndex)+`,"council_id":"council-7","role_name":"lead"}`; got != wantOut {
		t.Errorf("claim output %s, want %s", got, wantOut)
	}
	if got := formatDelta(res.Delta); !strings.HasPrefix(got, `[council_claims/"lead"=`) || !strings.Contains(got, `hlc_last/""=`) || strings.Contains(got, "council/") {
		t.Errorf("claim delta %s: want only council_claims/lead and hlc_last", got)
	}
	claimIndex = m.index + 1
	step("TRANSITION_COUNCIL_CLAIM_ROLE", swoosh.ClaimRoleInputs{CouncilID: "council-7", RoleName: "reviewer", AgentName: "bob"}, func() {
		want.Claims["reviewer"] = swoosh.Claim{AgentName: "bob", CouncilID: "council-7", ClaimedAt: claimIndex}
	})
	step("TRANSITION_COUNCIL_ELECTED", swoosh.ElectedInputs{Members: members, QuorumCertHash: swoosh.MemberSetHash(members)}, func() {
		want.Council.Phase, want.Council.Members = swoosh.PhaseToolingSync, []string{"alice", "bob", "carol"}
		want.Council.MembersHash, want.Council.QuorumCertHash = swoosh.MemberSetHash(members), swoosh.MemberSetHash(members)
	})
	step("TRANSITION_TOOLING_SYNCED", nil, func() { want.Council.Phase, want.Council.Epoch = swoosh.PhaseReady, 1 })

	// Environment.
	step("TRANSITION_ENVIRONMENT_ALLOCATED", swoosh.AllocatedInputs{AllocationID: "alloc-1"}, func() {
		want.Environment.Phase, want.Environment.AllocationID = swoosh.PhaseProvision, "alloc-1"
	})
	step("TRANSITION_ENVIRONMENT_PROVISIONED", swoosh.ProvisionedInputs{ProvisionRef: "image@sha256:0a"}, func() {
		want.Environment.Phase, want.Environment.ProvisionRef = swoosh.PhaseHealthcheck, "image@sha256:0a"
	})
	step("TRANSITION_HEALTHCHECK_PASSED", nil, func() { want.Environment.Phase, want.Environment.Epoch = swoosh.PhaseReady, 1 })

	// Execution.
	step("TRANSITION_PIN_CONTENT", swoosh.PinContentInputs{ContentHash: "sha256:c0ffee", Version: "v1.0.0"}, func() {
		want.Execution.PinnedContentHash, want.Execution.PinnedVersion = "sha256:c0ffee", "v1.0.0"
	})
	step("TRANSITION_EXECUTION_START", nil, func() { want.Execution.Phase, want.Execution.Round = swoosh.PhasePlan, 1 })
	step("TRANSITION_PLAN_APPROVED", nil, func() { want.Execution.Phase = swoosh.PhaseWork })
	step("TRANSITION_WORK_COMPLETED", nil, func() { want.Execution.Phase = swoosh.PhaseReview })
	step("TRANSITION_REVIEW_PASSED", nil, func() { want.Execution.Phase = swoosh.PhaseReverb })
	subIndex := m.index + 1
	res = step("TRANSITION_SUBMIT_FINAL", swoosh.SubmitFinalInputs{SubmissionID: "sub-1", AgentName: "alice", ContentHash: "sha256:result"}, func() {
		want.Submissions["sub-1"] = swoosh.Submission{Round: 1, AgentName: "alice", ContentHash: "sha256:result", SubmittedAt: subIndex}
		want.Execution.Submissions = 1
	})
	if got, wantOut := string(res.Output), `{"agent_name":"alice","content_hash":"sha256:result","round":1,"submission_id":"sub-1","submitted_at":`+itoa(subIndex)+`}`; got != wantOut {
		t.Errorf("submission output %s, want %s", got, wantOut)
	}
	step("TRANSITION_NEXT_ROUND", nil, func() {
		want.Execution.Phase, want.Execution.Round, want.Execution.Submissions = swoosh.PhasePlan, 2, 0
	})
	step("TRANSITION_EXECUTION_STOP", nil, func() { want.Execution.Phase = swoosh.PhaseIdle })

	// The host's view of the state uses the documented JSON names.
	entries, err := abi.DecodeState(m.export())
	if err != nil {
		t.Fatal(err)
	}
	d := swoosh.Catalog.Descriptor()
	view := string(state.FromEntries(entries).View(&d))
	for _, s := range []string{`"policy":null`, `"ingestion":{"content_hash":"sha256:c0ffee","epoch":1,"last_error":"","phase":"READY","source_set":["repo://a","repo://b"]}`,
		`"council_claims":{"lead":{"agent_name":"alice",`, `"hlc_last":"` + want.hlcLast() + `"`} {
		if !strings.Contains(view, s) {
			t.Errorf("view lacks %s:\n%s", s, view)
		}
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// TestErrorTexts produces each SWOOSH error text (and the SDK's invalid
// inputs) and checks the code, its exact text, the detail and that the
// state is untouched.
func TestErrorTexts(t *testing.T) {
	texts := map[abi.Code]string{
		guest.GuardRejected:      "guard rejected transition",
		abi.UnknownTransition:    "unknown transition",
		guest.QuarantineBlocked:  "transition blocked by quarantine",
		guest.InvalidPhase:       "invalid phase for transition",
		guest.PreconditionFailed: "precondition failed",
		guest.InvalidInputs:      "invalid inputs",
	}
	cases := []struct {
		name       string
		setup      func(m *machine)
		transition string
		inputs     any
		code       abi.Code
		mention    []string
	}{
		// guard rejected transition
		{"invalid licence", toLicenseCheck, "TRANSITION_LICENSE_GRANTED", swoosh.LicenseGrantedInputs{LicenseValid: false, LicenseExpiry: farFuture},
			guest.GuardRejected, []string{"license_valid is false"}},
		{"bare LICENSE_GRANTED without inputs", toLicenseCheck, "TRANSITION_LICENSE_GRANTED", nil, guest.GuardRejected, []string{"license_valid"}},
		{"expired licence", toLicenseCheck, "TRANSITION_LICENSE_GRANTED", swoosh.LicenseGrantedInputs{LicenseValid: true, LicenseExpiry: baseTime/1e9 - 1},
			guest.GuardRejected, []string{"license_expiry", "not after"}},
		{"quorum certificate of another member set", func(m *machine) { toLifecycle(m); toElect(m); claimCoreRoles(m) },
			"TRANSITION_COUNCIL_ELECTED", swoosh.ElectedInputs{Members: members, QuorumCertHash: swoosh.MemberSetHash([]string{"alice", "bob"})},
			guest.GuardRejected, []string{"quorum_cert_hash", "member-set hash", swoosh.MemberSetHash(members)}},
		{"member set lacks a claimant", func(m *machine) { toLifecycle(m); toElect(m); claimCoreRoles(m) },
			"TRANSITION_COUNCIL_ELECTED", swoosh.ElectedInputs{Members: []string{"alice", "carol"}, QuorumCertHash: swoosh.MemberSetHash([]string{"alice", "carol"})},
			guest.GuardRejected, []string{`"bob"`, `"reviewer"`}},
		{"claim for another council", func(m *machine) { toLifecycle(m); toElect(m) },
			"TRANSITION_COUNCIL_CLAIM_ROLE", swoosh.ClaimRoleInputs{CouncilID: "council-8", RoleName: "lead", AgentName: "alice"},
			guest.GuardRejected, []string{"council-8", "council-7"}},
		{"claim of an unplanned role", func(m *machine) { toLifecycle(m); toElect(m) },
			"TRANSITION_COUNCIL_CLAIM_ROLE", swoosh.ClaimRoleInputs{CouncilID: "council-7", RoleName: "juggler", AgentName: "alice"},
			guest.GuardRejected, []string{`"juggler"`, "not planned"}},
		{"claim after the formation deadline", func(m *machine) {
			toLifecycle(m)
			roles := councilRoles
			roles.FormationDeadline = m.ts/1e9 + 1
			m.mustDo("TRANSITION_COUNCIL_ROLES_PLANNED", roles)
			m.ts += 10e9
		}, "TRANSITION_COUNCIL_CLAIM_ROLE", swoosh.ClaimRoleInputs{CouncilID: "council-7", RoleName: "lead", AgentName: "alice"},
			guest.GuardRejected, []string{"formation_deadline", "passed"}},
		{"claim with empty agent", func(m *machine) { toLifecycle(m); toElect(m) },
			"TRANSITION_COUNCIL_CLAIM_ROLE", swoosh.ClaimRoleInputs{CouncilID: "council-7", RoleName: "lead"},
			guest.GuardRejected, []string{"agent_name must not be empty"}},
		{"source listed twice", toLifecycle, "TRANSITION_SOURCES_RESOLVED", swoosh.SourcesResolvedInputs{SourceSet: []string{"a", "b", "a"}},
			guest.GuardRejected, []string{"source_set", `"a"`, "twice"}},
		{"validated content differs", func(m *machine) {
			toLifecycle(m)
			m.mustDo("TRANSITION_SOURCES_RESOLVED", swoosh.SourcesResolvedInputs{SourceSet: []string{"a"}})
			m.mustDo("TRANSITION_FETCH_COMPLETED", swoosh.ContentHashInputs{ContentHash: "h1"})
		}, "TRANSITION_VALIDATION_PASSED", swoosh.ContentHashInputs{ContentHash: "h2"}, guest.GuardRejected, []string{`"h2"`, `"h1"`}},
		{"pin of other content", toAllReady, "TRANSITION_PIN_CONTENT", swoosh.PinContentInputs{ContentHash: "sha256:other", Version: "v1"},
			guest.GuardRejected, []string{"sha256:other", "sha256:c0ffee"}},
		{"final submission by a non-member", toReverb, "TRANSITION_SUBMIT_FINAL", swoosh.SubmitFinalInputs{SubmissionID: "s", AgentName: "mallory", ContentHash: "h"},
			guest.GuardRejected, []string{`"mallory"`, "not a member"}},
		{"control character in a name", nil, "TRANSITION_CONFIG_OK", swoosh.ConfigOKInputs{NodeID: "node\n1"},
			guest.GuardRejected, []string{"node_id", "control character"}},
		{"overlong name", nil, "TRANSITION_CONFIG_OK", swoosh.ConfigOKInputs{NodeID: strings.Repeat("n", swoosh.MaxNameBytes+1)},
			guest.GuardRejected, []string{"node_id", "257 bytes"}},

		// unknown transition
		{"unknown transition", nil, "TRANSITION_LAUNCH_ROCKET", nil, abi.UnknownTransition, []string{"TRANSITION_LAUNCH_ROCKET"}},

		// transition blocked by quarantine
		{"quarantined", func(m *machine) { m.mustDo("TRANSITION_QUARANTINE", swoosh.ReasonInputs{Reason: "audit"}) },
			"TRANSITION_CONFIG_OK", swoosh.ConfigOKInputs{NodeID: "n"}, guest.QuarantineBlocked, []string{"quarantined", "audit", "TRANSITION_QUARANTINE_RELEASE"}},

		// invalid phase for transition
		{"final submission outside REVERB", toWork, "TRANSITION_SUBMIT_FINAL", swoosh.SubmitFinalInputs{SubmissionID: "s", AgentName: "alice", ContentHash: "h"},
			guest.InvalidPhase, []string{"execution phase is WORK", "REVERB"}},
		{"region before the lifecycle", toLicenseCheck, "TRANSITION_INDEX_COMPLETED", nil, guest.InvalidPhase, []string{"LICENSE_CHECK", "PROJECT_LIFECYCLE"}},
		{"licence granted twice", toLifecycle, "TRANSITION_LICENSE_GRANTED", swoosh.LicenseGrantedInputs{LicenseValid: true}, guest.InvalidPhase, []string{"PROJECT_LIFECYCLE", "LICENSE_CHECK"}},
		{"resume when not paused", toLifecycle, "TRANSITION_RESUME", nil, guest.InvalidPhase, []string{"not paused"}},
		{"release when not quarantined", nil, "TRANSITION_QUARANTINE_RELEASE", nil, guest.InvalidPhase, []string{"not quarantined"}},
		{"compensating what was not done", toLifecycle, "TRANSITION_COMPENSATE_ELECT", nil, guest.InvalidPhase, []string{"PLAN_ROLES", "TOOLING_SYNC or READY"}},

		// precondition failed
		{"execution without a pin", toAllReady, "TRANSITION_EXECUTION_START", nil, guest.PreconditionFailed, []string{"pinned", "TRANSITION_PIN_CONTENT"}},
		{"execution before the regions are ready", func(m *machine) { toLifecycle(m); ingest(m); pin(m) }, "TRANSITION_EXECUTION_START", nil,
			guest.PreconditionFailed, []string{"council is PLAN_ROLES", "environment is ALLOCATE"}},
		{"execution while paused", func(m *machine) {
			toAllReady(m)
			pin(m)
			m.mustDo("TRANSITION_PAUSE", swoosh.ReasonInputs{Reason: "lunch"})
		},
			"TRANSITION_EXECUTION_START", nil, guest.PreconditionFailed, []string{"paused (lunch)"}},
		{"execution after the licence expired", func(m *machine) {
			toLicenseCheck(m)
			m.mustDo("TRANSITION_LICENSE_GRANTED", swoosh.LicenseGrantedInputs{LicenseValid: true, LicenseExpiry: m.ts/1e9 + 100})
			m.mustDo("TRANSITION_PROJECT_START", nil)
			ingest(m)
			formCouncil(m)
			provision(m)
			pin(m)
			m.ts += 1000e9
		}, "TRANSITION_EXECUTION_START", nil, guest.PreconditionFailed, []string{"licence expired"}},
		{"role already claimed", func(m *machine) { toLifecycle(m); toElect(m); claimCoreRoles(m) },
			"TRANSITION_COUNCIL_CLAIM_ROLE", swoosh.ClaimRoleInputs{CouncilID: "council-7", RoleName: "lead", AgentName: "carol"},
			guest.PreconditionFailed, []string{`"lead"`, `"alice"`}},
		{"agent already holds a role", func(m *machine) { toLifecycle(m); toElect(m); claimCoreRoles(m) },
			"TRANSITION_COUNCIL_CLAIM_ROLE", swoosh.ClaimRoleInputs{CouncilID: "council-7", RoleName: "scribe", AgentName: "alice"},
			guest.PreconditionFailed, []string{`"alice"`, `"lead"`}},
		{"election with an unclaimed core role", func(m *machine) { toLifecycle(m); toElect(m) },
			"TRANSITION_COUNCIL_ELECTED", swoosh.ElectedInputs{Members: members, QuorumCertHash: swoosh.MemberSetHash(members)},
			guest.PreconditionFailed, []string{"core role", `"lead"`}},
		{"compensation under a running execution", toWork, "TRANSITION_COMPENSATE_INDEX", nil, guest.PreconditionFailed, []string{"WORK", "TRANSITION_EXECUTION_STOP"}},
		{"pin before ingestion is ready", toLifecycle, "TRANSITION_PIN_CONTENT", swoosh.PinContentInputs{ContentHash: "h", Version: "v"},
			guest.PreconditionFailed, []string{"ingestion is DISCOVER"}},

		// invalid inputs (decoded strictly by the SDK before any rule runs)
		{"unknown input member", nil, "TRANSITION_CONFIG_OK", `{"node_id":"n","extra":1}`, guest.InvalidInputs, []string{"extra"}},
		{"input of the wrong type", nil, "TRANSITION_CONFIG_OK", `{"node_id":7}`, guest.InvalidInputs, []string{"node_id"}},
	}
	seen := map[abi.Code]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newMachine(t)
			if c.setup != nil {
				c.setup(m)
			}
			res := m.refuse(c.code, c.transition, c.inputs, c.mention...)
			if got := res.Code.Message(); got != texts[c.code] {
				t.Errorf("text %q, want %q", got, texts[c.code])
			}
			if res.Detail == "" {
				t.Error("refusal without a detail")
			}
			seen[c.code] = true
		})
	}
	for code := range texts {
		if !seen[code] {
			t.Errorf("no case produced %q", texts[code])
		}
	}
}

// TestHLC checks the HLC rule: older refused, equal or newer accepted,
// recorded only by transitions that change state.
func TestHLC(t *testing.T) {
	m := newMachine(t)
	m.submit(abi.Proposal{Transition: "TRANSITION_CONFIG_OK", Inputs: encode(t, swoosh.ConfigOKInputs{NodeID: "n"}), HLC: "10-2-0000000000000001"})
	if got := m.state().hlcLast(); got != "10-2-0000000000000001" {
		t.Fatalf("hlc_last %q", got)
	}
	try := func(h string) abi.Result {
		t.Helper()
		before := m.export()
		res := m.submit(abi.Proposal{Transition: "TRANSITION_QUARANTINE", Inputs: encode(t, swoosh.ReasonInputs{Reason: h}), HLC: h})
		if !res.Accepted() && !bytes.Equal(before, m.export()) {
			t.Fatalf("refused hlc %q changed the state", h)
		}
		return res
	}
	for _, h := range []string{"f-ff-0000000000000001", "10-1-ffffffffffffffff", "10-2-0", "10-2"} {
		if res := try(h); res.Code != guest.PreconditionFailed || !strings.Contains(res.Detail, "older than hlc_last 10-2-0000000000000001") {
			t.Errorf("hlc %s: %v %q, want precondition failed naming hlc_last", h, res.Code, res.Detail)
		}
	}
	for _, h := range []string{"zz-1-1", "1--1", strings.Repeat("1", 129)} {
		if res := try(h); res.Code != guest.PreconditionFailed || !strings.Contains(res.Detail, "hlc") {
			t.Errorf("malformed hlc %.20s: %v %q", h, res.Code, res.Detail)
		}
	}
	// Equal (in another spelling) is not older; the spelling is recorded.
	if res := try("0010-02-1"); !res.Accepted() {
		t.Fatalf("equal hlc refused: %s", res.Detail)
	}
	if got := m.state().hlcLast(); got != "0010-02-1" {
		t.Fatalf("hlc_last %q, want the accepted spelling", got)
	}
	// Uppercase hex is the same number.
	if res := try("1A-0-1"); !res.Accepted() {
		t.Fatalf("newer uppercase hlc refused: %s", res.Detail)
	}
	// Without an HLC a transition is accepted and leaves hlc_last alone.
	res := m.submit(abi.Proposal{Transition: "TRANSITION_QUARANTINE", Inputs: encode(t, swoosh.ReasonInputs{Reason: "no clock"})})
	if !res.Accepted() || m.state().hlcLast() != "1A-0-1" {
		t.Fatalf("transition without hlc: %v, hlc_last %q", res.Code, m.state().hlcLast())
	}
	// A transition that changes nothing keeps hlc_last, even with a newer HLC.
	before := m.export()
	res = m.submit(abi.Proposal{Transition: "TRANSITION_QUARANTINE", Inputs: encode(t, swoosh.ReasonInputs{Reason: "no clock"}), HLC: "ff-0-1"})
	if !res.Accepted() || len(res.Delta) != 0 || !bytes.Equal(before, m.export()) {
		t.Fatalf("no-op transition: %v delta %s, state changed %v", res.Code, formatDelta(res.Delta), !bytes.Equal(before, m.export()))
	}
	// The catalog and the executor order HLCs alike.
	for _, c := range []struct {
		a, b string
		want int
	}{{"1-0-1", "1-0-1", 0}, {"2-0-0", "1-f-f", 1}, {"a", "9", 1}, {"A-0", "a-0", 0}, {"1-0", "1-0-0", -1}, {"00ff", "ff", 0}} {
		if got, err := swoosh.CompareHLC(c.a, c.b); err != nil || got != c.want {
			t.Errorf("compare(%s, %s) = %d, %v; want %d", c.a, c.b, got, err, c.want)
		}
	}
}

// TestNoOpTransitionsChangeNothing: repeated facts are accepted with an
// empty delta and the state, hash and hlc_last untouched.
func TestNoOpTransitionsChangeNothing(t *testing.T) {
	m := newMachine(t)
	toLifecycle(m)
	toElect(m)
	claimCoreRoles(m)
	before := m.export()
	res := m.mustDo("TRANSITION_COUNCIL_CLAIM_ROLE", swoosh.ClaimRoleInputs{CouncilID: "council-7", RoleName: "lead", AgentName: "alice"})
	if len(res.Delta) != 0 || !bytes.Equal(before, m.export()) {
		t.Fatalf("repeated claim changed the state: %s", formatDelta(res.Delta))
	}
	if !strings.Contains(string(res.Output), `"agent_name":"alice"`) {
		t.Errorf("repeated claim output %s does not report the standing claim", res.Output)
	}

	m = newMachine(t)
	toReverb(m)
	sub := swoosh.SubmitFinalInputs{SubmissionID: "s1", AgentName: "bob", ContentHash: "h"}
	m.mustDo("TRANSITION_SUBMIT_FINAL", sub)
	before = m.export()
	if res := m.mustDo("TRANSITION_SUBMIT_FINAL", sub); len(res.Delta) != 0 || !bytes.Equal(before, m.export()) {
		t.Fatalf("repeated submission changed the state: %s", formatDelta(res.Delta))
	}
	sub.ContentHash = "other"
	m.refuse(guest.PreconditionFailed, "TRANSITION_SUBMIT_FINAL", sub, `"s1"`, "already recorded")
	if got := m.state().Execution.Submissions; got != 1 {
		t.Fatalf("execution.submissions %d, want 1", got)
	}
}

// TestQuarantineIsSticky quarantines mid-execution, then tries every
// other transition with inputs that would otherwise be plausible: each is
// blocked with the exact SWOOSH text and the state stays byte-identical
// until the release.
func TestQuarantineIsSticky(t *testing.T) {
	m := newMachine(t)
	toWork(m)
	res := m.mustDo("TRANSITION_QUARANTINE", swoosh.ReasonInputs{Reason: "suspicious output"})
	if got := m.state().Policy; got == nil || !got.Quarantined || got.QuarantineReason != "suspicious output" {
		t.Fatalf("policy after quarantine %+v (delta %s)", got, formatDelta(res.Delta))
	}
	quarantined := m.export()
	d := swoosh.Catalog.Descriptor()
	for _, tr := range d.Transitions {
		if tr.Name == "TRANSITION_QUARANTINE" || tr.Name == "TRANSITION_QUARANTINE_RELEASE" {
			continue
		}
		res := m.do(tr.Name, sampleInputs[tr.Name])
		if res.Code != guest.QuarantineBlocked || res.Code.Message() != "transition blocked by quarantine" {
			t.Errorf("%s while quarantined: %v %q", tr.Name, res.Code, res.Detail)
		}
		if !strings.Contains(res.Detail, tr.Name) {
			t.Errorf("%s: detail %q does not name the transition", tr.Name, res.Detail)
		}
	}
	if !bytes.Equal(quarantined, m.export()) {
		t.Fatal("the state changed while quarantined")
	}
	// Quarantining again is allowed and updates the reason.
	m.mustDo("TRANSITION_QUARANTINE", swoosh.ReasonInputs{Reason: "second look"})
	if got := m.state().Policy.QuarantineReason; got != "second look" {
		t.Fatalf("quarantine reason %q", got)
	}
	res = m.mustDo("TRANSITION_QUARANTINE_RELEASE", nil)
	if p := m.state().Policy; p.Quarantined || p.QuarantineReason != "" {
		t.Fatalf("policy after release %+v", p)
	}
	// Released, the work continues where it stood.
	m.mustDo("TRANSITION_WORK_COMPLETED", nil)
	if got := m.state().Execution.Phase; got != swoosh.PhaseReview {
		t.Fatalf("execution phase %s after release, want REVIEW", got)
	}
}

// sampleInputs are inputs that would be well-formed for each transition.
var sampleInputs = map[string]any{
	"TRANSITION_CONFIG_OK":               swoosh.ConfigOKInputs{NodeID: "n"},
	"TRANSITION_LICENSE_GRANTED":         swoosh.LicenseGrantedInputs{LicenseValid: true},
	"TRANSITION_LICENSE_DENIED":          swoosh.ReasonInputs{Reason: "r"},
	"TRANSITION_SOURCES_RESOLVED":        swoosh.SourcesResolvedInputs{SourceSet: []string{"a"}},
	"TRANSITION_FETCH_COMPLETED":         swoosh.ContentHashInputs{ContentHash: "h"},
	"TRANSITION_VALIDATION_PASSED":       swoosh.ContentHashInputs{ContentHash: "h"},
	"TRANSITION_INGESTION_FAILED":        swoosh.ErrorInputs{Error: "e"},
	"TRANSITION_COUNCIL_ROLES_PLANNED":   councilRoles,
	"TRANSITION_COUNCIL_CLAIM_ROLE":      swoosh.ClaimRoleInputs{CouncilID: "council-7", RoleName: "scribe", AgentName: "carol"},
	"TRANSITION_COUNCIL_ELECTED":         swoosh.ElectedInputs{Members: members, QuorumCertHash: swoosh.MemberSetHash(members)},
	"TRANSITION_ENVIRONMENT_ALLOCATED":   swoosh.AllocatedInputs{AllocationID: "a"},
	"TRANSITION_ENVIRONMENT_PROVISIONED": swoosh.ProvisionedInputs{ProvisionRef: "p"},
	"TRANSITION_HEALTHCHECK_FAILED":      swoosh.ErrorInputs{Error: "e"},
	"TRANSITION_PIN_CONTENT":             swoosh.PinContentInputs{ContentHash: "sha256:c0ffee", Version: "v2"},
	"TRANSITION_SUBMIT_FINAL":            swoosh.SubmitFinalInputs{SubmissionID: "s", AgentName: "alice", ContentHash: "h"},
	"TRANSITION_PAUSE":                   swoosh.ReasonInputs{Reason: "r"},
	"TRANSITION_DEGRADE":                 swoosh.ReasonInputs{Reason: "r"},
}

// TestCompensateProvision undoes PROVISION from HEALTHCHECK, DEGRADED and
// READY, and shows that the next pass advances the epoch once more.
func TestCompensateProvision(t *testing.T) {
	m := newMachine(t)
	toLifecycle(m)
	m.refuse(guest.InvalidPhase, "TRANSITION_COMPENSATE_PROVISION", nil, "ALLOCATE")
	m.mustDo("TRANSITION_ENVIRONMENT_ALLOCATED", swoosh.AllocatedInputs{AllocationID: "alloc-1"})
	m.refuse(guest.InvalidPhase, "TRANSITION_COMPENSATE_PROVISION", nil, "PROVISION")
	m.mustDo("TRANSITION_ENVIRONMENT_PROVISIONED", swoosh.ProvisionedInputs{ProvisionRef: "p1"})

	m.mustDo("TRANSITION_COMPENSATE_PROVISION", nil) // from HEALTHCHECK
	want := swoosh.Environment{Phase: swoosh.PhaseProvision, AllocationID: "alloc-1"}
	if got := *m.state().Environment; got != want {
		t.Fatalf("after compensating from HEALTHCHECK: %+v, want %+v", got, want)
	}
	m.mustDo("TRANSITION_ENVIRONMENT_PROVISIONED", swoosh.ProvisionedInputs{ProvisionRef: "p2"})
	m.mustDo("TRANSITION_HEALTHCHECK_FAILED", swoosh.ErrorInputs{Error: "disk full"})
	m.mustDo("TRANSITION_COMPENSATE_PROVISION", nil) // from DEGRADED
	want.LastError = "disk full"
	if got := *m.state().Environment; got != want {
		t.Fatalf("after compensating from DEGRADED: %+v, want %+v", got, want)
	}
	m.mustDo("TRANSITION_ENVIRONMENT_PROVISIONED", swoosh.ProvisionedInputs{ProvisionRef: "p3"})
	m.mustDo("TRANSITION_HEALTHCHECK_PASSED", nil)
	if got := *m.state().Environment; got != (swoosh.Environment{Phase: swoosh.PhaseReady, AllocationID: "alloc-1", ProvisionRef: "p3", Epoch: 1}) {
		t.Fatalf("first pass: %+v", got)
	}

	// From READY: refused while execution runs on it, allowed once stopped.
	ingest(m)
	formCouncil(m)
	pin(m)
	m.mustDo("TRANSITION_EXECUTION_START", nil)
	m.refuse(guest.PreconditionFailed, "TRANSITION_COMPENSATE_PROVISION", nil, "execution is in PLAN")
	m.mustDo("TRANSITION_EXECUTION_STOP", nil)
	m.mustDo("TRANSITION_COMPENSATE_PROVISION", nil)
	if got := *m.state().Environment; got != (swoosh.Environment{Phase: swoosh.PhaseProvision, AllocationID: "alloc-1", Epoch: 1}) {
		t.Fatalf("after compensating from READY: %+v", got)
	}
	m.refuse(guest.PreconditionFailed, "TRANSITION_EXECUTION_START", nil, "environment is PROVISION")
	m.mustDo("TRANSITION_ENVIRONMENT_PROVISIONED", swoosh.ProvisionedInputs{ProvisionRef: "p4"})
	m.mustDo("TRANSITION_HEALTHCHECK_PASSED", nil)
	if got := m.state().Environment.Epoch; got != 2 {
		t.Fatalf("environment epoch %d after the second pass, want 2", got)
	}
	m.mustDo("TRANSITION_EXECUTION_START", nil)
	if got := m.state().Execution.Round; got != 2 {
		t.Fatalf("round %d, want 2", got)
	}
}

// TestCompensateElect undoes ELECT from TOOLING_SYNC and READY: members and
// the quorum certificate go, claims stay, and re-electing starts a new
// pass.
func TestCompensateElect(t *testing.T) {
	m := newMachine(t)
	toLifecycle(m)
	toElect(m)
	m.refuse(guest.InvalidPhase, "TRANSITION_COMPENSATE_ELECT", nil, "ELECT")
	claimCoreRoles(m)
	elect(m)
	m.mustDo("TRANSITION_COMPENSATE_ELECT", nil) // from TOOLING_SYNC
	s := m.state()
	if c := s.Council; c.Phase != swoosh.PhaseElect || len(c.Members) != 0 || c.MembersHash != "" || c.QuorumCertHash != "" || c.Epoch != 0 {
		t.Fatalf("council after compensating from TOOLING_SYNC: %+v", *c)
	}
	if len(s.Claims) != 2 {
		t.Fatalf("claims %v, want the two standing claims", s.Claims)
	}
	// A different member set can be elected, with its own certificate.
	four := []string{"alice", "bob", "carol", "dave"}
	m.mustDo("TRANSITION_COUNCIL_ELECTED", swoosh.ElectedInputs{Members: four, QuorumCertHash: swoosh.MemberSetHash(four)})
	m.mustDo("TRANSITION_TOOLING_SYNCED", nil)
	if c := m.state().Council; c.Epoch != 1 || c.QuorumCertHash != swoosh.MemberSetHash(four) || !slices.Equal(c.Members, four) {
		t.Fatalf("council after first pass: %+v", *c)
	}

	ingest(m)
	provision(m)
	pin(m)
	m.mustDo("TRANSITION_EXECUTION_START", nil)
	m.refuse(guest.PreconditionFailed, "TRANSITION_COMPENSATE_ELECT", nil, "execution is in PLAN")
	m.mustDo("TRANSITION_EXECUTION_STOP", nil)
	m.mustDo("TRANSITION_COMPENSATE_ELECT", nil) // from READY
	if c := m.state().Council; c.Phase != swoosh.PhaseElect || c.Epoch != 1 || len(c.Members) != 0 {
		t.Fatalf("council after compensating from READY: %+v", *c)
	}
	m.refuse(guest.PreconditionFailed, "TRANSITION_EXECUTION_START", nil, "council is ELECT")
	elect(m)
	m.mustDo("TRANSITION_TOOLING_SYNCED", nil)
	if c := m.state().Council; c.Epoch != 2 || c.QuorumCertHash != swoosh.MemberSetHash(members) {
		t.Fatalf("council after second pass: %+v", *c)
	}
}

// TestCompensateIndex undoes INDEX: ingestion returns to INDEX, the pin is
// dropped, and re-indexing is a new pass.
func TestCompensateIndex(t *testing.T) {
	m := newMachine(t)
	toLifecycle(m)
	m.refuse(guest.InvalidPhase, "TRANSITION_COMPENSATE_INDEX", nil, "DISCOVER")
	toAllReadyFromLifecycle(m)
	pin(m)
	m.mustDo("TRANSITION_EXECUTION_START", nil)
	m.refuse(guest.PreconditionFailed, "TRANSITION_COMPENSATE_INDEX", nil, "execution is in PLAN")
	m.mustDo("TRANSITION_EXECUTION_STOP", nil)
	m.mustDo("TRANSITION_COMPENSATE_INDEX", nil)
	s := m.state()
	if i := s.Ingestion; i.Phase != swoosh.PhaseIndex || i.Epoch != 1 || i.ContentHash != "sha256:c0ffee" {
		t.Fatalf("ingestion after compensation: %+v", *i)
	}
	if e := s.Execution; e.PinnedContentHash != "" || e.PinnedVersion != "" || e.Phase != swoosh.PhaseIdle || e.Round != 1 {
		t.Fatalf("execution after compensation: %+v", *e)
	}
	m.refuse(guest.PreconditionFailed, "TRANSITION_PIN_CONTENT", swoosh.PinContentInputs{ContentHash: "sha256:c0ffee", Version: "v1"}, "ingestion is INDEX")
	m.mustDo("TRANSITION_INDEX_COMPLETED", nil)
	if got := m.state().Ingestion.Epoch; got != 2 {
		t.Fatalf("ingestion epoch %d after re-indexing, want 2", got)
	}
	m.refuse(guest.PreconditionFailed, "TRANSITION_EXECUTION_START", nil, "pinned")
	pin(m)
	m.mustDo("TRANSITION_EXECUTION_START", nil)

	// A failed pass goes back to DISCOVER and keeps its error until a pass
	// completes; the epoch counts completed passes only.
	m.mustDo("TRANSITION_EXECUTION_STOP", nil)
	m.mustDo("TRANSITION_SOURCES_RESOLVED", swoosh.SourcesResolvedInputs{SourceSet: []string{"repo://c"}})
	if e := m.state().Execution; e.PinnedContentHash != "" {
		t.Fatalf("a new ingestion pass kept the pin: %+v", *e)
	}
	m.mustDo("TRANSITION_INGESTION_FAILED", swoosh.ErrorInputs{Error: "404 repo://c"})
	if i := m.state().Ingestion; i.Phase != swoosh.PhaseDiscover || i.LastError != "404 repo://c" || i.Epoch != 2 || len(i.SourceSet) != 0 || i.ContentHash != "" {
		t.Fatalf("ingestion after failure: %+v", *i)
	}
	ingest(m)
	if i := m.state().Ingestion; i.Epoch != 3 || i.LastError != "" {
		t.Fatalf("ingestion after third pass: %+v", *i)
	}
}

func toAllReadyFromLifecycle(m *machine) {
	ingest(m)
	formCouncil(m)
	provision(m)
}

// TestControlStates: pause, degraded and recovery hold execution but not
// the stop; the boot region's failure path ends in TERMINATED.
func TestControlStates(t *testing.T) {
	m := newMachine(t)
	toWork(m)
	m.mustDo("TRANSITION_PAUSE", swoosh.ReasonInputs{Reason: "maintenance"})
	m.refuse(guest.InvalidPhase, "TRANSITION_PAUSE", nil, "already paused")
	m.refuse(guest.PreconditionFailed, "TRANSITION_WORK_COMPLETED", nil, "paused (maintenance)")
	m.mustDo("TRANSITION_RESUME", nil)
	m.mustDo("TRANSITION_WORK_COMPLETED", nil)

	m.refuse(guest.InvalidPhase, "TRANSITION_RECOVERY_START", nil, "not degraded")
	m.mustDo("TRANSITION_DEGRADE", swoosh.ReasonInputs{Reason: "slow disk"})
	m.refuse(guest.PreconditionFailed, "TRANSITION_REVIEW_PASSED", nil, "degraded (slow disk)")
	m.mustDo("TRANSITION_RECOVERY_START", nil)
	m.refuse(guest.InvalidPhase, "TRANSITION_DEGRADE", nil, "already degraded")
	m.refuse(guest.PreconditionFailed, "TRANSITION_REVIEW_PASSED", nil, "in recovery")
	m.mustDo("TRANSITION_RECOVERY_COMPLETE", nil)
	if p := *m.state().Policy; p != (swoosh.Policy{}) {
		t.Fatalf("policy after recovery %+v, want all clear", p)
	}
	m.mustDo("TRANSITION_REVIEW_PASSED", nil)
	m.mustDo("TRANSITION_PAUSE", nil)
	m.mustDo("TRANSITION_EXECUTION_STOP", nil)

	m = newMachine(t)
	toLicenseCheck(m)
	m.mustDo("TRANSITION_LICENSE_DENIED", swoosh.ReasonInputs{Reason: "seat limit"})
	if b := *m.state().Boot; b.Phase != swoosh.PhaseLicenseFailed || b.Licensed || b.LicenseError != "seat limit" {
		t.Fatalf("boot after denial %+v", b)
	}
	m.refuse(guest.InvalidPhase, "TRANSITION_PROJECT_START", nil, "LICENSE_FAILED", "LICENSED")
	m.mustDo("TRANSITION_TERMINATE", nil)
	m.refuse(guest.InvalidPhase, "TRANSITION_PAUSE", nil, "TERMINATED")
	m.refuse(guest.InvalidPhase, "TRANSITION_CONFIG_OK", swoosh.ConfigOKInputs{NodeID: "n"}, "TERMINATED", "UNINITIALIZED")
	m.mustDo("TRANSITION_QUARANTINE", nil)
	m.mustDo("TRANSITION_QUARANTINE_RELEASE", nil)
}

// TestCouncilReplan: a council whose formation deadline passed before its
// core roles were claimed is planned again, which drops every claim.
func TestCouncilReplan(t *testing.T) {
	m := newMachine(t)
	toLifecycle(m)
	roles := councilRoles
	roles.FormationDeadline = m.ts/1e9 + 5
	m.mustDo("TRANSITION_COUNCIL_ROLES_PLANNED", roles)
	m.mustDo("TRANSITION_COUNCIL_CLAIM_ROLE", swoosh.ClaimRoleInputs{CouncilID: "council-7", RoleName: "lead", AgentName: "alice"})
	m.ts += 60e9
	m.refuse(guest.GuardRejected, "TRANSITION_COUNCIL_CLAIM_ROLE", swoosh.ClaimRoleInputs{CouncilID: "council-7", RoleName: "reviewer", AgentName: "bob"}, "formation_deadline")
	m.refuse(guest.PreconditionFailed, "TRANSITION_COUNCIL_ELECTED", swoosh.ElectedInputs{Members: members, QuorumCertHash: swoosh.MemberSetHash(members)}, `core role "reviewer"`)
	roles.CouncilID, roles.FormationDeadline = "council-8", 0
	m.mustDo("TRANSITION_COUNCIL_ROLES_PLANNED", roles)
	s := m.state()
	if len(s.Claims) != 0 || s.Council.CouncilID != "council-8" || s.Council.Phase != swoosh.PhaseElect || s.Council.FormationDeadline != 0 {
		t.Fatalf("after re-planning: council %+v claims %v", *s.Council, s.Claims)
	}
	m.refuse(guest.GuardRejected, "TRANSITION_COUNCIL_CLAIM_ROLE", swoosh.ClaimRoleInputs{CouncilID: "council-7", RoleName: "lead", AgentName: "alice"}, "council-8")
	m.mustDo("TRANSITION_COUNCIL_CLAIM_ROLE", swoosh.ClaimRoleInputs{CouncilID: "council-8", RoleName: "lead", AgentName: "alice"})
	m.mustDo("TRANSITION_COUNCIL_CLAIM_ROLE", swoosh.ClaimRoleInputs{CouncilID: "council-8", RoleName: "reviewer", AgentName: "bob"})
	elect(m)
	m.mustDo("TRANSITION_TOOLING_SYNCED", nil)
	m.refuse(guest.InvalidPhase, "TRANSITION_COUNCIL_ROLES_PLANNED", roles, "council phase is READY", "PLAN_ROLES or ELECT")
}
