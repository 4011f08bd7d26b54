//go:build wasm

package canon

// lastPlan holds one plan. A Go program on wasm runs on a single thread,
// so a plain pointer is safe, and it avoids atomic operations, which are
// function calls there.
type lastPlan struct{ p *plan }

func (l *lastPlan) load() *plan   { return l.p }
func (l *lastPlan) store(p *plan) { l.p = p }
