package swoosh

import (
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"sort"
	"strings"

	"github.com/reprise-dev/reprise/guest"
)

// Catalog is the SWOOSH catalog.
var Catalog = guest.NewCatalog("swoosh", "1.0.0",
	"SWOOSH orchestration: licence check, ingestion/council/environment lifecycle, "+
		"PLAN→WORK→REVIEW→REVERB execution, control states, sticky quarantine, compensations.")

// Boot phases (Boot.Phase). An unset boot section reads as UNINITIALIZED.
const (
	PhaseUninitialized    = "UNINITIALIZED"
	PhaseConfigOK         = "CONFIG_OK"
	PhaseLicenseCheck     = "LICENSE_CHECK"
	PhaseLicensed         = "LICENSED"
	PhaseLicenseFailed    = "LICENSE_FAILED"
	PhaseTerminated       = "TERMINATED"
	PhaseProjectLifecycle = "PROJECT_LIFECYCLE"
)

// Region phases. READY is shared by the three lifecycle regions.
const (
	PhaseReady = "READY"

	PhaseDiscover = "DISCOVER"
	PhaseFetch    = "FETCH"
	PhaseValidate = "VALIDATE"
	PhaseIndex    = "INDEX"

	PhasePlanRoles   = "PLAN_ROLES"
	PhaseElect       = "ELECT"
	PhaseToolingSync = "TOOLING_SYNC"

	PhaseAllocate    = "ALLOCATE"
	PhaseProvision   = "PROVISION"
	PhaseHealthcheck = "HEALTHCHECK"
	PhaseDegraded    = "DEGRADED"
)

// Execution phases (Execution.Phase).
const (
	PhaseIdle   = "IDLE"
	PhasePlan   = "PLAN"
	PhaseWork   = "WORK"
	PhaseReview = "REVIEW"
	PhaseReverb = "REVERB"
)

// Meta identifies the schema the state follows.
type Meta struct {
	Version    string `json:"version"`
	SchemaHash string `json:"schema_hash"`
}

// Boot is the licence-check region.
type Boot struct {
	Phase         string `json:"phase"`
	NodeID        string `json:"node_id"`
	Licensed      bool   `json:"licensed"`
	LicenseExpiry int64  `json:"license_expiry"`
	LicenseError  string `json:"license_error"`
}

// Ingestion is the DISCOVER → FETCH → VALIDATE → INDEX → READY region.
type Ingestion struct {
	Phase       string   `json:"phase"`
	SourceSet   []string `json:"source_set"`
	ContentHash string   `json:"content_hash"`
	LastError   string   `json:"last_error"`
	Epoch       uint64   `json:"epoch"`
}

// Council is the PLAN_ROLES → ELECT → TOOLING_SYNC → READY region.
type Council struct {
	Phase             string   `json:"phase"`
	CouncilID         string   `json:"council_id"`
	CoreRoles         []string `json:"core_roles"`
	OptionalRoles     []string `json:"optional_roles"`
	FormationDeadline int64    `json:"formation_deadline"`
	Members           []string `json:"members"`
	MembersHash       string   `json:"members_hash"`
	QuorumCertHash    string   `json:"quorum_cert_hash"`
	Epoch             uint64   `json:"epoch"`
}

// Environment is the ALLOCATE → PROVISION → HEALTHCHECK → READY | DEGRADED
// region.
type Environment struct {
	Phase        string `json:"phase"`
	AllocationID string `json:"allocation_id"`
	ProvisionRef string `json:"provision_ref"`
	LastError    string `json:"last_error"`
	Epoch        uint64 `json:"epoch"`
}

// Execution is the PLAN → WORK → REVIEW → REVERB loop.
type Execution struct {
	Phase             string `json:"phase"`
	PinnedContentHash string `json:"pinned_content_hash"`
	PinnedVersion     string `json:"pinned_version"`
	Round             uint64 `json:"round"`
	Submissions       uint64 `json:"submissions"`
}

// Policy holds the control states and quarantine. The HTTP layer reads
// the boolean member "quarantined".
type Policy struct {
	Quarantined      bool   `json:"quarantined"`
	QuarantineReason string `json:"quarantine_reason"`
	Paused           bool   `json:"paused"`
	PauseReason      string `json:"pause_reason"`
	Degraded         bool   `json:"degraded"`
	DegradedReason   string `json:"degraded_reason"`
	Recovery         bool   `json:"recovery"`
}

// Claim is one council role claim, keyed by role name.
type Claim struct {
	AgentName string `json:"agent_name"`
	CouncilID string `json:"council_id"`
	ClaimedAt uint64 `json:"claimed_at"`
}

// Submission is one final submission, keyed by submission id.
type Submission struct {
	Round       uint64 `json:"round"`
	AgentName   string `json:"agent_name"`
	ContentHash string `json:"content_hash"`
	SubmittedAt uint64 `json:"submitted_at"`
}

// The state fields. Each section is its own field, so a transition
// rewrites only the sections it changes.
var (
	metaField        = guest.NewValue[Meta](Catalog, "meta", "Catalog version and schema hash the state follows.")
	bootField        = guest.NewValue[Boot](Catalog, "boot", "Licence check: boot phase, node id, licence status and expiry.")
	ingestionField   = guest.NewValue[Ingestion](Catalog, "ingestion", "Ingestion region: phase, source set, content hash, last error, epoch.")
	councilField     = guest.NewValue[Council](Catalog, "council", "Council region: phase, planned roles, elected members, quorum certificate, epoch.")
	environmentField = guest.NewValue[Environment](Catalog, "environment", "Environment region: phase, allocation, provisioning, last error, epoch.")
	executionField   = guest.NewValue[Execution](Catalog, "execution", "Execution loop: phase, pinned content and version, round, submissions this round.")
	policyField      = guest.NewValue[Policy](Catalog, "policy", "Control states (paused, degraded, recovery) and sticky quarantine.")
	hlcField         = guest.NewValue[string](Catalog, "hlc_last", "HLC of the last accepted state-changing transition that carried one.")
	claimsField      = guest.NewMap[Claim](Catalog, "council_claims", "Council role claims by role name.")
	submissionsField = guest.NewMap[Submission](Catalog, "submissions", "Final submissions by submission id.")
)

// schemaFields lists every state field with its Go type, for Schema.
var schemaFields = []struct {
	name, kind string
	typ        reflect.Type
}{
	{"boot", "value", reflect.TypeFor[Boot]()},
	{"council", "value", reflect.TypeFor[Council]()},
	{"council_claims", "map", reflect.TypeFor[Claim]()},
	{"environment", "value", reflect.TypeFor[Environment]()},
	{"execution", "value", reflect.TypeFor[Execution]()},
	{"hlc_last", "value", reflect.TypeFor[string]()},
	{"ingestion", "value", reflect.TypeFor[Ingestion]()},
	{"meta", "value", reflect.TypeFor[Meta]()},
	{"policy", "value", reflect.TypeFor[Policy]()},
	{"submissions", "map", reflect.TypeFor[Submission]()},
}

var schema, schemaHash = func() (string, string) {
	var b strings.Builder
	for _, f := range schemaFields {
		b.WriteString(f.name + " " + f.kind + " " + shape(f.typ) + "\n")
	}
	sum := sha256.Sum256([]byte(b.String()))
	return b.String(), hex.EncodeToString(sum[:])
}()

// Schema is the text whose SHA-256 is meta.schema_hash: one line per state
// field, "name kind shape", fields sorted by name, struct members sorted by
// JSON name. It changes exactly when the JSON shape of the state does.
func Schema() string { return schema }

// SchemaHash is the hex SHA-256 of Schema.
func SchemaHash() string { return schemaHash }

// shape renders the JSON shape of a type: {member:shape,...} for structs,
// [shape] for slices, else the JSON type name.
func shape(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct:
		members := make([]string, 0, t.NumField())
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			members = append(members, name+":"+shape(f.Type))
		}
		sort.Strings(members)
		return "{" + strings.Join(members, ",") + "}"
	case reflect.Slice:
		return "[" + shape(t.Elem()) + "]"
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	}
	return t.Kind().String()
}

// MemberSetHash is the hash a quorum certificate must carry for a member
// set: the lowercase hex SHA-256 of the member names, sorted by their UTF-8
// bytes, joined by "\n" (no trailing newline). Names are distinct and hold
// no control characters, so the joined text identifies the set.
func MemberSetHash(members []string) string {
	sorted := append([]string(nil), members...)
	sort.Strings(sorted)
	sum := sha256.Sum256([]byte(strings.Join(sorted, "\n")))
	return hex.EncodeToString(sum[:])
}
