package node_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/replication"
)

// loadFigures are one configuration's figures.
type loadFigures struct {
	p50, p99   time.Duration // one client, sequential
	throughput float64       // transitions/s with many submitters
}

// measureLoad runs a single client for latency, then `submitters` clients
// for throughput, against exec.
func measureLoad(b *testing.B, exec *executor.Executor, prefix string, sequential, submitters, total int) loadFigures {
	ctx := context.Background()
	lat := make([]time.Duration, 0, sequential)
	for i := range sequential {
		start := time.Now()
		v, err := exec.Submit(ctx, inc(fmt.Sprintf("s%d", i%16), 1, ""))
		if err != nil || !v.Accepted {
			b.Fatalf("%s sequential submit %d: %v %+v", prefix, i, err, v)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	start := time.Now()
	for w := range submitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(total) {
					return
				}
				v, err := exec.Submit(ctx, inc(fmt.Sprintf("w%d", w), 1, ""))
				if err != nil || !v.Accepted {
					failed.Store(fmt.Sprintf("%v %+v", err, v))
					return
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if f := failed.Load(); f != nil {
		b.Fatalf("%s concurrent submit: %v", prefix, f)
	}
	return loadFigures{p50: lat[len(lat)/2], p99: lat[len(lat)*99/100], throughput: float64(total) / took.Seconds()}
}

// BenchmarkReplication prints, in one run: commit latency (one client) and
// throughput (64 submitters) on one node without replication, with
// best_effort and with sync_all to two replicas (in-process nodes on
// loopback, each with its own Badger), and the catch-up speed of a replica
// that was down while the primary took records.
//
//	go test -run '^$' -bench Replication -benchtime 1x ./replication/node/
func BenchmarkReplication(b *testing.B) {
	const sequential, submitters, total, gap = 2000, 64, 20000, 50000
	for range b.N {
		single := func() loadFigures {
			exec, err := executor.Open(context.Background(), executor.Config{DataDir: b.TempDir(), Module: counterModule(b), Logger: testLogger(b)})
			if err != nil {
				b.Fatal(err)
			}
			defer exec.Close(context.Background())
			return measureLoad(b, exec, "one node", sequential, submitters, total)
		}()
		replicated := func(mode replication.Mode) loadFigures {
			c := newCluster(b, mode, "a", "b", "c")
			c.assign(1, "a", 0)
			a := c.get("a")
			submit(b, a, inc("warm", 1, ""))
			c.converged(a)
			f := measureLoad(b, a.exec, mode.String(), sequential, submitters, total)
			c.converged(a)
			for _, m := range c.members {
				c.stop(m)
			}
			return f
		}
		best := replicated(replication.BestEffort)
		all := replicated(replication.SyncAll)

		// Catch-up: a replica down while the primary takes `gap` records.
		c := newClusterSnapshotting(b, replication.BestEffort, 1<<30, "a", "b")
		c.assign(1, "a", 0)
		a, r := c.get("a"), c.get("b")
		submit(b, a, inc("warm", 1, ""))
		c.converged(a)
		c.stop(r)
		var wg sync.WaitGroup
		for w := range submitters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < gap; i += submitters {
					if _, err := a.exec.Submit(context.Background(), inc(fmt.Sprintf("g%d", w), 1, "")); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		head := a.exec.Status().Index
		from := uint64(0)
		c.start(r, r.addr)
		from = r.exec.Status().Index
		start := time.Now()
		c.assign(1, "a", 0)
		var durableAt time.Duration
		eventually(b, "replica catches up", func() (bool, string) {
			st := a.node.Status()
			for _, rs := range st.PrimaryStatus.Replicas {
				if rs.ID == "b" && rs.Durable >= head && durableAt == 0 {
					durableAt = time.Since(start)
				}
			}
			rs := r.node.Status().ReplicaStatus
			return durableAt != 0 && rs != nil && rs.Applied >= head, fmt.Sprintf("%+v", rs)
		})
		appliedAt := time.Since(start)
		caught := float64(head - from)
		if got := r.node.Metrics().SnapshotsInstalled; got != 0 {
			b.Fatalf("the replica was rebuilt (%d snapshots installed), not caught up", got)
		}
		b.Logf("catch-up of records %d..%d: durable after %s, applied after %s", from+1, head, durableAt, appliedAt)
		for _, m := range c.members {
			c.stop(m)
		}

		b.ReportMetric(float64(single.p50.Microseconds()), "single_p50_µs")
		b.ReportMetric(float64(single.p99.Microseconds()), "single_p99_µs")
		b.ReportMetric(single.throughput, "single_tps")
		b.ReportMetric(float64(best.p50.Microseconds()), "best_effort_p50_µs")
		b.ReportMetric(float64(best.p99.Microseconds()), "best_effort_p99_µs")
		b.ReportMetric(best.throughput, "best_effort_tps")
		b.ReportMetric(float64(all.p50.Microseconds()), "sync_all_p50_µs")
		b.ReportMetric(float64(all.p99.Microseconds()), "sync_all_p99_µs")
		b.ReportMetric(all.throughput, "sync_all_tps")
		b.ReportMetric(float64(all.p50)/float64(single.p50), "sync_all/single_p50")
		b.ReportMetric(float64(all.p99)/float64(single.p99), "sync_all/single_p99")
		b.ReportMetric(all.throughput/single.throughput, "sync_all/single_tps")
		b.ReportMetric(caught/durableAt.Seconds(), "catch_up_durable_rec/s")
		b.ReportMetric(caught/appliedAt.Seconds(), "catch_up_applied_rec/s")
	}
}
