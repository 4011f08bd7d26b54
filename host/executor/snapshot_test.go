package executor_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/host/state"
)

// TestSubmitDoesNotWaitForSnapshot parks the background snapshot goroutine
// (inside its Observer call, holding the snapshot lock, before compaction)
// and shows that submissions, reads and further snapshot triggers go on
// meanwhile; once it is released everything settles into a state that
// recovers to the same hash.
func TestSubmitDoesNotWaitForSnapshot(t *testing.T) {
	rec := &recorder{}
	g := newGate()
	rec.holdSnapshot = g
	cfg := config(t, t.TempDir())
	cfg.SnapshotEvery = 10
	cfg.Observer = rec
	e := open(t, cfg)

	workload(t, e, 10-genesis) // the 10th record starts a snapshot
	<-g.parked
	for i := range 35 { // crosses three more snapshot points while parked
		if v := mustAccept(t, e, inc(fmt.Sprintf("during-%d", i), 1)); v.Index != uint64(11+i) {
			t.Fatalf("record index %d, want %d", v.Index, 11+i)
		}
		if pos := readPosition(t, e); pos.Index != uint64(11+i) {
			t.Fatalf("read at index %d while a snapshot is parked, want %d", pos.Index, 11+i)
		}
	}
	close(g.release)
	before := readPosition(t, e)
	crash(t, e) // waits for the snapshots at 10, 20, 30, 40

	rec.mu.Lock()
	written, snapErrs := len(rec.snapshots), rec.snapErrs
	rec.mu.Unlock()
	if written != 4 || len(snapErrs) != 0 {
		t.Fatalf("%d snapshots written (want 4), errors %v", written, snapErrs)
	}
	e = open(t, cfg)
	if after := readPosition(t, e); after != before {
		t.Fatalf("recovered %+v, want %+v", after, before)
	}
	if st := e.Recovery(); st.SnapshotIndex != 40 || st.Replayed != 5 {
		t.Fatalf("recovery %+v, want the snapshot at 40 and 5 records replayed", st)
	}
}

// TestSnapshotsDuringConcurrentLoad grows the state to over a thousand
// keys while snapshots are taken every 50 records and readers clone the
// state: no submission fails, every snapshot is written, and the node
// recovers to the same hash from the newest snapshot plus the WAL tail.
func TestSnapshotsDuringConcurrentLoad(t *testing.T) {
	const goroutines, each = 8, 150
	rec := &recorder{}
	cfg := config(t, t.TempDir())
	cfg.SnapshotEvery, cfg.SnapshotKeep = 50, 2
	cfg.Observer = rec
	e := open(t, cfg)

	errs := make(chan error, goroutines+1)
	stopReading := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() { // a reader beside the writer and the snapshots
		defer readers.Done()
		for {
			select {
			case <-stopReading:
				return
			default:
			}
			err := e.Read(func(st *state.State, _ uint64, _ *abi.Descriptor) { _ = st.Clone().Hash() })
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				v, err := e.Submit(context.Background(), executor.Submission{Proposal: inc(fmt.Sprintf("g%d-%d", g, i), int64(i+1))})
				if err != nil || !v.Accepted {
					errs <- fmt.Errorf("goroutine %d submission %d: %+v, %v", g, i, v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stopReading)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	before := readPosition(t, e)
	if before.Index != genesis+goroutines*each {
		t.Fatalf("index %d, want %d", before.Index, genesis+goroutines*each)
	}
	crash(t, e)
	rec.mu.Lock()
	written, snapErrs := len(rec.snapshots), rec.snapErrs
	rec.mu.Unlock()
	if written == 0 || len(snapErrs) != 0 {
		t.Fatalf("%d snapshots written during the load, errors %v", written, snapErrs)
	}
	t.Logf("%d snapshots written during %d submissions", written, goroutines*each)

	e = open(t, cfg)
	if after := readPosition(t, e); after != before {
		t.Fatalf("recovered at index %d with %s, want %d with %s", after.Index, after.Hash, before.Index, before.Hash)
	}
	if st := e.Recovery(); st.SnapshotIndex == 0 {
		t.Fatalf("recovery %+v did not start from a snapshot", st)
	}
}
