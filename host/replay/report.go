package replay

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/state"
	"github.com/reprise-dev/reprise/wal"
)

// Report is what a replay found.
type Report struct {
	// Forced is the hex hash of the catalog every record was run under;
	// empty when the replay honoured the activation records.
	Forced string `json:"forced_catalog,omitempty"`
	// Base is where the replay started: "genesis" (an empty state before
	// record 1) or "snapshot" (the state at BaseIndex).
	Base      string `json:"base"`
	BaseIndex uint64 `json:"base_index"`
	// From..To is the range replayed and compared. LeadIn records lie
	// between the base and From: they were applied (and verified) to reach
	// the state at From-1.
	From     uint64 `json:"from"`
	To       uint64 `json:"to"`
	LeadIn   uint64 `json:"lead_in"`
	Replayed uint64 `json:"replayed"`
	// Activations is the number of activation records met in the range.
	Activations uint64 `json:"activations"`
	// StateCompared says whether state hashes were compared with the WAL;
	// StateNote says why not when they were not.
	StateCompared bool   `json:"state_compared"`
	StateNote     string `json:"state_note,omitempty"`
	// FinalStateHash is the state hash after the last record replayed,
	// under FinalCatalog.
	FinalStateHash string     `json:"final_state_hash"`
	FinalCatalog   CatalogRef `json:"final_catalog"`
	// Divergent counts the records whose result (code, output) differs
	// from the WAL, plus the first whose state hash does (the states of
	// later records differ as a consequence and are not counted again).
	Divergent uint64      `json:"divergent"`
	First     *Divergence `json:"first_divergence,omitempty"`
	// Drift lists the activations recorded under a host whose fingerprint
	// differs from the engine that replayed them.
	Drift []Drift `json:"fingerprint_drift,omitempty"`
	// Stopped says why the replay ended before To, if it did.
	Stopped string `json:"stopped,omitempty"`
}

// Clean reports whether the replay reproduced every record.
func (r *Report) Clean() bool { return r.First == nil && r.Stopped == "" }

// CatalogRef names a catalog: its hash and descriptor.
type CatalogRef struct {
	Hash    string `json:"hash"`
	Name    string `json:"name"`
	Version string `json:"version"`
}

func catalogRef(m *host.Module) CatalogRef {
	if m == nil {
		return CatalogRef{}
	}
	return CatalogRef{Hash: m.HashHex(), Name: m.Descriptor.Name, Version: m.Descriptor.Version}
}

func (c CatalogRef) String() string {
	if c.Hash == "" {
		return "no catalog"
	}
	return fmt.Sprintf("%s@%s (%s)", c.Name, c.Version, short(c.Hash))
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

// Divergence is the first record whose replay differs from the WAL.
type Divergence struct {
	Index      uint64 `json:"index"`
	Kind       string `json:"kind"`
	Transition string `json:"transition,omitempty"`
	Inputs     string `json:"inputs,omitempty"`
	// Catalog is the catalog the record names, RanUnder the one that
	// replayed it (they differ when a catalog was forced).
	Catalog  string     `json:"catalog"`
	RanUnder CatalogRef `json:"ran_under"`
	// Reference is set when the record's own catalog, run in lockstep with
	// a forced one, is what failed to reproduce the record.
	Reference bool     `json:"reference,omitempty"`
	Reasons   []string `json:"reasons"`
	Recorded  Result   `json:"recorded"`
	Replayed  Result   `json:"replayed"`
	// StateDiff lists entries that differ, as DiffOf explains; at most
	// the request's MaxDiff, with DiffOmitted more left out.
	DiffOf      string   `json:"diff_of,omitempty"`
	StateDiff   []Change `json:"state_diff,omitempty"`
	DiffOmitted int      `json:"diff_omitted,omitempty"`
}

// Result is a record's outcome as a report shows it.
type Result struct {
	Code      string `json:"code"` // "accepted" or the rejection code
	Detail    string `json:"detail,omitempty"`
	Output    string `json:"output,omitempty"`
	Fuel      uint64 `json:"fuel,omitempty"`
	StateHash string `json:"state_hash"`
	Migrated  *bool  `json:"migrated,omitempty"`
}

func resultOf(o Outcome) Result {
	return Result{Code: codeName(o.Code), Detail: o.Detail, Output: clip(string(o.Output)), Fuel: o.Fuel,
		StateHash: o.StateHash.String(), Migrated: o.Migrated}
}

func (r Result) String() string {
	var b strings.Builder
	b.WriteString(r.Code)
	if r.Detail != "" {
		fmt.Fprintf(&b, " (%s)", r.Detail)
	}
	fmt.Fprintf(&b, ", state hash %s", r.StateHash)
	if r.Output != "" {
		fmt.Fprintf(&b, ", output %s", r.Output)
	}
	if r.Migrated != nil {
		fmt.Fprintf(&b, ", migrated %t", *r.Migrated)
	}
	return b.String()
}

// Change is one entry that differs between two states.
type Change struct {
	Field string `json:"field"`
	Key   string `json:"key,omitempty"`
	// Old and New are canonical JSON values, clipped; empty when the entry
	// is absent on that side.
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
}

func (c Change) String() string {
	name := c.Field
	if c.Key != "" {
		name += "/" + c.Key
	}
	return fmt.Sprintf("%s: %s → %s", name, orAbsent(c.Old), orAbsent(c.New))
}

func orAbsent(s string) string {
	if s == "" {
		return "(absent)"
	}
	return s
}

// Drift is an activation recorded under a host whose fingerprint differs
// from the engine replaying it.
type Drift struct {
	// Index is the activation record (0 when the activation's record is
	// no longer in the WAL and was known from a snapshot).
	Index     uint64           `json:"index"`
	Catalog   CatalogRef       `json:"catalog"`
	Recorded  host.Fingerprint `json:"recorded"`
	Replaying host.Fingerprint `json:"replaying"`
	Diff      []string         `json:"diff"`
}

// maxValueChars bounds one value or output shown in a report.
const maxValueChars = 160

// clip shortens s to maxValueChars, marking the cut.
func clip(s string) string {
	if len(s) <= maxValueChars {
		return s
	}
	cut := maxValueChars
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("…(%d bytes)", len(s))
}

// diffStates lists the entries where a and b differ, in field and key
// order, at most limit of them, and how many more there were.
func diffStates(a, b *state.State, limit int) ([]Change, int) {
	ea, eb := a.Entries(), b.Entries()
	var out []Change
	omitted := 0
	add := func(c Change) {
		if len(out) < limit {
			out = append(out, c)
		} else {
			omitted++
		}
	}
	i, j := 0, 0
	for i < len(ea) || j < len(eb) {
		var cmp int
		switch {
		case i == len(ea):
			cmp = 1
		case j == len(eb):
			cmp = -1
		default:
			cmp = abi.CompareEntry(ea[i].Field, ea[i].Key, eb[j].Field, eb[j].Key)
		}
		switch {
		case cmp < 0:
			add(Change{Field: ea[i].Field, Key: ea[i].Key, Old: clip(string(ea[i].Value))})
			i++
		case cmp > 0:
			add(Change{Field: eb[j].Field, Key: eb[j].Key, New: clip(string(eb[j].Value))})
			j++
		default:
			if string(ea[i].Value) != string(eb[j].Value) {
				add(Change{Field: ea[i].Field, Key: ea[i].Key, Old: clip(string(ea[i].Value)), New: clip(string(eb[j].Value))})
			}
			i++
			j++
		}
	}
	return out, omitted
}

// diffDelta lists what a delta changed, given the entries it replaced.
func diffDelta(prev, delta []abi.Change, limit int) ([]Change, int) {
	var out []Change
	omitted := 0
	for i, c := range delta {
		ch := Change{Field: c.Field, Key: c.Key}
		if i < len(prev) && !prev[i].Deleted {
			ch.Old = clip(string(prev[i].Value))
		}
		if !c.Deleted {
			ch.New = clip(string(c.Value))
		}
		if len(out) < limit {
			out = append(out, ch)
		} else {
			omitted++
		}
	}
	return out, omitted
}

func newDivergence(rec *wal.Record, st *Step, ranUnder *host.Module) *Divergence {
	d := &Divergence{
		Index: rec.Index, Kind: rec.Kind.String(), Transition: rec.Transition, Inputs: clip(string(rec.Inputs)),
		Catalog: HashHex(rec.CatalogHash), RanUnder: catalogRef(ranUnder),
		Reasons: st.Differences, Recorded: resultOf(Recorded(rec)), Replayed: resultOf(st.Replayed),
	}
	return d
}

// Text renders the report for people: one fact a line.
func (r *Report) Text() string {
	var b strings.Builder
	base := "genesis"
	if r.Base == "snapshot" {
		base = fmt.Sprintf("the snapshot at index %d", r.BaseIndex)
	}
	mode := "honouring activation records"
	if r.Forced != "" {
		mode = "under forced catalog " + r.Forced + ", the records' own catalogs running in lockstep as the reference"
	}
	if r.Replayed == 0 {
		fmt.Fprintf(&b, "replayed no records (range %d..%d) from %s, %s\n", r.From, r.To, base, mode)
	} else {
		fmt.Fprintf(&b, "replayed records %d..%d (%d records, %d activations) from %s, %s\n", r.From, r.From+r.Replayed-1, r.Replayed, r.Activations, base, mode)
	}
	if r.LeadIn > 0 {
		fmt.Fprintf(&b, "applied %d records before the range to reach its start\n", r.LeadIn)
	}
	fmt.Fprintf(&b, "final state hash %s under %s\n", r.FinalStateHash, r.FinalCatalog)
	if !r.StateCompared {
		fmt.Fprintf(&b, "state hashes not compared: %s\n", r.StateNote)
	}
	if r.First == nil {
		b.WriteString("no divergence\n")
	} else {
		d := r.First
		fmt.Fprintf(&b, "%d divergent records; the first is record %d (%s", r.Divergent, d.Index, d.Kind)
		if d.Transition != "" {
			fmt.Fprintf(&b, " %s", d.Transition)
		}
		if d.Inputs != "" {
			fmt.Fprintf(&b, " %s", d.Inputs)
		}
		fmt.Fprintf(&b, ") of catalog %s, replayed under %s", short(d.Catalog), d.RanUnder)
		if d.Reference {
			b.WriteString(" (the record's own catalog: the reference does not reproduce the WAL)")
		}
		b.WriteString("\n")
		for _, reason := range d.Reasons {
			fmt.Fprintf(&b, "  %s\n", reason)
		}
		fmt.Fprintf(&b, "  recorded: %s\n", d.Recorded)
		fmt.Fprintf(&b, "  replayed: %s\n", d.Replayed)
		if len(d.StateDiff) > 0 {
			fmt.Fprintf(&b, "  %s:\n", d.DiffOf)
			for _, c := range d.StateDiff {
				fmt.Fprintf(&b, "    %s\n", c)
			}
			if d.DiffOmitted > 0 {
				fmt.Fprintf(&b, "    … %d more\n", d.DiffOmitted)
			}
		}
	}
	for _, dr := range r.Drift {
		where := fmt.Sprintf("activation record %d", dr.Index)
		if dr.Index == 0 {
			where = "the activation in force at the base snapshot"
		}
		fmt.Fprintf(&b, "fingerprint drift: %s of %s was recorded under another host: %s\n", where, dr.Catalog, strings.Join(dr.Diff, "; "))
	}
	if r.Stopped != "" {
		fmt.Fprintf(&b, "stopped early: %s\n", r.Stopped)
	}
	return b.String()
}
