package executor_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/host/replay"
)

// Shape of the swap benchmark's load.
const (
	swapSubmitters   = 16
	swapPerSubmitter = 400 // 6,400 durable increments per phase
	swapCount        = 20  // catalog swaps during the swap phase
)

// BenchmarkSwap measures what a catalog swap costs the submitters, all in
// one run, on fresh data directories of one filesystem:
//
//   - the baseline: p50 and p99 latency of durable increments from 16
//     concurrent submitters, no swap;
//   - the same load while the catalog is swapped 20 times (counter 1.0.0
//     and 1.1.0 in turn, the same state shape, so each swap hands the state
//     over as is): p50 and p99 of the submissions in flight while the
//     writer was paused for a swap, and p99 over the whole phase; goal: p99
//     during a swap ≤ 20 ms;
//   - the swap pause itself, p50 and maximum, and its parts: the state
//     hand-over (p50, maximum) and the activation record's append and
//     fsync (maximum); and the whole Activate call (which also
//     instantiates the new catalog before queueing the swap).
//
// Every phase runs a fixed number of operations, so b.N is not used:
//
//	go test -run '^$' -bench Swap -benchtime 1x ./host/executor/
//
// The machine may be shared: read the figures from a quiet moment. Goals
// are reported, never enforced.
func BenchmarkSwap(b *testing.B) {
	v1, v11 := counterModule(b), catalogModule(b, "counterdiverge")
	catalogs := replay.NewModuleSet(v1, v11)
	base := swapPhase(b, catalogs, v1, nil)
	during := swapPhase(b, catalogs, v1, []*host.Module{v11, v1})

	ms := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(durablePercentile(base.all, 50)), "base-p50-ms")
	b.ReportMetric(ms(durablePercentile(base.all, 99)), "base-p99-ms")
	b.ReportMetric(ms(durablePercentile(during.inSwap, 50)), "swap-p50-ms")
	swapP99 := durablePercentile(during.inSwap, 99)
	b.ReportMetric(ms(swapP99), "swap-p99-ms")
	b.ReportMetric(ms(durablePercentile(during.all, 99)), "phase-p99-ms")
	b.ReportMetric(ms(durablePercentile(during.pauses, 50)), "pause-p50-ms")
	b.ReportMetric(ms(durablePercentile(during.pauses, 100)), "pause-max-ms")
	b.ReportMetric(ms(durablePercentile(during.handOvers, 50)), "handover-p50-ms")
	b.ReportMetric(ms(durablePercentile(during.handOvers, 100)), "handover-max-ms")
	b.ReportMetric(ms(durablePercentile(during.commits, 100)), "commit-max-ms")
	b.ReportMetric(ms(durablePercentile(during.calls, 50)), "activate-p50-ms")
	b.ReportMetric(float64(swapP99)/float64(durablePercentile(base.all, 99)), "swap-p99/base-p99")
	b.Logf("%d submissions in flight during %d swaps; goal p99 during a swap ≤ 20 ms: %.2f ms", len(during.inSwap), len(during.pauses), ms(swapP99))
}

// swapFigures are one phase's latencies.
type swapFigures struct {
	all, inSwap        []time.Duration
	pauses, calls      []time.Duration
	handOvers, commits []time.Duration
}

type interval struct{ start, end time.Time }

func (a interval) overlaps(b interval) bool { return a.start.Before(b.end) && b.start.Before(a.end) }

// swapPhase runs the load on a fresh executor, activating the given
// catalogs in turn (as many swaps as swapCount) at evenly spaced points of
// the load.
func swapPhase(b *testing.B, catalogs *replay.ModuleSet, genesis *host.Module, cycle []*host.Module) swapFigures {
	b.Helper()
	ctx := context.Background()
	ex, err := executor.Open(ctx, executor.Config{DataDir: b.TempDir(), Module: genesis, Catalogs: catalogs,
		SnapshotEvery: 1 << 40, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer durableClose(b, ex)
	if err := durableSubmitConcurrently(ex, durableProposals("swap-warmup", durableWarmup), swapSubmitters); err != nil {
		b.Fatal(err)
	}

	subs := durableProposals(fmt.Sprintf("swap-%d", len(cycle)), swapSubmitters*swapPerSubmitter)
	spans := make([]interval, len(subs))
	var done atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for g := range swapSubmitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g * swapPerSubmitter; i < (g+1)*swapPerSubmitter; i++ {
				start := time.Now()
				if err := durableSubmit(ex, subs[i]); err != nil {
					failed.Store(err)
					return
				}
				spans[i] = interval{start, time.Now()}
				done.Add(1)
			}
		}()
	}
	var fig swapFigures
	var windows []interval
	if len(cycle) > 0 {
		for k := range swapCount {
			for done.Load() < int64((k+1)*len(subs)/(swapCount+1)) && failed.Load() == nil {
				time.Sleep(100 * time.Microsecond)
			}
			start := time.Now()
			act, err := ex.Activate(ctx, cycle[k%len(cycle)].Hash, executor.ActivateOptions{})
			end := time.Now()
			if err != nil {
				b.Fatalf("swap %d: %v", k, err)
			}
			fig.pauses = append(fig.pauses, act.Pause)
			fig.handOvers = append(fig.handOvers, act.HandOver)
			fig.commits = append(fig.commits, act.Commit)
			fig.calls = append(fig.calls, end.Sub(start))
			windows = append(windows, interval{end.Add(-act.Pause), end})
		}
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		b.Fatal(err)
	}
	for _, s := range spans {
		lat := s.end.Sub(s.start)
		fig.all = append(fig.all, lat)
		for _, w := range windows {
			if s.overlaps(w) {
				fig.inSwap = append(fig.inSwap, lat)
				break
			}
		}
	}
	if len(cycle) > 0 && len(fig.inSwap) == 0 {
		b.Fatal("no submission was in flight during a swap")
	}
	return fig
}
