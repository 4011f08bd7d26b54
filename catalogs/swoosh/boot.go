package swoosh

import "github.com/reprise-dev/reprise/guest"

// ConfigOKInputs are the inputs of TRANSITION_CONFIG_OK.
type ConfigOKInputs struct {
	NodeID string `json:"node_id"`
}

// LicenseGrantedInputs are the inputs of TRANSITION_LICENSE_GRANTED: the
// verdict of the licence check made outside the reducer.
type LicenseGrantedInputs struct {
	LicenseValid  bool  `json:"license_valid"`
	LicenseExpiry int64 `json:"license_expiry"` // unix seconds; 0 means no expiry
}

// ReasonInputs are the inputs of the transitions that take an optional
// free-text reason.
type ReasonInputs struct {
	Reason string `json:"reason"`
}

func init() {
	define("TRANSITION_CONFIG_OK", rule[ConfigOKInputs]{
		doc: "UNINITIALIZED → CONFIG_OK: records node_id (non-empty) and stamps meta.",
		check: func(c *ctx, in ConfigOKInputs) error {
			if err := c.needBoot(PhaseUninitialized); err != nil {
				return err
			}
			return checkName("node_id", in.NodeID)
		},
		apply: func(c *ctx, in ConfigOKInputs) {
			*c.boot() = Boot{Phase: PhaseConfigOK, NodeID: in.NodeID}
		},
	})
	define("TRANSITION_LICENSE_CHECK_STARTED", rule[struct{}]{
		doc: "CONFIG_OK → LICENSE_CHECK: the licence check is under way outside the reducer.",
		check: func(c *ctx, _ struct{}) error {
			return c.needBoot(PhaseConfigOK)
		},
		apply: func(c *ctx, _ struct{}) { c.boot().Phase = PhaseLicenseCheck },
	})
	define("TRANSITION_LICENSE_GRANTED", rule[LicenseGrantedInputs]{
		doc: "LICENSE_CHECK → LICENSED: guard license_valid is true and license_expiry (unix s, 0 = none) is after the proposal's timestamp.",
		check: func(c *ctx, in LicenseGrantedInputs) error {
			if err := c.needBoot(PhaseLicenseCheck); err != nil {
				return err
			}
			if !in.LicenseValid {
				return guest.Reject(guest.GuardRejected, "license_valid is false: the licence check did not find a valid licence")
			}
			if in.LicenseExpiry < 0 {
				return guest.Rejectf(guest.GuardRejected, "license_expiry %d is negative", in.LicenseExpiry)
			}
			if in.LicenseExpiry != 0 && c.now() >= in.LicenseExpiry {
				return guest.Rejectf(guest.GuardRejected, "license_expiry %d (unix seconds) is not after the proposal's timestamp %d", in.LicenseExpiry, c.now())
			}
			return nil
		},
		apply: func(c *ctx, in LicenseGrantedInputs) {
			b := c.boot()
			b.Phase = PhaseLicensed
			b.Licensed = true
			b.LicenseExpiry = in.LicenseExpiry
			b.LicenseError = ""
		},
	})
	define("TRANSITION_LICENSE_DENIED", rule[ReasonInputs]{
		doc: "LICENSE_CHECK → LICENSE_FAILED: records the reason (optional) as boot.license_error.",
		check: func(c *ctx, in ReasonInputs) error {
			if err := c.needBoot(PhaseLicenseCheck); err != nil {
				return err
			}
			return checkText("reason", in.Reason)
		},
		apply: func(c *ctx, in ReasonInputs) {
			b := c.boot()
			b.Phase = PhaseLicenseFailed
			b.Licensed = false
			b.LicenseExpiry = 0
			b.LicenseError = in.Reason
		},
	})
	define("TRANSITION_TERMINATE", rule[struct{}]{
		doc: "LICENSE_FAILED → TERMINATED, a final phase.",
		check: func(c *ctx, _ struct{}) error {
			return c.needBoot(PhaseLicenseFailed)
		},
		apply: func(c *ctx, _ struct{}) { c.boot().Phase = PhaseTerminated },
	})
	define("TRANSITION_PROJECT_START", rule[struct{}]{
		doc: "LICENSED → PROJECT_LIFECYCLE (licence unexpired): regions enter DISCOVER, PLAN_ROLES, ALLOCATE; execution IDLE.",
		check: func(c *ctx, _ struct{}) error {
			if err := c.needBoot(PhaseLicensed); err != nil {
				return err
			}
			return c.needLicence()
		},
		apply: func(c *ctx, _ struct{}) {
			c.boot().Phase = PhaseProjectLifecycle
			*c.ingestion() = Ingestion{Phase: PhaseDiscover, SourceSet: []string{}}
			*c.council() = Council{Phase: PhasePlanRoles, CoreRoles: []string{}, OptionalRoles: []string{}, Members: []string{}}
			*c.environment() = Environment{Phase: PhaseAllocate}
			*c.execution() = Execution{Phase: PhaseIdle}
		},
	})
}
