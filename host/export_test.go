package host

import "context"

// NewUnmeteredEngine is NewEngine with fuel and call stack metering turned
// off at admission: the same modules, canonicalised the same way, without
// any limit on their work. Benchmarks use it as the baseline that metering
// is measured against. It exists only in this package's test binary.
func NewUnmeteredEngine(ctx context.Context, cfg EngineConfig) (*Engine, error) {
	e, err := NewEngine(ctx, cfg)
	if err != nil {
		return nil, err
	}
	e.unmetered = true
	return e, nil
}
