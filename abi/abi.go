package abi

// Version is the ABI version a module must report from ExportABIVersion.
// Bump it on any incompatible change to the exports or encodings below.
const Version = 1

// Names of the exports a catalog module must provide. All pointers and
// lengths are offsets into the module's exported memory.
const (
	// ExportMemory is the module's linear memory.
	ExportMemory = "memory"
	// ExportInitialize, when present, is called once before anything else
	// (Go reactors need it to start their runtime).
	ExportInitialize = "_initialize"
	// ExportABIVersion: () -> i32, the ABI version the module speaks.
	ExportABIVersion = "reprise_abi_version"
	// ExportBuffer: (size i32) -> i32, the address of a guest-owned buffer
	// of at least size bytes. The host writes each request there. The
	// address stays valid until the next call to ExportBuffer.
	ExportBuffer = "reprise_buffer"
	// ExportDescribe: () -> i64, packed location of the catalog descriptor
	// (canonical JSON, see Descriptor).
	ExportDescribe = "reprise_describe"
	// ExportApply: (len i32) -> i64. Applies the encoded Proposal found in
	// the buffer and returns the packed location of the encoded Result.
	ExportApply = "reprise_apply"
	// ExportExportState: () -> i64, packed location of the whole state,
	// encoded by AppendState (entries sorted by field, then key).
	ExportExportState = "reprise_export_state"
	// ExportImportState: (len i32) -> i64. Replaces the whole state with the
	// encoded ImportRequest found in the buffer (migrating it when it comes
	// from another catalog version) and returns a packed encoded Result.
	ExportImportState = "reprise_import_state"
)

// RequiredExports lists the function exports every catalog module must have.
var RequiredExports = []string{
	ExportABIVersion, ExportBuffer, ExportDescribe, ExportApply,
	ExportExportState, ExportImportState,
}

// Pack joins a guest address and length into the i64 that exports return.
func Pack(ptr, n uint32) uint64 { return uint64(ptr)<<32 | uint64(n) }

// Unpack splits the i64 returned by an export into address and length.
func Unpack(v uint64) (ptr, n uint32) { return uint32(v >> 32), uint32(v) }
