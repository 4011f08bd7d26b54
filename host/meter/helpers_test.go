package meter_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/reprise-dev/reprise/host/internal/wasmtest"
	"github.com/reprise-dev/reprise/host/meter"
	"github.com/reprise-dev/reprise/host/wasmbin"
)

// instr is the encoding of one instruction. Fixture bodies are written as
// lists of instrs so that a test can count instructions the way the cost
// model does, independently of the meter's own scan.
type instr []byte

func op(code wasmbin.Opcode) instr { return instr{byte(code)} }

func fc(code wasmbin.Opcode) instr {
	return wasmbin.AppendULEB128([]byte{0xFC}, uint64(code&0xFF))
}

func withU32(code wasmbin.Opcode, v uint32) instr {
	return wasmbin.AppendULEB128([]byte{byte(code)}, uint64(v))
}

func i32c(v int32) instr  { return wasmbin.AppendSLEB128([]byte{byte(wasmbin.OpI32Const)}, int64(v)) }
func i64c(v int64) instr  { return wasmbin.AppendSLEB128([]byte{byte(wasmbin.OpI64Const)}, v) }
func lget(i uint32) instr { return withU32(wasmbin.OpLocalGet, i) }
func lset(i uint32) instr { return withU32(wasmbin.OpLocalSet, i) }
func ltee(i uint32) instr { return withU32(wasmbin.OpLocalTee, i) }
func gget(i uint32) instr { return withU32(wasmbin.OpGlobalGet, i) }
func gset(i uint32) instr { return withU32(wasmbin.OpGlobalSet, i) }
func br(l uint32) instr   { return withU32(wasmbin.OpBr, l) }
func brIf(l uint32) instr { return withU32(wasmbin.OpBrIf, l) }
func call(f uint32) instr { return withU32(wasmbin.OpCall, f) }

// blockOf opens a block, loop or if with the empty block type (t == 0) or
// one result of type t.
func blockOf(code wasmbin.Opcode, t wasmbin.ValType) instr {
	return instr{byte(code), blockTypeByte(t)}
}

func blockTypeByte(t wasmbin.ValType) byte {
	if t == 0 {
		return 0x40
	}
	return byte(t)
}

// blockTyped opens a block, loop or if whose signature is a type index.
func blockTyped(code wasmbin.Opcode, typeIndex uint32) instr {
	return wasmbin.AppendSLEB128([]byte{byte(code)}, int64(typeIndex))
}

func brTable(def uint32, labels ...uint32) instr {
	b := wasmbin.AppendULEB128([]byte{byte(wasmbin.OpBrTable)}, uint64(len(labels)))
	for _, l := range labels {
		b = wasmbin.AppendULEB128(b, uint64(l))
	}
	return wasmbin.AppendULEB128(b, uint64(def))
}

func memArg(code wasmbin.Opcode, align, offset uint32) instr {
	b := wasmbin.AppendULEB128([]byte{byte(code)}, uint64(align))
	return wasmbin.AppendULEB128(b, uint64(offset))
}

var (
	end        = op(wasmbin.OpEnd)
	elseI      = op(wasmbin.OpElse)
	memoryGrow = instr{byte(wasmbin.OpMemoryGrow), 0x00}
	memorySize = instr{byte(wasmbin.OpMemorySize), 0x00}
	memoryFill = append(fc(wasmbin.OpMemoryFill), 0x00)
	memoryCopy = append(fc(wasmbin.OpMemoryCopy), 0x00, 0x00)
)

// seq is a run of instructions; n counts them.
type seq []instr

func (s seq) n() int64 { return int64(len(s)) }

// code concatenates runs into a function body's code.
func code(runs ...seq) []byte {
	var b []byte
	for _, r := range runs {
		for _, in := range r {
			b = append(b, in...)
		}
	}
	return b
}

// fixtureFunc is one defined function of a hand-assembled module.
type fixtureFunc struct {
	typ    uint32
	locals []wasmbin.LocalGroup
	code   []byte
	export string
}

// fixture is a hand-assembled module.
type fixture struct {
	types   []wasmbin.FuncType
	funcs   []fixtureFunc
	memory  *wasmbin.Limits
	globals []wasmbin.Global
}

func (f fixture) encode() []byte {
	m := &wasmbin.Module{Types: f.types, Globals: f.globals}
	if f.memory != nil {
		m.Memories = []wasmbin.Limits{*f.memory}
		m.Exports = append(m.Exports, wasmbin.Export{Name: "memory", Kind: wasmbin.KindMemory})
	}
	for i, fn := range f.funcs {
		m.Funcs = append(m.Funcs, fn.typ)
		m.Code = append(m.Code, wasmbin.FuncBody{Locals: fn.locals, Code: fn.code})
		if fn.export != "" {
			m.Exports = append(m.Exports, wasmbin.Export{Name: fn.export, Kind: wasmbin.KindFunc, Index: uint32(i)})
		}
	}
	return m.Encode()
}

func fnType(params, results []wasmbin.ValType) wasmbin.FuncType {
	return wasmbin.FuncType{Params: params, Results: results}
}

var (
	i32  = wasmbin.I32
	i64  = wasmbin.I64
	none []wasmbin.ValType
)

func vals(ts ...wasmbin.ValType) []wasmbin.ValType { return ts }

// inject meters wasm, failing the test on error, and validates the result
// with wasm-validate when it is installed.
func inject(t testing.TB, wasm []byte) []byte {
	t.Helper()
	out, err := meter.Inject(wasm)
	if err != nil {
		t.Fatalf("Inject: %v", err)
	}
	validate(t, out)
	return out
}

// validate runs wasm-validate (from wabt) on wasm if it is on PATH.
func validate(t testing.TB, wasm []byte) {
	t.Helper()
	wasmtest.Validate(t, wasm, "the metered module")
}

// engine is a wazero runtime configuration under test.
type engine struct {
	name string
	cfg  func() wazero.RuntimeConfig
}

var engines = []engine{
	{"compiler", wazero.NewRuntimeConfigCompiler},
	{"interpreter", wazero.NewRuntimeConfigInterpreter},
}

// instance is a metered module instantiated in one engine.
type instance struct {
	mod  api.Module
	fuel api.MutableGlobal
}

func instantiate(t testing.TB, e engine, wasm []byte) instance {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, e.cfg())
	t.Cleanup(func() { rt.Close(ctx) })
	mod, err := rt.Instantiate(ctx, wasm)
	if err != nil {
		t.Fatalf("%s: instantiate metered module: %v", e.name, err)
	}
	g := mod.ExportedGlobal(meter.FuelGlobal)
	if g == nil {
		t.Fatalf("%s: metered module does not export %s", e.name, meter.FuelGlobal)
	}
	fuel, ok := g.(api.MutableGlobal)
	if !ok || g.Type() != api.ValueTypeI64 {
		t.Fatalf("%s: %s is not a mutable i64 global", e.name, meter.FuelGlobal)
	}
	if got := int64(fuel.Get()); got != 0 {
		t.Fatalf("%s: initial fuel %d, want 0", e.name, got)
	}
	return instance{mod: mod, fuel: fuel}
}

// outcome is what one metered call did.
type outcome struct {
	results   []uint64
	remaining int64
	err       error
}

func (o outcome) used(budget int64) int64 { return budget - o.remaining }

// call sets the fuel to budget, calls export and reads the fuel back.
func (in instance) call(t testing.TB, export string, budget int64, args ...uint64) outcome {
	t.Helper()
	fn := in.mod.ExportedFunction(export)
	if fn == nil {
		t.Fatalf("no exported function %q", export)
	}
	in.fuel.Set(uint64(budget))
	res, err := fn.Call(context.Background(), args...)
	return outcome{results: res, remaining: int64(in.fuel.Get()), err: err}
}

// runBoth calls export with the same budget and arguments on a fresh
// instance in every engine, checks that all engines agree on results, error
// and remaining fuel, and returns the compiler's outcome.
func runBoth(t *testing.T, wasm []byte, export string, budget int64, args ...uint64) outcome {
	t.Helper()
	var first outcome
	for i, e := range engines {
		o := instantiate(t, e, wasm).call(t, export, budget, args...)
		if i == 0 {
			first = o
			continue
		}
		if o.remaining != first.remaining {
			t.Fatalf("%s(%v): remaining fuel %d under %s but %d under %s", export, args, first.remaining, engines[0].name, o.remaining, e.name)
		}
		if (o.err == nil) != (first.err == nil) {
			t.Fatalf("%s(%v): error %v under %s but %v under %s", export, args, first.err, engines[0].name, o.err, e.name)
		}
		if len(o.results) != len(first.results) {
			t.Fatalf("%s(%v): results %v under %s but %v under %s", export, args, first.results, engines[0].name, o.results, e.name)
		}
		for j := range o.results {
			if o.results[j] != first.results[j] {
				t.Fatalf("%s(%v): results %v under %s but %v under %s", export, args, first.results, engines[0].name, o.results, e.name)
			}
		}
	}
	return first
}

// predictTrap is the fuel left after the first failing charge, when a run
// starts with budget, pays the entry charge once and then the per-iteration
// charge until the fuel goes negative.
func predictTrap(budget, entry, perIteration int64) int64 {
	f := budget - entry
	for f >= 0 {
		f -= perIteration
	}
	return f
}

// wantOutOfFuel checks that o is a trap with the fuel negative.
func wantOutOfFuel(t *testing.T, o outcome, wantRemaining int64) {
	t.Helper()
	if o.err == nil {
		t.Fatalf("call returned %v with %d fuel left, want an out-of-fuel trap", o.results, o.remaining)
	}
	if o.remaining >= 0 {
		t.Fatalf("call failed with %v but fuel is %d, want negative", o.err, o.remaining)
	}
	if o.remaining != wantRemaining {
		t.Fatalf("out of fuel with %d left, model predicts %d", o.remaining, wantRemaining)
	}
}

func wantOK(t *testing.T, o outcome) {
	t.Helper()
	if o.err != nil {
		t.Fatalf("call failed: %v (fuel left %d)", o.err, o.remaining)
	}
}

func wantErrIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}
