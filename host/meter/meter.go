package meter

import (
	"errors"
	"fmt"
	"strings"

	"github.com/reprise-dev/reprise/host/wasmbin"
)

// Version identifies the cost model and the placement of charges. It is part
// of the host fingerprint: bump it whenever either changes.
const Version = 1

// FuelGlobal is the export name of the mutable i64 global that holds the
// remaining fuel.
const FuelGlobal = "reprise_fuel"

// Errors returned by Inject, for errors.Is; the returned error adds details.
var (
	// ErrImports: the module imports something. Metering is applied to
	// sealed modules only.
	ErrImports = errors.New("module has imports")
	// ErrAlreadyExported: the module already exports the name FuelGlobal,
	// typically because it was metered before.
	ErrAlreadyExported = errors.New("module already exports " + FuelGlobal)
	// ErrStartFunction: the module has a start function, which would run
	// with no fuel during instantiation.
	ErrStartFunction = errors.New("module has a start function")
	// ErrTooManyLocals: adding the metering local would overflow a
	// function's local index space.
	ErrTooManyLocals = errors.New("too many locals")
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

	fuel := m.NumGlobals()
	code := make([]wasmbin.FuncBody, len(m.Code))
	for i := range m.Code {
		funcIndex := m.NumImportedFuncs() + uint32(i)
		typ, ok := m.FuncType(funcIndex)
		if !ok {
			return nil, fmt.Errorf("meter: function %d: type index %d out of range", funcIndex, m.Funcs[i])
		}
		body, err := meterBody(m.Code[i], uint64(len(typ.Params)), fuel)
		if err != nil {
			return nil, fmt.Errorf("meter: function %d: %w", funcIndex, err)
		}
		code[i] = body
	}
	m.Code = code
	m.Globals = append(m.Globals, wasmbin.Global{
		Type: wasmbin.GlobalType{Type: wasmbin.I64, Mutable: true},
		Init: []byte{byte(wasmbin.OpI64Const), 0x00, byte(wasmbin.OpEnd)},
	})
	m.Exports = append(m.Exports, wasmbin.Export{Name: FuelGlobal, Kind: wasmbin.KindGlobal, Index: fuel})
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
	if e, ok := m.Export(FuelGlobal); ok {
		return fmt.Errorf("%w (a %s export, index %d): it may be metered already", ErrAlreadyExported, e.Kind, e.Index)
	}
	if m.Start != nil {
		return fmt.Errorf("%w (function %d): it would run before the host can set any fuel; export it as an initializer instead", ErrStartFunction, *m.Start)
	}
	return nil
}
