package host

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/abi/canon"
	"github.com/reprise-dev/reprise/host/meter"
	"github.com/reprise-dev/reprise/host/nan"
	"github.com/reprise-dev/reprise/host/wasmbin"
)

// coreFeatures is wazero's 2.0 feature set without SIMD.
const coreFeatures = api.CoreFeaturesV2 &^ api.CoreFeatureSIMD

// RefusedError lists every reason a module was refused.
type RefusedError struct {
	Problems []string
}

func (e *RefusedError) Error() string {
	return "module refused: " + strings.Join(e.Problems, "; ")
}

// Module is an admitted, compiled catalog module.
type Module struct {
	Hash       [32]byte
	Size       int
	ABIVersion uint32
	Descriptor abi.Descriptor
	Exports    []string // exported names, in module order

	engine   *Engine
	compiled wazero.CompiledModule
}

// HashHex is the module hash in hex.
func (m *Module) HashHex() string { return hex.EncodeToString(m.Hash[:]) }

// Engine returns the engine the module was admitted into.
func (m *Module) Engine() *Engine { return m.engine }

var wantExports = map[string]wasmbin.FuncType{
	abi.ExportABIVersion:  {Results: []wasmbin.ValType{wasmbin.I32}},
	abi.ExportBuffer:      {Params: []wasmbin.ValType{wasmbin.I32}, Results: []wasmbin.ValType{wasmbin.I32}},
	abi.ExportDescribe:    {Results: []wasmbin.ValType{wasmbin.I64}},
	abi.ExportApply:       {Params: []wasmbin.ValType{wasmbin.I32}, Results: []wasmbin.ValType{wasmbin.I64}},
	abi.ExportExportState: {Results: []wasmbin.ValType{wasmbin.I64}},
	abi.ExportImportState: {Params: []wasmbin.ValType{wasmbin.I32}, Results: []wasmbin.ValType{wasmbin.I64}},
	abi.ExportInitialize:  {},
}

// Validate checks a module without running it and returns every problem
// found: size, parse errors, each import, each missing or mistyped export,
// memory limits, table sizes, functions with too many locals, a start
// function, a pre-existing export of a name reserved for metering. The
// parsed module is returned when it parsed.
func Validate(wasm []byte, limits Limits) (*wasmbin.Module, []string) {
	if limits.MaxModuleBytes > 0 && len(wasm) > limits.MaxModuleBytes {
		return nil, []string{fmt.Sprintf("module is %d bytes, the limit is %d", len(wasm), limits.MaxModuleBytes)}
	}
	m, err := wasmbin.Parse(wasm)
	if err != nil {
		return nil, []string{"not a valid wasm module: " + err.Error()}
	}
	var problems []string
	for _, im := range m.Imports {
		problems = append(problems, fmt.Sprintf("imports %s.%s (%s): catalog modules must have no imports (seal it with `reprise catalog seal`)",
			im.Module, im.Name, kindName(im.Kind)))
	}
	exports := map[string]wasmbin.Export{}
	for _, ex := range m.Exports {
		exports[ex.Name] = ex
	}
	for _, name := range append(append([]string(nil), abi.RequiredExports...), abi.ExportInitialize) {
		ex, ok := exports[name]
		want := wantExports[name]
		if !ok {
			if name != abi.ExportInitialize {
				problems = append(problems, fmt.Sprintf("missing export %s %s", name, want))
			}
			continue
		}
		if ex.Kind != wasmbin.KindFunc {
			problems = append(problems, fmt.Sprintf("export %s is a %s, want a function %s", name, kindName(ex.Kind), want))
			continue
		}
		if got, ok := m.FuncType(ex.Index); !ok || !got.Equal(want) {
			problems = append(problems, fmt.Sprintf("export %s has type %s, want %s", name, got, want))
		}
	}
	if ex, ok := exports[abi.ExportMemory]; !ok || ex.Kind != wasmbin.KindMemory {
		problems = append(problems, "missing export memory (memory)")
	}
	for _, name := range []string{meter.FuelGlobal, meter.StackGlobal} {
		if _, ok := exports[name]; ok {
			problems = append(problems, fmt.Sprintf("module already exports %s, which the host reserves for metering", name))
		}
	}
	for i, mem := range m.Memories {
		if limits.MemoryPages > 0 && mem.Min > limits.MemoryPages {
			problems = append(problems, fmt.Sprintf("memory %d starts at %d pages, the limit is %d", i, mem.Min, limits.MemoryPages))
		}
	}
	var tableElements uint64
	for _, t := range m.Tables {
		tableElements += uint64(t.Limits.Min)
	}
	if tableElements > meter.TableElements {
		problems = append(problems, fmt.Sprintf("tables start with %d elements in all, the limit is %d", tableElements, meter.TableElements))
	}
	for i, body := range m.Code {
		var locals uint64
		for _, g := range body.Locals {
			locals += uint64(g.Count)
		}
		if locals > MaxFunctionLocals {
			problems = append(problems, fmt.Sprintf("function %d declares %d locals, the limit is %d", m.NumImportedFuncs()+uint32(i), locals, MaxFunctionLocals))
		}
	}
	if m.Start != nil {
		problems = append(problems, fmt.Sprintf("module has a start function (function %d); catalogs initialise in %s", *m.Start, abi.ExportInitialize))
	}
	return m, problems
}

// MaxFunctionLocals is the most locals one function may declare, as in the
// web's engines. A few bytes can declare four billion locals, and wazero
// sizes its buffers from the declaration when it compiles the module.
const MaxFunctionLocals = 50_000

func kindName(k wasmbin.ExternKind) string {
	switch k {
	case wasmbin.KindFunc:
		return "function"
	case wasmbin.KindTable:
		return "table"
	case wasmbin.KindMemory:
		return "memory"
	case wasmbin.KindGlobal:
		return "global"
	}
	return fmt.Sprintf("kind %d", k)
}

// Load admits a module: validates it, canonicalises the NaN results of float
// operations, injects fuel and call stack metering, compiles it,
// and reads its ABI version and descriptor by calling only _initialize,
// reprise_abi_version and reprise_describe. Loading the same bytes twice
// returns the same Module.
func (e *Engine) Load(ctx context.Context, wasm []byte) (*Module, error) {
	hash := Hash(wasm)
	e.mu.Lock()
	if m, ok := e.modules[hash]; ok {
		e.mu.Unlock()
		return m, nil
	}
	e.mu.Unlock()

	parsed, problems := Validate(wasm, e.cfg.Limits)
	if len(problems) > 0 {
		return nil, &RefusedError{Problems: problems}
	}
	// NaN results are canonicalised first so that the checks this adds are
	// charged fuel like any other code.
	canonical, err := nan.Canonicalize(wasm)
	if err != nil {
		return nil, &RefusedError{Problems: []string{"cannot canonicalise NaNs: " + err.Error()}}
	}
	metered := canonical
	if !e.unmetered {
		if metered, err = meter.Inject(canonical); err != nil {
			return nil, &RefusedError{Problems: []string{"cannot meter module: " + err.Error()}}
		}
	}
	compiled, err := e.runtime.CompileModule(ctx, metered)
	if err != nil {
		return nil, &RefusedError{Problems: []string{"wazero refused the module: " + err.Error()}}
	}
	m := &Module{Hash: hash, Size: len(wasm), engine: e, compiled: compiled}
	for _, ex := range parsed.Exports {
		m.Exports = append(m.Exports, ex.Name)
	}
	if err := m.describe(ctx); err != nil {
		compiled.Close(ctx)
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if prev, ok := e.modules[hash]; ok {
		compiled.Close(ctx)
		return prev, nil
	}
	e.modules[hash] = m
	return m, nil
}

func (m *Module) describe(ctx context.Context) error {
	inst, err := m.Instantiate(ctx)
	if err != nil {
		return &RefusedError{Problems: []string{err.Error()}}
	}
	defer inst.Close(ctx)
	v, err := inst.call(ctx, inst.abiVersion, m.engine.cfg.Limits.InitFuel)
	if err != nil {
		return &RefusedError{Problems: []string{"reprise_abi_version failed: " + err.Error()}}
	}
	m.ABIVersion = uint32(v)
	if m.ABIVersion != abi.Version {
		return &RefusedError{Problems: []string{fmt.Sprintf("module speaks ABI version %d, this host speaks %d", m.ABIVersion, abi.Version)}}
	}
	raw, err := inst.callRead(ctx, inst.describeFn, m.engine.cfg.Limits.InitFuel)
	if err != nil {
		return &RefusedError{Problems: []string{"reprise_describe failed: " + err.Error()}}
	}
	if err := canon.Unmarshal(raw, &m.Descriptor); err != nil {
		return &RefusedError{Problems: []string{"catalog descriptor does not decode: " + err.Error()}}
	}
	if err := m.Descriptor.Check(); err != nil {
		return &RefusedError{Problems: []string{err.Error()}}
	}
	return nil
}

// ErrInstanceBroken is returned for calls on an instance that failed.
var ErrInstanceBroken = errors.New("instance failed earlier and was retired")
