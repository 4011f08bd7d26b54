package guest_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/guest"
)

// A test catalog with transitions that misbehave in every way the SDK
// must contain.
var (
	cat   = guest.NewCatalog("sdk-test", "1.0.0", "exercises the SDK")
	items = guest.NewMap[int64](cat, "items", "numbered items")
	phase = guest.NewValue[string](cat, "phase", "a phase")
)

type setIn struct {
	Key string `json:"key"`
	N   int64  `json:"n"`
}

func init() {
	guest.Transition(cat, "TRANSITION_SET", guest.Handler[setIn]{
		Guard: func(tx *guest.Tx, in setIn) error {
			if in.Key == "" {
				return errors.New("empty key")
			}
			return nil
		},
		Apply: func(tx *guest.Tx, in setIn) error {
			items.Set(tx, in.Key, in.N)
			tx.SetOutput(map[string]int64{"n": in.N})
			return nil
		},
	})
	guest.Transition(cat, "TRANSITION_WRITE_THEN_FAIL", guest.Handler[setIn]{
		Apply: func(tx *guest.Tx, in setIn) error {
			items.Set(tx, in.Key, in.N)
			items.Delete(tx, "keep")
			phase.Set(tx, "changed")
			return guest.Rejectf(guest.InvalidPhase, "phase is %s", "wrong")
		},
	})
	guest.Transition(cat, "TRANSITION_WRITE_THEN_PANIC", guest.Handler[setIn]{
		Apply: func(tx *guest.Tx, in setIn) error {
			items.Set(tx, in.Key, in.N)
			var none []int64
			items.Set(tx, "boom", none[in.N]) // index out of range: a runtime panic
			return nil
		},
	})
	guest.Transition(cat, "TRANSITION_GUARD_WRITES", guest.Handler[struct{}]{
		Guard: func(tx *guest.Tx, _ struct{}) error {
			phase.Set(tx, "sneaky")
			return nil
		},
		Apply: func(tx *guest.Tx, _ struct{}) error { return nil },
	})
	guest.Transition(cat, "TRANSITION_SET_SAME", guest.Handler[struct{}]{
		Apply: func(tx *guest.Tx, _ struct{}) error {
			v, _ := items.Get(tx, "keep")
			items.Set(tx, "keep", v) // same bytes: no change
			items.Set(tx, "tmp", 1)
			items.Delete(tx, "tmp") // created and removed: no change
			return nil
		},
	})
}

func apply(t *testing.T, r *guest.Runner, name, inputs string) abi.Result {
	t.Helper()
	req := abi.AppendProposal(nil, &abi.Proposal{Transition: name, Inputs: []byte(inputs)})
	res, err := abi.DecodeResult(append([]byte(nil), r.Apply(req)...))
	if err != nil {
		t.Fatalf("%s: result does not decode: %v", name, err)
	}
	return res
}

func exported(r *guest.Runner) []byte { return append([]byte(nil), r.ExportState()...) }

func newSeeded(t *testing.T) *guest.Runner {
	r := guest.NewRunner(cat)
	if res := apply(t, r, "TRANSITION_SET", `{"key":"keep","n":7}`); !res.Accepted() {
		t.Fatalf("seed rejected: %v %s", res.Code, res.Detail)
	}
	return r
}

func TestAcceptedTransitionReportsDeltaAndOutput(t *testing.T) {
	r := newSeeded(t)
	res := apply(t, r, "TRANSITION_SET", `{"key":"a","n":3}`)
	if !res.Accepted() || len(res.Delta) != 1 || res.Delta[0].Field != "items" || res.Delta[0].Key != "a" || string(res.Delta[0].Value) != "3" {
		t.Fatalf("unexpected result %+v", res)
	}
	if string(res.Output) != `{"n":3}` {
		t.Fatalf("output %s", res.Output)
	}
}

func TestRejectionsLeaveStateExactlyAsItWas(t *testing.T) {
	cases := []struct {
		name, transition, inputs string
		code                     abi.Code
	}{
		{"guard error", "TRANSITION_SET", `{"key":"","n":1}`, abi.GuardRejected},
		{"mutation then rejection", "TRANSITION_WRITE_THEN_FAIL", `{"key":"x","n":1}`, abi.InvalidPhase},
		{"mutation then panic", "TRANSITION_WRITE_THEN_PANIC", `{"key":"keep","n":99}`, abi.GuestPanic},
		{"guard writes", "TRANSITION_GUARD_WRITES", ``, abi.GuestPanic},
		{"unknown transition", "TRANSITION_NOPE", ``, abi.UnknownTransition},
		{"unknown input field", "TRANSITION_SET", `{"key":"a","n":1,"extra":true}`, abi.InvalidInputs},
		{"wrong input type", "TRANSITION_SET", `{"key":"a","n":"1"}`, abi.InvalidInputs},
		{"malformed inputs", "TRANSITION_SET", `{"key":`, abi.InvalidInputs},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newSeeded(t)
			before := exported(r)
			res := apply(t, r, c.transition, c.inputs)
			if res.Code != c.code || len(res.Delta) != 0 {
				t.Fatalf("got code %v detail %q delta %v, want %v", res.Code, res.Detail, res.Delta, c.code)
			}
			if res.Detail == "" {
				t.Fatal("rejection without a detail")
			}
			if after := exported(r); !bytes.Equal(before, after) {
				t.Fatalf("state changed by a rejected transition:\nbefore %q\nafter  %q", before, after)
			}
			// The runner keeps working.
			if res := apply(t, r, "TRANSITION_SET", `{"key":"b","n":2}`); !res.Accepted() {
				t.Fatalf("next transition rejected: %v", res)
			}
		})
	}
}

func TestNoOpTransitionHasEmptyDelta(t *testing.T) {
	r := newSeeded(t)
	before := exported(r)
	res := apply(t, r, "TRANSITION_SET_SAME", "")
	if !res.Accepted() || len(res.Delta) != 0 {
		t.Fatalf("got %+v, want accepted with empty delta", res)
	}
	if !bytes.Equal(before, exported(r)) {
		t.Fatal("state changed")
	}
}

func TestExportImportRoundTrip(t *testing.T) {
	r := newSeeded(t)
	apply(t, r, "TRANSITION_SET", `{"key":"z","n":-5}`)
	state := exported(r)
	entries, err := abi.DecodeState(state)
	if err != nil {
		t.Fatal(err)
	}
	r2 := guest.NewRunner(cat)
	req := abi.AppendImport(nil, &abi.ImportRequest{From: abi.CatalogRef{Name: "sdk-test", Version: "1.0.0"}, Entries: entries})
	res, err := abi.DecodeResult(r2.ImportState(req))
	if err != nil || !res.Accepted() {
		t.Fatalf("import: %v %+v", err, res)
	}
	if !bytes.Equal(state, exported(r2)) {
		t.Fatal("imported state differs")
	}
}

func TestImportRefusesForeignStateAndKeepsOwn(t *testing.T) {
	r := newSeeded(t)
	before := exported(r)
	for _, req := range []abi.ImportRequest{
		{From: abi.CatalogRef{Name: "sdk-test", Version: "1.0.0"}, Entries: []abi.Entry{{Field: "unknown", Key: "k", Value: []byte("1")}}},
		{From: abi.CatalogRef{Name: "sdk-test", Version: "1.0.0"}, Entries: []abi.Entry{{Field: "phase", Key: "k", Value: []byte(`"x"`)}}},
		{From: abi.CatalogRef{Name: "other", Version: "1"}, Entries: nil},
	} {
		res, err := abi.DecodeResult(r.ImportState(abi.AppendImport(nil, &req)))
		if err != nil || res.Accepted() {
			t.Fatalf("import %+v accepted (%v)", req, err)
		}
		if !bytes.Equal(before, exported(r)) {
			t.Fatal("refused import changed state")
		}
	}
}

func TestMalformedRequestsAreABIViolations(t *testing.T) {
	r := newSeeded(t)
	for _, req := range [][]byte{nil, {0x99}, {1, 200}} {
		res, err := abi.DecodeResult(append([]byte(nil), r.Apply(req)...))
		if err != nil || res.Code != abi.ABIViolation {
			t.Fatalf("request %v: %v %+v", req, err, res)
		}
	}
}

func TestDescriptor(t *testing.T) {
	d := cat.Descriptor()
	if err := d.Check(); err != nil {
		t.Fatal(err)
	}
	if d.Name != "sdk-test" || len(d.Transitions) != 5 || len(d.Fields) != 2 {
		t.Fatalf("descriptor %+v", d)
	}
	if d.Transitions[0].Name > d.Transitions[1].Name {
		t.Fatal("transitions not sorted")
	}
	var set abi.TransitionInfo
	for _, tr := range d.Transitions {
		if tr.Name == "TRANSITION_SET" {
			set = tr
		}
	}
	if len(set.Inputs) != 2 || set.Inputs[0] != (abi.InputInfo{Name: "key", Type: "string"}) || set.Inputs[1] != (abi.InputInfo{Name: "n", Type: "integer"}) {
		t.Fatalf("inputs %+v", set.Inputs)
	}
}
