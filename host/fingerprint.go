package host

import (
	"fmt"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host/meter"
	"github.com/reprise-dev/reprise/host/nan"
	"github.com/reprise-dev/reprise/host/seal"
)

// Fingerprint is everything besides the catalog and the WAL that can change
// what a transition returns: the engine and its settings, and the versions
// of every rewrite the host applies at admission. It is recorded with each
// catalog activation, so a replay can say whether it runs under the same
// host as the one that wrote the log. Field names are part of the WAL
// format: never rename one.
type Fingerprint struct {
	Wazero         string     `json:"wazero"`          // wazero module version linked into this binary
	Engine         EngineKind `json:"engine"`          // compiler or interpreter
	MemoryPages    uint32     `json:"memory_pages"`    // linear memory cap per instance
	TransitionFuel uint64     `json:"transition_fuel"` // fuel budget of one transition
	InitFuel       uint64     `json:"init_fuel"`       // fuel budget of module start-up
	CoreFeatures   uint64     `json:"core_features"`   // wazero core feature bits enabled
	Meter          int        `json:"meter"`           // fuel metering rewrite version
	NaN            int        `json:"nan"`             // NaN canonicalisation rewrite version
	Seal           int        `json:"seal"`            // sealing rewrite version
	ABI            int        `json:"abi"`             // guest ABI version
}

// Fingerprint returns the fingerprint of modules admitted by this engine.
func (e *Engine) Fingerprint() Fingerprint {
	return Fingerprint{
		Wazero:         wazeroVersion(),
		Engine:         e.cfg.Kind,
		MemoryPages:    e.cfg.Limits.MemoryPages,
		TransitionFuel: e.cfg.Limits.TransitionFuel,
		InitFuel:       e.cfg.Limits.InitFuel,
		CoreFeatures:   uint64(coreFeatures),
		Meter:          meter.Version,
		NaN:            nan.Version,
		Seal:           seal.Version,
		ABI:            abi.Version,
	}
}

// Diff lists, in a fixed order, the fields where f and other differ, as
// "name: f's value -> other's value"; nil when they are equal.
func (f Fingerprint) Diff(other Fingerprint) []string {
	var out []string
	add := func(name string, a, b any) {
		if a != b {
			out = append(out, fmt.Sprintf("%s: %v -> %v", name, a, b))
		}
	}
	add("wazero", f.Wazero, other.Wazero)
	add("engine", f.Engine, other.Engine)
	add("memory_pages", f.MemoryPages, other.MemoryPages)
	add("transition_fuel", f.TransitionFuel, other.TransitionFuel)
	add("init_fuel", f.InitFuel, other.InitFuel)
	add("core_features", f.CoreFeatures, other.CoreFeatures)
	add("meter", f.Meter, other.Meter)
	add("nan", f.NaN, other.NaN)
	add("seal", f.Seal, other.Seal)
	add("abi", f.ABI, other.ABI)
	return out
}

// String is a one-line rendering for logs and reports.
func (f Fingerprint) String() string {
	return fmt.Sprintf("wazero %s, %s engine, %d pages, fuel %d/%d, features %#x, meter v%d, nan v%d, seal v%d, abi v%d",
		f.Wazero, f.Engine, f.MemoryPages, f.TransitionFuel, f.InitFuel, f.CoreFeatures, f.Meter, f.NaN, f.Seal, f.ABI)
}

// WazeroVersion is the wazero release this host is built and tested with.
// A test holds it equal to go.mod, so an upgrade of wazero shows up in the
// fingerprint of every activation made after it.
const WazeroVersion = "v1.12.0"

// wazeroVersion is the version linked into the running binary, read from its
// build information when present (test binaries have none), else
// WazeroVersion.
var wazeroVersion = sync.OnceValue(func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path != "github.com/tetratelabs/wazero" {
				continue
			}
			if d.Replace != nil {
				return strings.TrimSpace(d.Replace.Version + " (replaced by " + d.Replace.Path + ")")
			}
			return d.Version
		}
	}
	return WazeroVersion
})
