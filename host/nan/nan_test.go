package nan_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/host/nan"
	"github.com/reprise-dev/reprise/host/wasmbin"
)

// opCase is one rewritten instruction with a reference of its IEEE 754
// result computed by Go; args and the result are bit patterns.
type opCase struct {
	op     wasmbin.Opcode
	in     wasmbin.ValType // operand type
	out    wasmbin.ValType // result type
	binary bool
	ref    func(a, b uint64) uint64
}

func f32un(f func(float64) float64) func(a, _ uint64) uint64 {
	return func(a, _ uint64) uint64 {
		return uint64(math.Float32bits(float32(f(float64(math.Float32frombits(uint32(a)))))))
	}
}

func f64un(f func(float64) float64) func(a, _ uint64) uint64 {
	return func(a, _ uint64) uint64 { return math.Float64bits(f(math.Float64frombits(a))) }
}

func f32bin(f func(x, y float32) float32) func(a, b uint64) uint64 {
	return func(a, b uint64) uint64 {
		return uint64(math.Float32bits(f(math.Float32frombits(uint32(a)), math.Float32frombits(uint32(b)))))
	}
}

func f64bin(f func(x, y float64) float64) func(a, b uint64) uint64 {
	return func(a, b uint64) uint64 { return math.Float64bits(f(math.Float64frombits(a), math.Float64frombits(b))) }
}

var opCases = []opCase{
	{wasmbin.OpF32Add, f32, f32, true, f32bin(func(x, y float32) float32 { return x + y })},
	{wasmbin.OpF32Sub, f32, f32, true, f32bin(func(x, y float32) float32 { return x - y })},
	{wasmbin.OpF32Mul, f32, f32, true, f32bin(func(x, y float32) float32 { return x * y })},
	{wasmbin.OpF32Div, f32, f32, true, f32bin(func(x, y float32) float32 { return x / y })},
	{wasmbin.OpF32Min, f32, f32, true, f32bin(func(x, y float32) float32 { return min(x, y) })},
	{wasmbin.OpF32Max, f32, f32, true, f32bin(func(x, y float32) float32 { return max(x, y) })},
	{wasmbin.OpF32Sqrt, f32, f32, false, f32un(math.Sqrt)},
	{wasmbin.OpF32Ceil, f32, f32, false, f32un(math.Ceil)},
	{wasmbin.OpF32Floor, f32, f32, false, f32un(math.Floor)},
	{wasmbin.OpF32Trunc, f32, f32, false, f32un(math.Trunc)},
	{wasmbin.OpF32Nearest, f32, f32, false, f32un(math.RoundToEven)},
	{wasmbin.OpF64Add, f64, f64, true, f64bin(func(x, y float64) float64 { return x + y })},
	{wasmbin.OpF64Sub, f64, f64, true, f64bin(func(x, y float64) float64 { return x - y })},
	{wasmbin.OpF64Mul, f64, f64, true, f64bin(func(x, y float64) float64 { return x * y })},
	{wasmbin.OpF64Div, f64, f64, true, f64bin(func(x, y float64) float64 { return x / y })},
	{wasmbin.OpF64Min, f64, f64, true, f64bin(func(x, y float64) float64 { return min(x, y) })},
	{wasmbin.OpF64Max, f64, f64, true, f64bin(func(x, y float64) float64 { return max(x, y) })},
	{wasmbin.OpF64Sqrt, f64, f64, false, f64un(math.Sqrt)},
	{wasmbin.OpF64Ceil, f64, f64, false, f64un(math.Ceil)},
	{wasmbin.OpF64Floor, f64, f64, false, f64un(math.Floor)},
	{wasmbin.OpF64Trunc, f64, f64, false, f64un(math.Trunc)},
	{wasmbin.OpF64Nearest, f64, f64, false, f64un(math.RoundToEven)},
	{wasmbin.OpF32DemoteF64, f64, f32, false, func(a, _ uint64) uint64 {
		return uint64(math.Float32bits(float32(math.Float64frombits(a))))
	}},
	{wasmbin.OpF64PromoteF32, f32, f64, false, func(a, _ uint64) uint64 {
		return math.Float64bits(float64(math.Float32frombits(uint32(a))))
	}},
}

// Operand bit patterns: zeros, ordinary values, halves for nearest,
// denormals, extremes, infinities, and NaNs of both signs with canonical,
// quiet-with-payload and signalling patterns.
var (
	f32Inputs = []uint64{
		0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x3fc00000, 0xc0200000,
		0x3f000000, 0x4b7fffff, 0x00000001, 0x007fffff, 0x80000001, 0x7f7fffff,
		0xff7fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fc00123,
		0x7f800001, 0xffa00abc,
	}
	f64Inputs = []uint64{
		0x0000000000000000, 0x8000000000000000, 0x3ff0000000000000, 0xbff0000000000000,
		0x3ff8000000000000, 0xc004000000000000, 0x3fe0000000000000, 0x432fffffffffffff,
		0x0000000000000001, 0x000fffffffffffff, 0x8000000000000001, 0x7fefffffffffffff,
		0xffefffffffffffff, 0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000,
		0xfff8000000000000, 0x7ff8000000000123, 0x7ff0000000000001, 0xfff4000000000abc,
		0x3e80000000000000, // 2^-23: demotes to a normal f32
		0x36a0000000000000, // 2^-149: the smallest f32 denormal
		0x47f0000000000000, // 2^128: overflows f32
	}
)

func inputsOf(t wasmbin.ValType) []uint64 {
	if t == f32 {
		return f32Inputs
	}
	return f64Inputs
}

// reinterpretOf returns the instruction that turns a float result into its
// bits, and the integer result type.
func reinterpretOf(t wasmbin.ValType) (instr, wasmbin.ValType) {
	if t == f32 {
		return op(wasmbin.OpI32ReinterpretF32), i32
	}
	return op(wasmbin.OpI64ReinterpretF64), i64
}

func isNaN(bits uint64, t wasmbin.ValType) bool {
	if t == f32 {
		return math.IsNaN(float64(math.Float32frombits(uint32(bits))))
	}
	return math.IsNaN(math.Float64frombits(bits))
}

// payloadNaN returns a negative quiet NaN with payload bits set.
func payloadNaN(t wasmbin.ValType) uint64 {
	if t == f32 {
		return 0xffe00abc
	}
	return 0xfffc000000000abc
}

func canonical(t wasmbin.ValType) uint64 {
	if t == f32 {
		return uint64(nan.CanonicalF32)
	}
	return nan.CanonicalF64
}

// resultBits masks what an engine returns for an i32 to its 32 bits.
func resultBits(v uint64, t wasmbin.ValType) uint64 {
	if t == f32 {
		return uint64(uint32(v))
	}
	return v
}

// opModule exports every case as a function of its operands returning the
// bits of the result.
func opModule() []byte {
	var funcs []fixtureFunc
	for _, c := range opCases {
		reinterpret, res := reinterpretOf(c.out)
		params := vals(c.in)
		body := []instr{lget(0)}
		if c.binary {
			params = vals(c.in, c.in)
			body = append(body, lget(1))
		}
		body = append(body, op(c.op), reinterpret, end)
		funcs = append(funcs, fixtureFunc{params: params, results: vals(res), code: code(body...), export: c.op.String()})
	}
	return encodeModule(funcs...)
}

func TestEveryRewrittenInstructionYieldsTheCanonicalNaN(t *testing.T) {
	plain := opModule()
	wasm := canonicalize(t, plain)
	if n := insertedChecks(t, plain, wasm); n != len(opCases) {
		t.Fatalf("%d checks inserted for %d rewritten instructions", n, len(opCases))
	}

	nonCanonical := 0 // NaNs of the unrewritten module that were not canonical
	for _, e := range engines {
		before, after := instantiate(t, e, plain), instantiate(t, e, wasm)
		for _, c := range opCases {
			name := c.op.String()
			seconds := []uint64{0}
			if c.binary {
				seconds = inputsOf(c.in)
			}
			for _, a := range inputsOf(c.in) {
				for _, b := range seconds {
					args := []uint64{a}
					if c.binary {
						args = append(args, b)
					}
					want := c.ref(a, b)
					wantNaN := isNaN(want, c.out)
					if wantNaN {
						want = canonical(c.out)
					}
					got := resultBits(call(t, after, name, args...), c.out)
					if got != want {
						t.Fatalf("%s: %s(%#x) = %#x, want %#x", e.name, name, args, got, want)
					}
					orig := resultBits(call(t, before, name, args...), c.out)
					switch {
					case !wantNaN && orig != want:
						t.Fatalf("%s: unrewritten %s(%#x) = %#x but Go computes %#x", e.name, name, args, orig, want)
					case wantNaN && !isNaN(orig, c.out):
						t.Fatalf("%s: unrewritten %s(%#x) = %#x, want a NaN", e.name, name, args, orig)
					case wantNaN && orig != canonical(c.out):
						nonCanonical++
					}
				}
			}
		}
	}
	// The inputs must reach NaNs the engines do not produce canonically,
	// or this test would not show that the rewrite does anything.
	if nonCanonical == 0 {
		t.Fatal("no case produced a non-canonical NaN without the rewrite")
	}
	t.Logf("%d NaN results were not canonical before the rewrite", nonCanonical)
}

// TestNaNOfCommonExpressions checks the textbook ways of making a NaN, each
// written with constants so that the NaN comes from the engine itself.
func TestNaNOfCommonExpressions(t *testing.T) {
	inf64, inf32 := uint64(0x7ff0000000000000), uint32(0x7f800000)
	cases := []struct {
		name string
		out  wasmbin.ValType
		body []instr
	}{
		{"f64 0/0", f64, []instr{f64c(0), f64c(0), op(wasmbin.OpF64Div)}},
		{"f64 sqrt(-1)", f64, []instr{f64c(0xbff0000000000000), op(wasmbin.OpF64Sqrt)}},
		{"f64 inf-inf", f64, []instr{f64c(inf64), f64c(inf64), op(wasmbin.OpF64Sub)}},
		{"f64 0*inf", f64, []instr{f64c(0), f64c(inf64), op(wasmbin.OpF64Mul)}},
		{"f64 payload+0", f64, []instr{f64c(0xfff4000000000abc), f64c(0), op(wasmbin.OpF64Add)}},
		{"f32 0/0", f32, []instr{f32c(0), f32c(0), op(wasmbin.OpF32Div)}},
		{"f32 sqrt(-1)", f32, []instr{f32c(0xbf800000), op(wasmbin.OpF32Sqrt)}},
		{"f32 inf-inf", f32, []instr{f32c(inf32), f32c(inf32), op(wasmbin.OpF32Sub)}},
		{"f32 payload+0", f32, []instr{f32c(0xffa00abc), f32c(0), op(wasmbin.OpF32Add)}},
		{"demote payload", f32, []instr{f64c(0x7ff0000000000001), op(wasmbin.OpF32DemoteF64)}},
		{"promote payload", f64, []instr{f32c(0xff800001), op(wasmbin.OpF64PromoteF32)}},
		// A chain: only the last instruction is checked, and the NaN
		// made by the first one still comes out canonical.
		{"f64 sqrt(0/0*2+1)", f64, []instr{
			f64c(0), f64c(0), op(wasmbin.OpF64Div), f64c(0x4000000000000000), op(wasmbin.OpF64Mul),
			f64c(0x3ff0000000000000), op(wasmbin.OpF64Add), op(wasmbin.OpF64Sqrt),
		}},
		{"f32 demote(0/0)+1", f32, []instr{
			f64c(0), f64c(0), op(wasmbin.OpF64Div), op(wasmbin.OpF32DemoteF64), f32c(0x3f800000), op(wasmbin.OpF32Add),
		}},
	}
	var funcs []fixtureFunc
	for _, c := range cases {
		reinterpret, res := reinterpretOf(c.out)
		body := append(append([]instr{}, c.body...), reinterpret, end)
		funcs = append(funcs, fixtureFunc{results: vals(res), code: code(body...), export: c.name})
	}
	wasm := canonicalize(t, encodeModule(funcs...))
	for _, e := range engines {
		mod := instantiate(t, e, wasm)
		for _, c := range cases {
			if got := resultBits(call(t, mod, c.name), c.out); got != canonical(c.out) {
				t.Errorf("%s: %s = %#x, want %#x", e.name, c.name, got, canonical(c.out))
			}
		}
	}
}

func TestChecksAreLeftOutOnlyInsideChains(t *testing.T) {
	cases := []struct {
		name   string
		body   []instr
		checks int
	}{
		{"chain of four", []instr{lget(0), lget(0), lget(0), op(wasmbin.OpF64Mul), op(wasmbin.OpF64Add), op(wasmbin.OpF64Sqrt), op(wasmbin.OpF64Floor)}, 1},
		{"operand pushed in between", []instr{lget(0), op(wasmbin.OpF64Sqrt), lget(0), op(wasmbin.OpF64Add)}, 2},
		{"through neg", []instr{lget(0), op(wasmbin.OpF64Sqrt), op(wasmbin.OpF64Neg), op(wasmbin.OpF64Ceil)}, 2},
		{"across promote", []instr{lget(0), op(wasmbin.OpF32DemoteF64), op(wasmbin.OpF32Sqrt), op(wasmbin.OpF64PromoteF32)}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := append(append([]instr{}, c.body...), op(wasmbin.OpI64ReinterpretF64), end)
			plain := encodeModule(fixtureFunc{params: vals(f64), results: vals(i64), code: code(body...), export: "f"})
			wasm := canonicalize(t, plain)
			if got := insertedChecks(t, plain, wasm); got != c.checks {
				t.Fatalf("%d checks, want %d", got, c.checks)
			}
			for _, e := range engines {
				before, after := instantiate(t, e, plain), instantiate(t, e, wasm)
				for _, x := range f64Inputs {
					orig, got := call(t, before, "f", x), call(t, after, "f", x)
					if isNaN(orig, f64) {
						// neg may follow the last check: the sign is then
						// flipped, deterministically.
						if got&^(1<<63) != nan.CanonicalF64 {
							t.Fatalf("%s: f(%#x) = %#x, want the canonical NaN", e.name, x, got)
						}
					} else if got != orig {
						t.Fatalf("%s: f(%#x) = %#x, unrewritten %#x", e.name, x, got, orig)
					}
				}
			}
		})
	}
}

// TestSignOnlyInstructionsPassCanonicalNaNsThrough shows why abs, neg and
// copysign need no check: from the canonical NaN they give the same bits on
// every engine.
func TestSignOnlyInstructionsPassCanonicalNaNsThrough(t *testing.T) {
	div := []instr{f64c(0), f64c(0), op(wasmbin.OpF64Div)}
	cases := []struct {
		name string
		body []instr
		want uint64
	}{
		{"neg", append(div, op(wasmbin.OpF64Neg)), 0xfff8000000000000},
		{"abs neg", append(div, op(wasmbin.OpF64Neg), op(wasmbin.OpF64Abs)), 0x7ff8000000000000},
		{"copysign -1", append(div, f64c(0xbff0000000000000), op(wasmbin.OpF64Copysign)), 0xfff8000000000000},
	}
	var funcs []fixtureFunc
	for _, c := range cases {
		body := append(append([]instr{}, c.body...), op(wasmbin.OpI64ReinterpretF64), end)
		funcs = append(funcs, fixtureFunc{results: vals(i64), code: code(body...), export: c.name})
	}
	wasm := canonicalize(t, encodeModule(funcs...))
	for _, e := range engines {
		mod := instantiate(t, e, wasm)
		for _, c := range cases {
			if got := call(t, mod, c.name); got != c.want {
				t.Errorf("%s: %s = %#x, want %#x", e.name, c.name, got, c.want)
			}
		}
	}
}

// TestLocalsAndIndicesArePreserved uses a function with parameters and
// locals of every float type around the rewritten code, both scratch
// locals, a block result, unreachable code and a second function, and checks
// that every index the module exposes is unchanged.
func TestLocalsAndIndicesArePreserved(t *testing.T) {
	// mix(a f32, b f64) -> i64: locals 2 (i32), 3-4 (f64), 5 (f32).
	mix := fixtureFunc{
		params:  vals(f32, f64),
		results: vals(i64),
		locals:  []wasmbin.LocalGroup{{Count: 1, Type: i32}, {Count: 2, Type: f64}, {Count: 1, Type: f32}},
		code: code(
			i32c(7), lset(2),
			lget(1), lget(1), op(wasmbin.OpF64Div), lset(3), // 0/0 when b is 0
			lget(0), op(wasmbin.OpF32Sqrt), lset(5),
			blockOf(wasmbin.OpBlock, f64),
			lget(3), lget(5), op(wasmbin.OpF64PromoteF32), op(wasmbin.OpF64Add),
			br(0),
			// Unreachable: the check after f64.mul must still validate.
			op(wasmbin.OpF64Mul),
			end,
			ltee(4),
			op(wasmbin.OpI64ReinterpretF64),
			lget(2), op(wasmbin.OpI64ExtendI32U),
			op(wasmbin.OpI64Add),
			end,
		),
		export: "mix",
	}
	noFloat := fixtureFunc{params: vals(i32), results: vals(i32), code: code(lget(0), i32c(1), op(wasmbin.OpI32Add), end), export: "inc"}
	plain := encodeModule(noFloat, mix)
	wasm := canonicalize(t, plain)

	pm, err := wasmbin.Parse(plain)
	if err != nil {
		t.Fatal(err)
	}
	wm, err := wasmbin.Parse(wasm)
	if err != nil {
		t.Fatal(err)
	}
	if len(wm.Types) != len(pm.Types) || len(wm.Funcs) != len(pm.Funcs) || len(wm.Globals) != len(pm.Globals) || len(wm.Exports) != len(pm.Exports) {
		t.Fatalf("index spaces changed: types %d->%d, funcs %d->%d, globals %d->%d, exports %d->%d",
			len(pm.Types), len(wm.Types), len(pm.Funcs), len(wm.Funcs), len(pm.Globals), len(wm.Globals), len(pm.Exports), len(wm.Exports))
	}
	for i := range pm.Exports {
		if pm.Exports[i] != wm.Exports[i] {
			t.Fatalf("export %d: %+v became %+v", i, pm.Exports[i], wm.Exports[i])
		}
	}
	for i := range pm.Funcs {
		if pm.Funcs[i] != wm.Funcs[i] {
			t.Fatalf("function %d: type %d became %d", i, pm.Funcs[i], wm.Funcs[i])
		}
	}
	if !bytes.Equal(wm.Code[0].Code, pm.Code[0].Code) || len(wm.Code[0].Locals) != 0 {
		t.Fatal("the function without float arithmetic was changed")
	}
	wantLocals := append(append([]wasmbin.LocalGroup{}, mix.locals...), wasmbin.LocalGroup{Count: 1, Type: f32}, wasmbin.LocalGroup{Count: 1, Type: f64})
	if got := wm.Code[1].Locals; len(got) != len(wantLocals) {
		t.Fatalf("locals %v, want %v", got, wantLocals)
	} else {
		for i := range got {
			if got[i] != wantLocals[i] {
				t.Fatalf("locals %v, want %v", got, wantLocals)
			}
		}
	}

	f32Arg := func(v float32) uint64 { return uint64(math.Float32bits(v)) }
	for _, e := range engines {
		before, after := instantiate(t, e, plain), instantiate(t, e, wasm)
		for _, args := range [][]uint64{
			{f32Arg(4), math.Float64bits(2)},
			{f32Arg(-4), math.Float64bits(2)},
			{f32Arg(9), 0},
			{f32Arg(2.25), math.Float64bits(math.Inf(-1))},
		} {
			orig, got := call(t, before, "mix", args...), call(t, after, "mix", args...)
			wantBits := orig - 7
			if math.IsNaN(math.Float64frombits(wantBits)) {
				wantBits = nan.CanonicalF64
			}
			if got != wantBits+7 {
				t.Fatalf("%s: mix(%#x) = %#x, want %#x (unrewritten %#x)", e.name, args, got, wantBits+7, orig)
			}
		}
		if got := call(t, after, "inc", 41); got != 42 {
			t.Fatalf("%s: inc(41) = %d", e.name, got)
		}
	}
}

func TestModuleWithoutFloatArithmeticIsReturnedUnchanged(t *testing.T) {
	plain := encodeModule(
		fixtureFunc{params: vals(i32), results: vals(i32), code: code(lget(0), i32c(1), op(wasmbin.OpI32Add), end), export: "inc"},
		// Float instructions that need no check.
		fixtureFunc{params: vals(f64), results: vals(f64), code: code(lget(0), op(wasmbin.OpF64Neg), op(wasmbin.OpF64Abs), lget(0), op(wasmbin.OpF64Copysign), end), export: "sign"},
	)
	out := canonicalize(t, plain)
	if !bytes.Equal(out, plain) {
		t.Fatal("a module with nothing to rewrite changed")
	}
	if len(out) > 0 && &out[0] == &plain[0] {
		t.Fatal("the output shares memory with the input")
	}
}

func TestOutputIsDeterministic(t *testing.T) {
	plain := opModule()
	first := canonicalize(t, plain)
	for range 3 {
		again, err := nan.Canonicalize(plain)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, first) {
			t.Fatal("two rewrites of the same module differ")
		}
	}
}

func TestBadInputIsRefused(t *testing.T) {
	simd := encodeModule(fixtureFunc{code: code(instr{0xFD, 0x0C}, make(instr, 16), op(wasmbin.OpDrop), end)})
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "nan:"},
		{"not wasm", []byte("\x00asm but not really"), "nan:"},
		{"simd", simd, "SIMD"},
		{"truncated body", encodeModule(fixtureFunc{code: code(lget(0))}), "function 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := nan.Canonicalize(c.in)
			if err == nil {
				t.Fatalf("accepted, returned %d bytes", len(out))
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
			if c.name == "simd" && !errors.Is(err, wasmbin.ErrUnsupported) {
				t.Fatalf("error %v is not wasmbin.ErrUnsupported", err)
			}
		})
	}
}

func TestFullLocalIndexSpaceIsRefused(t *testing.T) {
	in := encodeModule(fixtureFunc{
		params: vals(f64),
		locals: []wasmbin.LocalGroup{{Count: math.MaxUint32 - 1, Type: i32}},
		code:   code(lget(0), lget(0), op(wasmbin.OpF64Add), op(wasmbin.OpDrop), end),
	})
	_, err := nan.Canonicalize(in)
	if !errors.Is(err, nan.ErrTooManyLocals) {
		t.Fatalf("error %v, want %v", err, nan.ErrTooManyLocals)
	}
	if !strings.Contains(err.Error(), "function 0") {
		t.Fatalf("error %q does not name the function", err)
	}
}

// TestImportsAreKept rewrites a module that imports a function, which takes
// the first function index: the defined function keeps index 1.
func TestImportsAreKept(t *testing.T) {
	m := &wasmbin.Module{
		Types:   []wasmbin.FuncType{{Params: vals(f64), Results: vals(f64)}},
		Imports: []wasmbin.Import{{Module: "env", Name: "f", Kind: wasmbin.KindFunc, Func: 0}},
		Funcs:   []uint32{0},
		Code: []wasmbin.FuncBody{{Code: code(
			lget(0), withU32(wasmbin.OpCall, 0), lget(0), op(wasmbin.OpF64Div), end,
		)}},
		Exports: []wasmbin.Export{{Name: "g", Kind: wasmbin.KindFunc, Index: 1}},
	}
	plain := m.Encode()
	wasm := canonicalize(t, plain)
	if n := insertedChecks(t, plain, wasm); n != 1 {
		t.Fatalf("%d checks inserted, want 1", n)
	}
	out, err := wasmbin.Parse(wasm)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Imports) != 1 || out.Imports[0] != m.Imports[0] || out.Exports[0] != m.Exports[0] {
		t.Fatalf("imports %+v and exports %+v changed", out.Imports, out.Exports)
	}
}
