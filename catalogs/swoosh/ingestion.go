package swoosh

import "github.com/reprise-dev/reprise/guest"

// SourcesResolvedInputs are the inputs of TRANSITION_SOURCES_RESOLVED.
type SourcesResolvedInputs struct {
	SourceSet []string `json:"source_set"`
}

// ContentHashInputs are the inputs of TRANSITION_FETCH_COMPLETED and
// TRANSITION_VALIDATION_PASSED.
type ContentHashInputs struct {
	ContentHash string `json:"content_hash"`
}

// ErrorInputs are the inputs of the failure transitions.
type ErrorInputs struct {
	Error string `json:"error"`
}

// unpin drops the pinned content: it is called whenever ingestion leaves
// READY, because a pin names content ingestion has made READY.
func (c *ctx) unpin() {
	c.execution().PinnedContentHash = ""
	c.execution().PinnedVersion = ""
}

func init() {
	define("TRANSITION_SOURCES_RESOLVED", rule[SourcesResolvedInputs]{
		doc: "Ingestion DISCOVER (or READY with execution IDLE, a new pass) → FETCH: records source_set (distinct names, sorted).",
		check: func(c *ctx, in SourcesResolvedInputs) error {
			if err := c.needLifecycle("ingestion", c.ingestion().Phase, PhaseDiscover, PhaseReady); err != nil {
				return err
			}
			if c.ingestion().Phase == PhaseReady {
				if err := c.needExecutionIdle(); err != nil {
					return err
				}
			}
			_, err := checkSet("source_set", in.SourceSet, false)
			return err
		},
		apply: func(c *ctx, in SourcesResolvedInputs) {
			ing := c.ingestion()
			ing.Phase = PhaseFetch
			ing.SourceSet = sortedSet(in.SourceSet)
			ing.ContentHash = ""
			c.unpin()
		},
	})
	define("TRANSITION_FETCH_COMPLETED", rule[ContentHashInputs]{
		doc: "Ingestion FETCH → VALIDATE: records content_hash (non-empty) of the fetched content.",
		check: func(c *ctx, in ContentHashInputs) error {
			if err := c.needLifecycle("ingestion", c.ingestion().Phase, PhaseFetch); err != nil {
				return err
			}
			return checkName("content_hash", in.ContentHash)
		},
		apply: func(c *ctx, in ContentHashInputs) {
			ing := c.ingestion()
			ing.Phase = PhaseValidate
			ing.ContentHash = in.ContentHash
		},
	})
	define("TRANSITION_VALIDATION_PASSED", rule[ContentHashInputs]{
		doc: "Ingestion VALIDATE → INDEX: guard content_hash equals the fetched ingestion.content_hash.",
		check: func(c *ctx, in ContentHashInputs) error {
			if err := c.needLifecycle("ingestion", c.ingestion().Phase, PhaseValidate); err != nil {
				return err
			}
			if err := checkName("content_hash", in.ContentHash); err != nil {
				return err
			}
			if fetched := c.ingestion().ContentHash; in.ContentHash != fetched {
				return guest.Rejectf(guest.GuardRejected, "content_hash %q is not the fetched content hash %q", in.ContentHash, fetched)
			}
			return nil
		},
		apply: func(c *ctx, _ ContentHashInputs) { c.ingestion().Phase = PhaseIndex },
	})
	define("TRANSITION_INDEX_COMPLETED", rule[struct{}]{
		doc: "Ingestion INDEX → READY: the pass is complete, so ingestion.epoch advances by one and last_error clears.",
		check: func(c *ctx, _ struct{}) error {
			return c.needLifecycle("ingestion", c.ingestion().Phase, PhaseIndex)
		},
		apply: func(c *ctx, _ struct{}) {
			ing := c.ingestion()
			ing.Phase = PhaseReady
			ing.Epoch++
			ing.LastError = ""
		},
	})
	define("TRANSITION_INGESTION_FAILED", rule[ErrorInputs]{
		doc: "Ingestion FETCH/VALIDATE/INDEX → DISCOVER: records error (non-empty) as last_error, drops source set and content hash.",
		check: func(c *ctx, in ErrorInputs) error {
			if err := c.needLifecycle("ingestion", c.ingestion().Phase, PhaseFetch, PhaseValidate, PhaseIndex); err != nil {
				return err
			}
			return checkError(in.Error)
		},
		apply: func(c *ctx, in ErrorInputs) {
			ing := c.ingestion()
			ing.Phase = PhaseDiscover
			ing.LastError = in.Error
			ing.SourceSet = []string{}
			ing.ContentHash = ""
		},
	})
	define("TRANSITION_COMPENSATE_INDEX", rule[struct{}]{
		doc: "Undoes INDEX: ingestion READY → INDEX (execution must be IDLE); the content pin is dropped.",
		check: func(c *ctx, _ struct{}) error {
			if err := c.needLifecycle("ingestion", c.ingestion().Phase, PhaseReady); err != nil {
				return err
			}
			return c.needExecutionIdle()
		},
		apply: func(c *ctx, _ struct{}) {
			c.ingestion().Phase = PhaseIndex
			c.unpin()
		},
	})
}

// checkError requires a non-empty error text.
func checkError(s string) error {
	if s == "" {
		return guest.Reject(guest.GuardRejected, "error must not be empty")
	}
	return checkText("error", s)
}
