package wal

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentReadersDuringAppends runs readers (Get, Range under a pin,
// Range without one, idempotency lookups, metadata reads) against one writer
// that appends batches and truncates the head behind them. It checks what
// each reader may rely on, and is meant to run under -race.
func TestConcurrentReadersDuringAppends(t *testing.T) {
	const (
		total      = 3000
		keepBehind = 200 // the writer truncates the head to LastIndex - keepBehind
	)
	l := openLog(t, testOptions(t.TempDir()))
	mustAppend(t, l, records(1, 1))

	var (
		done    atomic.Bool
		wg      sync.WaitGroup
		checked [5]atomic.Int64 // successful checks per reader, to show each one ran
	)
	sameAsWritten := func(r Record) error {
		if want := sampleRecord(r.Index); !reflect.DeepEqual(r, want) {
			return fmt.Errorf("record %d read back as %+v", r.Index, r)
		}
		return nil
	}
	readers := []func(round uint64) error{
		// Get: the last index never moves down and is never truncated; an
		// index inside the bounds read just before is there or compacted.
		func(round uint64) error {
			first, last := l.FirstIndex(), l.LastIndex()
			r, err := l.Get(last)
			if err != nil {
				return fmt.Errorf("Get(LastIndex %d): %w", last, err)
			}
			if err := sameAsWritten(r); err != nil {
				return err
			}
			i := first + round%(last-first+1)
			if r, err = l.Get(i); err == nil {
				return sameAsWritten(r)
			}
			if !errors.Is(err, ErrCompacted) {
				return fmt.Errorf("Get(%d) within (%d, %d): %w", i, first, last, err)
			}
			return nil
		},
		// Range under a pin: nothing it covers may be truncated. The pin
		// moves between rounds, so the writer's truncations both run into
		// it and get past it.
		func(round uint64) error {
			first, last := l.FirstIndex(), l.LastIndex()
			from := first + round%(min(last-first, 150)+1)
			release, err := l.Pin(from)
			if errors.Is(err, ErrCompacted) {
				return nil // truncated between the two calls; try again
			}
			if err != nil {
				return err
			}
			defer release()
			to := l.LastIndex()
			next := from
			err = l.Range(from, to, func(r Record) error {
				if r.Index != next {
					return fmt.Errorf("Range delivered %d, want %d", r.Index, next)
				}
				next++
				return sameAsWritten(r)
			})
			if err != nil {
				return fmt.Errorf("pinned Range(%d, %d): %w", from, to, err)
			}
			if next != to+1 {
				return fmt.Errorf("pinned Range(%d, %d) stopped after %d", from, to, next-1)
			}
			return nil
		},
		// Range without a pin: complete or ErrCompacted, never partial.
		func(uint64) error {
			from := l.FirstIndex()
			err := l.Range(from, from+50, func(r Record) error { return sameAsWritten(r) })
			if err != nil && !errors.Is(err, ErrCompacted) {
				return fmt.Errorf("Range(%d, %d): %w", from, from+50, err)
			}
			return nil
		},
		// Idempotency: every appended record's entry is there, truncated or not.
		func(round uint64) error {
			last := l.LastIndex()
			for _, i := range []uint64{last, 1 + round%last} {
				e, found, err := l.IdempotencyLookup(fmt.Sprintf("op-%d", i))
				if err != nil || !found || e.Index != i {
					return fmt.Errorf("IdempotencyLookup(op-%d) = %+v, %v, %v", i, e, found, err)
				}
			}
			return nil
		},
		// Metadata written by the writer: absent or a valid value.
		func(uint64) error {
			v, found, err := l.GetMeta("last-batch")
			if err != nil || (found && len(v) != 8) {
				return fmt.Errorf("GetMeta = %x, %v, %v", v, found, err)
			}
			return nil
		},
	}
	for k, read := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := uint64(0); !done.Load(); round++ {
				if err := read(round); err != nil {
					t.Errorf("reader %d: %v", k, err)
					return
				}
				checked[k].Add(1)
			}
		}()
	}

	next := uint64(2)
	for batch := 0; next <= total; batch++ {
		size := uint64(batch%9 + 1)
		end := min(next+size-1, total)
		if err := l.Append(records(next, end)); err != nil {
			t.Errorf("Append(%d..%d): %v", next, end, err)
			break
		}
		next = end + 1
		if batch%20 == 19 && end > keepBehind {
			if _, err := l.TruncateHead(end - keepBehind); err != nil {
				t.Errorf("TruncateHead: %v", err)
				break
			}
		}
		if batch%50 == 0 {
			if err := l.SetMeta("last-batch", be64(end)); err != nil {
				t.Errorf("SetMeta: %v", err)
				break
			}
		}
	}
	// Let every reader complete at least a few rounds against the final log.
	for k := range checked {
		for checked[k].Load() < 3 && !t.Failed() {
			if err := readers[k](0); err != nil {
				t.Errorf("reader %d after the writer finished: %v", k, err)
			}
			checked[k].Add(1)
		}
	}
	done.Store(true)
	wg.Wait()
	if l.LastIndex() != total || l.FirstIndex() <= 1 {
		t.Fatalf("final bounds (%d, %d), want a truncated head and last %d", l.FirstIndex(), l.LastIndex(), total)
	}
	for k := range checked {
		t.Logf("reader %d: %d checks", k, checked[k].Load())
	}
}
