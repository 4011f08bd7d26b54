package host

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host/meter"
)

// GuestError is a failure of the guest itself: a trap, running out of fuel
// or memory, or a broken ABI answer. The instance that produced it has been
// retired.
type GuestError struct {
	Code   abi.Code
	Detail string
	Fuel   uint64 // fuel used by the failed call
}

func (e *GuestError) Error() string {
	if e.Detail == "" {
		return e.Code.Message()
	}
	return e.Code.Message() + ": " + e.Detail
}

// Guest is a live copy of a catalog: a wasm instance, or the same catalog
// run natively. Calls are not safe for concurrent use. An error of type
// *GuestError means the guest failed and must not be used again.
type Guest interface {
	Apply(ctx context.Context, p *abi.Proposal, fuel uint64) (res abi.Result, fuelUsed uint64, err error)
	ExportState(ctx context.Context) ([]abi.Entry, error)
	ImportState(ctx context.Context, req *abi.ImportRequest) (abi.Result, error)
	Close(ctx context.Context) error
}

// Instance is one instantiation of a Module.
type Instance struct {
	m      *Module
	mod    api.Module
	mem    api.Memory
	fuel   api.MutableGlobal // nil when the engine does not meter
	stack  api.Global        // call stack left (meter.StackGlobal); nil when unmetered
	broken error

	abiVersion, bufferFn, describeFn, applyFn, exportFn, importFn api.Function

	bufPtr, bufCap uint32
	scratch        []byte
	stateBytes     int // size of the last state imported or exported
}

// fuelPerStateByte is the fuel allowed per byte of state for a whole-state
// import or export: these calls scale with the state, not with a
// transition, so their budget does too.
const fuelPerStateByte = 20_000

func (i *Instance) bulkFuel(stateBytes int) uint64 {
	return i.m.engine.cfg.Limits.InitFuel + uint64(stateBytes)*fuelPerStateByte
}

// Instantiate creates a fresh instance and runs the module's start-up.
func (m *Module) Instantiate(ctx context.Context) (*Instance, error) {
	mod, err := m.engine.runtime.InstantiateModule(ctx, m.compiled,
		wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		return nil, fmt.Errorf("instantiate catalog %s: %w", m.HashHex()[:12], err)
	}
	i := &Instance{
		m: m, mod: mod, mem: mod.Memory(),
		abiVersion: mod.ExportedFunction(abi.ExportABIVersion),
		bufferFn:   mod.ExportedFunction(abi.ExportBuffer),
		describeFn: mod.ExportedFunction(abi.ExportDescribe),
		applyFn:    mod.ExportedFunction(abi.ExportApply),
		exportFn:   mod.ExportedFunction(abi.ExportExportState),
		importFn:   mod.ExportedFunction(abi.ExportImportState),
	}
	fuel, hasFuel := mod.ExportedGlobal(meter.FuelGlobal).(api.MutableGlobal)
	stack := mod.ExportedGlobal(meter.StackGlobal)
	if i.mem == nil || (!m.engine.unmetered && (!hasFuel || stack == nil)) {
		mod.Close(ctx)
		return nil, errors.New("metered module lacks its fuel or stack global, or its memory")
	}
	if hasFuel {
		i.fuel, i.stack = fuel, stack
	}
	if init := mod.ExportedFunction(abi.ExportInitialize); init != nil {
		if _, err := i.call(ctx, init, m.engine.cfg.Limits.InitFuel); err != nil {
			return nil, fmt.Errorf("catalog start-up (%s) failed: %w", abi.ExportInitialize, err)
		}
	}
	return i, nil
}

// Close releases the instance.
func (i *Instance) Close(ctx context.Context) error {
	if i.broken == nil {
		i.broken = ErrInstanceBroken
	}
	return i.mod.Close(ctx)
}

// call runs fn with a fuel budget. Any failure retires the instance.
func (i *Instance) call(ctx context.Context, fn api.Function, budget uint64, params ...uint64) (uint64, error) {
	r, _, err := i.callFuel(ctx, fn, budget, params...)
	return r, err
}

func (i *Instance) callFuel(ctx context.Context, fn api.Function, budget uint64, params ...uint64) (uint64, uint64, error) {
	if i.broken != nil {
		return 0, 0, i.broken
	}
	if i.fuel == nil {
		return i.callUnmetered(ctx, fn, params...)
	}
	if budget > 1<<62 {
		budget = 1 << 62
	}
	i.fuel.Set(budget)
	res, err := fn.Call(ctx, params...)
	remaining := int64(i.fuel.Get())
	used := budget
	if remaining >= 0 {
		used = budget - uint64(remaining)
	}
	if err != nil {
		ge := i.classify(err, remaining < 0, int64(i.stack.Get()) < 0, budget)
		ge.Fuel = used
		i.retire(ctx, ge)
		return 0, used, ge
	}
	if len(res) == 0 {
		return 0, used, nil
	}
	return res[0], used, nil
}

// callUnmetered runs fn with no fuel or stack accounting (an engine made
// for measuring what metering costs).
func (i *Instance) callUnmetered(ctx context.Context, fn api.Function, params ...uint64) (uint64, uint64, error) {
	res, err := fn.Call(ctx, params...)
	if err != nil {
		ge := i.classify(err, false, false, 0)
		i.retire(ctx, ge)
		return 0, 0, ge
	}
	if len(res) == 0 {
		return 0, 0, nil
	}
	return res[0], 0, nil
}

func (i *Instance) retire(ctx context.Context, err error) {
	i.broken = fmt.Errorf("%w: %v", ErrInstanceBroken, err)
	i.mod.Close(ctx)
}

// classify turns a wazero error into a stable code and a readable detail.
// Running out of fuel or of call stack is told by the metering globals, so
// its detail is the same on every engine.
func (i *Instance) classify(err error, outOfFuel, outOfStack bool, budget uint64) *GuestError {
	msg := err.Error()
	switch {
	case outOfFuel:
		return &GuestError{Code: abi.OutOfFuel, Detail: fmt.Sprintf("used all %d units of fuel", budget)}
	case outOfStack:
		return &GuestError{Code: abi.Trap, Detail: fmt.Sprintf("stack overflow: nested calls used all %d units of call stack", meter.StackUnits)}
	case i.nearMemoryLimit() || goAllocationFailed(msg):
		return &GuestError{Code: abi.OutOfMemory, Detail: fmt.Sprintf("memory limit is %d MiB", uint64(i.m.engine.cfg.Limits.MemoryPages)*64/1024)}
	case strings.Contains(msg, "runtime.newstack"):
		return &GuestError{Code: abi.Trap, Detail: "stack overflow"}
	}
	return &GuestError{Code: abi.Trap, Detail: trapSummary(msg)}
}

// goAllocationFailed recognises the Go runtime throwing from its allocator
// (how a Go guest dies when memory.grow fails at the limit).
func goAllocationFailed(trace string) bool {
	return strings.Contains(trace, "runtime.throw") &&
		(strings.Contains(trace, "runtime.mallocgc") || strings.Contains(trace, "(*mheap).grow") || strings.Contains(trace, "runtime.sysAlloc"))
}

func (i *Instance) nearMemoryLimit() bool {
	limit := uint64(i.m.engine.cfg.Limits.MemoryPages) * 65536
	return limit > 0 && uint64(i.mem.Size())+limit/64 >= limit
}

// trapSummary keeps the trap reason and the innermost frames of a wazero
// error: enough to tell where the guest failed, short enough for a client.
func trapSummary(msg string) string {
	lines := strings.Split(msg, "\n")
	out := []string{strings.TrimSpace(lines[0])}
	frames := 0
	for _, l := range lines[1:] {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "wasm stack trace") {
			continue
		}
		if frames == 4 {
			out = append(out, "...")
			break
		}
		if name, _, ok := strings.Cut(l, "("); ok {
			l = name
		}
		out = append(out, "at "+strings.TrimPrefix(l, "."))
		frames++
	}
	return strings.Join(out, " ")
}

// request writes an encoded request into the guest's buffer.
func (i *Instance) request(ctx context.Context, req []byte) (uint32, error) {
	if uint32(len(req)) > i.bufCap || i.bufPtr == 0 {
		size := uint32(len(req))
		if size < 4096 {
			size = 4096
		}
		ptr, err := i.call(ctx, i.bufferFn, i.m.engine.cfg.Limits.InitFuel, uint64(size))
		if err != nil {
			return 0, err
		}
		i.bufPtr, i.bufCap = uint32(ptr), size
	}
	if !i.mem.Write(i.bufPtr, req) {
		err := &GuestError{Code: abi.ABIViolation, Detail: fmt.Sprintf("request buffer at %#x (+%d) is outside memory", i.bufPtr, len(req))}
		i.retire(ctx, err)
		return 0, err
	}
	return uint32(len(req)), nil
}

// read copies a packed (address, length) region out of guest memory.
func (i *Instance) read(ctx context.Context, packed uint64, what string) ([]byte, error) {
	ptr, n := abi.Unpack(packed)
	if n == 0 {
		return nil, nil
	}
	b, ok := i.mem.Read(ptr, n)
	if !ok {
		err := &GuestError{Code: abi.ABIViolation, Detail: fmt.Sprintf("%s at %#x (+%d) is outside memory", what, ptr, n)}
		i.retire(ctx, err)
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

func (i *Instance) callRead(ctx context.Context, fn api.Function, budget uint64, params ...uint64) ([]byte, error) {
	packed, err := i.call(ctx, fn, budget, params...)
	if err != nil {
		return nil, err
	}
	return i.read(ctx, packed, fn.Definition().Name()+" result")
}

// Apply applies one proposal.
func (i *Instance) Apply(ctx context.Context, p *abi.Proposal, fuel uint64) (abi.Result, uint64, error) {
	i.scratch = abi.AppendProposal(i.scratch[:0], p)
	n, err := i.request(ctx, i.scratch)
	if err != nil {
		return abi.Result{}, 0, err
	}
	packed, used, err := i.callFuel(ctx, i.applyFn, fuel, uint64(n))
	if err != nil {
		return abi.Result{}, used, err
	}
	raw, err := i.read(ctx, packed, "apply result")
	if err != nil {
		return abi.Result{}, used, err
	}
	return i.decodeResult(ctx, raw, used)
}

func (i *Instance) decodeResult(ctx context.Context, raw []byte, used uint64) (abi.Result, uint64, error) {
	res, err := abi.DecodeResult(raw)
	if err != nil {
		ge := &GuestError{Code: abi.ABIViolation, Detail: err.Error(), Fuel: used}
		i.retire(ctx, ge)
		return abi.Result{}, used, ge
	}
	if res.Code.HostCode() {
		ge := &GuestError{Code: abi.ABIViolation, Detail: fmt.Sprintf("guest answered with host code %s", res.Code), Fuel: used}
		i.retire(ctx, ge)
		return abi.Result{}, used, ge
	}
	return res, used, nil
}

// ExportState returns the guest's whole state.
func (i *Instance) ExportState(ctx context.Context) ([]abi.Entry, error) {
	raw, err := i.callRead(ctx, i.exportFn, i.bulkFuel(i.stateBytes))
	if err != nil {
		return nil, err
	}
	i.stateBytes = len(raw)
	entries, err := abi.DecodeState(raw)
	if err != nil {
		ge := &GuestError{Code: abi.ABIViolation, Detail: err.Error()}
		i.retire(ctx, ge)
		return nil, ge
	}
	return entries, nil
}

// ImportState replaces the guest's state.
func (i *Instance) ImportState(ctx context.Context, req *abi.ImportRequest) (abi.Result, error) {
	i.scratch = abi.AppendImport(i.scratch[:0], req)
	i.stateBytes = len(i.scratch)
	n, err := i.request(ctx, i.scratch)
	if err != nil {
		return abi.Result{}, err
	}
	packed, used, err := i.callFuel(ctx, i.importFn, i.bulkFuel(len(i.scratch)), uint64(n))
	if err != nil {
		return abi.Result{}, err
	}
	raw, err := i.read(ctx, packed, "import result")
	if err != nil {
		return abi.Result{}, err
	}
	res, _, err := i.decodeResult(ctx, raw, used)
	return res, err
}

// NativeRunner is a catalog run natively (guest.Runner satisfies it).
type NativeRunner interface {
	Describe() []byte
	Apply(req []byte) []byte
	ExportState() []byte
	ImportState(req []byte) []byte
}

// NativeGuest adapts a NativeRunner to Guest. It uses no fuel.
type NativeGuest struct {
	R       NativeRunner
	scratch []byte
}

// Apply implements Guest.
func (n *NativeGuest) Apply(_ context.Context, p *abi.Proposal, _ uint64) (abi.Result, uint64, error) {
	n.scratch = abi.AppendProposal(n.scratch[:0], p)
	res, err := abi.DecodeResult(append([]byte(nil), n.R.Apply(n.scratch)...))
	if err != nil {
		return abi.Result{}, 0, &GuestError{Code: abi.ABIViolation, Detail: err.Error()}
	}
	return res, 0, nil
}

// ExportState implements Guest.
func (n *NativeGuest) ExportState(context.Context) ([]abi.Entry, error) {
	return abi.DecodeState(append([]byte(nil), n.R.ExportState()...))
}

// ImportState implements Guest.
func (n *NativeGuest) ImportState(_ context.Context, req *abi.ImportRequest) (abi.Result, error) {
	n.scratch = abi.AppendImport(n.scratch[:0], req)
	return abi.DecodeResult(append([]byte(nil), n.R.ImportState(n.scratch)...))
}

// Close implements Guest.
func (n *NativeGuest) Close(context.Context) error { return nil }
