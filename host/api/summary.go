package api

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/reprise-dev/reprise/abi/canon"
	"github.com/reprise-dev/reprise/host/state"
)

// stateSummary is what the HTTP layer reports from a catalog's state
// without knowing the catalog: the conventional value fields "policy"
// ({quarantined, paused, degraded, recovery}) and "boot" ({phase,
// licensed, license_expiry}) that the swoosh catalog defines. A catalog
// without them reports nothing quarantined, degraded or licensed.
type stateSummary struct {
	HasPolicy bool
	Policy    struct {
		Quarantined bool `json:"quarantined"`
		Paused      bool `json:"paused"`
		Degraded    bool `json:"degraded"`
		Recovery    bool `json:"recovery"`
	}
	HasBoot bool
	Boot    struct {
		Phase         string `json:"phase"`
		Licensed      bool   `json:"licensed"`
		LicenseExpiry int64  `json:"license_expiry"`
	}

	// The raw values the summary was read from: stored values are never
	// modified, so keeping them is safe and lets an unchanged value be
	// recognised without decoding it again.
	policyRaw, bootRaw []byte
}

// summarize reads the summary of st, reusing prev's decoding of values that
// did not change. It runs on the writer once per committed batch, so it
// decodes only what changed.
func summarize(st *state.State, prev *stateSummary) *stateSummary {
	s := &stateSummary{}
	if prev != nil {
		*s = *prev
	}
	policy, _ := st.Get("policy", "")
	if prev == nil || !bytes.Equal(policy, prev.policyRaw) {
		s.policyRaw, s.HasPolicy = policy, false
		s.Policy = stateSummary{}.Policy
		if policy != nil && json.Unmarshal(policy, &s.Policy) == nil {
			s.HasPolicy = true
		}
	}
	boot, _ := st.Get("boot", "")
	if prev == nil || !bytes.Equal(boot, prev.bootRaw) {
		s.bootRaw, s.HasBoot = boot, false
		s.Boot = stateSummary{}.Boot
		if boot != nil && json.Unmarshal(boot, &s.Boot) == nil {
			s.HasBoot = true
		}
	}
	return s
}

func (s *stateSummary) quarantined() bool { return s != nil && s.Policy.Quarantined }

// appendJSONString writes s as a canonical JSON string; an invalid UTF-8
// byte is shown as U+FFFD so the output is always valid JSON.
func appendJSONString(dst []byte, s string) []byte {
	out, err := canon.AppendString(dst, s)
	if err != nil {
		out, _ = canon.AppendString(dst, strings.ToValidUTF8(s, "\uFFFD"))
	}
	return out
}
