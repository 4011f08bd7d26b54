package meter_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/reprise-dev/reprise/host/meter"
	"github.com/reprise-dev/reprise/host/wasmbin"
)

// depthBody is depth(n): 0 when n is 0, else depth(n-1)+1. depth(n) uses
// n+1 frames.
var depthBody = seq{
	lget(0), op(wasmbin.OpI32Eqz),
	blockOf(wasmbin.OpIf, i32),
	i32c(0),
	elseI,
	lget(0), i32c(1), op(wasmbin.OpI32Sub), call(0), i32c(1), op(wasmbin.OpI32Add),
	end,
	end,
}

func depthFixture() fixture {
	return fixture{
		types: []wasmbin.FuncType{fnType(vals(i32), vals(i32))},
		funcs: []fixtureFunc{{typ: 0, code: code(depthBody), export: "depth"}},
	}
}

// frameOf is the model's frame of a function: FrameUnits, one unit per
// parameter and local, one per instruction (a call counts once per result,
// at least once).
func frameOf(params, locals int64, body seq) int64 {
	return meter.FrameUnits + params + locals + body.n()
}

// stackRun is what one call did in one engine, with the stack counter
// read afterwards.
type stackRun struct {
	outcome
	stack int64
}

// runStack calls export on a fresh instance of every engine, requires the
// engines to agree on results, error, fuel and stack counter, and returns
// the compiler's run.
func runStack(t *testing.T, wasm []byte, export string, budget int64, args ...uint64) stackRun {
	t.Helper()
	var first stackRun
	for i, e := range engines {
		in := instantiate(t, e, wasm)
		stack, ok := in.mod.ExportedGlobal(meter.StackGlobal).(api.MutableGlobal)
		if !ok {
			t.Fatalf("%s: no mutable %s export", e.name, meter.StackGlobal)
		}
		if got := int64(stack.Get()); got != meter.StackUnits {
			t.Fatalf("%s: stack counter starts at %d, want %d", e.name, got, meter.StackUnits)
		}
		r := stackRun{outcome: in.call(t, export, budget, args...), stack: int64(stack.Get())}
		if i == 0 {
			first = r
			continue
		}
		if (r.err == nil) != (first.err == nil) || r.remaining != first.remaining || r.stack != first.stack ||
			len(r.results) != len(first.results) || (len(r.results) > 0 && r.results[0] != first.results[0]) {
			t.Fatalf("%s(%v): %s gave results %v, error %v, fuel left %d, stack %d; %s gave %v, %v, %d, %d",
				export, args, engines[0].name, first.results, first.err, first.remaining, first.stack,
				e.name, r.results, r.err, r.remaining, r.stack)
		}
	}
	return first
}

// wantStackExhausted checks that r failed for want of stack, not fuel, and
// not because the engine itself ran out of stack.
func wantStackExhausted(t *testing.T, r stackRun) {
	t.Helper()
	if r.err == nil {
		t.Fatalf("call returned %v, want a stack trap", r.results)
	}
	if r.remaining < 0 {
		t.Fatalf("call ran out of fuel (%d), want a stack trap", r.remaining)
	}
	if r.stack >= 0 {
		t.Fatalf("call failed with %v but the stack counter is %d, want negative", r.err, r.stack)
	}
	if !strings.Contains(r.err.Error(), "unreachable") {
		t.Fatalf("call failed with %v, want the injected unreachable", r.err)
	}
}

func TestCallStackLimitIsExactAndTheSameOnBothEngines(t *testing.T) {
	wasm := inject(t, depthFixture().encode())
	frame := frameOf(1, 0, depthBody)
	frames := meter.StackUnits / frame // the deepest call stack depth() can have
	if frames < 1800 || frames > meter.MaxFrames {
		t.Fatalf("the model gives depth() %d frames; the test expects about %d", frames, meter.MaxFrames)
	}
	const budget = 1 << 40
	r := runStack(t, wasm, "depth", budget, uint64(frames-1))
	if r.err != nil || int64(r.results[0]) != frames-1 {
		t.Fatalf("depth(%d) in %d frames: %v %v", frames-1, frames, r.results, r.err)
	}
	if r.stack != meter.StackUnits {
		t.Fatalf("stack counter %d after a call returned, want %d", r.stack, meter.StackUnits)
	}
	// Every frame costs the whole body: the if's two arms are charged once.
	if got, want := r.used(budget), frames*depthBody.n(); got != want {
		t.Fatalf("depth(%d) used %d fuel, model predicts %d", frames-1, got, want)
	}

	r = runStack(t, wasm, "depth", budget, uint64(frames))
	wantStackExhausted(t, r)
	if got, want := r.stack, meter.StackUnits-(frames+1)*frame; got != want {
		t.Fatalf("stack counter %d after the failing call, want %d", got, want)
	}
	if got, want := r.used(budget), (frames+1)*depthBody.n(); got != want {
		t.Fatalf("stack trap after %d fuel, model predicts %d", got, want)
	}
}

// TestEnginesDisagreeOnDeepRecursionWithoutTheLimit is why the call stack
// is metered: left to itself, wazero's interpreter refuses a depth that its
// compiler accepts. Metered, both refuse it at the same point.
func TestEnginesDisagreeOnDeepRecursionWithoutTheLimit(t *testing.T) {
	plain := depthFixture().encode()
	const depth = 2500 // past the interpreter's 2000 frames, far below the compiler's stack
	errs := map[string]error{}
	for _, e := range engines {
		ctx := context.Background()
		rt := wazero.NewRuntimeWithConfig(ctx, e.cfg())
		t.Cleanup(func() { rt.Close(ctx) })
		mod, err := rt.Instantiate(ctx, plain)
		if err != nil {
			t.Fatal(err)
		}
		_, errs[e.name] = mod.ExportedFunction("depth").Call(ctx, depth)
	}
	if errs["compiler"] != nil || errs["interpreter"] == nil || !strings.Contains(errs["interpreter"].Error(), "stack overflow") {
		t.Fatalf("unmetered depth(%d): compiler %v, interpreter %v; want only the interpreter to overflow", depth, errs["compiler"], errs["interpreter"])
	}
	wantStackExhausted(t, runStack(t, inject(t, plain), "depth", 1<<40, depth))
}

// Recursion whose frames are large, through many locals or a deep operand
// stack, is stopped by the model before either engine's own stack limit,
// and before the interpreter's operand stack grows past StackUnits values.
func TestLargeFramesAreStoppedByTheModel(t *testing.T) {
	const pushed = 20_000
	var deep seq
	for range pushed {
		deep = append(deep, i64c(1))
	}
	deep = append(deep, call(1))
	for range pushed {
		deep = append(deep, op(wasmbin.OpDrop))
	}
	deep = append(deep, end)
	localsBody := seq{call(0), end}
	f := fixture{
		types: []wasmbin.FuncType{fnType(none, none)},
		funcs: []fixtureFunc{
			{typ: 0, locals: []wasmbin.LocalGroup{{Count: 50_000, Type: i64}}, code: code(localsBody), export: "locals"},
			{typ: 0, code: code(deep), export: "operands"},
		},
	}
	wasm := inject(t, f.encode())
	for _, c := range []struct {
		export string
		frame  int64
	}{
		{"locals", frameOf(0, 50_000, localsBody)},
		{"operands", frameOf(0, 0, deep)},
	} {
		r := runStack(t, wasm, c.export, 1<<40)
		wantStackExhausted(t, r)
		frames := meter.StackUnits/c.frame + 1
		if got, want := r.stack, meter.StackUnits-frames*c.frame; got != want {
			t.Fatalf("%s: stack counter %d, model predicts %d (%d frames of %d units)", c.export, got, want, frames, c.frame)
		}
	}
}

// Every way out of a function gives its frame back: falling off the end, a
// return from inside blocks, br and br_table to the function's label, with
// one result or several.
func TestEveryExitReleasesTheFrame(t *testing.T) {
	exits := seq{
		blockOf(wasmbin.OpBlock, 0),
		lget(0), op(wasmbin.OpI32Eqz), brIf(0),
		lget(0), i32c(1), op(wasmbin.OpI32Eq),
		blockOf(wasmbin.OpIf, 0),
		i32c(7), op(wasmbin.OpReturn),
		end,
		end,
		i32c(9), lget(0), i32c(2), op(wasmbin.OpI32Eq), brIf(0), // to the function's label
		op(wasmbin.OpDrop),
		i32c(11), lget(0), brTable(0, 0), // every target is the function's label
		end,
	}
	pair := seq{lget(0), i64c(5), lget(0), brIf(0), end}
	callsPair := seq{lget(0), call(1), op(wasmbin.OpDrop), end}
	f := fixture{
		types: []wasmbin.FuncType{fnType(vals(i32), vals(i32)), fnType(vals(i32), vals(i32, i64))},
		funcs: []fixtureFunc{
			{typ: 0, code: code(exits), export: "exits"},
			{typ: 1, code: code(pair), export: "pair"},
			{typ: 0, code: code(callsPair), export: "calls_pair"},
		},
	}
	raw := f.encode()
	wasm := inject(t, raw)
	before, _ := wasmbin.Parse(raw)
	after, err := wasmbin.Parse(wasm)
	if err != nil {
		t.Fatal(err)
	}
	// The body of pair needs a block type () -> (i32, i64), added last.
	if len(after.Types) != len(before.Types)+1 || !after.Types[len(before.Types)].Equal(fnType(none, vals(i32, i64))) {
		t.Fatalf("types %v, want %v plus () -> (i32, i64)", after.Types, before.Types)
	}
	for _, c := range []struct {
		export string
		arg    uint64
		want   uint64
	}{
		{"exits", 0, 11}, {"exits", 1, 7}, {"exits", 2, 9}, {"exits", 3, 11},
		{"pair", 0, 0}, {"pair", 4, 4}, {"calls_pair", 3, 3},
	} {
		r := runStack(t, wasm, c.export, 1<<20, c.arg)
		if r.err != nil || uint32(r.results[0]) != uint32(c.want) {
			t.Fatalf("%s(%d) = %v (%v), want %d", c.export, c.arg, r.results, r.err, c.want)
		}
		if r.stack != meter.StackUnits {
			t.Fatalf("%s(%d) left the stack counter at %d, want %d", c.export, c.arg, r.stack, meter.StackUnits)
		}
	}
}

// Code that names a global the module lacks is invalid, but metering
// appends globals: without the check it would become valid code that sets
// its own fuel.
func TestRefusesCodeThatReachesTheMeteringGlobals(t *testing.T) {
	for _, body := range []seq{
		{i64c(1 << 40), gset(1), end},
		{gget(2), op(wasmbin.OpDrop), end},
	} {
		f := fixture{
			types:   []wasmbin.FuncType{fnType(none, none)},
			globals: []wasmbin.Global{{Type: wasmbin.GlobalType{Type: i32, Mutable: true}, Init: code(seq{i32c(0), end})}},
			funcs:   []fixtureFunc{{typ: 0, code: code(spinPre, spinBody, spinPost)}, {typ: 0, code: code(body)}},
		}
		_, err := meter.Inject(f.encode())
		wantErrIs(t, err, meter.ErrGlobalIndex)
		if !strings.Contains(err.Error(), "function 1") || !strings.Contains(err.Error(), "the module has 1 globals") {
			t.Fatalf("error %q does not name function 1 and the number of globals", err)
		}
	}
}

// tableFixture has the given tables and grow(n), which grows table 0 by n
// null elements and returns the old size or -1.
func tableFixture(tables ...wasmbin.Table) []byte {
	refNull := instr{byte(wasmbin.OpRefNull), byte(wasmbin.FuncRef)}
	tableGrow := append(fc(wasmbin.OpTableGrow), 0x00)
	growBody := seq{refNull, lget(0), tableGrow, end}
	m := &wasmbin.Module{
		Types:   []wasmbin.FuncType{fnType(vals(i32), vals(i32))},
		Funcs:   []uint32{0},
		Tables:  tables,
		Code:    []wasmbin.FuncBody{{Code: code(growBody)}},
		Exports: []wasmbin.Export{{Name: "grow", Kind: wasmbin.KindFunc}},
	}
	return m.Encode()
}

func TestTablesAreCapped(t *testing.T) {
	funcref := func(min, max uint32, hasMax bool) wasmbin.Table {
		return wasmbin.Table{Elem: wasmbin.FuncRef, Limits: wasmbin.Limits{Min: min, Max: max, HasMax: hasMax}}
	}
	cases := []struct {
		tables []wasmbin.Table
		maxes  []uint32
	}{
		{[]wasmbin.Table{funcref(10, 0, false)}, []uint32{meter.TableElements}},
		{[]wasmbin.Table{funcref(10, 20, true)}, []uint32{20}},
		{[]wasmbin.Table{funcref(10, 0, false), funcref(100, 1<<30, true), funcref(0, 5, true)},
			[]uint32{10 + (meter.TableElements-110)/3, 100 + (meter.TableElements-110)/3, 5}},
	}
	for _, c := range cases {
		wasm := inject(t, tableFixture(c.tables...))
		m, err := wasmbin.Parse(wasm)
		if err != nil {
			t.Fatal(err)
		}
		for i, tb := range m.Tables {
			if !tb.Limits.HasMax || tb.Limits.Max != c.maxes[i] || tb.Limits.Min != c.tables[i].Limits.Min {
				t.Fatalf("tables %+v became %+v, want maximums %v", c.tables, m.Tables, c.maxes)
			}
		}
		limit := uint64(c.maxes[0] - c.tables[0].Limits.Min)
		if r := runStack(t, wasm, "grow", 1<<40, limit); r.err != nil || r.results[0] != uint64(c.tables[0].Limits.Min) {
			t.Fatalf("growing to the cap: %v %v", r.results, r.err)
		}
		if r := runStack(t, wasm, "grow", 1<<40, limit+1); r.err != nil || uint32(r.results[0]) != 0xFFFFFFFF {
			t.Fatalf("growing past the cap: %v %v, want -1", r.results, r.err)
		}
	}
	_, err := meter.Inject(tableFixture(funcref(meter.TableElements, 0, false), funcref(1, 0, false)))
	if !errors.Is(err, meter.ErrTableTooLarge) || !strings.Contains(err.Error(), "1048577 elements") {
		t.Fatalf("error %v, want ErrTableTooLarge naming 1048577 elements", err)
	}
}
