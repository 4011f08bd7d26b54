package swoosh

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/guest"
)

// Bounds on inputs, so that no proposal can grow the state without limit.
const (
	MaxNameBytes = 256  // a name, id, hash or version
	MaxTextBytes = 4096 // a reason or an error text
	MaxSetSize   = 1024 // a source set, member set or role list
)

// ctx is what a rule sees: the proposal and the state sections. Sections
// are decoded on first use; a rule's apply mutates them in place, and
// commit writes back exactly the sections whose values changed, so an
// unchanged section is never rewritten and a transition that changes
// nothing changes nothing at all.
type ctx struct {
	tx     *guest.Tx
	loaded uint8 // bit per section, see the accessors
	cur    sections
	orig   sections // as decoded, to compare with at commit
	// mapChanged records that a map entry was written or deleted.
	mapChanged bool
}

// sections is every value field of the state but meta and hlc_last.
type sections struct {
	boot        Boot
	ingestion   Ingestion
	council     Council
	environment Environment
	execution   Execution
	policy      Policy
}

const (
	loadedBoot uint8 = 1 << iota
	loadedIngestion
	loadedCouncil
	loadedEnvironment
	loadedExecution
	loadedPolicy
)

func open(tx *guest.Tx) *ctx { return &ctx{tx: tx} }

// load decodes a section into cur and orig on first use.
func load[T any](c *ctx, bit uint8, f *guest.Value[T], cur, orig *T, copySlices func(*T)) *T {
	if c.loaded&bit == 0 {
		*cur = f.Get(c.tx)
		*orig = *cur
		if copySlices != nil {
			copySlices(orig)
		}
		c.loaded |= bit
	}
	return cur
}

func (c *ctx) boot() *Boot {
	return load(c, loadedBoot, bootField, &c.cur.boot, &c.orig.boot, nil)
}

func (c *ctx) ingestion() *Ingestion {
	return load(c, loadedIngestion, ingestionField, &c.cur.ingestion, &c.orig.ingestion, func(i *Ingestion) {
		i.SourceSet = clone(i.SourceSet)
	})
}

func (c *ctx) council() *Council {
	return load(c, loadedCouncil, councilField, &c.cur.council, &c.orig.council, func(x *Council) {
		x.CoreRoles, x.OptionalRoles, x.Members = clone(x.CoreRoles), clone(x.OptionalRoles), clone(x.Members)
	})
}

func (c *ctx) environment() *Environment {
	return load(c, loadedEnvironment, environmentField, &c.cur.environment, &c.orig.environment, nil)
}

func (c *ctx) execution() *Execution {
	return load(c, loadedExecution, executionField, &c.cur.execution, &c.orig.execution, nil)
}

func (c *ctx) policy() *Policy {
	return load(c, loadedPolicy, policyField, &c.cur.policy, &c.orig.policy, nil)
}

func clone(xs []string) []string {
	if xs == nil {
		return nil
	}
	return append([]string{}, xs...)
}

// name is the running transition's catalogued name.
func (c *ctx) name() string { return c.tx.Transition() }

// now is the primary's timestamp of the proposal in unix seconds (floor).
func (c *ctx) now() int64 {
	ns := c.tx.Timestamp()
	s := ns / 1e9
	if ns%1e9 < 0 {
		s--
	}
	return s
}

// bootPhase reads an unset boot phase as UNINITIALIZED.
func (c *ctx) bootPhase() string {
	if p := c.boot().Phase; p != "" {
		return p
	}
	return PhaseUninitialized
}

// commit writes back every changed section and, when anything changed,
// stamps meta and hlc_last.
func (c *ctx) commit() {
	c.normalize()
	changed := c.mapChanged
	if c.loaded&loadedBoot != 0 {
		changed = store(c.tx, bootField, c.orig.boot, c.cur.boot, eqComparable[Boot]) || changed
	}
	if c.loaded&loadedIngestion != 0 {
		changed = store(c.tx, ingestionField, c.orig.ingestion, c.cur.ingestion, eqIngestion) || changed
	}
	if c.loaded&loadedCouncil != 0 {
		changed = store(c.tx, councilField, c.orig.council, c.cur.council, eqCouncil) || changed
	}
	if c.loaded&loadedEnvironment != 0 {
		changed = store(c.tx, environmentField, c.orig.environment, c.cur.environment, eqComparable[Environment]) || changed
	}
	if c.loaded&loadedExecution != 0 {
		changed = store(c.tx, executionField, c.orig.execution, c.cur.execution, eqComparable[Execution]) || changed
	}
	if c.loaded&loadedPolicy != 0 {
		changed = store(c.tx, policyField, c.orig.policy, c.cur.policy, eqComparable[Policy]) || changed
	}
	if !changed {
		return // SWOOSH: a no-op keeps the same hash and the same hlc_last
	}
	store(c.tx, metaField, metaField.Get(c.tx), Meta{Version: Catalog.Version(), SchemaHash: schemaHash}, eqComparable[Meta])
	if h := c.tx.HLC(); h != "" {
		store(c.tx, hlcField, hlcField.Get(c.tx), h, eqComparable[string])
	}
}

// normalize makes every set in a section in use non-nil, so that an empty
// set always encodes as [] and never flips to null and back.
func (c *ctx) normalize() {
	if c.loaded&loadedIngestion != 0 && c.cur.ingestion.Phase != "" && c.cur.ingestion.SourceSet == nil {
		c.cur.ingestion.SourceSet = []string{}
	}
	if x := &c.cur.council; c.loaded&loadedCouncil != 0 && x.Phase != "" {
		for _, xs := range []*[]string{&x.CoreRoles, &x.OptionalRoles, &x.Members} {
			if *xs == nil {
				*xs = []string{}
			}
		}
	}
}

// store writes v unless it equals old (what the field holds), or the
// field is unset and v is the zero value, and reports whether it wrote.
// Equal values encode to equal bytes: the eq functions compare every
// member and tell a nil set (null) from an empty one ([]).
func store[T any](tx *guest.Tx, f *guest.Value[T], old, v T, eq func(a, b T) bool) bool {
	if f.IsSet(tx) {
		if eq(old, v) {
			return false
		}
	} else if eq(v, *new(T)) {
		return false
	}
	f.Set(tx, v)
	return true
}

func eqComparable[T comparable](a, b T) bool { return a == b }

func eqSet(a, b []string) bool { return (a == nil) == (b == nil) && slices.Equal(a, b) }

func eqIngestion(a, b Ingestion) bool {
	return eqSet(a.SourceSet, b.SourceSet) && a.Phase == b.Phase && a.ContentHash == b.ContentHash &&
		a.LastError == b.LastError && a.Epoch == b.Epoch
}

func eqCouncil(a, b Council) bool {
	return eqSet(a.CoreRoles, b.CoreRoles) && eqSet(a.OptionalRoles, b.OptionalRoles) && eqSet(a.Members, b.Members) &&
		a.Phase == b.Phase && a.CouncilID == b.CouncilID && a.FormationDeadline == b.FormationDeadline &&
		a.MembersHash == b.MembersHash && a.QuorumCertHash == b.QuorumCertHash && a.Epoch == b.Epoch
}

// putClaim and putSubmission write a map entry unless it already holds
// the same value; deleteClaim removes one that exists.
func (c *ctx) putClaim(role string, v Claim) {
	if old, ok := claimsField.Get(c.tx, role); ok && old == v {
		return
	}
	claimsField.Set(c.tx, role, v)
	c.mapChanged = true
}

func (c *ctx) deleteClaim(role string) {
	if claimsField.Has(c.tx, role) {
		claimsField.Delete(c.tx, role)
		c.mapChanged = true
	}
}

func (c *ctx) putSubmission(id string, v Submission) {
	if old, ok := submissionsField.Get(c.tx, id); ok && old == v {
		return
	}
	submissionsField.Set(c.tx, id, v)
	c.mapChanged = true
}

// rule is one transition: check decides (read-only) and apply mutates.
// Every rule is refused while quarantined unless quarantineOK, and every
// rule refuses a proposal whose HLC is older than hlc_last.
type rule[In any] struct {
	doc          string
	quarantineOK bool
	check        func(c *ctx, in In) error
	apply        func(c *ctx, in In)
}

func define[In any](name string, r rule[In]) {
	guest.Transition(Catalog, name, guest.Handler[In]{
		Doc: r.doc,
		Guard: func(tx *guest.Tx, in In) error {
			c := open(tx)
			if err := c.admit(r.quarantineOK); err != nil {
				return err
			}
			if r.check == nil {
				return nil
			}
			return r.check(c, in)
		},
		Apply: func(tx *guest.Tx, in In) error {
			c := open(tx)
			r.apply(c, in)
			c.commit()
			return nil
		},
	})
}

// admit applies the checks every transition shares, in this order:
// quarantine, then the HLC.
func (c *ctx) admit(quarantineOK bool) error {
	if p := c.policy(); p.Quarantined && !quarantineOK {
		reason := ""
		if p.QuarantineReason != "" {
			reason = fmt.Sprintf(" (reason: %s)", p.QuarantineReason)
		}
		return guest.Rejectf(guest.QuarantineBlocked,
			"%s refused: the state is quarantined%s; only TRANSITION_QUARANTINE_RELEASE leaves quarantine", c.name(), reason)
	}
	h := c.tx.HLC()
	if h == "" {
		return nil
	}
	last := hlcField.Get(c.tx)
	if last == "" {
		if err := abi.ValidHLC(h); err != nil {
			return guest.Reject(guest.PreconditionFailed, err.Error())
		}
		return nil
	}
	cmp, err := abi.CompareHLC(h, last)
	if err != nil {
		return guest.Reject(guest.PreconditionFailed, err.Error())
	}
	if cmp < 0 {
		return guest.Rejectf(guest.PreconditionFailed, "hlc %s is older than hlc_last %s", h, last)
	}
	return nil
}

// Shared checks. Each returns the error a rule should give, or nil.

// needBoot requires the boot phase to be one of want.
func (c *ctx) needBoot(want ...string) error {
	return c.needPhase("boot", c.bootPhase(), want...)
}

// needPhase requires a region's phase to be one of want.
func (c *ctx) needPhase(region, got string, want ...string) error {
	for _, w := range want {
		if got == w {
			return nil
		}
	}
	if got == "" {
		got = "unset"
	}
	return guest.Rejectf(guest.InvalidPhase, "%s phase is %s; %s needs %s", region, got, c.name(), strings.Join(want, " or "))
}

// needLifecycle requires the project lifecycle, then the region's phase.
func (c *ctx) needLifecycle(region, got string, want ...string) error {
	if err := c.needBoot(PhaseProjectLifecycle); err != nil {
		return err
	}
	return c.needPhase(region, got, want...)
}

// needExecutionIdle refuses to undo or restart a region's work while the
// execution loop runs on it.
func (c *ctx) needExecutionIdle() error {
	if e := c.execution(); e.Phase != PhaseIdle {
		return guest.Rejectf(guest.PreconditionFailed,
			"execution is in %s (round %d); stop it with TRANSITION_EXECUTION_STOP before %s", e.Phase, e.Round, c.name())
	}
	return nil
}

// needLicence requires the licence not to have expired at the proposal's
// timestamp.
func (c *ctx) needLicence() error {
	if !c.boot().Licensed {
		return guest.Reject(guest.PreconditionFailed, "no valid licence is recorded")
	}
	if exp := c.boot().LicenseExpiry; exp != 0 && c.now() >= exp {
		return guest.Rejectf(guest.PreconditionFailed, "licence expired at %d (unix seconds); the proposal is timestamped %d", exp, c.now())
	}
	return nil
}

// needNotHeld refuses to advance execution while paused, degraded or in
// recovery.
func (c *ctx) needNotHeld() error {
	var held []string
	p := c.policy()
	if p.Paused {
		held = append(held, withReason("paused", p.PauseReason))
	}
	if p.Degraded {
		held = append(held, withReason("degraded", p.DegradedReason))
	}
	if p.Recovery {
		held = append(held, "in recovery")
	}
	if len(held) > 0 {
		return guest.Rejectf(guest.PreconditionFailed, "execution cannot advance while %s", strings.Join(held, ", "))
	}
	return nil
}

func withReason(state, reason string) string {
	if reason == "" {
		return state
	}
	return state + " (" + reason + ")"
}

// Input checks. They reject with GuardRejected, naming the input.

// checkName requires a non-empty name of at most MaxNameBytes with no
// control characters.
func checkName(input, s string) error {
	if s == "" {
		return guest.Rejectf(guest.GuardRejected, "%s must not be empty", input)
	}
	return checkBounded(input, s, MaxNameBytes, false)
}

// checkText allows an empty text of at most MaxTextBytes; it may hold
// newlines and tabs but no other control characters.
func checkText(input, s string) error {
	return checkBounded(input, s, MaxTextBytes, true)
}

func checkBounded(input, s string, maxBytes int, text bool) error {
	if len(s) > maxBytes {
		return guest.Rejectf(guest.GuardRejected, "%s is %d bytes long, at most %d allowed", input, len(s), maxBytes)
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(text && (r == '\n' || r == '\t')) {
			return guest.Rejectf(guest.GuardRejected, "%s holds control character %U", input, r)
		}
	}
	return nil
}

// checkSet requires 1..MaxSetSize distinct valid names (min 0 when
// optional) and returns them sorted.
func checkSet(input string, xs []string, optional bool) ([]string, error) {
	if len(xs) == 0 && !optional {
		return nil, guest.Rejectf(guest.GuardRejected, "%s must not be empty", input)
	}
	if len(xs) > MaxSetSize {
		return nil, guest.Rejectf(guest.GuardRejected, "%s has %d entries, at most %d allowed", input, len(xs), MaxSetSize)
	}
	sorted := sortedSet(xs)
	for i, x := range sorted {
		if err := checkName(fmt.Sprintf("%s entry %q", input, x), x); err != nil {
			return nil, err
		}
		if i > 0 && sorted[i-1] == x {
			return nil, guest.Rejectf(guest.GuardRejected, "%s lists %q twice", input, x)
		}
	}
	return sorted, nil
}

// sortedSet is a sorted copy, never nil, so that an empty set always
// encodes as [] whatever the input said.
func sortedSet(xs []string) []string {
	out := append([]string{}, xs...)
	sort.Strings(out)
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
