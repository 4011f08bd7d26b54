package catalogstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/catalogstore"
)

// TestConcurrentUse puts, reads, lists and resolves from many goroutines at
// once (run it with -race): every module is added exactly once, readers
// only ever see complete catalogs, and the end state has them all.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	const modules, puttersPerModule, readers = 6, 4, 4
	wasms := make([][]byte, modules)
	for i := range wasms {
		wasms[i] = versionModule(t, fmt.Sprintf("%d.0.0", i))
	}
	var added [modules]atomic.Int32
	var putsDone atomic.Bool
	errs := make(chan error, modules*puttersPerModule+readers)
	var putters, all sync.WaitGroup
	for i := range modules {
		for range puttersPerModule {
			putters.Add(1)
			all.Add(1)
			go func() {
				defer all.Done()
				defer putters.Done()
				info, ok, err := s.Put(ctx, wasms[i])
				if err != nil {
					errs <- err
					return
				}
				if ok {
					added[i].Add(1)
				}
				if b, err := s.Get(info.Hash); err != nil || !bytes.Equal(b, wasms[i]) {
					errs <- fmt.Errorf("Get right after Put: %v", err)
				}
			}()
		}
	}
	for r := range readers {
		all.Add(1)
		go func() {
			defer all.Done()
			for !putsDone.Load() {
				list, err := s.List()
				if err != nil {
					errs <- fmt.Errorf("List while putting: %w", err)
					return
				}
				for _, info := range list {
					if _, err := s.Get(info.Hash); err != nil {
						errs <- fmt.Errorf("Get of a listed catalog: %w", err)
						return
					}
					if r%2 == 0 {
						if h, err := s.Resolve(info.HashHex()[:12]); err != nil || h != info.Hash {
							errs <- fmt.Errorf("Resolve of a listed catalog: %x, %v", h, err)
							return
						}
					} else if _, err := s.Load(ctx, info.Hash); err != nil {
						errs <- fmt.Errorf("Load of a listed catalog: %w", err)
						return
					}
				}
				if _, err := s.Stat(host.Hash(wasms[r%modules])); err != nil && !errors.Is(err, catalogstore.ErrNotFound) {
					errs <- fmt.Errorf("Stat while putting: %w", err)
					return
				}
			}
		}()
	}
	putters.Wait()
	putsDone.Store(true)
	all.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range added {
		if n := added[i].Load(); n != 1 {
			t.Errorf("module %d reported added %d times, want once", i, n)
		}
	}
	if list, err := s.List(); err != nil || len(list) != modules {
		t.Fatalf("List has %d catalogs (%v), want %d", len(list), err, modules)
	}
}

// TestTwoStoresShareADirectory stands for two processes (a server and an
// offline `reprise catalog push`) writing one directory: the lock file
// serialises their writes, so each module is added once in all.
func TestTwoStoresShareADirectory(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), catalogstore.DirName)
	stores := []*catalogstore.Store{
		openStore(t, dir, newEngine(t, host.DefaultLimits), newStepClock().Now),
		openStore(t, dir, newEngine(t, host.DefaultLimits), newStepClock().Now),
	}
	const modules = 5
	var added [modules]atomic.Int32
	errs := make(chan error, 2*modules)
	var wg sync.WaitGroup
	for _, s := range stores {
		for i := range modules {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, ok, err := s.Put(ctx, versionModule(t, fmt.Sprintf("shared-%d", i)))
				if err != nil {
					errs <- err
				} else if ok {
					added[i].Add(1)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range added {
		if n := added[i].Load(); n != 1 {
			t.Errorf("module %d added %d times across the two stores, want once", i, n)
		}
	}
	a, errA := stores[0].List()
	b, errB := stores[1].List()
	if errA != nil || errB != nil || len(a) != modules || fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("the two stores list different catalogs:\n%v (%v)\n%v (%v)", a, errA, b, errB)
	}
}
