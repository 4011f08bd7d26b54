//go:build !unix

package wal

import "io/fs"

// diskUsage is the file's apparent size where allocated blocks are not known.
func diskUsage(info fs.FileInfo) int64 { return info.Size() }
