package counterv2_test

import (
	"context"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/catalogs/counter"
	"github.com/reprise-dev/reprise/catalogs/counterv2"
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

func apply(t *testing.T, r *host.Reducer, transition, inputs string) abi.Result {
	t.Helper()
	out, err := r.Apply(context.Background(), &abi.Proposal{Transition: transition, Inputs: []byte(inputs)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Result
}

func view(r *host.Reducer) string { return string(r.State().View(r.Descriptor())) }

// TestMigrationFromCounter1: the state of counter 1.0.0 becomes totals
// with no updates counted, which version 2 then increments as its own.
func TestMigrationFromCounter1(t *testing.T) {
	ctx := context.Background()
	v1 := native(t, counter.Catalog)
	apply(t, v1, "TRANSITION_INCREMENT", `{"by":3,"key":"a"}`)
	apply(t, v1, "TRANSITION_INCREMENT", `{"by":4,"key":"b"}`)
	v2 := native(t, counterv2.Catalog)
	migrated, err := replay.Handover(ctx, v1, v2)
	if err != nil || !migrated {
		t.Fatalf("hand-over: migrated %t, %v", migrated, err)
	}
	if got, want := view(v2), `{"totals":{"a":{"updates":0,"value":3},"b":{"updates":0,"value":4}}}`; got != want {
		t.Fatalf("migrated state %s, want %s", got, want)
	}
	if res := apply(t, v2, "TRANSITION_INCREMENT", `{"by":2,"key":"a"}`); !res.Accepted() {
		t.Fatalf("increment after the migration: %+v", res)
	}
	if got := view(v2); !strings.Contains(got, `"a":{"updates":1,"value":5}`) {
		t.Fatalf("after an increment: %s", got)
	}
}

// TestMigrationRefusesReservedKeys: a key with '/' stops the migration,
// and nothing changes on either side.
func TestMigrationRefusesReservedKeys(t *testing.T) {
	ctx := context.Background()
	v1 := native(t, counter.Catalog)
	apply(t, v1, "TRANSITION_INCREMENT", `{"by":3,"key":"a/b"}`)
	before := v1.State().Hash()
	v2 := native(t, counterv2.Catalog)
	_, err := replay.Handover(ctx, v1, v2)
	if err == nil || !strings.Contains(err.Error(), `key "a/b" contains '/'`) {
		t.Fatalf("hand-over: %v", err)
	}
	if v1.State().Hash() != before || v2.State().Len() != 0 {
		t.Fatal("a refused migration changed a state")
	}
	if res := apply(t, v2, "TRANSITION_INCREMENT", `{"by":1,"key":"c/d"}`); res.Code != abi.GuardRejected {
		t.Fatalf("increment of a reserved key: %+v", res)
	}
}
