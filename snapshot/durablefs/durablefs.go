package durablefs

import (
	"errors"
	"io"
)

// ErrHeld is returned by Lock, without waiting, when another holder has the
// lock.
var ErrHeld = errors.New("lock is held by another holder")

// TempFile is what a store needs from the temporary file it fills, syncs
// and renames into place. *os.File is one; tests substitute doubles that
// fail a write or a sync.
type TempFile interface {
	io.Writer
	Sync() error
	Close() error
	Name() string
}
