package swoosh

import (
	"fmt"
	"strings"

	"github.com/reprise-dev/reprise/guest"
)

// PinContentInputs are the inputs of TRANSITION_PIN_CONTENT.
type PinContentInputs struct {
	ContentHash string `json:"content_hash"`
	Version     string `json:"version"`
}

// SubmitFinalInputs are the inputs of TRANSITION_SUBMIT_FINAL.
type SubmitFinalInputs struct {
	SubmissionID string `json:"submission_id"`
	AgentName    string `json:"agent_name"`
	ContentHash  string `json:"content_hash"`
}

// needRunnable holds everything a round needs to start: not held by a
// control state, an unexpired licence, the three regions READY and the
// content pinned.
func (c *ctx) needRunnable() error {
	if err := c.needNotHeld(); err != nil {
		return err
	}
	if err := c.needLicence(); err != nil {
		return err
	}
	var notReady []string
	for _, r := range [][2]string{{"ingestion", c.ingestion().Phase}, {"council", c.council().Phase}, {"environment", c.environment().Phase}} {
		if r[1] != PhaseReady {
			notReady = append(notReady, fmt.Sprintf("%s is %s", r[0], r[1]))
		}
	}
	if len(notReady) > 0 {
		return guest.Rejectf(guest.PreconditionFailed, "execution needs every lifecycle region READY: %s", strings.Join(notReady, ", "))
	}
	e := c.execution()
	if e.PinnedContentHash == "" || e.PinnedVersion == "" {
		return guest.Reject(guest.PreconditionFailed, "no content/version is pinned: submit TRANSITION_PIN_CONTENT first")
	}
	if e.PinnedContentHash != c.ingestion().ContentHash {
		return guest.Rejectf(guest.PreconditionFailed, "pinned content %q is not the ingested content %q", e.PinnedContentHash, c.ingestion().ContentHash)
	}
	return nil
}

// startRound enters PLAN for the next round.
func (c *ctx) startRound() {
	e := c.execution()
	e.Phase = PhasePlan
	e.Round++
	e.Submissions = 0
}

// step declares an execution transition that moves the loop from one
// phase to the next, refused while a control state holds execution.
func step(name, doc, from, to string) {
	define(name, rule[struct{}]{
		doc: doc,
		check: func(c *ctx, _ struct{}) error {
			if err := c.needLifecycle("execution", c.execution().Phase, from); err != nil {
				return err
			}
			return c.needNotHeld()
		},
		apply: func(c *ctx, _ struct{}) { c.execution().Phase = to },
	})
}

func init() {
	define("TRANSITION_PIN_CONTENT", rule[PinContentInputs]{
		doc: "Execution IDLE, ingestion READY: pins content_hash (must equal ingestion.content_hash) and version (non-empty).",
		check: func(c *ctx, in PinContentInputs) error {
			if err := c.needLifecycle("execution", c.execution().Phase, PhaseIdle); err != nil {
				return err
			}
			ing := c.ingestion()
			if ing.Phase != PhaseReady {
				return guest.Rejectf(guest.PreconditionFailed, "ingestion is %s; content can be pinned only when ingestion is READY", ing.Phase)
			}
			if err := checkName("content_hash", in.ContentHash); err != nil {
				return err
			}
			if err := checkName("version", in.Version); err != nil {
				return err
			}
			if in.ContentHash != ing.ContentHash {
				return guest.Rejectf(guest.GuardRejected, "content_hash %q is not the ingested content hash %q", in.ContentHash, ing.ContentHash)
			}
			return nil
		},
		apply: func(c *ctx, in PinContentInputs) {
			e := c.execution()
			e.PinnedContentHash, e.PinnedVersion = in.ContentHash, in.Version
		},
	})
	define("TRANSITION_EXECUTION_START", rule[struct{}]{
		doc: "Execution IDLE → PLAN, round+1: needs all three regions READY, content/version pinned, licence unexpired, no pause/degraded/recovery.",
		check: func(c *ctx, _ struct{}) error {
			if err := c.needLifecycle("execution", c.execution().Phase, PhaseIdle); err != nil {
				return err
			}
			return c.needRunnable()
		},
		apply: func(c *ctx, _ struct{}) { c.startRound() },
	})
	step("TRANSITION_PLAN_APPROVED", "Execution PLAN → WORK (refused while paused, degraded or in recovery).", PhasePlan, PhaseWork)
	step("TRANSITION_WORK_COMPLETED", "Execution WORK → REVIEW (refused while paused, degraded or in recovery).", PhaseWork, PhaseReview)
	step("TRANSITION_REVIEW_PASSED", "Execution REVIEW → REVERB, the phase that accepts final submissions (refused while held).", PhaseReview, PhaseReverb)
	step("TRANSITION_REVIEW_CHANGES_REQUESTED", "Execution REVIEW → WORK: the review sends the work back (refused while held).", PhaseReview, PhaseWork)
	define("TRANSITION_SUBMIT_FINAL", rule[SubmitFinalInputs]{
		doc: "Execution REVERB only: records final submission submission_id by council member agent_name with content_hash.",
		check: func(c *ctx, in SubmitFinalInputs) error {
			if err := c.needLifecycle("execution", c.execution().Phase, PhaseReverb); err != nil {
				return err
			}
			if err := c.needNotHeld(); err != nil {
				return err
			}
			for _, f := range [][2]string{{"submission_id", in.SubmissionID}, {"agent_name", in.AgentName}, {"content_hash", in.ContentHash}} {
				if err := checkName(f[0], f[1]); err != nil {
					return err
				}
			}
			if council := c.council(); !contains(council.Members, in.AgentName) {
				return guest.Rejectf(guest.GuardRejected, "agent %q is not a member of council %q", in.AgentName, council.CouncilID)
			}
			if s, ok := submissionsField.Get(c.tx, in.SubmissionID); ok {
				if s.Round == c.execution().Round && s.AgentName == in.AgentName && s.ContentHash == in.ContentHash {
					return nil // the same submission again changes nothing
				}
				return guest.Rejectf(guest.PreconditionFailed, "submission %q is already recorded (round %d, agent %q, content %q)",
					in.SubmissionID, s.Round, s.AgentName, s.ContentHash)
			}
			return nil
		},
		apply: func(c *ctx, in SubmitFinalInputs) {
			s, ok := submissionsField.Get(c.tx, in.SubmissionID)
			if !ok {
				e := c.execution()
				s = Submission{Round: e.Round, AgentName: in.AgentName, ContentHash: in.ContentHash, SubmittedAt: c.tx.Index()}
				c.putSubmission(in.SubmissionID, s)
				e.Submissions++
			}
			c.tx.SetOutput(struct {
				SubmissionID string `json:"submission_id"`
				Submission
			}{in.SubmissionID, s})
		},
	})
	define("TRANSITION_NEXT_ROUND", rule[struct{}]{
		doc: "Execution REVERB → PLAN, round+1: the loop goes round again under the same conditions as TRANSITION_EXECUTION_START.",
		check: func(c *ctx, _ struct{}) error {
			if err := c.needLifecycle("execution", c.execution().Phase, PhaseReverb); err != nil {
				return err
			}
			return c.needRunnable()
		},
		apply: func(c *ctx, _ struct{}) { c.startRound() },
	})
	define("TRANSITION_EXECUTION_STOP", rule[struct{}]{
		doc: "Execution PLAN/WORK/REVIEW/REVERB → IDLE (allowed while held); round, pin and submissions are kept.",
		check: func(c *ctx, _ struct{}) error {
			return c.needLifecycle("execution", c.execution().Phase, PhasePlan, PhaseWork, PhaseReview, PhaseReverb)
		},
		apply: func(c *ctx, _ struct{}) { c.execution().Phase = PhaseIdle },
	})
}
