package catalogstore

import "github.com/reprise-dev/reprise/snapshot/durablefs"

// TempFile lets the fault tests give the store a file that fails.
type TempFile = durablefs.TempFile

// InjectFaults replaces the store's temp-file creation and directory sync,
// for tests that need a write or an fsync to fail. A nil argument keeps the
// current one.
func InjectFaults(s *Store, createTemp func(dir, pattern string) (TempFile, error), syncDir func(dir string) error) {
	if createTemp != nil {
		s.createTemp = createTemp
	}
	if syncDir != nil {
		s.syncDir = syncDir
	}
}
