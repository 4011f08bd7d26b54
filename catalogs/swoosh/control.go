package swoosh

import "github.com/reprise-dev/reprise/guest"

// needNotTerminated refuses control transitions once the boot region has
// reached its final phase (quarantine is the exception: it is always
// available).
func (c *ctx) needNotTerminated() error {
	if c.bootPhase() == PhaseTerminated {
		return guest.Rejectf(guest.InvalidPhase, "boot phase is TERMINATED, a final phase; %s needs any other", c.name())
	}
	return nil
}

// control declares a control transition that requires the policy flag
// test to hold, checks the optional reason, and applies set.
func control(name, doc string, want func(p Policy) (bool, string), set func(p *Policy, reason string)) {
	define(name, rule[ReasonInputs]{
		doc: doc,
		check: func(c *ctx, in ReasonInputs) error {
			if err := c.needNotTerminated(); err != nil {
				return err
			}
			if ok, why := want(*c.policy()); !ok {
				return guest.Rejectf(guest.InvalidPhase, "%s; %s does not apply", why, c.name())
			}
			return checkText("reason", in.Reason)
		},
		apply: func(c *ctx, in ReasonInputs) { set(c.policy(), in.Reason) },
	})
}

func init() {
	control("TRANSITION_PAUSE", "Control: sets policy.paused (with optional reason); execution cannot advance until TRANSITION_RESUME.",
		func(p Policy) (bool, string) { return !p.Paused, "policy is already paused" },
		func(p *Policy, reason string) { p.Paused, p.PauseReason = true, reason })
	control("TRANSITION_RESUME", "Control: clears policy.paused; refused when not paused.",
		func(p Policy) (bool, string) { return p.Paused, "policy is not paused" },
		func(p *Policy, _ string) { p.Paused, p.PauseReason = false, "" })
	control("TRANSITION_DEGRADE", "Control: sets policy.degraded (with optional reason); execution cannot advance until recovery completes.",
		func(p Policy) (bool, string) { return !p.Degraded, "policy is already degraded" },
		func(p *Policy, reason string) { p.Degraded, p.DegradedReason = true, reason })
	control("TRANSITION_RECOVERY_START", "Control: DEGRADED → RECOVERY (sets policy.recovery); refused unless degraded and not yet recovering.",
		func(p Policy) (bool, string) {
			if p.Recovery {
				return false, "policy is already in recovery"
			}
			return p.Degraded, "policy is not degraded"
		},
		func(p *Policy, _ string) { p.Recovery = true })
	control("TRANSITION_RECOVERY_COMPLETE", "Control: RECOVERY → normal: clears policy.recovery and policy.degraded.",
		func(p Policy) (bool, string) { return p.Recovery, "policy is not in recovery" },
		func(p *Policy, _ string) { p.Recovery, p.Degraded, p.DegradedReason = false, false, "" })

	define("TRANSITION_QUARANTINE", rule[ReasonInputs]{
		doc:          "Sticky quarantine: sets policy.quarantined (any phase, also while quarantined, updating the reason); only release leaves it.",
		quarantineOK: true,
		check: func(c *ctx, in ReasonInputs) error {
			return checkText("reason", in.Reason)
		},
		apply: func(c *ctx, in ReasonInputs) {
			c.policy().Quarantined = true
			c.policy().QuarantineReason = in.Reason
		},
	})
	define("TRANSITION_QUARANTINE_RELEASE", rule[struct{}]{
		doc:          "Leaves quarantine: clears policy.quarantined and its reason; refused when not quarantined.",
		quarantineOK: true,
		check: func(c *ctx, _ struct{}) error {
			if !c.policy().Quarantined {
				return guest.Rejectf(guest.InvalidPhase, "policy is not quarantined; %s does not apply", c.name())
			}
			return nil
		},
		apply: func(c *ctx, _ struct{}) {
			c.policy().Quarantined = false
			c.policy().QuarantineReason = ""
		},
	})
}
