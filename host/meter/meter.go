package meter

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/reprise-dev/reprise/host/wasmbin"
)

// Version identifies the cost model, the call stack model, the table cap and
// the placement of every injected check. It is part of the host fingerprint:
// bump it whenever any of them changes.
//
// Version 2 added the call stack limit and the table cap; fuel figures are
// the same as in version 1.
const Version = 2

// FuelGlobal is the export name of the mutable i64 global that holds the
// remaining fuel.
const FuelGlobal = "reprise_fuel"

// StackGlobal is the export name of the mutable i64 global that holds the
// remaining call stack, in stack units. It starts at StackUnits, is back at
// StackUnits whenever no call is running, and is negative after a call
// failed for want of stack.
const StackGlobal = "reprise_stack"

// The call stack model (see the package documentation).
const (
	// FrameUnits is the fixed cost of one frame in stack units.
	FrameUnits = 4096
	// MaxFrames is the deepest call stack of the smallest functions. It is
	// below the 2,000 frames at which wazero's interpreter gives up, so the
	// limit is always this one, on every engine.
	MaxFrames = 1900
	// StackUnits is the call stack available to one call from the host.
	StackUnits = FrameUnits * MaxFrames
)

// TableElements is the most elements a module's tables may hold together,
// ever: table elements live in host memory, outside the linear memory cap.
const TableElements = 1 << 20

// Errors returned by Inject, for errors.Is; the returned error adds details.
var (
	// ErrImports: the module imports something. Metering is applied to
	// sealed modules only.
	ErrImports = errors.New("module has imports")
	// ErrAlreadyExported: the module already exports FuelGlobal or
	// StackGlobal, typically because it was metered before.
	ErrAlreadyExported = errors.New("module already exports a name reserved for metering")
	// ErrStartFunction: the module has a start function, which would run
	// with no fuel during instantiation.
	ErrStartFunction = errors.New("module has a start function")
	// ErrTooManyLocals: adding the metering local would overflow a
	// function's local index space.
	ErrTooManyLocals = errors.New("too many locals")
	// ErrGlobalIndex: code refers to a global the module does not have.
	// Metering appends globals, so such code would reach the fuel or the
	// stack counter instead of failing validation.
	ErrGlobalIndex = errors.New("global index out of range")
	// ErrTableTooLarge: the module's tables start with more than
	// TableElements elements in all.
	ErrTableTooLarge = errors.New("tables too large")
)

// maxImportsListed bounds how many imports an error message names.
const maxImportsListed = 20

// Inject returns a metered copy of the import-free module in (see the package
// documentation for the cost model). The output depends only on in. in is not
// modified.
func Inject(in []byte) ([]byte, error) {
	m, err := wasmbin.Parse(in)
	if err != nil {
		return nil, fmt.Errorf("meter: %w", err)
	}
	if err := checkAdmissible(m); err != nil {
		return nil, fmt.Errorf("meter: %w", err)
	}
	if len(m.Code) != len(m.Funcs) {
		return nil, fmt.Errorf("meter: function section declares %d functions but the code section has %d bodies", len(m.Funcs), len(m.Code))
	}
	if err := capTables(m); err != nil {
		return nil, fmt.Errorf("meter: %w", err)
	}

	fuel := m.NumGlobals()
	mod := moduleInfo{m: m, fuel: fuel, stack: fuel + 1}
	code := make([]wasmbin.FuncBody, len(m.Code))
	for i := range m.Code {
		funcIndex := m.NumImportedFuncs() + uint32(i)
		typ, ok := m.FuncType(funcIndex)
		if !ok {
			return nil, fmt.Errorf("meter: function %d: type index %d out of range", funcIndex, m.Funcs[i])
		}
		body, err := meterBody(m.Code[i], typ, &mod)
		if err != nil {
			return nil, fmt.Errorf("meter: function %d: %w", funcIndex, err)
		}
		code[i] = body
	}
	m.Code = code
	m.Globals = append(m.Globals,
		wasmbin.Global{
			Type: wasmbin.GlobalType{Type: wasmbin.I64, Mutable: true},
			Init: []byte{byte(wasmbin.OpI64Const), 0x00, byte(wasmbin.OpEnd)},
		},
		wasmbin.Global{
			Type: wasmbin.GlobalType{Type: wasmbin.I64, Mutable: true},
			Init: append(wasmbin.AppendSLEB128([]byte{byte(wasmbin.OpI64Const)}, StackUnits), byte(wasmbin.OpEnd)),
		})
	m.Exports = append(m.Exports,
		wasmbin.Export{Name: FuelGlobal, Kind: wasmbin.KindGlobal, Index: mod.fuel},
		wasmbin.Export{Name: StackGlobal, Kind: wasmbin.KindGlobal, Index: mod.stack})
	return m.Encode(), nil
}

// checkAdmissible refuses the modules that cannot be metered.
func checkAdmissible(m *wasmbin.Module) error {
	if n := len(m.Imports); n > 0 {
		names := make([]string, 0, min(n, maxImportsListed))
		for _, imp := range m.Imports[:min(n, maxImportsListed)] {
			names = append(names, fmt.Sprintf("%s.%s (%s)", imp.Module, imp.Name, imp.Kind))
		}
		list := strings.Join(names, ", ")
		if n > maxImportsListed {
			list += fmt.Sprintf(" and %d more", n-maxImportsListed)
		}
		return fmt.Errorf("%w: %d, want none (seal the module first): %s", ErrImports, n, list)
	}
	for _, name := range []string{FuelGlobal, StackGlobal} {
		if e, ok := m.Export(name); ok {
			return fmt.Errorf("%w: %s (a %s export, index %d): it may be metered already", ErrAlreadyExported, name, e.Kind, e.Index)
		}
	}
	if m.Start != nil {
		return fmt.Errorf("%w (function %d): it would run before the host can set any fuel; export it as an initializer instead", ErrStartFunction, *m.Start)
	}
	return nil
}

// capTables gives every table a maximum so that the module's tables never
// hold more than TableElements elements together. The room above the sum of
// the minimums is shared equally; a table keeps a smaller declared maximum.
func capTables(m *wasmbin.Module) error {
	if len(m.Tables) == 0 {
		return nil
	}
	var sum uint64
	for _, t := range m.Tables {
		sum += uint64(t.Limits.Min)
	}
	if sum > TableElements {
		return fmt.Errorf("%w: %d tables start with %d elements in all, the limit is %d", ErrTableTooLarge, len(m.Tables), sum, TableElements)
	}
	share := (TableElements - sum) / uint64(len(m.Tables))
	tables := make([]wasmbin.Table, len(m.Tables))
	for i, t := range m.Tables {
		limit := uint64(t.Limits.Min) + share
		if !t.Limits.HasMax || uint64(t.Limits.Max) > limit {
			t.Limits.HasMax, t.Limits.Max = true, uint32(min(limit, math.MaxUint32))
		}
		tables[i] = t
	}
	m.Tables = tables
	return nil
}

// moduleInfo is what metering one function needs to know about the module.
type moduleInfo struct {
	m     *wasmbin.Module
	fuel  uint32 // index of the fuel global; the original globals are below it
	stack uint32 // index of the stack global
}

// callResults returns how many values a call or call_indirect pushes.
func (mi *moduleInfo) callResults(in wasmbin.Instr) int {
	switch in.Op {
	case wasmbin.OpCall:
		if t, ok := mi.m.FuncType(in.Index); ok {
			return len(t.Results)
		}
	case wasmbin.OpCallIndirect:
		if in.Index < uint32(len(mi.m.Types)) {
			return len(mi.m.Types[in.Index].Results)
		}
	}
	return 0
}

// resultBlockType returns the encoding of a block type with no parameters
// and the given results, adding a type to the module when one is needed and
// none exists. Added types go after every existing one, so no index changes.
func (mi *moduleInfo) resultBlockType(results []wasmbin.ValType) []byte {
	switch len(results) {
	case 0:
		return []byte{0x40}
	case 1:
		return []byte{byte(results[0])}
	}
	want := wasmbin.FuncType{Results: results}
	idx := -1
	for i, t := range mi.m.Types {
		if t.Equal(want) {
			idx = i
			break
		}
	}
	if idx < 0 {
		idx = len(mi.m.Types)
		mi.m.Types = append(mi.m.Types, wasmbin.FuncType{Results: append([]wasmbin.ValType(nil), results...)})
	}
	return wasmbin.AppendSLEB128(nil, int64(idx))
}
