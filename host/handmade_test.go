package host_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/wasmbin"
)

// handmadeModule assembles, without any toolchain, a module with no
// imports that speaks the ABI: what TinyGo's wasm-unknown target produces
// for a catalog. Every apply answers the same fixed result (hits = 1).
// mutate lets a test break it in one way.
func handmadeModule(mutate func(m *wasmbin.Module)) []byte {
	const (
		descAt, resultAt, stateAt, importAt, bufferAt = 1024, 2048, 3072, 4096, 8192
	)
	desc := []byte(`{"abi":1,"fields":[{"kind":"value","name":"hits"}],"name":"handmade","transitions":[{"name":"TRANSITION_HIT"}],"version":"0.1.0"}`)
	result := abi.AppendResult(nil, &abi.Result{Delta: []abi.Change{{Field: "hits", Value: []byte("1")}}})
	stateBytes := abi.AppendState(nil, []abi.Entry{{Field: "hits", Value: []byte("1")}})
	importResult := abi.AppendResult(nil, &abi.Result{})

	i32, i64 := wasmbin.I32, wasmbin.I64
	m := &wasmbin.Module{
		Types: []wasmbin.FuncType{
			{Results: []wasmbin.ValType{i32}},                                 // () -> i32
			{Params: []wasmbin.ValType{i32}, Results: []wasmbin.ValType{i32}}, // (i32) -> i32
			{Results: []wasmbin.ValType{i64}},                                 // () -> i64
			{Params: []wasmbin.ValType{i32}, Results: []wasmbin.ValType{i64}}, // (i32) -> i64
		},
		Funcs:    []uint32{0, 1, 2, 3, 2, 3},
		Memories: []wasmbin.Limits{{Min: 1}},
	}
	constI32 := func(v int64) []byte { return append(wasmbin.AppendSLEB128([]byte{0x41}, v), 0x0B) }
	constI64 := func(ptr, n int) []byte {
		return append(wasmbin.AppendSLEB128([]byte{0x42}, int64(abi.Pack(uint32(ptr), uint32(n)))), 0x0B)
	}
	m.Code = []wasmbin.FuncBody{
		{Code: constI32(abi.Version)},
		{Code: constI32(bufferAt)},
		{Code: constI64(descAt, len(desc))},
		{Code: constI64(resultAt, len(result))},
		{Code: constI64(stateAt, len(stateBytes))},
		{Code: constI64(importAt, len(importResult))},
	}
	names := []string{abi.ExportABIVersion, abi.ExportBuffer, abi.ExportDescribe, abi.ExportApply, abi.ExportExportState, abi.ExportImportState}
	for i, n := range names {
		m.Exports = append(m.Exports, wasmbin.Export{Name: n, Kind: wasmbin.KindFunc, Index: uint32(i)})
	}
	m.Exports = append(m.Exports, wasmbin.Export{Name: abi.ExportMemory, Kind: wasmbin.KindMemory})
	segments := [][2]any{{descAt, desc}, {resultAt, result}, {stateAt, stateBytes}, {importAt, importResult}}
	data := wasmbin.AppendULEB128(nil, uint64(len(segments)))
	for _, s := range segments {
		data = append(data, 0x00)
		data = append(data, constI32(int64(s[0].(int)))...)
		b := s[1].([]byte)
		data = wasmbin.AppendULEB128(data, uint64(len(b)))
		data = append(data, b...)
	}
	m.Data, m.HasData = data, true
	if mutate != nil {
		mutate(m)
	}
	return m.Encode()
}

// TestImportFreeModuleLoadsWithoutSealing: any module with zero imports
// that speaks the ABI is accepted, whatever built it.
func TestImportFreeModuleLoadsWithoutSealing(t *testing.T) {
	ctx := context.Background()
	r := wasmReducer(t, newEngine(t, host.EngineCompiler, host.DefaultLimits), handmadeModule(nil))
	if d := r.Descriptor(); d.Name != "handmade" || d.Version != "0.1.0" {
		t.Fatalf("descriptor %+v", d)
	}
	o, err := r.Apply(ctx, &abi.Proposal{Transition: "HIT"})
	if err != nil || !o.Result.Accepted() {
		t.Fatalf("%v %+v", err, o)
	}
	if v, _ := r.State().Get("hits", ""); string(v) != "1" {
		t.Fatalf("hits = %s", v)
	}
	if o.Fuel == 0 {
		t.Fatal("no fuel was charged: the module was not metered")
	}
}

func TestStructuralRefusalsNameEveryProblem(t *testing.T) {
	e := newEngine(t, host.EngineCompiler, host.DefaultLimits)
	cases := map[string]struct {
		wasm []byte
		want []string
	}{
		"missing exports": {handmadeModule(func(m *wasmbin.Module) {
			m.Exports = m.Exports[2:] // drop abi_version and buffer
		}), []string{"missing export reprise_abi_version () -> (i32)", "missing export reprise_buffer (i32) -> (i32)"}},
		"mistyped export": {handmadeModule(func(m *wasmbin.Module) {
			m.Exports[3].Index = 0 // apply points at a () -> i32 function
		}), []string{"export reprise_apply has type () -> (i32), want (i32) -> (i64)"}},
		"start function": {handmadeModule(func(m *wasmbin.Module) {
			m.Types = append(m.Types, wasmbin.FuncType{}) // () -> ()
			m.Funcs = append(m.Funcs, uint32(len(m.Types)-1))
			m.Code = append(m.Code, wasmbin.FuncBody{Code: []byte{0x0B}})
			start := uint32(len(m.Funcs) - 1)
			m.Start = &start
		}), []string{"module has a start function"}},
		"wrong ABI version": {handmadeModule(func(m *wasmbin.Module) {
			m.Code[0].Code = []byte{0x41, 0x07, 0x0B}
		}), []string{"module speaks ABI version 7, this host speaks 1"}},
		"function import": {handmadeModule(func(m *wasmbin.Module) {
			m.Imports = []wasmbin.Import{{Module: "env", Name: "now", Kind: wasmbin.KindFunc, Func: 0}}
			for i := range m.Exports {
				if m.Exports[i].Kind == wasmbin.KindFunc {
					m.Exports[i].Index++
				}
			}
		}), []string{"imports env.now (function)"}},
		"not wasm":  {[]byte("\x00asm\x02\x00\x00\x00garbage"), []string{"not a valid wasm module"}},
		"too large": {make([]byte, host.DefaultLimits.MaxModuleBytes+1), []string{"the limit is 67108864"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := e.Load(context.Background(), c.wasm)
			var refused *host.RefusedError
			if !errors.As(err, &refused) {
				t.Fatalf("err = %v, want RefusedError", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("refusal %q does not say %q", err, w)
				}
			}
		})
	}
}
