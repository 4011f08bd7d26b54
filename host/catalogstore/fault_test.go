package catalogstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/catalogstore"
)

var errInjected = errors.New("injected fault")

// faultyFile is a real temp file whose Sync fails, as on a disk error.
type faultyFile struct{ *os.File }

func (faultyFile) Sync() error { return errInjected }

func TestFailedFsyncStoresNothing(t *testing.T) {
	s, _ := newStore(t)
	catalogstore.InjectFaults(s, func(dir, pattern string) (catalogstore.TempFile, error) {
		f, err := os.CreateTemp(dir, pattern)
		return faultyFile{f}, err
	}, nil)
	wasm := versionModule(t, "1.0.0")
	_, _, err := s.Put(context.Background(), wasm)
	if !errors.Is(err, errInjected) || !strings.Contains(err.Error(), "syncing") {
		t.Fatalf("Put with a failing fsync: %v", err)
	}
	if got := dirNames(t, s.Dir()); !slices.Equal(got, []string{"catalogs.lock"}) {
		t.Fatalf("a failed Put left %v", got)
	}
	if _, err := s.Stat(host.Hash(wasm)); !errors.Is(err, catalogstore.ErrNotFound) {
		t.Fatalf("Stat after a failed Put: %v", err)
	}
}

// TestCrashBetweenModuleAndMetadata fails the metadata write after the
// module file is in place, as a crash there would: the catalog does not
// exist, and the next Open removes the orphaned module.
func TestCrashBetweenModuleAndMetadata(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), catalogstore.DirName)
	engine := newEngine(t, host.DefaultLimits)
	s := openStore(t, dir, engine, newStepClock().Now)
	catalogstore.InjectFaults(s, func(dir, pattern string) (catalogstore.TempFile, error) {
		if strings.Contains(pattern, ".json") {
			return nil, errInjected
		}
		return os.CreateTemp(dir, pattern)
	}, nil)
	wasm := versionModule(t, "1.0.0")
	hash := host.Hash(wasm)
	if _, _, err := s.Put(ctx, wasm); !errors.Is(err, errInjected) {
		t.Fatalf("Put with a failing metadata write: %v", err)
	}
	if _, err := s.Get(hash); !errors.Is(err, catalogstore.ErrNotFound) {
		t.Fatalf("Get of a half-written catalog: %v, want ErrNotFound", err)
	}
	if list, err := s.List(); err != nil || len(list) != 0 {
		t.Fatalf("List of a half-written catalog: %+v, %v", list, err)
	}

	s = openStore(t, dir, engine, newStepClock().Now)
	if got := dirNames(t, dir); !slices.Equal(got, []string{"catalogs.lock"}) {
		t.Fatalf("Open left %v", got)
	}
	if _, added, err := s.Put(ctx, wasm); err != nil || !added {
		t.Fatalf("Put after the interrupted one: added %v, %v", added, err)
	}
}

func TestFailedDirectorySyncIsReported(t *testing.T) {
	s, _ := newStore(t)
	stored := mustPut(t, s, versionModule(t, "2.0.0"))
	catalogstore.InjectFaults(s, nil, func(string) error { return errInjected })
	if _, _, err := s.Put(context.Background(), versionModule(t, "1.0.0")); !errors.Is(err, errInjected) || !strings.Contains(err.Error(), "syncing") {
		t.Fatalf("Put with a failing directory fsync: %v", err)
	}
	if err := s.Remove(stored.Hash, func([32]byte) bool { return false }); !errors.Is(err, errInjected) || !strings.Contains(err.Error(), "syncing") {
		t.Fatalf("Remove with a failing directory fsync: %v", err)
	}
}
