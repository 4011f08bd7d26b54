//go:build amd64 || arm64 || wasm || 386 || ppc64le

package canon

import "unsafe"

// loadWord returns the first 8 bytes of b as a little-endian word. These
// little-endian architectures load unaligned words directly; in wasm this
// is one instruction instead of eight loads, shifts and ors.
func loadWord(b []byte) uint64 {
	_ = b[7]
	return *(*uint64)(unsafe.Pointer(unsafe.SliceData(b)))
}
