package abi

import "strconv"

// Code says why a proposal was not applied. OK means it was. Codes below 100
// are produced by catalogs (through the guest SDK); codes from 100 up are
// produced by the host when the guest itself failed. Codes, their slugs and
// their messages are stable: clients see them.
type Code uint16

const (
	OK                 Code = 0
	GuardRejected      Code = 1
	UnknownTransition  Code = 2
	QuarantineBlocked  Code = 3
	InvalidPhase       Code = 4
	PreconditionFailed Code = 5
	InvalidInputs      Code = 6
	GuestPanic         Code = 7

	// Codes 50-99 are the executor's verdicts on a proposal before it
	// reaches the catalog.
	StaleHLC      Code = 50
	StateConflict Code = 51
	BadProposal   Code = 52

	Trap         Code = 100
	OutOfFuel    Code = 101
	OutOfMemory  Code = 102
	ABIViolation Code = 103
	Timeout      Code = 104
)

var codeText = map[Code][2]string{
	OK:                 {"ok", "ok"},
	GuardRejected:      {"guard_rejected", "guard rejected transition"},
	UnknownTransition:  {"unknown_transition", "unknown transition"},
	QuarantineBlocked:  {"quarantine_blocked", "transition blocked by quarantine"},
	InvalidPhase:       {"invalid_phase", "invalid phase for transition"},
	PreconditionFailed: {"precondition_failed", "precondition failed"},
	InvalidInputs:      {"invalid_inputs", "invalid inputs"},
	GuestPanic:         {"guest_panic", "transition panicked"},
	StaleHLC:           {"stale_hlc", "hlc is older than the last accepted transition"},
	StateConflict:      {"state_conflict", "current_state_hash does not match the current state"},
	BadProposal:        {"bad_proposal", "malformed proposal"},
	Trap:               {"guest_trap", "catalog module trapped"},
	OutOfFuel:          {"out_of_fuel", "transition ran out of fuel"},
	OutOfMemory:        {"out_of_memory", "catalog module ran out of memory"},
	ABIViolation:       {"abi_violation", "catalog module broke the ABI"},
	Timeout:            {"timeout", "transition exceeded its time limit"},
}

// Slug is the stable machine-readable name of the code.
func (c Code) Slug() string {
	if t, ok := codeText[c]; ok {
		return t[0]
	}
	return "code_" + strconv.Itoa(int(c))
}

// Message is the client-visible text. For the catalog codes these are the
// exact texts SWOOSH clients expect.
func (c Code) Message() string {
	if t, ok := codeText[c]; ok {
		return t[1]
	}
	return "rejected (code " + strconv.Itoa(int(c)) + ")"
}

func (c Code) String() string { return c.Slug() }

// CodeFromSlug is the inverse of Slug.
func CodeFromSlug(s string) (Code, bool) {
	for c, t := range codeText {
		if t[0] == s {
			return c, true
		}
	}
	return 0, false
}

// HostCode reports whether the code describes a failure of the guest itself
// rather than a verdict of the catalog.
func (c Code) HostCode() bool { return c >= 100 }
