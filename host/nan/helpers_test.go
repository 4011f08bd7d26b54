package nan_test

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/reprise-dev/reprise/host/internal/wasmtest"
	"github.com/reprise-dev/reprise/host/nan"
	"github.com/reprise-dev/reprise/host/wasmbin"
)

// instr is the encoding of one or more instructions.
type instr []byte

func op(code wasmbin.Opcode) instr { return instr{byte(code)} }

func withU32(code wasmbin.Opcode, v uint32) instr {
	return wasmbin.AppendULEB128([]byte{byte(code)}, uint64(v))
}

func lget(i uint32) instr { return withU32(wasmbin.OpLocalGet, i) }
func lset(i uint32) instr { return withU32(wasmbin.OpLocalSet, i) }
func ltee(i uint32) instr { return withU32(wasmbin.OpLocalTee, i) }
func br(l uint32) instr   { return withU32(wasmbin.OpBr, l) }
func brIf(l uint32) instr { return withU32(wasmbin.OpBrIf, l) }
func i32c(v int32) instr  { return wasmbin.AppendSLEB128([]byte{byte(wasmbin.OpI32Const)}, int64(v)) }

func f32c(bits uint32) instr {
	return binary.LittleEndian.AppendUint32([]byte{byte(wasmbin.OpF32Const)}, bits)
}

func f64c(bits uint64) instr {
	return binary.LittleEndian.AppendUint64([]byte{byte(wasmbin.OpF64Const)}, bits)
}

// blockOf opens a block, loop or if with the empty block type (t == 0) or
// one result of type t.
func blockOf(code wasmbin.Opcode, t wasmbin.ValType) instr {
	if t == 0 {
		return instr{byte(code), 0x40}
	}
	return instr{byte(code), byte(t)}
}

var end = op(wasmbin.OpEnd)

// code concatenates instructions into a function body's code.
func code(ins ...instr) []byte {
	var b []byte
	for _, in := range ins {
		b = append(b, in...)
	}
	return b
}

var (
	i32 = wasmbin.I32
	i64 = wasmbin.I64
	f32 = wasmbin.F32
	f64 = wasmbin.F64
)

func vals(ts ...wasmbin.ValType) []wasmbin.ValType { return ts }

// fixtureFunc is one defined function of a hand-assembled module.
type fixtureFunc struct {
	params, results []wasmbin.ValType
	locals          []wasmbin.LocalGroup
	code            []byte
	export          string
}

// encodeModule assembles a module with one type per function, in order.
func encodeModule(funcs ...fixtureFunc) []byte {
	m := &wasmbin.Module{}
	for i, fn := range funcs {
		m.Types = append(m.Types, wasmbin.FuncType{Params: fn.params, Results: fn.results})
		m.Funcs = append(m.Funcs, uint32(i))
		m.Code = append(m.Code, wasmbin.FuncBody{Locals: fn.locals, Code: fn.code})
		if fn.export != "" {
			m.Exports = append(m.Exports, wasmbin.Export{Name: fn.export, Kind: wasmbin.KindFunc, Index: uint32(i)})
		}
	}
	return m.Encode()
}

// canonicalize rewrites wasm, failing the test on error, and validates the
// result with wasm-validate when it is installed.
func canonicalize(t testing.TB, wasm []byte) []byte {
	t.Helper()
	out, err := nan.Canonicalize(wasm)
	if err != nil {
		t.Fatalf("Canonicalize: %v", err)
	}
	wasmtest.Validate(t, out, "the canonicalized module")
	return out
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

// compilationCache shares compiled modules between the runtimes of one test
// binary.
var compilationCache = wazero.NewCompilationCache()

// instantiate compiles and instantiates wasm in e without running any start
// function, closing the runtime when the test ends.
func instantiate(t testing.TB, e engine, wasm []byte) api.Module {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, e.cfg().WithCompilationCache(compilationCache))
	t.Cleanup(func() { rt.Close(ctx) })
	mod, err := rt.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		t.Fatalf("%s: instantiate: %v", e.name, err)
	}
	return mod
}

// call calls an export that returns one value and fails the test on error.
func call(t testing.TB, mod api.Module, export string, args ...uint64) uint64 {
	t.Helper()
	fn := mod.ExportedFunction(export)
	if fn == nil {
		t.Fatalf("no exported function %q", export)
	}
	res, err := fn.Call(context.Background(), args...)
	if err != nil {
		t.Fatalf("%s%v: %v", export, args, err)
	}
	if len(res) != 1 {
		t.Fatalf("%s%v returned %d values, want 1", export, args, len(res))
	}
	return res[0]
}

// countOps returns how many times each opcode occurs in the function bodies
// of wasm.
func countOps(t testing.TB, wasm []byte) map[wasmbin.Opcode]int {
	t.Helper()
	m, err := wasmbin.Parse(wasm)
	if err != nil {
		t.Fatal(err)
	}
	n := map[wasmbin.Opcode]int{}
	for _, b := range m.Code {
		err := wasmbin.DecodeInstrs(b.Code, func(in wasmbin.Instr) error {
			n[in.Op]++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// insertedChecks counts the checks a rewrite added: each has one if.
func insertedChecks(t testing.TB, before, after []byte) int {
	t.Helper()
	return countOps(t, after)[wasmbin.OpIf] - countOps(t, before)[wasmbin.OpIf]
}
