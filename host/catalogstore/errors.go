package catalogstore

import (
	"errors"
	"fmt"

	"github.com/reprise-dev/reprise/host/replay"
)

var (
	// ErrNotFound means no catalog with the given hash (or hash prefix) is
	// stored. It matches replay.ErrUnknownCatalog too, so the store serves
	// as the executor's and replay's Catalogs as it is.
	ErrNotFound = fmt.Errorf("catalogstore: catalog not found (%w)", replay.ErrUnknownCatalog)
	// ErrCorrupt is matched (errors.Is) by every *CorruptError.
	ErrCorrupt = errors.New("catalogstore: catalog corrupt")
	// ErrInUse means Remove was asked to delete a catalog its caller still
	// refers to.
	ErrInUse = errors.New("catalogstore: catalog in use")
	// ErrAmbiguous means a hash prefix matches more than one catalog.
	ErrAmbiguous = errors.New("catalogstore: ambiguous hash prefix")
)

// CorruptError reports a stored catalog whose files cannot be trusted: the
// module's bytes do not hash to its name, the module file is missing or has
// the wrong size, or the metadata does not decode or names another hash.
type CorruptError struct {
	Hash    [32]byte
	File    string // the file found wanting
	Problem string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("catalogstore: catalog %x is corrupt: %s (%s)", e.Hash, e.Problem, e.File)
}

// Is makes errors.Is(err, ErrCorrupt) true for a *CorruptError.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }
