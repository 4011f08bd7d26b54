package swoosh_test

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/abi/canon"
	"github.com/reprise-dev/reprise/catalogs/swoosh"
	"github.com/reprise-dev/reprise/guest"
)

// baseTime is the timestamp the tests' proposals start from: 2024-01-01.
const baseTime = int64(1704067200) * 1e9

// machine drives a runner through the abi encodings the way the executor
// does: each proposal carries the index it will have if accepted, a
// timestamp and (unless told otherwise) a fresh, increasing HLC.
type machine struct {
	t     testing.TB
	r     *guest.Runner
	index uint64         // index of the last accepted proposal
	ts    int64          // unix nanoseconds of the next proposal
	clock uint64         // physical part of the next HLC
	log   []abi.Proposal // accepted proposals, as applied
}

func newMachine(t testing.TB) *machine {
	return &machine{t: t, r: guest.NewRunner(swoosh.Catalog), ts: baseTime, clock: 1}
}

func hlc(physical uint64) string { return fmt.Sprintf("%x-0-0000000000000001", physical) }

// nextHLC is the HLC the next proposal carries by default.
func (m *machine) nextHLC() string { return hlc(m.clock) }

// submit applies p as it stands, filling in index and timestamp.
func (m *machine) submit(p abi.Proposal) abi.Result {
	m.t.Helper()
	p.Index = m.index + 1
	if p.Timestamp == 0 {
		p.Timestamp = m.ts
	}
	res, err := abi.DecodeResult(bytes.Clone(m.r.Apply(abi.AppendProposal(nil, &p))))
	if err != nil {
		m.t.Fatalf("%s %s: result does not decode: %v", p.Transition, p.Inputs, err)
	}
	if res.Accepted() {
		m.index++
		m.log = append(m.log, p)
	}
	m.ts += 1e9
	return res
}

// do submits a transition with a fresh HLC; inputs is JSON text or a
// value to encode.
func (m *machine) do(transition string, inputs any) abi.Result {
	m.t.Helper()
	p := abi.Proposal{Transition: transition, Inputs: encode(m.t, inputs), HLC: m.nextHLC()}
	m.clock++
	return m.submit(p)
}

func (m *machine) mustDo(transition string, inputs any) abi.Result {
	m.t.Helper()
	res := m.do(transition, inputs)
	if !res.Accepted() {
		m.t.Fatalf("%s %s: refused with %v: %s", transition, encode(m.t, inputs), res.Code, res.Detail)
	}
	return res
}

// refuse requires the transition to be refused with code, with a detail
// mentioning each of mention, and the state to be left byte-identical.
func (m *machine) refuse(code abi.Code, transition string, inputs any, mention ...string) abi.Result {
	m.t.Helper()
	before := m.export()
	res := m.do(transition, inputs)
	if res.Code != code {
		m.t.Fatalf("%s %s: got %v (%s), want %v", transition, encode(m.t, inputs), res.Code, res.Detail, code)
	}
	for _, s := range mention {
		if !strings.Contains(res.Detail, s) {
			m.t.Errorf("%s: detail %q does not mention %q", transition, res.Detail, s)
		}
	}
	if len(res.Delta) != 0 || len(res.Output) != 0 {
		m.t.Errorf("%s: refusal carries delta %v output %q", transition, res.Delta, res.Output)
	}
	if after := m.export(); !bytes.Equal(before, after) {
		m.t.Fatalf("%s: a refused transition changed the state", transition)
	}
	return res
}

func (m *machine) export() []byte { return bytes.Clone(m.r.ExportState()) }

func (m *machine) state() snapshot {
	m.t.Helper()
	s, err := decodeSnapshot(m.export())
	if err != nil {
		m.t.Fatal(err)
	}
	return s
}

func encode(t testing.TB, inputs any) []byte {
	t.Helper()
	switch v := inputs.(type) {
	case nil:
		return nil
	case string:
		return []byte(v)
	case []byte:
		return v
	}
	b, err := canon.Marshal(inputs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// snapshot is the whole state, decoded; a nil section was never set.
type snapshot struct {
	Meta        *swoosh.Meta
	Boot        *swoosh.Boot
	Ingestion   *swoosh.Ingestion
	Council     *swoosh.Council
	Environment *swoosh.Environment
	Execution   *swoosh.Execution
	Policy      *swoosh.Policy
	HLCLast     *string
	Claims      map[string]swoosh.Claim
	Submissions map[string]swoosh.Submission
}

func decodeSnapshot(state []byte) (snapshot, error) {
	entries, err := abi.DecodeState(state)
	if err != nil {
		return snapshot{}, err
	}
	return snapshotOf(entries)
}

func snapshotOf(entries []abi.Entry) (snapshot, error) {
	s := snapshot{Claims: map[string]swoosh.Claim{}, Submissions: map[string]swoosh.Submission{}}
	for _, e := range entries {
		var target any
		switch e.Field {
		case "meta":
			s.Meta = new(swoosh.Meta)
			target = s.Meta
		case "boot":
			s.Boot = new(swoosh.Boot)
			target = s.Boot
		case "ingestion":
			s.Ingestion = new(swoosh.Ingestion)
			target = s.Ingestion
		case "council":
			s.Council = new(swoosh.Council)
			target = s.Council
		case "environment":
			s.Environment = new(swoosh.Environment)
			target = s.Environment
		case "execution":
			s.Execution = new(swoosh.Execution)
			target = s.Execution
		case "policy":
			s.Policy = new(swoosh.Policy)
			target = s.Policy
		case "hlc_last":
			s.HLCLast = new(string)
			target = s.HLCLast
		case "council_claims":
			var c swoosh.Claim
			if err := canon.Unmarshal(e.Value, &c); err != nil {
				return s, fmt.Errorf("council_claims/%s: %w", e.Key, err)
			}
			s.Claims[e.Key] = c
			continue
		case "submissions":
			var sub swoosh.Submission
			if err := canon.Unmarshal(e.Value, &sub); err != nil {
				return s, fmt.Errorf("submissions/%s: %w", e.Key, err)
			}
			s.Submissions[e.Key] = sub
			continue
		default:
			return s, fmt.Errorf("unexpected state field %q", e.Field)
		}
		if e.Key != "" {
			return s, fmt.Errorf("value field %q has key %q", e.Field, e.Key)
		}
		if err := canon.Unmarshal(e.Value, target); err != nil {
			return s, fmt.Errorf("%s: %w", e.Field, err)
		}
	}
	return s, nil
}

// phase helpers read a possibly unset section.
func (s snapshot) bootPhase() string {
	if s.Boot == nil {
		return swoosh.PhaseUninitialized
	}
	return s.Boot.Phase
}

func (s snapshot) regionPhase(region string) string {
	switch region {
	case "ingestion":
		if s.Ingestion != nil {
			return s.Ingestion.Phase
		}
	case "council":
		if s.Council != nil {
			return s.Council.Phase
		}
	case "environment":
		if s.Environment != nil {
			return s.Environment.Phase
		}
	case "execution":
		if s.Execution != nil {
			return s.Execution.Phase
		}
	}
	return ""
}

func (s snapshot) epoch(region string) uint64 {
	switch region {
	case "ingestion":
		if s.Ingestion != nil {
			return s.Ingestion.Epoch
		}
	case "council":
		if s.Council != nil {
			return s.Council.Epoch
		}
	case "environment":
		if s.Environment != nil {
			return s.Environment.Epoch
		}
	}
	return 0
}

func (s snapshot) quarantined() bool { return s.Policy != nil && s.Policy.Quarantined }

func (s snapshot) hlcLast() string {
	if s.HLCLast == nil {
		return ""
	}
	return *s.HLCLast
}

// diff describes how two snapshots differ, section by section.
func diff(got, want snapshot) string {
	var out []string
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := 0; i < gv.NumField(); i++ {
		g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
		if !reflect.DeepEqual(g, w) {
			out = append(out, fmt.Sprintf("%s:\n   got %s\n  want %s", gv.Type().Field(i).Name, show(g), show(w)))
		}
	}
	return strings.Join(out, "\n")
}

func show(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "unset"
		}
		v = rv.Elem().Interface()
	}
	b, err := canon.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

func ptr[T any](v T) *T { return &v }

func formatDelta(delta []abi.Change) string {
	parts := make([]string, len(delta))
	for i, c := range delta {
		if c.Deleted {
			parts[i] = c.Field + "/" + strconv.Quote(c.Key) + " deleted"
		} else {
			parts[i] = c.Field + "/" + strconv.Quote(c.Key) + "=" + string(c.Value)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
