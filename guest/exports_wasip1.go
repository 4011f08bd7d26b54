//go:build wasip1

package guest

import (
	"unsafe"

	"github.com/reprise-dev/reprise/abi"
)

// in is the request buffer the host writes into. Go's collector does not
// move objects, so its address is stable while the slice is referenced.
var in []byte

func pack(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return abi.Pack(uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))), uint32(len(b)))
}

func runner() *Runner {
	if served == nil {
		panic("guest: no catalog served: call guest.Serve from the module's main package")
	}
	return served
}

//go:wasmexport reprise_abi_version
func exportABIVersion() int32 { return abi.Version }

//go:wasmexport reprise_buffer
func exportBuffer(size int32) int32 {
	if size < 1 {
		size = 1
	}
	if cap(in) < int(size) {
		in = make([]byte, size)
	}
	in = in[:cap(in)]
	return int32(uintptr(unsafe.Pointer(unsafe.SliceData(in))))
}

//go:wasmexport reprise_describe
func exportDescribe() uint64 { return pack(runner().Describe()) }

//go:wasmexport reprise_apply
func exportApply(n int32) uint64 { return pack(runner().Apply(request(n))) }

//go:wasmexport reprise_export_state
func exportExportState() uint64 { return pack(runner().ExportState()) }

//go:wasmexport reprise_import_state
func exportImportState(n int32) uint64 { return pack(runner().ImportState(request(n))) }

func request(n int32) []byte {
	if n < 0 || int(n) > len(in) {
		return nil
	}
	return in[:n]
}
