package replication

import (
	"testing"
	"time"
)

// writeLoop promotes a primary with the given replicas, brings them in sync,
// then runs n client writes, each answered at once by a perfect executor
// (local fsync, every replica's ack and barrier answer), and returns the
// number of writes acknowledged.
func writeLoop(tb testing.TB, mode Mode, replicas, n int) int {
	var members []Member
	for _, id := range ids(replicas) {
		members = append(members, Member{ID: id, Endpoint: string(id)})
	}
	p, err := NewPrimary(PrimaryConfig{Epoch: 1, Mode: mode, Replicas: members})
	if err != nil {
		tb.Fatal(err)
	}
	acked := 0
	respond := func() {
		for len(p.out) > 0 {
			for _, c := range p.Ready() {
				var err error
				switch m := c.(type) {
				case Connect:
					err = p.Step(Hello{Replica: m.Replica, Session: m.Session, Epoch: m.Epoch})
				case Ship:
					err = p.Step(Ack{Replica: m.Replica, Session: m.Session, Epoch: m.Epoch, Received: m.Through})
				case Barrier:
					err = p.Step(BarrierAck{Replica: m.Replica, Session: m.Session, Epoch: m.Epoch, ID: m.ID, Durable: m.Index, HasDurable: true})
				case AckWrites:
					acked += int(m.Through - m.From + 1)
				}
				if err != nil {
					tb.Fatal(err)
				}
			}
		}
	}
	respond()
	for i := 1; i <= n; i++ {
		if err := p.Step(Appended{Through: uint64(i), Epoch: 1}); err != nil {
			tb.Fatal(err)
		}
		if err := p.Step(LocalDurable{Through: uint64(i)}); err != nil {
			tb.Fatal(err)
		}
		respond()
	}
	return acked
}

// BenchmarkPrimaryWrite measures the engine's own cost per replicated write
// (sync_all to two replicas: append, local fsync, and per replica a ship,
// an ack, a barrier and its answer), against the same loop with no replicas
// measured in the same run. The engine is pure bookkeeping; a write's real
// cost is its fsyncs and round trips, which this leaves out.
func BenchmarkPrimaryWrite(b *testing.B) {
	const baseN = 50000
	start := time.Now()
	if got := writeLoop(b, BestEffort, 0, baseN); got != baseN {
		b.Fatalf("baseline acknowledged %d of %d", got, baseN)
	}
	base := float64(time.Since(start).Nanoseconds()) / baseN
	b.ResetTimer()
	if got := writeLoop(b, SyncAll, 2, b.N); got != b.N {
		b.Fatalf("acknowledged %d of %d", got, b.N)
	}
	b.StopTimer()
	perWrite := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(base, "baseline-ns/write")
	b.ReportMetric(perWrite/base, "x-baseline")
}

// BenchmarkClassify measures one classification of a reconnecting replica
// against a history of many epochs.
func BenchmarkClassify(b *testing.B) {
	var h History
	for e := uint64(1); e <= 1000; e++ {
		h = append(h, EpochStart{Epoch: e, FirstIndex: e*100 + 1})
	}
	v := PrimaryView{Committed: 100_000, Head: 100_050, First: 50_000, History: h, CatchUpRecords: 1 << 20,
		Checkpoint: Checkpoint{Index: 60_000}}
	facts := ReplicaFacts{Durable: 70_010, DurableEpoch: 700, Applied: 70_000}
	b.ReportAllocs()
	for b.Loop() {
		if d := Classify(v, facts); d.Class != ClassCatchUp {
			b.Fatalf("classified %+v", d)
		}
	}
}
