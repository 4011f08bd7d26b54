package swoosh

// AllocatedInputs are the inputs of TRANSITION_ENVIRONMENT_ALLOCATED.
type AllocatedInputs struct {
	AllocationID string `json:"allocation_id"`
}

// ProvisionedInputs are the inputs of TRANSITION_ENVIRONMENT_PROVISIONED.
type ProvisionedInputs struct {
	ProvisionRef string `json:"provision_ref"`
}

func init() {
	define("TRANSITION_ENVIRONMENT_ALLOCATED", rule[AllocatedInputs]{
		doc: "Environment ALLOCATE → PROVISION: records allocation_id (non-empty).",
		check: func(c *ctx, in AllocatedInputs) error {
			if err := c.needLifecycle("environment", c.environment().Phase, PhaseAllocate); err != nil {
				return err
			}
			return checkName("allocation_id", in.AllocationID)
		},
		apply: func(c *ctx, in AllocatedInputs) {
			env := c.environment()
			env.Phase = PhaseProvision
			env.AllocationID = in.AllocationID
		},
	})
	define("TRANSITION_ENVIRONMENT_PROVISIONED", rule[ProvisionedInputs]{
		doc: "Environment PROVISION → HEALTHCHECK: records provision_ref (non-empty) naming what was provisioned.",
		check: func(c *ctx, in ProvisionedInputs) error {
			if err := c.needLifecycle("environment", c.environment().Phase, PhaseProvision); err != nil {
				return err
			}
			return checkName("provision_ref", in.ProvisionRef)
		},
		apply: func(c *ctx, in ProvisionedInputs) {
			env := c.environment()
			env.Phase = PhaseHealthcheck
			env.ProvisionRef = in.ProvisionRef
		},
	})
	define("TRANSITION_HEALTHCHECK_PASSED", rule[struct{}]{
		doc: "Environment HEALTHCHECK → READY: the pass is complete, so environment.epoch advances by one and last_error clears.",
		check: func(c *ctx, _ struct{}) error {
			return c.needLifecycle("environment", c.environment().Phase, PhaseHealthcheck)
		},
		apply: func(c *ctx, _ struct{}) {
			env := c.environment()
			env.Phase = PhaseReady
			env.Epoch++
			env.LastError = ""
		},
	})
	define("TRANSITION_HEALTHCHECK_FAILED", rule[ErrorInputs]{
		doc: "Environment HEALTHCHECK → DEGRADED: records error (non-empty) as last_error.",
		check: func(c *ctx, in ErrorInputs) error {
			if err := c.needLifecycle("environment", c.environment().Phase, PhaseHealthcheck); err != nil {
				return err
			}
			return checkError(in.Error)
		},
		apply: func(c *ctx, in ErrorInputs) {
			env := c.environment()
			env.Phase = PhaseDegraded
			env.LastError = in.Error
		},
	})
	define("TRANSITION_HEALTHCHECK_RETRY", rule[struct{}]{
		doc: "Environment DEGRADED → HEALTHCHECK: checks the provisioned environment again.",
		check: func(c *ctx, _ struct{}) error {
			return c.needLifecycle("environment", c.environment().Phase, PhaseDegraded)
		},
		apply: func(c *ctx, _ struct{}) { c.environment().Phase = PhaseHealthcheck },
	})
	define("TRANSITION_COMPENSATE_PROVISION", rule[struct{}]{
		doc: "Undoes PROVISION: environment HEALTHCHECK, DEGRADED or READY (execution IDLE) → PROVISION; provision_ref is dropped.",
		check: func(c *ctx, _ struct{}) error {
			if err := c.needLifecycle("environment", c.environment().Phase, PhaseHealthcheck, PhaseDegraded, PhaseReady); err != nil {
				return err
			}
			if c.environment().Phase == PhaseReady {
				return c.needExecutionIdle()
			}
			return nil
		},
		apply: func(c *ctx, _ struct{}) {
			env := c.environment()
			env.Phase = PhaseProvision
			env.ProvisionRef = ""
		},
	})
}
