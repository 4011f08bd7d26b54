package meter_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/host/meter"
	"github.com/reprise-dev/reprise/host/wasmbin"
)

// spinFixture loops forever; the loop charges len(spinBody) per iteration.
var (
	spinPre  = seq{blockOf(wasmbin.OpLoop, 0)}
	spinBody = seq{i32c(1), brIf(0)}
	spinPost = seq{end, end}
)

func spinFixture() fixture {
	return fixture{
		types: []wasmbin.FuncType{fnType(none, none)},
		funcs: []fixtureFunc{{typ: 0, code: code(spinPre, spinBody, spinPost), export: "spin"}},
	}
}

func TestInfiniteLoopRunsOutOfFuel(t *testing.T) {
	wasm := inject(t, spinFixture().encode())
	entry := spinPre.n() + spinPost.n()
	for _, budget := range []int64{0, 1, 2, 3, 1000, 1001, 250_000} {
		o := runBoth(t, wasm, "spin", budget)
		wantOutOfFuel(t, o, predictTrap(budget, entry, spinBody.n()))
	}
	// A negative budget fails the entry charge.
	o := runBoth(t, wasm, "spin", -5)
	wantOutOfFuel(t, o, -5-entry)
}

// countFixture runs its loop exactly n times (n >= 1), counting iterations
// in a global that precedes the fuel global.
var (
	countPre  = seq{blockOf(wasmbin.OpLoop, 0)}
	countBody = seq{
		gget(0), i32c(1), op(wasmbin.OpI32Add), gset(0),
		lget(0), i32c(1), op(wasmbin.OpI32Sub), ltee(0), brIf(0),
	}
	countPost = seq{end, gget(0), end}
)

func countFixture() fixture {
	return fixture{
		types:   []wasmbin.FuncType{fnType(vals(i32), vals(i32))},
		globals: []wasmbin.Global{{Type: wasmbin.GlobalType{Type: i32, Mutable: true}, Init: code(seq{i32c(0), end})}},
		funcs:   []fixtureFunc{{typ: 0, code: code(countPre, countBody, countPost), export: "count"}},
	}
}

func TestLoopOfNIterationsUsesPredictedFuel(t *testing.T) {
	wasm := inject(t, countFixture().encode())
	const budget = 1 << 40
	for _, n := range []int64{1, 2, 7, 1000, 123_457} {
		o := runBoth(t, wasm, "count", budget, uint64(n))
		wantOK(t, o)
		if got := int64(int32(o.results[0])); got != n {
			t.Fatalf("count(%d) returned %d", n, got)
		}
		want := countPre.n() + countPost.n() + n*countBody.n()
		if got := o.used(budget); got != want {
			t.Fatalf("count(%d) used %d fuel, model predicts %d", n, got, want)
		}
	}
}

func TestExactBudgetIsEnough(t *testing.T) {
	wasm := inject(t, countFixture().encode())
	const n = 50
	exact := countPre.n() + countPost.n() + n*countBody.n()
	o := runBoth(t, wasm, "count", exact, n)
	wantOK(t, o)
	if o.remaining != 0 {
		t.Fatalf("exact budget left %d fuel, want 0", o.remaining)
	}
	o = runBoth(t, wasm, "count", exact-1, n)
	// The last iteration's charge is the one that fails.
	wantOutOfFuel(t, o, -1)
}

func TestUnboundedRecursionRunsOutOfFuel(t *testing.T) {
	body := seq{call(0), end}
	f := fixture{
		types: []wasmbin.FuncType{fnType(none, none)},
		funcs: []fixtureFunc{{typ: 0, code: code(body), export: "recurse"}},
	}
	wasm := inject(t, f.encode())
	// The budgets run out before the call stack does (TestCallStack*
	// cover that).
	for _, budget := range []int64{1, 2, 999, 3_001} {
		o := runBoth(t, wasm, "recurse", budget)
		// Every call is an entry charge of the whole body.
		wantOutOfFuel(t, o, predictTrap(budget, 0, body.n()))
	}
}

// nestedFixture runs an outer loop n times around an inner loop of m
// iterations and returns n*m.
var (
	nestedPre    = seq{lget(0), lset(2), blockOf(wasmbin.OpLoop, 0)}
	nestedOuterA = seq{lget(1), lset(3), blockOf(wasmbin.OpLoop, 0)}
	nestedInner  = seq{
		op(wasmbin.OpNop),
		lget(4), i32c(1), op(wasmbin.OpI32Add), lset(4),
		lget(3), i32c(1), op(wasmbin.OpI32Sub), ltee(3), brIf(0),
	}
	nestedOuterB = seq{end, lget(2), i32c(1), op(wasmbin.OpI32Sub), ltee(2), brIf(0)}
	nestedPost   = seq{end, lget(4), end}
)

func TestNestedLoopsChargeEachLevel(t *testing.T) {
	f := fixture{
		types: []wasmbin.FuncType{fnType(vals(i32, i32), vals(i32))},
		funcs: []fixtureFunc{{
			typ:    0,
			locals: []wasmbin.LocalGroup{{Count: 3, Type: i32}},
			code:   code(nestedPre, nestedOuterA, nestedInner, nestedOuterB, nestedPost),
			export: "nested",
		}},
	}
	wasm := inject(t, f.encode())
	const budget = 1 << 40
	entry := nestedPre.n() + nestedPost.n()
	outer := nestedOuterA.n() + nestedOuterB.n()
	for _, nm := range [][2]int64{{1, 1}, {3, 5}, {17, 1}, {1, 17}, {40, 300}} {
		n, m := nm[0], nm[1]
		o := runBoth(t, wasm, "nested", budget, uint64(n), uint64(m))
		wantOK(t, o)
		if got := int64(o.results[0]); got != n*m {
			t.Fatalf("nested(%d, %d) returned %d", n, m, got)
		}
		want := entry + n*outer + n*m*nestedInner.n()
		if got := o.used(budget); got != want {
			t.Fatalf("nested(%d, %d) used %d fuel, model predicts %d", n, m, got, want)
		}
	}
	// Running out inside the inner loop.
	o := runBoth(t, wasm, "nested", 1000, 100, 100)
	if o.err == nil || o.remaining >= 0 {
		t.Fatalf("nested(100, 100) with 1000 fuel: err %v, remaining %d; want out of fuel", o.err, o.remaining)
	}
}

// branchy has no loop: br_table, if/else, a block with a value result and a
// block with a type-index signature. Its entry charge is every instruction,
// whichever path runs.
var branchy = seq{
	blockOf(wasmbin.OpBlock, i32), // $done
	blockOf(wasmbin.OpBlock, 0),   // $b
	blockOf(wasmbin.OpBlock, 0),   // $a
	lget(0),
	brTable(1, 0), // x == 0: $a, else $b
	end,           // $a
	i32c(100),
	br(1), // $done
	end,   // $b
	lget(0), i32c(1), op(wasmbin.OpI32Eq),
	blockOf(wasmbin.OpIf, i32),
	i32c(7),
	elseI,
	i32c(9),
	end,
	end, // $done
	lget(0), op(wasmbin.OpI32Add),
	blockTyped(wasmbin.OpBlock, 1), // [i32] -> [i32]
	i32c(3), op(wasmbin.OpI32Mul),
	end,
	end,
}

// loopParams carries its counter as a loop parameter (multi-value loop
// type), so the loop header charge runs with a value on the stack.
var (
	loopParamsPre  = seq{lget(0), blockTyped(wasmbin.OpLoop, 1)}
	loopParamsBody = seq{i32c(1), op(wasmbin.OpI32Sub), ltee(1), lget(1), brIf(0)}
	loopParamsPost = seq{end, end}
)

func TestBranchesAndBlockTypes(t *testing.T) {
	f := fixture{
		types: []wasmbin.FuncType{fnType(vals(i32), vals(i32)), fnType(vals(i32), vals(i32))},
		funcs: []fixtureFunc{
			{typ: 0, code: code(branchy), export: "branchy"},
			{typ: 0, locals: []wasmbin.LocalGroup{{Count: 1, Type: i32}},
				code: code(loopParamsPre, loopParamsBody, loopParamsPost), export: "loop_params"},
		},
	}
	wasm := inject(t, f.encode())
	const budget = 10_000
	for _, c := range []struct{ x, want int32 }{{0, 300}, {1, 24}, {5, 42}} {
		x, want := c.x, c.want
		o := runBoth(t, wasm, "branchy", budget, uint64(x))
		wantOK(t, o)
		if got := int32(o.results[0]); got != want {
			t.Fatalf("branchy(%d) = %d, want %d", x, got, want)
		}
		if got := o.used(budget); got != branchy.n() {
			t.Fatalf("branchy(%d) used %d fuel, model predicts %d", x, got, branchy.n())
		}
	}
	for _, n := range []int64{1, 4, 99} {
		o := runBoth(t, wasm, "loop_params", budget, uint64(n))
		wantOK(t, o)
		if o.results[0] != 0 {
			t.Fatalf("loop_params(%d) = %d, want 0", n, o.results[0])
		}
		want := loopParamsPre.n() + loopParamsPost.n() + n*loopParamsBody.n()
		if got := o.used(budget); got != want {
			t.Fatalf("loop_params(%d) used %d fuel, model predicts %d", n, got, want)
		}
	}
}

// Bulk operations pay 1 unit per whole 32 bytes (memory.fill, memory.copy),
// 2048 units per page grown, on top of 1 unit per instruction.
var (
	fillBody = seq{i32c(0), i32c(0xAB), lget(0), memoryFill, i32c(0), memArg(wasmbin.OpI32Load8U, 0, 0), end}
	copyBody = seq{i32c(1000), i32c(0), lget(0), memoryCopy, memorySize, end}
	growBody = seq{lget(0), memoryGrow, end}
)

func bulkFixture() fixture {
	return fixture{
		types:  []wasmbin.FuncType{fnType(vals(i32), vals(i32))},
		memory: &wasmbin.Limits{Min: 2, Max: 10, HasMax: true},
		funcs: []fixtureFunc{
			{typ: 0, code: code(fillBody), export: "fill"},
			{typ: 0, code: code(copyBody), export: "copy"},
			{typ: 0, code: code(growBody), export: "grow"},
		},
	}
}

func TestBulkOperationsPayForTheirLength(t *testing.T) {
	wasm := inject(t, bulkFixture().encode())
	const budget = 1 << 40
	cases := []struct {
		export string
		arg    uint32
		result uint32
		fuel   int64
	}{
		{"fill", 0, 0, fillBody.n()},
		{"fill", 31, 0xAB, fillBody.n()},
		{"fill", 32, 0xAB, fillBody.n() + 1},
		{"fill", 100, 0xAB, fillBody.n() + 3},
		{"fill", 65536, 0xAB, fillBody.n() + 2048},
		{"copy", 64, 2, copyBody.n() + 2},
		{"copy", 65536, 2, copyBody.n() + 2048},
		{"grow", 0, 2, growBody.n()},
		{"grow", 3, 2, growBody.n() + 3*2048},
		// A grow past the maximum fails (-1) and is still charged.
		{"grow", 100, 0xFFFFFFFF, growBody.n() + 100*2048},
	}
	for _, c := range cases {
		o := runBoth(t, wasm, c.export, budget, uint64(c.arg))
		wantOK(t, o)
		if got := uint32(o.results[0]); got != c.result {
			t.Fatalf("%s(%d) = %#x, want %#x", c.export, c.arg, got, c.result)
		}
		if got := o.used(budget); got != c.fuel {
			t.Fatalf("%s(%d) used %d fuel, model predicts %d", c.export, c.arg, got, c.fuel)
		}
	}
}

func TestBulkChargeFailsBeforeTheOperation(t *testing.T) {
	wasm := inject(t, bulkFixture().encode())
	for _, e := range engines {
		in := instantiate(t, e, wasm)
		o := in.call(t, "fill", fillBody.n()+2047, 65536)
		wantOutOfFuel(t, o, -1)
		b, ok := in.mod.Memory().ReadByte(0)
		if !ok || b != 0 {
			t.Fatalf("%s: memory[0] = %#x after an out-of-fuel fill, want 0 (untouched)", e.name, b)
		}
	}
}

func TestRefusesModulesWithImports(t *testing.T) {
	m := &wasmbin.Module{
		Types: []wasmbin.FuncType{fnType(none, none)},
		Imports: []wasmbin.Import{
			{Module: "wasi_snapshot_preview1", Name: "fd_write", Kind: wasmbin.KindFunc, Func: 0},
			{Module: "env", Name: "memory", Kind: wasmbin.KindMemory, Memory: wasmbin.Limits{Min: 1}},
		},
		Funcs: []uint32{0},
		Code:  []wasmbin.FuncBody{{Code: code(seq{end})}},
	}
	_, err := meter.Inject(m.Encode())
	wantErrIs(t, err, meter.ErrImports)
	for _, want := range []string{"wasi_snapshot_preview1.fd_write (func)", "env.memory (memory)", "seal"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not name %q", err, want)
		}
	}
}

func TestRefusesAlreadyMeteredModules(t *testing.T) {
	once := inject(t, countFixture().encode())
	_, err := meter.Inject(once)
	wantErrIs(t, err, meter.ErrAlreadyExported)

	// Any export of that name is refused, whatever its kind.
	f := countFixture()
	f.funcs[0].export = meter.FuelGlobal
	_, err = meter.Inject(f.encode())
	wantErrIs(t, err, meter.ErrAlreadyExported)
	f.funcs[0].export = meter.StackGlobal
	_, err = meter.Inject(f.encode())
	wantErrIs(t, err, meter.ErrAlreadyExported)
}

func TestRefusesStartFunction(t *testing.T) {
	m := &wasmbin.Module{
		Types: []wasmbin.FuncType{fnType(none, none)},
		Funcs: []uint32{0},
		Code:  []wasmbin.FuncBody{{Code: code(seq{end})}},
		Start: new(uint32),
	}
	_, err := meter.Inject(m.Encode())
	wantErrIs(t, err, meter.ErrStartFunction)
}

func TestRefusesMalformedInput(t *testing.T) {
	_, err := meter.Inject([]byte("not wasm"))
	var pe *wasmbin.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v, want a *wasmbin.ParseError", err)
	}

	// A module truncated anywhere gives an error (unless the cut falls
	// between two sections), never a panic.
	valid := bulkFixture().encode()
	for i := range valid {
		_, err := meter.Inject(valid[:i])
		if _, perr := wasmbin.Parse(valid[:i]); perr != nil && err == nil {
			t.Fatalf("Inject accepted the module truncated to %d of %d bytes", i, len(valid))
		}
	}

	// An instruction the decoder refuses names the function.
	f := spinFixture()
	f.funcs = append(f.funcs, fixtureFunc{typ: 0, code: []byte{0xFD, 0x0C, byte(wasmbin.OpEnd)}})
	_, err = meter.Inject(f.encode())
	var ie *wasmbin.InstrError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "function 1") {
		t.Fatalf("error %v, want a *wasmbin.InstrError naming function 1", err)
	}
}

func TestInjectIsDeterministicAndKeepsIndices(t *testing.T) {
	in := bulkFixture()
	in.globals = []wasmbin.Global{
		{Type: wasmbin.GlobalType{Type: i64}, Init: code(seq{i64c(7), end})},
		{Type: wasmbin.GlobalType{Type: i32, Mutable: true}, Init: code(seq{i32c(1), end})},
	}
	in.funcs[1].locals = []wasmbin.LocalGroup{{Count: 2, Type: i64}, {Count: 1, Type: wasmbin.F64}}
	wasm := in.encode()
	orig := bytes.Clone(wasm)

	first := inject(t, wasm)
	second := inject(t, wasm)
	if !bytes.Equal(first, second) {
		t.Fatal("two Inject calls on the same input gave different bytes")
	}
	if !bytes.Equal(wasm, orig) {
		t.Fatal("Inject modified its input")
	}

	before, err := wasmbin.Parse(wasm)
	if err != nil {
		t.Fatal(err)
	}
	after, err := wasmbin.Parse(first)
	if err != nil {
		t.Fatalf("metered output does not parse: %v", err)
	}
	if fmt.Sprint(after.Types) != fmt.Sprint(before.Types) || fmt.Sprint(after.Funcs) != fmt.Sprint(before.Funcs) {
		t.Fatal("types or function section changed")
	}
	if len(after.Globals) != len(before.Globals)+2 {
		t.Fatalf("%d globals after, want %d", len(after.Globals), len(before.Globals)+2)
	}
	for i, g := range before.Globals {
		if after.Globals[i].Type != g.Type || !bytes.Equal(after.Globals[i].Init, g.Init) {
			t.Fatalf("global %d changed", i)
		}
	}
	fuel := after.Globals[len(before.Globals)]
	if fuel.Type != (wasmbin.GlobalType{Type: i64, Mutable: true}) || !bytes.Equal(fuel.Init, code(seq{i64c(0), end})) {
		t.Fatalf("fuel global is %+v, want a mutable i64 starting at 0", fuel)
	}
	stack := after.Globals[len(before.Globals)+1]
	if stack.Type != (wasmbin.GlobalType{Type: i64, Mutable: true}) || !bytes.Equal(stack.Init, code(seq{i64c(meter.StackUnits), end})) {
		t.Fatalf("stack global is %+v, want a mutable i64 starting at %d", stack, meter.StackUnits)
	}
	if len(after.Exports) != len(before.Exports)+2 {
		t.Fatalf("%d exports after, want %d", len(after.Exports), len(before.Exports)+2)
	}
	for i, e := range before.Exports {
		if after.Exports[i] != e {
			t.Fatalf("export %d changed from %+v to %+v", i, e, after.Exports[i])
		}
	}
	for i, want := range []wasmbin.Export{
		{Name: meter.FuelGlobal, Kind: wasmbin.KindGlobal, Index: uint32(len(before.Globals))},
		{Name: meter.StackGlobal, Kind: wasmbin.KindGlobal, Index: uint32(len(before.Globals) + 1)},
	} {
		if got := after.Exports[len(before.Exports)+i]; got != want {
			t.Fatalf("metering export %+v, want %+v", got, want)
		}
	}
	for i, b := range before.Code {
		a := after.Code[i]
		if len(a.Locals) < len(b.Locals) || fmt.Sprint(a.Locals[:len(b.Locals)]) != fmt.Sprint(b.Locals) {
			t.Fatalf("function %d: locals %v do not start with the original %v", i, a.Locals, b.Locals)
		}
	}
	// Behaviour is unchanged.
	o := runBoth(t, first, "copy", 1000, 64)
	wantOK(t, o)
}

func TestRefusesWhenNoLocalIndexIsLeft(t *testing.T) {
	f := bulkFixture()
	// One parameter plus 2^32-1 locals fill the local index space; the
	// length of memory.fill would need one more.
	f.funcs[0].locals = []wasmbin.LocalGroup{{Count: 1<<32 - 1, Type: i32}}
	_, err := meter.Inject(f.encode())
	wantErrIs(t, err, meter.ErrTooManyLocals)
	if !strings.Contains(err.Error(), "function 0") {
		t.Fatalf("error %q does not name function 0", err)
	}
}
