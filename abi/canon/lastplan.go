//go:build !wasm

package canon

import "sync/atomic"

// lastPlan holds one plan, shared by all goroutines.
type lastPlan struct{ p atomic.Pointer[plan] }

func (l *lastPlan) load() *plan   { return l.p.Load() }
func (l *lastPlan) store(p *plan) { l.p.Store(p) }
