package swoosh

import "github.com/reprise-dev/reprise/guest"

// RolesPlannedInputs are the inputs of TRANSITION_COUNCIL_ROLES_PLANNED,
// the roles of WHOOSH's CouncilOpportunity.
type RolesPlannedInputs struct {
	CouncilID         string   `json:"council_id"`
	CoreRoles         []string `json:"core_roles"`
	OptionalRoles     []string `json:"optional_roles"`
	FormationDeadline int64    `json:"formation_deadline"` // unix seconds; 0 means none
}

// ClaimRoleInputs are the inputs of TRANSITION_COUNCIL_CLAIM_ROLE, what
// WHOOSH's POST /api/v1/councils/{id}/claims carries.
type ClaimRoleInputs struct {
	CouncilID string `json:"council_id"`
	RoleName  string `json:"role_name"`
	AgentName string `json:"agent_name"`
}

// ElectedInputs are the inputs of TRANSITION_COUNCIL_ELECTED.
type ElectedInputs struct {
	Members        []string `json:"members"`
	QuorumCertHash string   `json:"quorum_cert_hash"`
}

// deadlinePassed reports whether the proposal is timestamped after the
// council's formation deadline.
func (c *ctx) deadlinePassed(deadline int64) error {
	if deadline != 0 && c.now() > deadline {
		return guest.Rejectf(guest.GuardRejected, "formation_deadline %d (unix seconds) has passed: the proposal is timestamped %d", deadline, c.now())
	}
	return nil
}

// roleHolder returns the role an agent has claimed, if any.
func (c *ctx) roleHolder(agent string) (string, bool) {
	for _, role := range claimsField.Keys(c.tx) {
		if cl, _ := claimsField.Get(c.tx, role); cl.AgentName == agent {
			return role, true
		}
	}
	return "", false
}

func init() {
	define("TRANSITION_COUNCIL_ROLES_PLANNED", rule[RolesPlannedInputs]{
		doc: "Council PLAN_ROLES (or ELECT, re-planning and dropping every claim) → ELECT: records council_id, core_roles, optional_roles, formation_deadline.",
		check: func(c *ctx, in RolesPlannedInputs) error {
			if err := c.needLifecycle("council", c.council().Phase, PhasePlanRoles, PhaseElect); err != nil {
				return err
			}
			if err := checkName("council_id", in.CouncilID); err != nil {
				return err
			}
			core, err := checkSet("core_roles", in.CoreRoles, false)
			if err != nil {
				return err
			}
			optional, err := checkSet("optional_roles", in.OptionalRoles, true)
			if err != nil {
				return err
			}
			if len(core)+len(optional) > MaxSetSize {
				return guest.Rejectf(guest.GuardRejected, "%d roles planned, at most %d allowed", len(core)+len(optional), MaxSetSize)
			}
			for _, r := range optional {
				if contains(core, r) {
					return guest.Rejectf(guest.GuardRejected, "role %q is listed as both core and optional", r)
				}
			}
			if in.FormationDeadline < 0 {
				return guest.Rejectf(guest.GuardRejected, "formation_deadline %d is negative", in.FormationDeadline)
			}
			return c.deadlinePassed(in.FormationDeadline)
		},
		apply: func(c *ctx, in RolesPlannedInputs) {
			for _, role := range claimsField.Keys(c.tx) {
				c.deleteClaim(role)
			}
			council := c.council()
			council.Phase = PhaseElect
			council.CouncilID = in.CouncilID
			council.CoreRoles = sortedSet(in.CoreRoles)
			council.OptionalRoles = sortedSet(in.OptionalRoles)
			council.FormationDeadline = in.FormationDeadline
		},
	})
	define("TRANSITION_COUNCIL_CLAIM_ROLE", rule[ClaimRoleInputs]{
		doc: "Council ELECT: agent_name claims planned role_name of council_id before the deadline; one role per agent, one agent per role.",
		check: func(c *ctx, in ClaimRoleInputs) error {
			if err := c.needLifecycle("council", c.council().Phase, PhaseElect); err != nil {
				return err
			}
			for _, f := range [][2]string{{"council_id", in.CouncilID}, {"role_name", in.RoleName}, {"agent_name", in.AgentName}} {
				if err := checkName(f[0], f[1]); err != nil {
					return err
				}
			}
			council := c.council()
			if in.CouncilID != council.CouncilID {
				return guest.Rejectf(guest.GuardRejected, "claim is for council %q; the council being formed is %q", in.CouncilID, council.CouncilID)
			}
			if !contains(council.CoreRoles, in.RoleName) && !contains(council.OptionalRoles, in.RoleName) {
				return guest.Rejectf(guest.GuardRejected, "role %q is not planned for council %q", in.RoleName, in.CouncilID)
			}
			if err := c.deadlinePassed(council.FormationDeadline); err != nil {
				return err
			}
			if cl, ok := claimsField.Get(c.tx, in.RoleName); ok {
				if cl.AgentName == in.AgentName {
					return nil // a repeated claim changes nothing
				}
				return guest.Rejectf(guest.PreconditionFailed, "role %q is already claimed by %q", in.RoleName, cl.AgentName)
			}
			if role, ok := c.roleHolder(in.AgentName); ok {
				return guest.Rejectf(guest.PreconditionFailed, "agent %q already holds role %q", in.AgentName, role)
			}
			return nil
		},
		apply: func(c *ctx, in ClaimRoleInputs) {
			cl, ok := claimsField.Get(c.tx, in.RoleName)
			if !ok {
				cl = Claim{AgentName: in.AgentName, CouncilID: in.CouncilID, ClaimedAt: c.tx.Index()}
				c.putClaim(in.RoleName, cl)
			}
			c.tx.SetOutput(struct {
				RoleName string `json:"role_name"`
				Claim
			}{in.RoleName, cl})
		},
	})
	define("TRANSITION_COUNCIL_ELECTED", rule[ElectedInputs]{
		doc: "Council ELECT → TOOLING_SYNC: guard quorum_cert_hash = MemberSetHash(members), claimants are members; every core role claimed.",
		check: func(c *ctx, in ElectedInputs) error {
			if err := c.needLifecycle("council", c.council().Phase, PhaseElect); err != nil {
				return err
			}
			members, err := checkSet("members", in.Members, false)
			if err != nil {
				return err
			}
			if err := checkName("quorum_cert_hash", in.QuorumCertHash); err != nil {
				return err
			}
			if want := MemberSetHash(members); in.QuorumCertHash != want {
				return guest.Rejectf(guest.GuardRejected,
					"quorum_cert_hash %q does not match the member-set hash %q (hex SHA-256 of the sorted member names joined by \\n)", in.QuorumCertHash, want)
			}
			for _, role := range claimsField.Keys(c.tx) {
				cl, _ := claimsField.Get(c.tx, role)
				if !contains(members, cl.AgentName) {
					return guest.Rejectf(guest.GuardRejected, "members lacks %q, who claimed role %q", cl.AgentName, role)
				}
			}
			for _, role := range c.council().CoreRoles {
				if !claimsField.Has(c.tx, role) {
					return guest.Rejectf(guest.PreconditionFailed, "core role %q is not claimed", role)
				}
			}
			return nil
		},
		apply: func(c *ctx, in ElectedInputs) {
			council := c.council()
			council.Phase = PhaseToolingSync
			council.Members = sortedSet(in.Members)
			council.MembersHash = MemberSetHash(in.Members)
			council.QuorumCertHash = in.QuorumCertHash
		},
	})
	define("TRANSITION_TOOLING_SYNCED", rule[struct{}]{
		doc: "Council TOOLING_SYNC → READY: the pass is complete, so council.epoch advances by one.",
		check: func(c *ctx, _ struct{}) error {
			return c.needLifecycle("council", c.council().Phase, PhaseToolingSync)
		},
		apply: func(c *ctx, _ struct{}) {
			council := c.council()
			council.Phase = PhaseReady
			council.Epoch++
		},
	})
	define("TRANSITION_COMPENSATE_ELECT", rule[struct{}]{
		doc: "Undoes ELECT: council TOOLING_SYNC or READY (execution IDLE) → ELECT; members and quorum certificate are dropped, claims kept.",
		check: func(c *ctx, _ struct{}) error {
			if err := c.needLifecycle("council", c.council().Phase, PhaseToolingSync, PhaseReady); err != nil {
				return err
			}
			if c.council().Phase == PhaseReady {
				return c.needExecutionIdle()
			}
			return nil
		},
		apply: func(c *ctx, _ struct{}) {
			council := c.council()
			council.Phase = PhaseElect
			council.Members = []string{}
			council.MembersHash = ""
			council.QuorumCertHash = ""
		},
	})
}
