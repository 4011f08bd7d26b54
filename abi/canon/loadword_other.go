//go:build !(amd64 || arm64 || wasm || 386 || ppc64le)

package canon

import "encoding/binary"

// loadWord returns the first 8 bytes of b as a little-endian word.
func loadWord(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
