//go:build unix

package wal

import (
	"io/fs"
	"syscall"
)

// diskUsage is the space a file occupies: its allocated blocks, not its
// apparent (possibly sparse) size.
func diskUsage(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512
	}
	return info.Size()
}
