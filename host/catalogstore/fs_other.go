//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package catalogstore

import "io"

type noLock struct{}

func (noLock) Close() error { return nil }

// lockDir does nothing on platforms without flock: keeping to one writing
// process per store is then up to the caller.
func lockDir(string) (io.Closer, error) { return noLock{}, nil }

// syncDirectory does nothing on platforms that cannot fsync a directory; a
// rename there is as durable as the platform makes it.
func syncDirectory(string) error { return nil }
