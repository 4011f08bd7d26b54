//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package durablefs

import "io"

type noLock struct{}

func (noLock) Close() error { return nil }

// Lock does nothing on platforms without flock: keeping to one writer per
// directory is then up to the caller.
func Lock(string, bool) (io.Closer, error) { return noLock{}, nil }

// SyncDir does nothing on platforms that cannot fsync a directory; a rename
// there is as durable as the platform makes it.
func SyncDir(string) error { return nil }
