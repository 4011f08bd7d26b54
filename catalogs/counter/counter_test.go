package counter_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/abi/canon"
	"github.com/reprise-dev/reprise/catalogs/counter"
	"github.com/reprise-dev/reprise/guest"
	"github.com/reprise-dev/reprise/host/state"
)

const (
	increment = "TRANSITION_INCREMENT"
	reset     = "TRANSITION_RESET"
)

// apply runs one proposal through the runner's encoded interface, as the
// wasm exports do, and decodes the verdict.
func apply(t *testing.T, r *guest.Runner, transition, inputs string) abi.Result {
	t.Helper()
	req := abi.AppendProposal(nil, &abi.Proposal{Transition: transition, Inputs: []byte(inputs)})
	// The runner reuses its output buffer: copy before the next call.
	res, err := abi.DecodeResult(bytes.Clone(r.Apply(req)))
	if err != nil {
		t.Fatalf("%s %s: result does not decode: %v", transition, inputs, err)
	}
	return res
}

func mustAccept(t *testing.T, r *guest.Runner, transition, inputs string) abi.Result {
	t.Helper()
	res := apply(t, r, transition, inputs)
	if !res.Accepted() {
		t.Fatalf("%s %s: rejected with %v: %s", transition, inputs, res.Code, res.Detail)
	}
	return res
}

func exported(t *testing.T, r *guest.Runner) []byte {
	t.Helper()
	return bytes.Clone(r.ExportState())
}

func entries(t *testing.T, r *guest.Runner) []abi.Entry {
	t.Helper()
	es, err := abi.DecodeState(exported(t, r))
	if err != nil {
		t.Fatalf("exported state does not decode: %v", err)
	}
	return es
}

// view renders the runner's exported state the way the host shows it.
func view(t *testing.T, r *guest.Runner) string {
	t.Helper()
	d := counter.Catalog.Descriptor()
	return string(state.FromEntries(entries(t, r)).View(&d))
}

// seed replaces the runner's state with the given totals through the
// import path the host uses to restore a snapshot.
func seed(t *testing.T, r *guest.Runner, totals map[string]int64) {
	t.Helper()
	keys := make([]string, 0, len(totals))
	for k := range totals {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	req := abi.ImportRequest{From: abi.CatalogRef{Name: counter.Catalog.Name(), Version: counter.Catalog.Version()}}
	for _, k := range keys {
		req.Entries = append(req.Entries, abi.Entry{Field: "counts", Key: k, Value: strconv.AppendInt(nil, totals[k], 10)})
	}
	res, err := abi.DecodeResult(bytes.Clone(r.ImportState(abi.AppendImport(nil, &req))))
	if err != nil {
		t.Fatalf("import result does not decode: %v", err)
	}
	if !res.Accepted() {
		t.Fatalf("import rejected with %v: %s", res.Code, res.Detail)
	}
}

func TestDescriptor(t *testing.T) {
	r := guest.NewRunner(counter.Catalog)
	var d abi.Descriptor
	if err := canon.Unmarshal(r.Describe(), &d); err != nil {
		t.Fatalf("descriptor does not decode: %v", err)
	}
	if err := d.Check(); err != nil {
		t.Fatal(err)
	}
	if d.Name != "counter" || d.Version != "1.0.0" || d.ABI != abi.Version {
		t.Fatalf("identity %s@%s abi %d, want counter@1.0.0 abi %d", d.Name, d.Version, d.ABI, abi.Version)
	}
	if f, ok := d.Field("counts"); !ok || f.Kind != abi.FieldMap || len(d.Fields) != 1 {
		t.Fatalf("fields %+v, want the one map field counts", d.Fields)
	}
	if got := d.TransitionNames(); !slices.Equal(got, []string{increment, reset}) {
		t.Fatalf("transitions %v", got)
	}
	wantInputs := map[string][]abi.InputInfo{
		increment: {{Name: "by", Type: "integer"}, {Name: "key", Type: "string"}},
		reset:     {{Name: "key", Type: "string"}},
	}
	for _, tr := range d.Transitions {
		if !slices.Equal(tr.Inputs, wantInputs[tr.Name]) {
			t.Errorf("%s inputs %+v, want %+v", tr.Name, tr.Inputs, wantInputs[tr.Name])
		}
		if tr.Doc == "" {
			t.Errorf("%s has no documentation", tr.Name)
		}
	}
}

func TestIncrementReportsNewTotal(t *testing.T) {
	r := guest.NewRunner(counter.Catalog)
	res := mustAccept(t, r, increment, `{"by":5,"key":"a"}`)
	want := []abi.Change{{Field: "counts", Key: "a", Value: []byte("5")}}
	if !equalDelta(res.Delta, want) {
		t.Fatalf("delta %s, want %s", formatDelta(res.Delta), formatDelta(want))
	}
	if len(res.Output) != 0 || res.Detail != "" {
		t.Fatalf("accepted increment has output %q detail %q", res.Output, res.Detail)
	}
	res = mustAccept(t, r, increment, `{"by":1000000,"key":"a"}`)
	want = []abi.Change{{Field: "counts", Key: "a", Value: []byte("1000005")}}
	if !equalDelta(res.Delta, want) {
		t.Fatalf("delta %s, want %s", formatDelta(res.Delta), formatDelta(want))
	}
	mustAccept(t, r, increment, `{"by":2,"key":"b"}`)
	if got, want := view(t, r), `{"counts":{"a":1000005,"b":2}}`; got != want {
		t.Fatalf("view %s, want %s", got, want)
	}
}

func TestGuardRefusals(t *testing.T) {
	cases := []struct {
		name, transition, inputs string
		mention                  []string // the detail must contain each
	}{
		{"increment empty key", increment, `{"by":1,"key":""}`, []string{"key", "empty"}},
		{"increment missing key", increment, `{"by":1}`, []string{"key", "empty"}},
		{"increment no inputs", increment, ``, []string{"key", "empty"}},
		{"by zero", increment, `{"by":0,"key":"a"}`, []string{"by", "1000000", "got 0"}},
		{"by above maximum", increment, `{"by":1000001,"key":"a"}`, []string{"by", "1000000", "got 1000001"}},
		{"by negative", increment, `{"by":-3,"key":"a"}`, []string{"by", "got -3"}},
		{"by most negative", increment, `{"by":-9223372036854775808,"key":"a"}`, []string{"by", "got -9223372036854775808"}},
		{"by missing", increment, `{"key":"a"}`, []string{"by", "got 0"}},
		{"reset empty key", reset, `{"key":""}`, []string{"key", "empty"}},
		{"reset no inputs", reset, ``, []string{"key", "empty"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := guest.NewRunner(counter.Catalog)
			mustAccept(t, r, increment, `{"by":7,"key":"a"}`)
			before := exported(t, r)
			res := apply(t, r, c.transition, c.inputs)
			if res.Code != abi.GuardRejected {
				t.Fatalf("code %v (%s), want %v", res.Code, res.Detail, abi.GuardRejected)
			}
			for _, m := range c.mention {
				if !strings.Contains(res.Detail, m) {
					t.Errorf("detail %q does not mention %q", res.Detail, m)
				}
			}
			if len(res.Delta) != 0 || len(res.Output) != 0 {
				t.Errorf("rejection carries delta %s output %q", formatDelta(res.Delta), res.Output)
			}
			if after := exported(t, r); !bytes.Equal(before, after) {
				t.Errorf("state changed by a refused proposal")
			}
		})
	}
}

func TestOverflowIsRefusedAndLeavesStateUnchanged(t *testing.T) {
	r := guest.NewRunner(counter.Catalog)
	seed(t, r, map[string]int64{"big": math.MaxInt64 - 5, "other": 1})
	before := exported(t, r)

	res := apply(t, r, increment, `{"by":6,"key":"big"}`)
	if res.Code != abi.PreconditionFailed {
		t.Fatalf("code %v (%s), want %v", res.Code, res.Detail, abi.PreconditionFailed)
	}
	if !strings.Contains(res.Detail, `"big"`) || !strings.Contains(res.Detail, "overflow") {
		t.Errorf("detail %q does not name the key and the overflow", res.Detail)
	}
	if len(res.Delta) != 0 {
		t.Errorf("rejection carries delta %s", formatDelta(res.Delta))
	}
	if !bytes.Equal(before, exported(t, r)) {
		t.Fatal("state changed by a refused increment")
	}

	// The largest increment that still fits is accepted, exactly.
	res = mustAccept(t, r, increment, `{"by":5,"key":"big"}`)
	want := []abi.Change{{Field: "counts", Key: "big", Value: []byte("9223372036854775807")}}
	if !equalDelta(res.Delta, want) {
		t.Fatalf("delta %s, want %s", formatDelta(res.Delta), formatDelta(want))
	}
	before = exported(t, r)
	if res := apply(t, r, increment, `{"by":1,"key":"big"}`); res.Code != abi.PreconditionFailed {
		t.Fatalf("increment past MaxInt64: code %v (%s), want %v", res.Code, res.Detail, abi.PreconditionFailed)
	}
	if !bytes.Equal(before, exported(t, r)) {
		t.Fatal("state changed by a refused increment")
	}
	if got, want := view(t, r), `{"counts":{"big":9223372036854775807,"other":1}}`; got != want {
		t.Fatalf("view %s, want %s", got, want)
	}
}

func TestReset(t *testing.T) {
	r := guest.NewRunner(counter.Catalog)
	mustAccept(t, r, increment, `{"by":3,"key":"a"}`)
	mustAccept(t, r, increment, `{"by":4,"key":"b"}`)

	res := mustAccept(t, r, reset, `{"key":"a"}`)
	want := []abi.Change{{Field: "counts", Key: "a", Deleted: true}}
	if !equalDelta(res.Delta, want) {
		t.Fatalf("delta %s, want %s", formatDelta(res.Delta), formatDelta(want))
	}
	if got, want := view(t, r), `{"counts":{"b":4}}`; got != want {
		t.Fatalf("view after reset %s, want %s", got, want)
	}

	before := exported(t, r)
	res = mustAccept(t, r, reset, `{"key":"a"}`)
	if len(res.Delta) != 0 {
		t.Fatalf("resetting an absent key reported delta %s", formatDelta(res.Delta))
	}
	res = mustAccept(t, r, reset, `{"key":"never-set"}`)
	if len(res.Delta) != 0 {
		t.Fatalf("resetting a never-set key reported delta %s", formatDelta(res.Delta))
	}
	if !bytes.Equal(before, exported(t, r)) {
		t.Fatal("resetting an absent key changed the state")
	}

	// A reset key starts again from zero.
	res = mustAccept(t, r, increment, `{"by":2,"key":"a"}`)
	want = []abi.Change{{Field: "counts", Key: "a", Value: []byte("2")}}
	if !equalDelta(res.Delta, want) {
		t.Fatalf("delta %s, want %s", formatDelta(res.Delta), formatDelta(want))
	}

	mustAccept(t, r, reset, `{"key":"a"}`)
	mustAccept(t, r, reset, `{"key":"b"}`)
	if got, want := view(t, r), `{"counts":{}}`; got != want {
		t.Fatalf("view of the empty state %s, want %s", got, want)
	}
	if n := len(entries(t, r)); n != 0 {
		t.Fatalf("%d entries left after resetting every key", n)
	}
}

func TestMalformedInputsAreInvalid(t *testing.T) {
	cases := []struct {
		name, transition, inputs string
		mention                  string // the detail must contain it
	}{
		{"unknown field", increment, `{"by":1,"extra":true,"key":"a"}`, "extra"},
		{"field in other case", increment, `{"By":1,"key":"a"}`, "By"},
		{"by as string", increment, `{"by":"1","key":"a"}`, "by"},
		{"by with fraction", increment, `{"by":1.5,"key":"a"}`, "by"},
		{"by with exponent", increment, `{"by":1e3,"key":"a"}`, "by"},
		{"by beyond int64", increment, `{"by":9223372036854775808,"key":"a"}`, "by"},
		{"by as boolean", increment, `{"by":true,"key":"a"}`, "by"},
		{"key as number", increment, `{"by":1,"key":1}`, "key"},
		{"key as object", increment, `{"by":1,"key":{}}`, "key"},
		{"duplicate member", increment, `{"by":1,"key":"a","key":"b"}`, "duplicate key"},
		{"array instead of object", increment, `[1,"a"]`, "array"},
		{"truncated", increment, `{"by":1,"key":`, "end of input"},
		{"trailing data", increment, `{"by":1,"key":"a"}{}`, "after top-level value"},
		{"invalid utf-8 key", increment, "{\"by\":1,\"key\":\"\xff\"}", "UTF-8"},
		{"reset with by", reset, `{"by":1,"key":"a"}`, "by"},
		{"reset key as number", reset, `{"key":7}`, "key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := guest.NewRunner(counter.Catalog)
			mustAccept(t, r, increment, `{"by":7,"key":"a"}`)
			before := exported(t, r)
			res := apply(t, r, c.transition, c.inputs)
			if res.Code != abi.InvalidInputs {
				t.Fatalf("code %v (%s), want %v", res.Code, res.Detail, abi.InvalidInputs)
			}
			if res.Detail == "" || !strings.Contains(res.Detail, c.mention) {
				t.Errorf("detail %q does not mention %q", res.Detail, c.mention)
			}
			if len(res.Delta) != 0 {
				t.Errorf("rejection carries delta %s", formatDelta(res.Delta))
			}
			if !bytes.Equal(before, exported(t, r)) {
				t.Errorf("state changed by invalid inputs")
			}
		})
	}
}

func TestUnknownTransition(t *testing.T) {
	r := guest.NewRunner(counter.Catalog)
	res := apply(t, r, "TRANSITION_DECREMENT", `{"by":1,"key":"a"}`)
	if res.Code != abi.UnknownTransition || !strings.Contains(res.Detail, "TRANSITION_DECREMENT") {
		t.Fatalf("code %v detail %q, want %v naming the transition", res.Code, res.Detail, abi.UnknownTransition)
	}
}

// TestMatchesMapModel drives the catalog with random operations (valid and
// invalid, from a fixed seed) and checks every verdict and delta against a
// plain map, then the final state three ways: the export, the host's read
// model fed only with deltas, and the model.
func TestMatchesMapModel(t *testing.T) {
	const ops = 2000
	rng := rand.New(rand.NewPCG(20240611, 7))
	keys := []string{"a", "b", "c", "d", "e", "with space", "ünï", ""}

	r := guest.NewRunner(counter.Catalog)
	model := map[string]int64{}
	readModel := state.New()
	var accepted, refused int

	for i := range ops {
		key := keys[rng.IntN(len(keys))]
		var transition, inputs string
		wantCode := abi.OK
		var wantDelta []abi.Change

		if rng.IntN(5) == 0 {
			transition = reset
			inputs = string(mustMarshal(t, counter.ResetInputs{Key: key}))
			switch _, present := model[key]; {
			case key == "":
				wantCode = abi.GuardRejected
			case present:
				wantDelta = []abi.Change{{Field: "counts", Key: key, Deleted: true}}
				delete(model, key)
			}
		} else {
			var by int64
			switch rng.IntN(10) {
			case 0:
				by = []int64{0, -1, counter.MaxIncrement + 1, math.MinInt64, math.MaxInt64}[rng.IntN(5)]
			case 1:
				by = []int64{1, counter.MaxIncrement}[rng.IntN(2)]
			default:
				by = 1 + rng.Int64N(counter.MaxIncrement)
			}
			transition = increment
			inputs = string(mustMarshal(t, counter.IncrementInputs{Key: key, By: by}))
			if key == "" || by < 1 || by > counter.MaxIncrement {
				wantCode = abi.GuardRejected
			} else {
				model[key] += by
				wantDelta = []abi.Change{{Field: "counts", Key: key, Value: strconv.AppendInt(nil, model[key], 10)}}
			}
		}

		res := apply(t, r, transition, inputs)
		if res.Code != wantCode || !equalDelta(res.Delta, wantDelta) {
			t.Fatalf("op %d %s %s: got %v %q delta %s, want %v delta %s",
				i, transition, inputs, res.Code, res.Detail, formatDelta(res.Delta), wantCode, formatDelta(wantDelta))
		}
		if res.Accepted() {
			accepted++
			readModel.Apply(res.Delta)
		} else {
			refused++
		}
	}
	if accepted == 0 || refused == 0 {
		t.Fatalf("the operations exercised only one outcome (%d accepted, %d refused)", accepted, refused)
	}

	got := map[string]int64{}
	for _, e := range entries(t, r) {
		if e.Field != "counts" {
			t.Fatalf("unexpected field %q in the export", e.Field)
		}
		n, err := strconv.ParseInt(string(e.Value), 10, 64)
		if err != nil {
			t.Fatalf("key %q holds %q, not an integer", e.Key, e.Value)
		}
		got[e.Key] = n
	}
	if len(got) != len(model) {
		t.Fatalf("export has %d keys, model %d", len(got), len(model))
	}
	for k, want := range model {
		if got[k] != want {
			t.Errorf("total of %q: catalog %d, model %d", k, got[k], want)
		}
	}

	d := counter.Catalog.Descriptor()
	fromExport := state.FromEntries(entries(t, r))
	wantView := mustMarshal(t, map[string]map[string]int64{"counts": model})
	if v := fromExport.View(&d); !bytes.Equal(v, wantView) {
		t.Errorf("view of the export %s, want %s", v, wantView)
	}
	if v := readModel.View(&d); !bytes.Equal(v, wantView) {
		t.Errorf("view of the deltas %s, want %s", v, wantView)
	}
	if readModel.Hash() != fromExport.Hash() {
		t.Errorf("state hash from deltas %s differs from hash of the export %s", readModel.Hash(), fromExport.Hash())
	}
	t.Logf("%d operations: %d accepted, %d refused, %d keys", ops, accepted, refused, len(model))
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := canon.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func equalDelta(a, b []abi.Change) bool {
	return slices.EqualFunc(a, b, func(x, y abi.Change) bool {
		return x.Field == y.Field && x.Key == y.Key && x.Deleted == y.Deleted && bytes.Equal(x.Value, y.Value)
	})
}

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
