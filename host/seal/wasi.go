package seal

import (
	"github.com/reprise-dev/reprise/host/wasmbin"
)

// WASIModule is the only import module Seal accepts.
const WASIModule = "wasi_snapshot_preview1"

// Errno values of WASI preview1 that the virtual functions answer.
const (
	errnoSuccess = 0
	errnoBadf    = 8  // no such file descriptor
	errnoFault   = 21 // pointer outside memory (the module has none)
	errnoInval   = 28
	errnoNotsup  = 58
	errnoSpipe   = 70 // seek on a character device
)

// Fixed state of the virtual world.
const (
	// clockStart is the first time the clock reads (2023-11-14T22:13:20Z in
	// ns). It is not zero because Go's runtime refuses a zero clock.
	clockStart = 1_700_000_000_000_000_000
	// clockStep is how far the clock moves on every read, so time is
	// strictly increasing.
	clockStep = 1000
	// clockCeiling caps how far a poll_oneoff deadline can move the clock
	// (about the year 2116), far below where Go's int64 time would wrap.
	clockCeiling = 1 << 62
	// randomSeed is the initial state of the splitmix64 generator behind
	// random_get.
	randomSeed = 0x5265707269736531 // "Reprise1"
	// allRights is every right preview1 defines (fd_datasync through
	// sock_shutdown), reported for stdin, stdout and stderr.
	allRights = 1<<29 - 1
	// filetypeCharacterDevice is what stdin, stdout and stderr are.
	filetypeCharacterDevice = 2
	// eventTypeClock is the subscription and event type of a timeout.
	eventTypeClock = 0
)

// splitmix64 constants.
const (
	splitmixGamma uint64 = 0x9E3779B97F4A7C15
	splitmixMul1  uint64 = 0xBF58476D1CE4E5B9
	splitmixMul2  uint64 = 0x94D049BB133111EB
)

// state says which mutable globals the virtual functions use, by index.
type state struct {
	hasMemory bool
	clock     uint32
	random    uint32
}

// wasiFunc describes one preview1 function: its exact signature, whether its
// behaviour needs linear memory, which globals it uses, and how its body is
// generated.
type wasiFunc struct {
	name       string
	params     []wasmbin.ValType
	noResult   bool // proc_exit returns nothing; every other function an errno
	usesMemory bool
	usesClock  bool
	usesRandom bool
	emit       func(a *asm, s state) []wasmbin.LocalGroup
}

func (f wasiFunc) signature() wasmbin.FuncType {
	t := wasmbin.FuncType{Params: f.params}
	if !f.noResult {
		t.Results = []wasmbin.ValType{wasmbin.I32}
	}
	return t
}

const (
	i32 = wasmbin.I32
	i64 = wasmbin.I64
)

func params(ts ...wasmbin.ValType) []wasmbin.ValType { return ts }

// errnoFunc answers errno whatever the arguments.
func errnoFunc(name string, errno int32, ps ...wasmbin.ValType) wasiFunc {
	return wasiFunc{name: name, params: ps, emit: func(a *asm, _ state) []wasmbin.LocalGroup {
		a.i32(errno)
		return nil
	}}
}

// stdioFunc answers onStdio for fds 0..2 and EBADF for every other fd.
func stdioFunc(name string, onStdio int32, ps ...wasmbin.ValType) wasiFunc {
	return wasiFunc{name: name, params: ps, emit: func(a *asm, _ state) []wasmbin.LocalGroup {
		a.returnUnlessFdBelow(3, errnoBadf)
		a.i32(onStdio)
		return nil
	}}
}

// zeroSizes writes two zero u32s (count and buffer size of an empty list).
func zeroSizes(name string) wasiFunc {
	return wasiFunc{name: name, params: params(i32, i32), usesMemory: true, emit: func(a *asm, _ state) []wasmbin.LocalGroup {
		for local := uint32(0); local < 2; local++ {
			a.get(local)
			a.i32(0)
			a.mem(wasmbin.OpI32Store, 0)
		}
		a.i32(errnoSuccess)
		return nil
	}}
}

// returnIfBadClock answers EINVAL for a clock id that preview1 does not
// define (0 realtime, 1 monotonic, 2 process, 3 thread cputime).
func returnIfBadClock(a *asm) {
	a.get(0)
	a.i32(3)
	a.op(wasmbin.OpI32GtU)
	a.if_()
	a.ret(errnoInval)
	a.end()
}

// preview1 lists all 46 functions of wasi_snapshot_preview1 with their
// signatures as the preview1 witx defines them.
var preview1 = []wasiFunc{
	errnoFunc("args_get", errnoSuccess, i32, i32),
	zeroSizes("args_sizes_get"),
	errnoFunc("environ_get", errnoSuccess, i32, i32),
	zeroSizes("environ_sizes_get"),
	{name: "clock_res_get", params: params(i32, i32), usesMemory: true, emit: clockResGet},
	{name: "clock_time_get", params: params(i32, i64, i32), usesMemory: true, usesClock: true, emit: clockTimeGet},
	errnoFunc("fd_advise", errnoBadf, i32, i64, i64, i32),
	errnoFunc("fd_allocate", errnoBadf, i32, i64, i64),
	errnoFunc("fd_close", errnoBadf, i32),
	stdioFunc("fd_datasync", errnoSuccess, i32),
	{name: "fd_fdstat_get", params: params(i32, i32), usesMemory: true, emit: fdFdstatGet},
	stdioFunc("fd_fdstat_set_flags", errnoSuccess, i32, i32),
	errnoFunc("fd_fdstat_set_rights", errnoBadf, i32, i64, i64),
	{name: "fd_filestat_get", params: params(i32, i32), usesMemory: true, emit: fdFilestatGet},
	errnoFunc("fd_filestat_set_size", errnoBadf, i32, i64),
	errnoFunc("fd_filestat_set_times", errnoBadf, i32, i64, i64, i32),
	errnoFunc("fd_pread", errnoBadf, i32, i32, i32, i64, i32),
	errnoFunc("fd_prestat_get", errnoBadf, i32, i32),
	errnoFunc("fd_prestat_dir_name", errnoBadf, i32, i32, i32),
	errnoFunc("fd_pwrite", errnoBadf, i32, i32, i32, i64, i32),
	{name: "fd_read", params: params(i32, i32, i32, i32), usesMemory: true, emit: fdRead},
	errnoFunc("fd_readdir", errnoBadf, i32, i32, i32, i64, i32),
	errnoFunc("fd_renumber", errnoBadf, i32, i32),
	stdioFunc("fd_seek", errnoSpipe, i32, i64, i32, i32),
	stdioFunc("fd_sync", errnoSuccess, i32),
	stdioFunc("fd_tell", errnoSpipe, i32, i32),
	{name: "fd_write", params: params(i32, i32, i32, i32), usesMemory: true, emit: fdWrite},
	errnoFunc("path_create_directory", errnoBadf, i32, i32, i32),
	errnoFunc("path_filestat_get", errnoBadf, i32, i32, i32, i32, i32),
	errnoFunc("path_filestat_set_times", errnoBadf, i32, i32, i32, i32, i64, i64, i32),
	errnoFunc("path_link", errnoBadf, i32, i32, i32, i32, i32, i32, i32),
	errnoFunc("path_open", errnoBadf, i32, i32, i32, i32, i32, i64, i64, i32, i32),
	errnoFunc("path_readlink", errnoBadf, i32, i32, i32, i32, i32, i32),
	errnoFunc("path_remove_directory", errnoBadf, i32, i32, i32),
	errnoFunc("path_rename", errnoBadf, i32, i32, i32, i32, i32, i32),
	errnoFunc("path_symlink", errnoBadf, i32, i32, i32, i32, i32),
	errnoFunc("path_unlink_file", errnoBadf, i32, i32, i32),
	{name: "poll_oneoff", params: params(i32, i32, i32, i32), usesMemory: true, usesClock: true, emit: pollOneoff},
	{name: "proc_exit", params: params(i32), noResult: true, emit: procExit},
	errnoFunc("proc_raise", errnoNotsup, i32),
	errnoFunc("sched_yield", errnoSuccess),
	{name: "random_get", params: params(i32, i32), usesMemory: true, usesRandom: true, emit: randomGet},
	errnoFunc("sock_accept", errnoBadf, i32, i32, i32),
	errnoFunc("sock_recv", errnoBadf, i32, i32, i32, i32, i32, i32),
	errnoFunc("sock_send", errnoBadf, i32, i32, i32, i32, i32),
	errnoFunc("sock_shutdown", errnoBadf, i32, i32),
}

func lookupWASI(name string) (wasiFunc, bool) {
	for _, f := range preview1 {
		if f.name == name {
			return f, true
		}
	}
	return wasiFunc{}, false
}

// clockResGet(id, resolution_ptr) writes the clock's step.
func clockResGet(a *asm, _ state) []wasmbin.LocalGroup {
	returnIfBadClock(a)
	a.get(1)
	a.i64(clockStep)
	a.mem(wasmbin.OpI64Store, 0)
	a.i32(errnoSuccess)
	return nil
}

// clockTimeGet(id, precision, time_ptr) writes the clock, then advances it.
// Every clock id reads the same counter.
func clockTimeGet(a *asm, s state) []wasmbin.LocalGroup {
	returnIfBadClock(a)
	a.get(2)
	a.gget(s.clock)
	a.mem(wasmbin.OpI64Store, 0)
	a.gget(s.clock)
	a.i64(clockStep)
	a.op(wasmbin.OpI64Add)
	a.gset(s.clock)
	a.i32(errnoSuccess)
	return nil
}

// fdFdstatGet(fd, stat_ptr) describes fds 0..2 as character devices with
// every right: the 24-byte fdstat is filetype u8 @0, flags u16 @2,
// rights_base u64 @8, rights_inheriting u64 @16.
func fdFdstatGet(a *asm, _ state) []wasmbin.LocalGroup {
	a.returnUnlessFdBelow(3, errnoBadf)
	a.get(1)
	a.i64(filetypeCharacterDevice) // filetype, zero padding and flags
	a.mem(wasmbin.OpI64Store, 0)
	for _, off := range []uint32{8, 16} {
		a.get(1)
		a.i64(allRights)
		a.mem(wasmbin.OpI64Store, off)
	}
	a.i32(errnoSuccess)
	return nil
}

// fdFilestatGet(fd, buf) describes fds 0..2 by a 64-byte filestat that is
// all zero but for filetype u8 @16.
func fdFilestatGet(a *asm, _ state) []wasmbin.LocalGroup {
	a.returnUnlessFdBelow(3, errnoBadf)
	for off := uint32(0); off < 64; off += 8 {
		a.get(1)
		if off == 16 {
			a.i64(filetypeCharacterDevice)
		} else {
			a.i64(0)
		}
		a.mem(wasmbin.OpI64Store, off)
	}
	a.i32(errnoSuccess)
	return nil
}

// fdRead(fd, iovs, iovs_len, nread_ptr): stdin is at end of file.
func fdRead(a *asm, _ state) []wasmbin.LocalGroup {
	a.get(0)
	a.if_()
	a.ret(errnoBadf)
	a.end()
	a.get(3)
	a.i32(0)
	a.mem(wasmbin.OpI32Store, 0)
	a.i32(errnoSuccess)
	return nil
}

// fdWrite(fd, iovs, iovs_len, nwritten_ptr): stdout and stderr accept and
// discard everything; nwritten is the sum of the 8-byte iovec lengths
// (buf u32 @0, len u32 @4).
func fdWrite(a *asm, _ state) []wasmbin.LocalGroup {
	const (
		fd, iovs, iovsLen, nwritten = 0, 1, 2, 3
		total                       = 4
	)
	// fd-1 >= 2 (unsigned) means the fd is neither 1 nor 2.
	a.get(fd)
	a.i32(1)
	a.op(wasmbin.OpI32Sub)
	a.i32(2)
	a.op(wasmbin.OpI32GeU)
	a.if_()
	a.ret(errnoBadf)
	a.end()
	a.block()
	a.loop()
	a.get(iovsLen)
	a.op(wasmbin.OpI32Eqz)
	a.brIf(1)
	a.get(total)
	a.get(iovs)
	a.mem(wasmbin.OpI32Load, 4)
	a.op(wasmbin.OpI32Add)
	a.set(total)
	a.get(iovs)
	a.i32(8)
	a.op(wasmbin.OpI32Add)
	a.set(iovs)
	a.get(iovsLen)
	a.i32(1)
	a.op(wasmbin.OpI32Sub)
	a.set(iovsLen)
	a.br(0)
	a.end()
	a.end()
	a.get(nwritten)
	a.get(total)
	a.mem(wasmbin.OpI32Store, 0)
	a.i32(errnoSuccess)
	return []wasmbin.LocalGroup{{Count: 1, Type: wasmbin.I32}}
}

// pollOneoff(in, out, nsubscriptions, nevents_ptr) reports every
// subscription as having fired: for each 48-byte subscription (userdata u64
// @0, type u8 @8, clock timeout u64 @24, clock flags u16 @40) it writes a
// 32-byte event (userdata u64 @0, error u16 @8 = 0, type u8 @10, the rest
// zero). Since every timeout fired, the clock moves to the latest deadline.
func pollOneoff(a *asm, s state) []wasmbin.LocalGroup {
	const (
		in, out, nsubs, nevents = 0, 1, 2, 3
		remaining               = 4 // i32
		target                  = 5 // i64: latest deadline seen
		deadline                = 6 // i64
		typ                     = 7 // i32
	)
	a.get(nsubs)
	a.op(wasmbin.OpI32Eqz)
	a.if_()
	a.ret(errnoInval)
	a.end()
	a.gget(s.clock)
	a.set(target)
	a.get(nsubs)
	a.set(remaining)

	a.block()
	a.loop()
	a.get(remaining)
	a.op(wasmbin.OpI32Eqz)
	a.brIf(1)

	// Read what the event needs from the subscription before writing the
	// event, in case the buffers overlap.
	a.get(in)
	a.mem(wasmbin.OpI32Load8U, 8)
	a.set(typ)
	a.get(typ)
	a.i32(eventTypeClock)
	a.op(wasmbin.OpI32Eq)
	a.if_()
	{
		a.get(in)
		a.mem(wasmbin.OpI64Load, 24)
		a.set(deadline)
		// subclockflags bit 0 set: the timeout is an absolute time.
		a.get(in)
		a.mem(wasmbin.OpI32Load16U, 40)
		a.i32(1)
		a.op(wasmbin.OpI32And)
		a.op(wasmbin.OpI32Eqz)
		a.if_()
		{
			// Relative: deadline = clock + timeout, clockCeiling on overflow.
			a.gget(s.clock)
			a.get(deadline)
			a.op(wasmbin.OpI64Add)
			a.set(deadline)
			a.i64(clockCeiling)
			a.get(deadline)
			a.get(deadline)
			a.gget(s.clock)
			a.op(wasmbin.OpI64LtU)
			a.op(wasmbin.OpSelect)
			a.set(deadline)
		}
		a.end()
		// deadline = min(deadline, clockCeiling)
		a.i64(clockCeiling)
		a.get(deadline)
		a.get(deadline)
		a.i64(clockCeiling)
		a.op(wasmbin.OpI64GtU)
		a.op(wasmbin.OpSelect)
		a.set(deadline)
		// target = max(target, deadline)
		a.get(deadline)
		a.get(target)
		a.get(deadline)
		a.get(target)
		a.op(wasmbin.OpI64GtU)
		a.op(wasmbin.OpSelect)
		a.set(target)
	}
	a.end()

	a.get(out)
	a.get(in)
	a.mem(wasmbin.OpI64Load, 0)
	a.mem(wasmbin.OpI64Store, 0) // userdata
	a.get(out)
	a.get(typ)
	a.op(wasmbin.OpI64ExtendI32U)
	a.i64(16)
	a.op(wasmbin.OpI64Shl)
	a.mem(wasmbin.OpI64Store, 8) // error 0, type
	for _, off := range []uint32{16, 24} {
		a.get(out)
		a.i64(0)
		a.mem(wasmbin.OpI64Store, off)
	}

	a.get(in)
	a.i32(48)
	a.op(wasmbin.OpI32Add)
	a.set(in)
	a.get(out)
	a.i32(32)
	a.op(wasmbin.OpI32Add)
	a.set(out)
	a.get(remaining)
	a.i32(1)
	a.op(wasmbin.OpI32Sub)
	a.set(remaining)
	a.br(0)
	a.end()
	a.end()

	// The clock never goes back.
	a.get(target)
	a.gget(s.clock)
	a.op(wasmbin.OpI64GtU)
	a.if_()
	a.get(target)
	a.gset(s.clock)
	a.end()

	a.get(nevents)
	a.get(nsubs)
	a.mem(wasmbin.OpI32Store, 0)
	a.i32(errnoSuccess)
	return []wasmbin.LocalGroup{{Count: 1, Type: wasmbin.I32}, {Count: 2, Type: wasmbin.I64}, {Count: 1, Type: wasmbin.I32}}
}

// procExit traps: a sealed module cannot end its host.
func procExit(a *asm, _ state) []wasmbin.LocalGroup {
	a.op(wasmbin.OpUnreachable)
	return nil
}

// randomGet(buf, buf_len) fills buf from a splitmix64 generator whose state
// is a global, eight bytes per step, little-endian.
func randomGet(a *asm, s state) []wasmbin.LocalGroup {
	const (
		buf, n = 0, 1
		z      = 2 // i64
	)
	a.block()
	a.loop()
	a.get(n)
	a.op(wasmbin.OpI32Eqz)
	a.brIf(1)

	// state += gamma; z = mix(state)
	a.gget(s.random)
	a.u64(splitmixGamma)
	a.op(wasmbin.OpI64Add)
	a.gset(s.random)
	a.gget(s.random)
	a.set(z)
	for _, step := range []struct {
		shift int64
		mul   uint64
	}{{30, splitmixMul1}, {27, splitmixMul2}, {31, 0}} {
		a.get(z)
		a.get(z)
		a.i64(step.shift)
		a.op(wasmbin.OpI64ShrU)
		a.op(wasmbin.OpI64Xor)
		if step.mul != 0 {
			a.u64(step.mul)
			a.op(wasmbin.OpI64Mul)
		}
		a.set(z)
	}

	a.get(n)
	a.i32(8)
	a.op(wasmbin.OpI32GeU)
	a.if_()
	{
		a.get(buf)
		a.get(z)
		a.mem(wasmbin.OpI64Store, 0)
		a.get(buf)
		a.i32(8)
		a.op(wasmbin.OpI32Add)
		a.set(buf)
		a.get(n)
		a.i32(8)
		a.op(wasmbin.OpI32Sub)
		a.set(n)
	}
	a.else_()
	{
		// Fewer than 8 bytes left: store z's low bytes one by one.
		a.block()
		a.loop()
		a.get(n)
		a.op(wasmbin.OpI32Eqz)
		a.brIf(1)
		a.get(buf)
		a.get(z)
		a.mem(wasmbin.OpI64Store8, 0)
		a.get(z)
		a.i64(8)
		a.op(wasmbin.OpI64ShrU)
		a.set(z)
		a.get(buf)
		a.i32(1)
		a.op(wasmbin.OpI32Add)
		a.set(buf)
		a.get(n)
		a.i32(1)
		a.op(wasmbin.OpI32Sub)
		a.set(n)
		a.br(0)
		a.end()
		a.end()
	}
	a.end()
	a.br(0)
	a.end()
	a.end()
	a.i32(errnoSuccess)
	return []wasmbin.LocalGroup{{Count: 1, Type: wasmbin.I64}}
}
