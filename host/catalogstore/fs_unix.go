//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package catalogstore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir waits for an exclusive advisory lock on the store's lock file and
// holds it until the returned Closer is closed. Writes are short, so
// waiting is bounded by another writer's one Put or Remove.
func lockDir(dir string) (io.Closer, error) {
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("catalogstore: opening lock file %s: %w", path, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("catalogstore: locking %s: %w", path, err)
	}
	return f, nil
}

// syncDirectory makes the directory's entries (a rename, a removal) durable.
func syncDirectory(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}
