package executor_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/host/state"
)

// pastPosition is what a reader saw at an index, with the catalog in force.
type pastPosition struct {
	position
	Catalog [32]byte
	Ref     abi.CatalogRef
}

func observePast(t testing.TB, e *executor.Executor) pastPosition {
	t.Helper()
	c := e.Catalog()
	return pastPosition{position: readPosition(t, e), Catalog: c.Hash, Ref: c.Ref}
}

// requireStateAt checks that StateAt(index) rebuilds what a reader saw then.
func requireStateAt(t testing.TB, e *executor.Executor, want pastPosition) {
	t.Helper()
	ps, err := e.StateAt(context.Background(), want.Index)
	if err != nil {
		t.Fatalf("StateAt(%d): %v", want.Index, err)
	}
	if ps.Descriptor == nil {
		t.Fatalf("StateAt(%d): no descriptor", want.Index)
	}
	got := pastPosition{position: position{Index: ps.Index, Hash: ps.State.Hash(), View: string(ps.State.View(ps.Descriptor))},
		Catalog: ps.Catalog, Ref: ps.Descriptor.Ref()}
	if got != want {
		t.Fatalf("StateAt(%d):\n got %+v\nwant %+v", want.Index, got, want)
	}
}

// TestStateAtRebuildsPastStates: states at past indexes, before and after
// a migrating activation, equal what readers saw then, whether rebuilt from
// genesis or from a snapshot; once the WAL is compacted the states before
// the oldest kept snapshot are reported unavailable, and an index not yet
// committed is refused as such.
func TestStateAtRebuildsPastStates(t *testing.T) {
	ctx := context.Background()
	vs := counterVersions(t)
	cfg := config(t, t.TempDir())
	cfg.Catalogs = vs.catalog
	cfg.SnapshotKeep = 2
	e := open(t, cfg)

	seen := []pastPosition{observePast(t, e)} // the genesis activation
	submitSome := func(n int) {
		for i := range n {
			p := inc(fmt.Sprintf("k%d", i%3), int64(i+1))
			if i == 3 {
				p = abi.Proposal{Transition: reset, Inputs: []byte(`{"key":"k0"}`)}
			}
			mustAccept(t, e, p)
			seen = append(seen, observePast(t, e))
		}
	}
	submitSome(5)
	s1, err := e.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	submitSome(4)
	if _, err := e.Activate(ctx, vs.v2.Hash, executor.ActivateOptions{}); err != nil {
		t.Fatal(err)
	}
	seen = append(seen, observePast(t, e))
	submitSome(4)
	for i, p := range seen {
		if p.Index != uint64(i+genesis) {
			t.Fatalf("position %d has index %d", i, p.Index)
		}
	}
	if seen[len(seen)-1].Catalog != vs.v2.Hash || seen[0].Catalog != vs.v1.Hash {
		t.Fatal("the workload did not cross the activation of counter 2.0.0")
	}

	// Every index while the WAL still starts at record 1: up to the
	// snapshot from genesis, after it from the snapshot, across the swap.
	for _, p := range seen {
		requireStateAt(t, e, p)
	}
	ps, err := e.StateAt(ctx, 0)
	if err != nil || ps.Index != 0 || ps.State.Hash() != state.New().Hash() || ps.Descriptor != nil || ps.Catalog != ([32]byte{}) {
		t.Fatalf("StateAt(0): %+v, %v; want the empty state before any catalog", ps, err)
	}

	// An index beyond the last durable one is not committed.
	last := seen[len(seen)-1].Index
	_, err = e.StateAt(ctx, last+1)
	var nc *executor.NotCommittedError
	if !errors.Is(err, executor.ErrNotCommitted) || !errors.As(err, &nc) || nc.Index != last+1 || nc.Committed != last {
		t.Fatalf("StateAt(%d) with %d committed: %v", last+1, last, err)
	}

	// A second snapshot (after the swap) makes the WAL compact up to the
	// first: states before it are gone, the others are rebuilt from one of
	// the two snapshots.
	if _, err := e.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if first := e.WAL().FirstIndex(); first != s1+1 {
		t.Fatalf("after the second snapshot the WAL starts at %d, want %d", first, s1+1)
	}
	for _, p := range seen {
		if p.Index >= s1 {
			requireStateAt(t, e, p)
			continue
		}
		if _, err := e.StateAt(ctx, p.Index); !errors.Is(err, executor.ErrStateUnavailable) {
			t.Fatalf("StateAt(%d) with the WAL compacted up to %d: %v, want ErrStateUnavailable", p.Index, s1, err)
		}
	}
	if _, err := e.StateAt(ctx, 0); !errors.Is(err, executor.ErrStateUnavailable) {
		t.Fatalf("StateAt(0) with the WAL compacted: %v, want ErrStateUnavailable", err)
	}

	// The writer was not disturbed.
	if now := observePast(t, e); now != seen[len(seen)-1] {
		t.Fatalf("after the rebuilds the node is at %+v, want %+v", now, seen[len(seen)-1])
	}
}

// TestStateAtBesideTheWriter rebuilds past states while proposals are
// being applied: each rebuild equals what a reader saw at that index.
func TestStateAtBesideTheWriter(t *testing.T) {
	ctx := context.Background()
	e := open(t, config(t, t.TempDir()))
	seen := []pastPosition{observePast(t, e)}
	for i := range 6 {
		mustAccept(t, e, inc(fmt.Sprintf("k%d", i%2), 1))
		seen = append(seen, observePast(t, e))
	}
	done := make(chan error, 1)
	go func() {
		var err error
		for i := range 30 {
			if _, err = e.Submit(ctx, executor.Submission{Proposal: inc("busy", int64(i+1))}); err != nil {
				break
			}
		}
		done <- err
	}()
	for _, p := range seen {
		requireStateAt(t, e, p)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, p := range seen {
		requireStateAt(t, e, p)
	}
}
