package seal

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/reprise-dev/reprise/host/wasmbin"
)

// Version is the version of the sealer's virtual WASI behaviour, recorded in
// every sealed module. It changes whenever a virtual function's behaviour
// does, since that changes what a sealed module computes.
const Version = 1

// RecordSection is the name of the custom section Seal appends to every
// module it rewrites.
const RecordSection = "reprise.sealed"

// Report says what Seal did.
type Report struct {
	// Virtualised lists each replaced import as "module.name", in import
	// order, duplicates kept.
	Virtualised []string
	// AlreadySealed is true when the input had no imports and was returned
	// unchanged.
	AlreadySealed bool
}

// RefusedImport describes one import Seal cannot virtualise.
type RefusedImport struct {
	Index  int // position in the import section
	Module string
	Name   string
	Kind   wasmbin.ExternKind
	Found  string // the import's type as declared
	Want   string // the preview1 signature, when the name is a preview1 function
	Reason string
}

func (r RefusedImport) String() string {
	s := fmt.Sprintf("import %d %s.%s (%s %s): %s", r.Index, r.Module, r.Name, r.Kind, r.Found, r.Reason)
	if r.Want != "" {
		s += fmt.Sprintf(": found %s, want %s", r.Found, r.Want)
	}
	return s
}

// RefusedError lists every import that kept a module from being sealed.
type RefusedError struct {
	Imports []RefusedImport
	Total   int // number of imports in the module
}

func (e *RefusedError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "seal: %d of %d imports cannot be virtualised (only %s functions with their preview1 signatures can):",
		len(e.Imports), e.Total, WASIModule)
	for _, r := range e.Imports {
		sb.WriteString("\n  ")
		sb.WriteString(r.String())
	}
	return sb.String()
}

// ErrNotWasm wraps the parse error of an input that is not a readable module.
var ErrNotWasm = errors.New("seal: input is not a readable WebAssembly module")

// Seal rewrites a module so that it has no imports: every import must be a
// wasi_snapshot_preview1 function with its exact preview1 signature, and is
// replaced by a defined function of fixed, deterministic behaviour (see the
// package documentation and wasi.go). Function indices do not change: the
// N imported functions become the first N defined functions. The globals the
// virtual functions need (clock, random state) are appended to the global
// section, and a RecordSection custom section is appended last.
//
// A module with no imports is returned unchanged with AlreadySealed set. An
// import that cannot be virtualised fails the whole call with a
// *RefusedError naming every such import. The output depends only on the
// input bytes.
func Seal(in []byte) (out []byte, rep Report, err error) {
	m, err := wasmbin.Parse(in)
	if err != nil {
		return nil, Report{}, fmt.Errorf("%w: %w", ErrNotWasm, err)
	}
	if len(m.Imports) == 0 {
		return bytes.Clone(in), Report{AlreadySealed: true}, nil
	}
	funcs, err := resolveImports(m)
	if err != nil {
		return nil, Report{}, err
	}

	s := state{hasMemory: len(m.Memories) > 0}
	var needClock, needRandom bool
	for _, f := range funcs {
		needClock = needClock || (f.usesClock && s.hasMemory)
		needRandom = needRandom || (f.usesRandom && s.hasMemory)
	}
	// No global is imported (every import is a function), so appended
	// globals take the indices after the defined ones.
	if needClock {
		s.clock = uint32(len(m.Globals))
		m.Globals = append(m.Globals, i64Global(clockStart))
	}
	if needRandom {
		s.random = uint32(len(m.Globals))
		m.Globals = append(m.Globals, i64Global(int64(randomSeed)))
	}

	typeIndices := make([]uint32, len(funcs))
	bodies := make([]wasmbin.FuncBody, len(funcs))
	rep.Virtualised = make([]string, len(funcs))
	for i, f := range funcs {
		typeIndices[i] = m.Imports[i].Func
		bodies[i] = virtualBody(f, s)
		rep.Virtualised[i] = WASIModule + "." + f.name
	}
	m.Funcs = append(typeIndices, m.Funcs...)
	m.Code = append(bodies, m.Code...)
	m.Imports = nil

	customs := m.Customs[:0:0]
	for _, c := range m.Customs {
		if c.Name != RecordSection {
			customs = append(customs, c)
		}
	}
	m.Customs = append(customs, wasmbin.Custom{
		Name:  RecordSection,
		Data:  Record{Version: Version, Virtualised: rep.Virtualised}.encode(),
		After: wasmbin.SectionData,
	})
	return m.Encode(), rep, nil
}

// resolveImports matches every import with its preview1 function, or
// returns a *RefusedError listing every import that does not match.
func resolveImports(m *wasmbin.Module) ([]wasiFunc, error) {
	funcs := make([]wasiFunc, 0, len(m.Imports))
	var refused []RefusedImport
	for i, im := range m.Imports {
		r := RefusedImport{Index: i, Module: im.Module, Name: im.Name, Kind: im.Kind, Found: describeImportType(m, im)}
		f, known := lookupWASI(im.Name)
		switch {
		case im.Kind != wasmbin.KindFunc:
			r.Reason = "only function imports can be virtualised"
		case im.Module != WASIModule:
			r.Reason = fmt.Sprintf("module %q is not %s", im.Module, WASIModule)
		case !known:
			r.Reason = fmt.Sprintf("%q is not a %s function", im.Name, WASIModule)
		default:
			want := f.signature()
			if int(im.Func) >= len(m.Types) || !m.Types[im.Func].Equal(want) {
				r.Reason, r.Want = "signature differs from preview1", want.String()
			}
		}
		if r.Reason != "" {
			refused = append(refused, r)
			continue
		}
		funcs = append(funcs, f)
	}
	if len(refused) > 0 {
		return nil, &RefusedError{Imports: refused, Total: len(m.Imports)}
	}
	return funcs, nil
}

func describeImportType(m *wasmbin.Module, im wasmbin.Import) string {
	switch im.Kind {
	case wasmbin.KindFunc:
		if int(im.Func) < len(m.Types) {
			return m.Types[im.Func].String()
		}
		return fmt.Sprintf("type %d", im.Func)
	case wasmbin.KindTable:
		return im.Table.Elem.String() + " " + describeLimits(im.Table.Limits)
	case wasmbin.KindMemory:
		return describeLimits(im.Memory) + " pages"
	case wasmbin.KindGlobal:
		if im.Global.Mutable {
			return "mut " + im.Global.Type.String()
		}
		return im.Global.Type.String()
	}
	return ""
}

func describeLimits(l wasmbin.Limits) string {
	if l.HasMax {
		return fmt.Sprintf("min %d max %d", l.Min, l.Max)
	}
	return fmt.Sprintf("min %d", l.Min)
}

func i64Global(v int64) wasmbin.Global {
	init := wasmbin.AppendSLEB128([]byte{byte(wasmbin.OpI64Const)}, v)
	return wasmbin.Global{
		Type: wasmbin.GlobalType{Type: wasmbin.I64, Mutable: true},
		Init: append(init, byte(wasmbin.OpEnd)),
	}
}

// virtualBody generates the defined function that replaces an import. A
// module without memory cannot be handed a valid pointer, so functions that
// write through one answer EFAULT there.
func virtualBody(f wasiFunc, s state) wasmbin.FuncBody {
	var a asm
	if f.usesMemory && !s.hasMemory {
		a.i32(errnoFault)
		return a.body()
	}
	locals := f.emit(&a, s)
	return a.body(locals...)
}

// Record is the content of the RecordSection custom section.
type Record struct {
	Version     int
	Virtualised []string
}

// The record is text: a first line "reprise.sealed <version>", then one line
// per virtualised import.
func (r Record) encode() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %d\n", RecordSection, r.Version)
	for _, v := range r.Virtualised {
		b.WriteString(v)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// ReadRecord returns the seal record of a module, and false when the module
// carries none (it was not sealed, or was import-free from the start).
func ReadRecord(m *wasmbin.Module) (Record, bool, error) {
	c, ok := m.Custom(RecordSection)
	if !ok {
		return Record{}, false, nil
	}
	text := string(c.Data)
	if !strings.HasSuffix(text, "\n") {
		return Record{}, true, fmt.Errorf("seal: %s section does not end with a newline", RecordSection)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	head, ok := strings.CutPrefix(lines[0], RecordSection+" ")
	if !ok {
		return Record{}, true, fmt.Errorf("seal: %s section starts with %q, want %q", RecordSection, lines[0], RecordSection+" <version>")
	}
	version, err := strconv.Atoi(head)
	if err != nil || version < 1 {
		return Record{}, true, fmt.Errorf("seal: %s section has version %q, want a positive integer", RecordSection, head)
	}
	r := Record{Version: version, Virtualised: lines[1:]}
	for i, v := range r.Virtualised {
		if v == "" {
			return Record{}, true, fmt.Errorf("seal: %s section line %d is empty", RecordSection, i+2)
		}
	}
	return r, true, nil
}
