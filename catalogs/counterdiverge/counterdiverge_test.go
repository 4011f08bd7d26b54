package counterdiverge_test

import (
	"context"
	"testing"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/catalogs/counter"
	"github.com/reprise-dev/reprise/catalogs/counterdiverge"
	"github.com/reprise-dev/reprise/guest"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/replay"
)

func native(t *testing.T, c *guest.Catalog) *host.Reducer {
	t.Helper()
	r, err := host.NewNativeReducer(func() host.NativeRunner { return guest.NewRunner(c) })
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func apply(t *testing.T, r *host.Reducer, transition, inputs string) {
	t.Helper()
	out, err := r.Apply(context.Background(), &abi.Proposal{Transition: transition, Inputs: []byte(inputs)})
	if err != nil || !out.Result.Accepted() {
		t.Fatalf("%s %s: %+v, %v", transition, inputs, out.Result, err)
	}
}

// TestSameShapeDifferentReset: 1.1.0 takes 1.0.0's state as is and back,
// increments alike, and differs only in what a reset leaves.
func TestSameShapeDifferentReset(t *testing.T) {
	ctx := context.Background()
	v1, v11 := native(t, counter.Catalog), native(t, counterdiverge.Catalog)
	apply(t, v1, "TRANSITION_INCREMENT", `{"by":3,"key":"a"}`)
	if migrated, err := replay.Handover(ctx, v1, v11); err != nil || migrated || v11.State().Hash() != v1.State().Hash() {
		t.Fatalf("hand-over 1.0.0 → 1.1.0: migrated %t, %v", migrated, err)
	}
	for _, r := range []*host.Reducer{v1, v11} {
		apply(t, r, "TRANSITION_INCREMENT", `{"by":2,"key":"a"}`)
	}
	if v1.State().Hash() != v11.State().Hash() {
		t.Fatal("increments differ between 1.0.0 and 1.1.0")
	}
	for _, r := range []*host.Reducer{v1, v11} {
		apply(t, r, "TRANSITION_RESET", `{"key":"a"}`)
	}
	if got := string(v11.State().View(v11.Descriptor())); got != `{"counts":{"a":0}}` {
		t.Fatalf("1.1.0 after a reset: %s", got)
	}
	if got := string(v1.State().View(v1.Descriptor())); got != `{"counts":{}}` {
		t.Fatalf("1.0.0 after a reset: %s", got)
	}
	back := native(t, counter.Catalog)
	if _, err := replay.Handover(ctx, v11, back); err != nil || back.State().Hash() != v11.State().Hash() {
		t.Fatalf("hand-over 1.1.0 → 1.0.0: %v", err)
	}
}
