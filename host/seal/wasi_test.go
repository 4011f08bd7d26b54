package seal

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/reprise-dev/reprise/host/wasmbin"
)

// importingModule builds a module that imports the named preview1 functions
// with their signatures and exports each import under its own name, so a
// test can call the virtual functions directly after sealing.
func importingModule(t *testing.T, withMemory bool, names ...string) []byte {
	t.Helper()
	m := &wasmbin.Module{}
	for i, name := range names {
		f, ok := lookupWASI(name)
		if !ok {
			t.Fatalf("%q is not in the preview1 table", name)
		}
		m.Imports = append(m.Imports, wasmbin.Import{Module: WASIModule, Name: name, Kind: wasmbin.KindFunc, Func: typeIndex(m, f.signature())})
		m.Exports = append(m.Exports, wasmbin.Export{Name: name, Kind: wasmbin.KindFunc, Index: uint32(i)})
	}
	if withMemory {
		m.Memories = []wasmbin.Limits{{Min: 1}}
		m.Exports = append(m.Exports, wasmbin.Export{Name: "memory", Kind: wasmbin.KindMemory})
	}
	return m.Encode()
}

func typeIndex(m *wasmbin.Module, ft wasmbin.FuncType) uint32 {
	for i, t := range m.Types {
		if t.Equal(ft) {
			return uint32(i)
		}
	}
	m.Types = append(m.Types, ft)
	return uint32(len(m.Types) - 1)
}

func allPreview1Names() []string {
	names := make([]string, len(preview1))
	for i, f := range preview1 {
		names[i] = f.name
	}
	return names
}

// splitmix64 is the reference generator random_get must reproduce.
func splitmix64(state *uint64) uint64 {
	*state += 0x9E3779B97F4A7C15
	z := *state
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func TestPreview1TableIsComplete(t *testing.T) {
	if len(preview1) != 46 {
		t.Fatalf("preview1 lists %d functions, want 46", len(preview1))
	}
	seen := map[string]bool{}
	for _, f := range preview1 {
		if seen[f.name] {
			t.Errorf("%s listed twice", f.name)
		}
		seen[f.name] = true
	}
}

func TestVirtualFunctions(t *testing.T) {
	in := importingModule(t, true, allPreview1Names()...)
	out, rep, err := Seal(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Virtualised) != 46 {
		t.Fatalf("virtualised %d functions, want 46", len(rep.Virtualised))
	}
	validate(t, out)
	for _, engine := range engines {
		t.Run(engine.name, func(t *testing.T) {
			rt, compiled := compile(t, engine.config(), out)
			mod := instantiate(t, rt, compiled)
			checkVirtualFunctions(t, mod)
		})
	}
}

// i32arg is a (possibly negative) i32 argument as wazero passes it.
func i32arg(v int32) uint64 { return uint64(uint32(v)) }

func checkVirtualFunctions(t *testing.T, mod api.Module) {
	mem := mod.Memory()
	errno := func(name string, args ...uint64) uint32 {
		t.Helper()
		return uint32(call(t, mod, name, args...)[0])
	}
	expect := func(name string, want uint32, args ...uint64) {
		t.Helper()
		if got := errno(name, args...); got != want {
			t.Errorf("%s%v = %d, want %d", name, args, got, want)
		}
	}
	fill := func(off, n uint32) {
		t.Helper()
		if !mem.Write(off, bytes.Repeat([]byte{0xEE}, int(n))) {
			t.Fatalf("cannot write %d bytes at %d", n, off)
		}
	}
	read := func(off, n uint32) []byte {
		t.Helper()
		b, ok := mem.Read(off, n)
		if !ok {
			t.Fatalf("cannot read %d bytes at %d", n, off)
		}
		return append([]byte(nil), b...)
	}
	u32At := func(off uint32) uint32 { return binary.LittleEndian.Uint32(read(off, 4)) }
	u64At := func(off uint32) uint64 { return binary.LittleEndian.Uint64(read(off, 8)) }

	// Arguments and environment are empty.
	for _, name := range []string{"args_sizes_get", "environ_sizes_get"} {
		fill(100, 8)
		expect(name, 0, 100, 104)
		if got := read(100, 8); !bytes.Equal(got, make([]byte, 8)) {
			t.Errorf("%s wrote % x, want zeros", name, got)
		}
	}
	expect("args_get", 0, 100, 104)
	expect("environ_get", 0, 100, 104)

	// The clock starts at clockStart and steps on every read, whatever
	// the clock id; unknown ids are EINVAL.
	for i, id := range []uint64{0, 1, 2, 3} {
		expect("clock_time_get", 0, id, 0, 200)
		if got, want := u64At(200), uint64(clockStart+i*clockStep); got != want {
			t.Errorf("clock_time_get read %d, want %d", got, want)
		}
	}
	expect("clock_time_get", 28, 4, 0, 200)
	expect("clock_res_get", 0, 1, 208)
	if got := u64At(208); got != clockStep {
		t.Errorf("clock_res_get wrote %d, want %d", got, clockStep)
	}
	expect("clock_res_get", 28, 9, 208)

	// random_get reproduces splitmix64 from the fixed seed, little-endian,
	// and writes exactly the requested bytes.
	fill(300, 32)
	expect("random_get", 0, 300, 13)
	state := uint64(randomSeed)
	want := binary.LittleEndian.AppendUint64(nil, splitmix64(&state))
	want = binary.LittleEndian.AppendUint64(want, splitmix64(&state))[:13]
	if got := read(300, 14); !bytes.Equal(got[:13], want) || got[13] != 0xEE {
		t.Errorf("random_get wrote % x, want % x then the untouched 0xee", got, want)
	}
	expect("random_get", 0, 300, 0)
	expect("random_get", 0, 300, 8)
	if got, want := u64At(300), splitmix64(&state); got != want {
		t.Errorf("third random word %x, want %x", got, want)
	}

	// fd_write: stdout and stderr swallow everything and report it written.
	iovs := binary.LittleEndian.AppendUint32(nil, 0)
	iovs = binary.LittleEndian.AppendUint32(iovs, 5)
	iovs = binary.LittleEndian.AppendUint32(iovs, 16)
	iovs = binary.LittleEndian.AppendUint32(iovs, 7)
	mem.Write(400, iovs)
	for _, fd := range []uint64{1, 2} {
		fill(420, 4)
		expect("fd_write", 0, fd, 400, 2, 420)
		if got := u32At(420); got != 12 {
			t.Errorf("fd_write(%d) reported %d bytes written, want 12", fd, got)
		}
	}
	expect("fd_write", 0, 1, 400, 0, 420)
	if got := u32At(420); got != 0 {
		t.Errorf("fd_write of no iovecs reported %d bytes", got)
	}
	for _, fd := range []uint64{0, 3, i32arg(-1)} {
		expect("fd_write", 8, fd, 400, 2, 420)
	}

	// fd_read: stdin is at end of file, other fds do not exist.
	fill(424, 4)
	expect("fd_read", 0, 0, 400, 2, 424)
	if got := u32At(424); got != 0 {
		t.Errorf("fd_read(0) reported %d bytes read", got)
	}
	expect("fd_read", 8, 1, 400, 2, 424)

	// fd_fdstat_get: character devices with every right.
	for _, fd := range []uint64{0, 1, 2} {
		fill(500, 24)
		expect("fd_fdstat_get", 0, fd, 500)
		want := []byte{2, 0, 0, 0, 0, 0, 0, 0}
		want = binary.LittleEndian.AppendUint64(want, 1<<29-1)
		want = binary.LittleEndian.AppendUint64(want, 1<<29-1)
		if got := read(500, 24); !bytes.Equal(got, want) {
			t.Errorf("fd_fdstat_get(%d) wrote % x, want % x", fd, got, want)
		}
	}
	expect("fd_fdstat_get", 8, 3, 500)
	expect("fd_fdstat_set_flags", 0, 2, 0)
	expect("fd_fdstat_set_flags", 8, 3, 0)

	// fd_filestat_get: a 64-byte filestat, zero but for the filetype.
	fill(600, 64)
	expect("fd_filestat_get", 0, 1, 600)
	wantStat := make([]byte, 64)
	wantStat[16] = 2
	if got := read(600, 64); !bytes.Equal(got, wantStat) {
		t.Errorf("fd_filestat_get wrote % x", got)
	}
	expect("fd_filestat_get", 8, 4, 600)

	// Seeking a character device is ESPIPE; syncing it succeeds.
	expect("fd_seek", 70, 1, 0, 0, 700)
	expect("fd_seek", 8, 5, 0, 0, 700)
	expect("fd_tell", 70, 2, 700)
	expect("fd_tell", 8, 9, 700)
	expect("fd_sync", 0, 1)
	expect("fd_datasync", 0, 2)
	expect("fd_sync", 8, 3)
	expect("fd_datasync", 8, 3)

	// No preopened directories, no files, no sockets.
	expect("fd_close", 8, 1)
	expect("fd_prestat_get", 8, 3, 800)
	expect("fd_prestat_dir_name", 8, 3, 800, 10)
	for _, f := range preview1 {
		if strings.HasPrefix(f.name, "path_") || strings.HasPrefix(f.name, "sock_") ||
			f.name == "fd_advise" || f.name == "fd_allocate" || f.name == "fd_pread" || f.name == "fd_pwrite" ||
			f.name == "fd_readdir" || f.name == "fd_renumber" || f.name == "fd_fdstat_set_rights" ||
			f.name == "fd_filestat_set_size" || f.name == "fd_filestat_set_times" {
			expect(f.name, 8, make([]uint64, len(f.params))...)
		}
	}
	expect("proc_raise", 58, 9)
	expect("sched_yield", 0)

	// poll_oneoff: every subscription fires, events mirror them, and the
	// clock moves to the latest deadline.
	expect("clock_time_get", 0, 1, 0, 200)
	now := u64At(200)
	subs := make([]byte, 3*48)
	binary.LittleEndian.PutUint64(subs[0:], 0xAABB)     // clock, relative 5 ms
	binary.LittleEndian.PutUint64(subs[24:], 5_000_000) // timeout
	binary.LittleEndian.PutUint64(subs[48:], 0xCC)      // fd_read on stdin
	subs[48+8] = 1
	binary.LittleEndian.PutUint64(subs[96:], 0xDD) // clock, absolute, 1 s past the start
	binary.LittleEndian.PutUint64(subs[96+24:], clockStart+1_000_000_000)
	binary.LittleEndian.PutUint16(subs[96+40:], 1)
	mem.Write(1000, subs)
	fill(2000, 3*32+4)
	expect("poll_oneoff", 0, 1000, 2000, 3, 2200)
	if got := u32At(2200); got != 3 {
		t.Errorf("poll_oneoff reported %d events, want 3", got)
	}
	for i, sub := range []struct {
		userdata uint64
		typ      byte
	}{{0xAABB, 0}, {0xCC, 1}, {0xDD, 0}} {
		want := binary.LittleEndian.AppendUint64(nil, sub.userdata)
		want = append(want, 0, 0, sub.typ, 0, 0, 0, 0, 0)
		want = append(want, make([]byte, 16)...)
		if got := read(2000+uint32(i)*32, 32); !bytes.Equal(got, want) {
			t.Errorf("event %d = % x, want % x", i, got, want)
		}
	}
	expect("clock_time_get", 0, 1, 0, 200)
	if got := u64At(200); got != clockStart+1_000_000_000 || got <= now {
		t.Errorf("after polling to an absolute deadline the clock reads %d, want %d", got, uint64(clockStart+1_000_000_000))
	}
	// A relative sleep moves the clock by exactly the timeout past the
	// clock's next reading.
	now = u64At(200)
	expect("poll_oneoff", 0, 1000, 2000, 1, 2200)
	expect("clock_time_get", 0, 1, 0, 200)
	if got, want := u64At(200), now+clockStep+5_000_000; got != want {
		t.Errorf("after a 5 ms poll the clock reads %d, want %d", got, want)
	}
	// A deadline past the ceiling stops there rather than wrapping.
	binary.LittleEndian.PutUint64(subs[24:], ^uint64(0))
	mem.Write(1000, subs)
	expect("poll_oneoff", 0, 1000, 2000, 1, 2200)
	expect("clock_time_get", 0, 1, 0, 200)
	if got := u64At(200); got != clockCeiling {
		t.Errorf("after an endless poll the clock reads %d, want the ceiling %d", got, uint64(clockCeiling))
	}
	expect("poll_oneoff", 28, 1000, 2000, 0, 2200)

	// proc_exit traps.
	if _, err := mod.ExportedFunction("proc_exit").Call(context.Background(), 0); err == nil {
		t.Error("proc_exit returned; it must trap")
	}
}

func TestSealModuleWithoutMemory(t *testing.T) {
	in := importingModule(t, false, "fd_write", "clock_time_get", "random_get", "poll_oneoff", "sched_yield", "fd_close")
	out, _, err := Seal(in)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, out)
	m := mustParse(t, out)
	if len(m.Globals) != 0 {
		t.Errorf("a module without memory got %d globals; none of its virtual functions can use them", len(m.Globals))
	}
	rt, compiled := compile(t, engines[1].config(), out)
	mod := instantiate(t, rt, compiled)
	for name, want := range map[string]uint32{"fd_write": 21, "clock_time_get": 21, "random_get": 21, "poll_oneoff": 21, "sched_yield": 0, "fd_close": 8} {
		f, _ := lookupWASI(name)
		if got := uint32(call(t, mod, name, make([]uint64, len(f.params))...)[0]); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
}

func TestSealZeroImports(t *testing.T) {
	m := &wasmbin.Module{
		Types:    []wasmbin.FuncType{{Results: []wasmbin.ValType{wasmbin.I32}}},
		Funcs:    []uint32{0},
		Code:     []wasmbin.FuncBody{{Code: []byte{0x41, 0x2A, 0x0B}}},
		Exports:  []wasmbin.Export{{Name: "answer", Kind: wasmbin.KindFunc}},
		Memories: []wasmbin.Limits{{Min: 1}},
	}
	in := m.Encode()
	out, rep, err := Seal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.AlreadySealed || len(rep.Virtualised) != 0 || !bytes.Equal(out, in) {
		t.Fatalf("zero-import module: report %+v, unchanged %v", rep, bytes.Equal(out, in))
	}
	if _, ok, _ := ReadRecord(mustParse(t, out)); ok {
		t.Error("an import-free module was given a seal record")
	}
}

func TestSealRefusals(t *testing.T) {
	fdWriteWrong := wasmbin.FuncType{Params: []wasmbin.ValType{wasmbin.I32}, Results: []wasmbin.ValType{wasmbin.I32}}
	m := &wasmbin.Module{
		Types: []wasmbin.FuncType{{}, fdWriteWrong, {Results: []wasmbin.ValType{wasmbin.I32}}},
		Imports: []wasmbin.Import{
			{Module: "env", Name: "foo", Kind: wasmbin.KindFunc, Func: 0},
			{Module: WASIModule, Name: "sched_yield", Kind: wasmbin.KindFunc, Func: 2}, // fine
			{Module: WASIModule, Name: "memory", Kind: wasmbin.KindMemory, Memory: wasmbin.Limits{Min: 1, Max: 2, HasMax: true}},
			{Module: "env", Name: "counter", Kind: wasmbin.KindGlobal, Global: wasmbin.GlobalType{Type: wasmbin.I64, Mutable: true}},
			{Module: WASIModule, Name: "fd_write", Kind: wasmbin.KindFunc, Func: 1},
			{Module: WASIModule, Name: "fd_frobnicate", Kind: wasmbin.KindFunc, Func: 2},
			{Module: "env", Name: "table", Kind: wasmbin.KindTable, Table: wasmbin.Table{Elem: wasmbin.FuncRef, Limits: wasmbin.Limits{Min: 4}}},
		},
	}
	_, _, err := Seal(m.Encode())
	var refused *RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("got %v, want a *RefusedError", err)
	}
	if refused.Total != 7 || len(refused.Imports) != 6 {
		t.Fatalf("refused %d of %d imports, want 6 of 7: %v", len(refused.Imports), refused.Total, err)
	}
	msg := err.Error()
	for _, want := range []string{
		"import 0 env.foo (func () -> ()): module \"env\" is not wasi_snapshot_preview1",
		"import 2 wasi_snapshot_preview1.memory (memory min 1 max 2 pages): only function imports can be virtualised",
		"import 3 env.counter (global mut i64): only function imports can be virtualised",
		"import 4 wasi_snapshot_preview1.fd_write (func (i32) -> (i32)): signature differs from preview1: found (i32) -> (i32), want (i32, i32, i32, i32) -> (i32)",
		"import 5 wasi_snapshot_preview1.fd_frobnicate (func () -> (i32)): \"fd_frobnicate\" is not a wasi_snapshot_preview1 function",
		"import 6 env.table (table funcref min 4): only function imports can be virtualised",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not contain %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "sched_yield") {
		t.Errorf("the valid import is listed among the refused:\n%s", msg)
	}

	// Each kind of offence alone is refused too, and named.
	for i, im := range m.Imports {
		if i == 1 {
			continue
		}
		single := &wasmbin.Module{Types: m.Types, Imports: []wasmbin.Import{im}}
		_, _, err := Seal(single.Encode())
		if !errors.As(err, &refused) || len(refused.Imports) != 1 || !strings.Contains(err.Error(), im.Module+"."+im.Name) {
			t.Errorf("module importing only %s.%s: got %v", im.Module, im.Name, err)
		}
	}
}

func TestSealRefusesMalformedInput(t *testing.T) {
	_, _, err := Seal([]byte("\x00asm\x01\x00\x00\x00\x01\x05"))
	var pe *wasmbin.ParseError
	if !errors.Is(err, ErrNotWasm) || !errors.As(err, &pe) {
		t.Fatalf("got %v, want ErrNotWasm wrapping a *wasmbin.ParseError", err)
	}
}

func TestSealIsDeterministic(t *testing.T) {
	in := importingModule(t, true, "random_get", "clock_time_get", "fd_write", "fd_write", "proc_exit")
	first, rep, err := Seal(in)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		again, _, err := Seal(in)
		if err != nil || !bytes.Equal(again, first) {
			t.Fatalf("seal %d differs from the first (err %v)", i+2, err)
		}
	}
	want := []string{"wasi_snapshot_preview1.random_get", "wasi_snapshot_preview1.clock_time_get",
		"wasi_snapshot_preview1.fd_write", "wasi_snapshot_preview1.fd_write", "wasi_snapshot_preview1.proc_exit"}
	if strings.Join(rep.Virtualised, " ") != strings.Join(want, " ") {
		t.Fatalf("Virtualised = %v, want %v", rep.Virtualised, want)
	}
	c, ok := mustParse(t, first).Custom(RecordSection)
	if !ok || string(c.Data) != "reprise.sealed 1\n"+strings.Join(want, "\n")+"\n" {
		t.Fatalf("record = %q", c.Data)
	}
}

func TestReadRecordErrors(t *testing.T) {
	for _, data := range []string{"", "reprise.sealed 1", "sealed 1\n", "reprise.sealed x\n", "reprise.sealed 1\n\n"} {
		m := &wasmbin.Module{Customs: []wasmbin.Custom{{Name: RecordSection, Data: []byte(data)}}}
		if _, ok, err := ReadRecord(m); !ok || err == nil {
			t.Errorf("ReadRecord(%q) = %v, %v; want an error", data, ok, err)
		}
	}
}
