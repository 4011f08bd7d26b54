package abi

import (
	"errors"
	"reflect"
	"testing"
)

func TestProposalRoundTrip(t *testing.T) {
	p := Proposal{Transition: "TRANSITION_X", Inputs: []byte(`{"a":1}`), Index: 42, Timestamp: -7,
		Signer: "node-001", HLC: "1-0-0000000000000001", WindowID: "w", IdemKey: "k", InputsHash: "h",
		Evidence: []string{"ucxl://proof/1", ""}}
	got, err := DecodeProposal(AppendProposal(nil, &p))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("got %+v\nwant %+v", got, p)
	}
}

func TestResultRoundTrip(t *testing.T) {
	r := Result{Code: GuardRejected, Detail: "no", Output: []byte(`{}`), Delta: []Change{
		{Field: "a", Key: "", Value: []byte("1")},
		{Field: "a", Key: "k", Deleted: true},
		{Field: "b", Key: "a", Value: []byte(`"x"`)},
	}}
	got, err := DecodeResult(AppendResult(nil, &r))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("got %+v\nwant %+v", got, r)
	}
}

func TestStateAndImportRoundTrip(t *testing.T) {
	entries := []Entry{{Field: "a", Key: "1", Value: []byte("1")}, {Field: "a", Key: "2", Value: []byte("2")}, {Field: "b", Value: []byte("3")}}
	got, err := DecodeState(AppendState(nil, entries))
	if err != nil || !reflect.DeepEqual(got, entries) {
		t.Fatalf("state: %v %+v", err, got)
	}
	req := ImportRequest{From: CatalogRef{"c", "1.0.0"}, Entries: entries}
	gotReq, err := DecodeImport(AppendImport(nil, &req))
	if err != nil || !reflect.DeepEqual(gotReq, req) {
		t.Fatalf("import: %v %+v", err, gotReq)
	}
}

func TestDecodersRefuseBadInput(t *testing.T) {
	unsorted := AppendState(nil, []Entry{{Field: "b"}, {Field: "a"}})
	dup := AppendResult(nil, &Result{Delta: []Change{{Field: "a", Key: "k"}, {Field: "a", Key: "k"}}})
	good := AppendProposal(nil, &Proposal{Transition: "X"})
	cases := map[string]func() error{
		"empty proposal":        func() error { _, err := DecodeProposal(nil); return err },
		"wrong format":          func() error { _, err := DecodeProposal([]byte{9}); return err },
		"truncated proposal":    func() error { _, err := DecodeProposal(good[:len(good)-1]); return err },
		"trailing bytes":        func() error { _, err := DecodeProposal(append(good, 0)); return err },
		"huge length":           func() error { _, err := DecodeProposal([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f}); return err },
		"huge evidence count":   func() error { _, err := DecodeProposal(append(good[:len(good)-1], 0xff, 0xff, 0xff, 0x7f)); return err },
		"unsorted state":        func() error { _, err := DecodeState(unsorted); return err },
		"duplicate delta entry": func() error { _, err := DecodeResult(dup); return err },
		"bad change op":         func() error { _, err := DecodeResult([]byte{1, 0, 0, 0, 1, 7}); return err },
	}
	for name, f := range cases {
		if err := f(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestResolveTransition(t *testing.T) {
	d := &Descriptor{Transitions: []TransitionInfo{{Name: "TRANSITION_LICENSE_GRANTED"}, {Name: "PLAIN"}}}
	for in, want := range map[string]string{
		"TRANSITION_LICENSE_GRANTED": "TRANSITION_LICENSE_GRANTED",
		"LICENSE_GRANTED":            "TRANSITION_LICENSE_GRANTED",
		"PLAIN":                      "PLAIN",
		"TRANSITION_PLAIN":           "PLAIN",
		"NOPE":                       "",
	} {
		if got, ok := d.ResolveTransition(in); got != want || ok != (want != "") {
			t.Errorf("ResolveTransition(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestCodesAreStable(t *testing.T) {
	// The texts are part of the API: SWOOSH clients match on them.
	want := map[Code]string{
		GuardRejected:      "guard rejected transition",
		UnknownTransition:  "unknown transition",
		QuarantineBlocked:  "transition blocked by quarantine",
		InvalidPhase:       "invalid phase for transition",
		PreconditionFailed: "precondition failed",
	}
	for c, text := range want {
		if c.Message() != text {
			t.Errorf("%v.Message() = %q, want %q", c, c.Message(), text)
		}
		if back, ok := CodeFromSlug(c.Slug()); !ok || back != c {
			t.Errorf("slug %q does not round-trip", c.Slug())
		}
	}
}

func FuzzDecoders(f *testing.F) {
	f.Add(AppendProposal(nil, &Proposal{Transition: "T", Inputs: []byte("{}"), Evidence: []string{"e"}}))
	f.Add(AppendResult(nil, &Result{Code: 1, Delta: []Change{{Field: "f", Key: "k", Value: []byte("1")}}}))
	f.Add(AppendImport(nil, &ImportRequest{From: CatalogRef{"a", "b"}, Entries: []Entry{{Field: "f"}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := DecodeProposal(b); err == nil {
			if _, err := DecodeProposal(AppendProposal(nil, &p)); err != nil {
				t.Fatalf("re-encoded proposal does not decode: %v", err)
			}
		}
		if r, err := DecodeResult(b); err == nil {
			if _, err := DecodeResult(AppendResult(nil, &r)); err != nil {
				t.Fatalf("re-encoded result does not decode: %v", err)
			}
		}
		_, _ = DecodeState(b)
		_, _ = DecodeImport(b)
	})
}
