package host

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/tetratelabs/wazero"
)

// EngineKind selects wazero's execution engine. Both must give identical
// results; the compiler is the fast one.
type EngineKind string

const (
	EngineCompiler    EngineKind = "compiler"
	EngineInterpreter EngineKind = "interpreter"
)

// Limits bound what an admitted module may use.
type Limits struct {
	// MaxModuleBytes refuses larger modules before parsing them.
	MaxModuleBytes int
	// MemoryPages caps each instance's linear memory (64 KiB pages).
	MemoryPages uint32
	// InitFuel is the fuel available to a module's start-up (_initialize).
	InitFuel uint64
	// TransitionFuel is the default fuel budget of one transition.
	TransitionFuel uint64
}

// DefaultLimits are generous for real catalogs and small enough that a
// hostile module is stopped quickly.
var DefaultLimits = Limits{
	MaxModuleBytes: 64 << 20,
	MemoryPages:    8192, // 512 MiB
	InitFuel:       5_000_000_000,
	TransitionFuel: 200_000_000,
}

// EngineConfig configures an Engine.
type EngineConfig struct {
	Kind EngineKind
	// CacheDir holds compiled modules across restarts; empty means no
	// on-disk cache.
	CacheDir string
	Limits   Limits
}

// Engine is one wazero runtime and the modules admitted into it. It is safe
// for concurrent use.
type Engine struct {
	cfg     EngineConfig
	runtime wazero.Runtime
	cache   wazero.CompilationCache

	mu      sync.Mutex
	modules map[[32]byte]*Module

	// unmetered skips fuel and stack metering at admission. Only tests set
	// it (through export_test.go), to measure what metering costs; no
	// configuration reaches it, since an unmetered module has no limit on
	// its work.
	unmetered bool
}

// NewEngine starts a runtime.
func NewEngine(ctx context.Context, cfg EngineConfig) (*Engine, error) {
	if cfg.Kind == "" {
		cfg.Kind = EngineCompiler
	}
	if cfg.Limits == (Limits{}) {
		cfg.Limits = DefaultLimits
	}
	var rc wazero.RuntimeConfig
	switch cfg.Kind {
	case EngineCompiler:
		rc = wazero.NewRuntimeConfigCompiler()
	case EngineInterpreter:
		rc = wazero.NewRuntimeConfigInterpreter()
	default:
		return nil, fmt.Errorf("unknown engine %q (want %q or %q)", cfg.Kind, EngineCompiler, EngineInterpreter)
	}
	// Threads and SIMD stay off: what is left of the feature set is
	// deterministic. The memory cap is a runtime-wide setting.
	rc = rc.WithCoreFeatures(coreFeatures).WithMemoryLimitPages(cfg.Limits.MemoryPages)
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("compilation cache: %w", err)
		}
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("compilation cache: %w", err)
		}
		cache = c
		rc = rc.WithCompilationCache(cache)
	}
	return &Engine{
		cfg:     cfg,
		runtime: wazero.NewRuntimeWithConfig(ctx, rc),
		cache:   cache,
		modules: map[[32]byte]*Module{},
	}, nil
}

// Config returns the engine's configuration.
func (e *Engine) Config() EngineConfig { return e.cfg }

// Close releases the runtime and every module.
func (e *Engine) Close(ctx context.Context) error {
	err := e.runtime.Close(ctx)
	if e.cache != nil {
		err = errors.Join(err, e.cache.Close(ctx))
	}
	return err
}

// Hash is the identity of a module: the SHA-256 of its bytes.
func Hash(wasm []byte) [32]byte { return sha256.Sum256(wasm) }
