package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Crash test settings. The short form runs with the ordinary test suite;
// REPRISE_CRASH_KILLS selects the long form (`task crash-long`).
const (
	shortFormKills     = 6
	crashClients       = 16
	keysPerClient      = 3
	maxIncrement       = 1000
	crashSnapshotEvery = 200 // small, so snapshots and WAL compaction run under load
	minLoad            = 500 * time.Millisecond
	maxLoad            = 3 * time.Second
	// One run in earlyKillOneIn is killed at a random moment from its
	// spawn, so kills also land inside catalog loading, recovery and the
	// resubmission of unanswered operations.
	earlyKillOneIn = 6
	// recheckPerClient is how many of each client's last acknowledged
	// operations before a kill are resubmitted after the restart, each of
	// which must come back as a duplicate of the same record.
	recheckPerClient = 4
	resubmitAttempts = 5
)

// crashOp is one increment a client submitted. Its idempotency key is
// derived from the client and its position (crashClient.idemKey).
type crashOp struct {
	key      uint8
	by       int32
	answered bool
	index    uint64 // the record index of the answer
}

// crashClient owns a few keys and everything ever submitted for them. Only
// one goroutine touches a client at a time; the test reads it between
// phases.
type crashClient struct {
	id         int
	keys       []string
	rng        *rand.Rand
	ops        []crashOp
	unanswered []int   // positions in ops whose answer never came
	submitted  []int64 // per key: the sum of by over every op ever submitted
	answered   []int64 // per key: the sum of by over the ops answered
	recent     []int   // the last acknowledged ops of the current load run
	maxIndex   uint64  // the highest record index this client was answered
	counts     opCounts
}

// opCounts are a client's figures for the summary.
type opCounts struct {
	ackedUnderLoad   int // fresh ops answered before a kill
	unansweredAtKill int // fresh ops left without an answer by a kill
	noAnswerLive     int // no verdict although no kill was under way (HTTP 503 timeout)
	resubmissions    int // POSTs of previously unanswered ops
	resolved         int // previously unanswered ops answered by a resubmission
	duplicates       int // of those, answered duplicate:true (applied before the crash)
	rechecked        int // acknowledged ops resubmitted and confirmed duplicate
}

func (c *opCounts) add(o opCounts) {
	c.ackedUnderLoad += o.ackedUnderLoad
	c.unansweredAtKill += o.unansweredAtKill
	c.noAnswerLive += o.noAnswerLive
	c.resubmissions += o.resubmissions
	c.resolved += o.resolved
	c.duplicates += o.duplicates
	c.rechecked += o.rechecked
}

func newCrashClient(id int, seed uint64) *crashClient {
	c := &crashClient{
		id:        id,
		rng:       rand.New(rand.NewPCG(seed, uint64(id))),
		submitted: make([]int64, keysPerClient),
		answered:  make([]int64, keysPerClient),
	}
	for k := range keysPerClient {
		c.keys = append(c.keys, fmt.Sprintf("c%02d-k%d", id, k))
	}
	return c
}

func (c *crashClient) idemKey(i int) string { return fmt.Sprintf("c%02d-op%07d", c.id, i) }

func (c *crashClient) markAnswered(i int, a incrementAnswer) {
	op := &c.ops[i]
	op.answered, op.index = true, a.Index
	c.answered[op.key] += int64(op.by)
	c.maxIndex = max(c.maxIndex, a.Index)
}

// load submits fresh increments one after another until stop is set. An
// operation whose answer does not come is recorded as unanswered.
func (c *crashClient) load(ctx context.Context, client *http.Client, addr string, stop *atomic.Bool) error {
	c.recent = c.recent[:0]
	for !stop.Load() {
		i := len(c.ops)
		op := crashOp{key: uint8(c.rng.IntN(keysPerClient)), by: int32(1 + c.rng.IntN(maxIncrement))}
		c.ops = append(c.ops, op)
		c.submitted[op.key] += int64(op.by)
		a, err := postIncrement(ctx, client, addr, c.keys[op.key], int64(op.by), c.idemKey(i))
		switch {
		case errors.Is(err, errNoAnswer):
			c.unanswered = append(c.unanswered, i)
			c.counts.unansweredAtKill++
			if stop.Load() {
				return nil
			}
			// No kill under way: the node gave no verdict in time, or it
			// died by itself (the kill then reports that). Back off.
			c.counts.noAnswerLive++
			time.Sleep(20 * time.Millisecond)
		case err != nil:
			return err
		case a.Duplicate:
			return fmt.Errorf("fresh idempotency key %s (key %s, by %d) was answered duplicate:true, index %d",
				c.idemKey(i), c.keys[op.key], op.by, a.Index)
		default:
			c.markAnswered(i, a)
			c.counts.ackedUnderLoad++
			if len(c.recent) == recheckPerClient {
				c.recent = c.recent[1:]
			}
			c.recent = append(c.recent, i)
		}
	}
	return nil
}

// resubmit sends every unanswered op again with its original idempotency
// key. If killed reports true the node is being killed: what is still
// unanswered stays so. Otherwise every op must get its answer.
// recoveredIndex is the index the node recovered to: an op answered
// duplicate:true at its first resubmission must be a recovered record.
func (c *crashClient) resubmit(ctx context.Context, client *http.Client, addr string, recoveredIndex uint64, killed func() bool) error {
	var left []int
	for n, i := range c.unanswered {
		op := c.ops[i]
		var (
			a   incrementAnswer
			err error
		)
		for attempt := 1; attempt <= resubmitAttempts; attempt++ {
			c.counts.resubmissions++
			a, err = postIncrement(ctx, client, addr, c.keys[op.key], int64(op.by), c.idemKey(i))
			if err == nil {
				if a.Duplicate && attempt == 1 && recoveredIndex != 0 && a.Index > recoveredIndex {
					return fmt.Errorf("%s answered duplicate:true at index %d at its first resubmission, but the node recovered only to index %d",
						c.idemKey(i), a.Index, recoveredIndex)
				}
				break
			}
			if !errors.Is(err, errNoAnswer) {
				return err
			}
			if killed() {
				break
			}
			time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
		}
		if err != nil {
			if killed() {
				left = append(left, c.unanswered[n:]...)
				break
			}
			return fmt.Errorf("%s unanswered after %d resubmissions to a live node: %w", c.idemKey(i), resubmitAttempts, err)
		}
		c.markAnswered(i, a)
		c.counts.resolved++
		if a.Duplicate {
			c.counts.duplicates++
		}
	}
	c.unanswered = left
	return nil
}

// recheck resubmits the last ops acknowledged before the kill: each was
// answered, so it must be durable and come back as a duplicate of the same
// record.
func (c *crashClient) recheck(ctx context.Context, client *http.Client, addr string) error {
	for _, i := range c.recent {
		op := c.ops[i]
		a, err := postIncrement(ctx, client, addr, c.keys[op.key], int64(op.by), c.idemKey(i))
		if err != nil {
			return fmt.Errorf("acknowledged %s: %w", c.idemKey(i), err)
		}
		if !a.Duplicate || a.Index != op.index {
			return fmt.Errorf("%s (key %s, by %d) was acknowledged at index %d before the kill, but after the restart it is answered duplicate=%t index=%d: the acknowledged transition was lost",
				c.idemKey(i), c.keys[op.key], op.by, op.index, a.Duplicate, a.Index)
		}
		c.counts.rechecked++
	}
	c.recent = c.recent[:0]
	return nil
}

// crashRun holds the whole test's state.
type crashRun struct {
	t        *testing.T
	seed     uint64
	bin      string
	dataDir  string
	rng      *rand.Rand
	clients  []*crashClient
	run      int // the current server run, for messages
	started  time.Time
	startup  time.Duration // spawn to listening of the last normal run
	stats    crashStats
	finalIdx uint64
}

type crashStats struct {
	kills, earlyKills, killsBeforeListening int
	killsBeforeRecovered                    int // before the recovered line: in catalog loading or recovery
	recoveries                              int // recovered lines seen
	replayed                                uint64
	snapshots                               int
}

// fatalf fails the test naming the seed and the run, with how to repeat it.
func (r *crashRun) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("%s\n(seed %d, server run %d; REPRISE_CRASH_SEED=%d repeats the schedule, though not the timing)",
		fmt.Sprintf(format, args...), r.seed, r.run, r.seed)
}

func newHTTPClient() *http.Client {
	return &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: 2 * crashClients,
			DisableCompression:  true,
		},
	}
}

// eachClient runs fn for every client concurrently and returns the errors.
func (r *crashRun) eachClient(fn func(c *crashClient) error) []error {
	errs := make([]error, len(r.clients))
	var wg sync.WaitGroup
	for n, c := range r.clients {
		wg.Go(func() { errs[n] = fn(c) })
	}
	wg.Wait()
	var out []error
	for n, err := range errs {
		if err != nil {
			out = append(out, fmt.Errorf("client %d: %w", n, err))
		}
	}
	return out
}

// joinErrs joins the first few client errors; one fault usually fails
// every client the same way.
func joinErrs(errs []error) error {
	const shown = 3
	if len(errs) <= shown {
		return errors.Join(errs...)
	}
	return errors.Join(append(errs[:shown:shown], fmt.Errorf("(and %d more clients)", len(errs)-shown))...)
}

// firstLines joins findings, at most 60 of them.
func firstLines(lines []string) string {
	const shown = 60
	if len(lines) > shown {
		lines = append(lines[:shown:shown], fmt.Sprintf("(and %d more)", len(lines)-shown))
	}
	return strings.Join(lines, "\n")
}

func (r *crashRun) totals() (ops, unanswered int, maxIndex uint64) {
	for _, c := range r.clients {
		ops += len(c.ops)
		unanswered += len(c.unanswered)
		maxIndex = max(maxIndex, c.maxIndex)
	}
	return
}

// noteRecovery counts a run's recovered line and snapshots.
func (r *crashRun) noteRecovery(n *node) {
	r.stats.snapshots += n.snapshotsWritten()
	if rec, err := n.recovery(); err == nil {
		r.stats.recoveries++
		r.stats.replayed += rec.Replayed
	}
}

// up waits for a freshly started node and checks what it recovered: a
// recovered line that verified its replay, every acknowledged record
// present, each key's total between the acknowledged and the submitted
// sums.
func (r *crashRun) up(ctx context.Context, n *node, client *http.Client) recoveryLine {
	if err := n.waitListening(startTimeout); err != nil {
		r.fatalf("the node did not come up: %v%s", err, r.diagnoseRefusedStart(ctx, n, client))
	}
	rec, err := n.recovery()
	if err != nil {
		r.fatalf("start: %v", err)
	}
	// A fresh data directory replays nothing and then appends its genesis
	// record.
	fresh := rec.Snapshot == 0 && rec.Replayed == 0 && rec.Index == genesisRecords
	if rec.Index != rec.Snapshot+rec.Replayed && !fresh {
		r.fatalf("recovered to index %d from snapshot %d but replayed %d records", rec.Index, rec.Snapshot, rec.Replayed)
	}
	ops, _, maxIndex := r.totals()
	if rec.Index < maxIndex {
		r.fatalf("recovered to index %d, but index %d was acknowledged before the kill: acknowledged records were lost", rec.Index, maxIndex)
	}
	if rec.Index > genesisRecords+uint64(ops) {
		r.fatalf("recovered to index %d, but only %d operations were ever submitted after the genesis record: something was applied twice", rec.Index, ops)
	}
	st, err := getState(ctx, client, n.addr)
	if err != nil {
		r.fatalf("after restart: %v", err)
	}
	if st.Index != rec.Index {
		r.fatalf("GET /state says index %d, the recovery line %d", st.Index, rec.Index)
	}
	var bad []string
	for _, c := range r.clients {
		for k, name := range c.keys {
			got := st.Counts[name]
			if got < c.answered[k] || got > c.submitted[k] {
				bad = append(bad, fmt.Sprintf("key %s: total %d after recovery, outside [%d acknowledged, %d submitted]",
					name, got, c.answered[k], c.submitted[k]))
			}
		}
	}
	if len(bad) > 0 {
		r.fatalf("after recovery to index %d:\n%s", rec.Index, firstLines(bad))
	}
	return rec
}

// genesisRecords is the number of records a fresh data directory holds
// before the first operation: the activation of the configured catalog.
const genesisRecords = 1

// badgerZeroMemtable is how badger v4.9.6 refuses a data directory holding
// a zero-length memtable file, left by a kill between the file's creation
// and its truncation to size (dgraph-io/badger#2207).
const badgerZeroMemtable = "Create a new file"

// diagnoseRefusedStart explains a node that exited instead of listening:
// the memtable files on disk, and whether a second start on the same data
// directory comes up with every acknowledged operation. The test still
// fails: a node must come back from a kill by itself.
func (r *crashRun) diagnoseRefusedStart(ctx context.Context, n *node, client *http.Client) string {
	if !n.hasExited() {
		return ""
	}
	var b strings.Builder
	b.WriteString("\nmemtable files in the WAL directory after the refused start (sizes as that start left them):")
	walDir := filepath.Join(r.dataDir, "wal")
	if mems, err := filepath.Glob(filepath.Join(walDir, "*.mem")); err != nil || len(mems) == 0 {
		b.WriteString(" none")
	} else {
		for _, m := range mems {
			if fi, err := os.Stat(m); err == nil {
				fmt.Fprintf(&b, " %s (%d bytes)", filepath.Base(m), fi.Size())
			}
		}
	}
	if strings.Contains(n.log.String(), badgerZeroMemtable) {
		b.WriteString("\nBadger refused a memtable file it had created but not yet sized when the process was killed " +
			"(badger v4.9.6 openMemTables treats z.NewFile as an error, dgraph-io/badger#2207); " +
			"the refused open itself sized the empty file, so the next start gets past it; wal.Open must cope with it")
	}
	second := startNode(r.t, r.bin, r.dataDir, crashSnapshotEvery)
	defer func() { _ = second.kill() }()
	if err := second.waitListening(startTimeout); err != nil {
		fmt.Fprintf(&b, "\na second start on the same data directory failed too: %v", err)
		return b.String()
	}
	rec, err := second.recovery()
	if err != nil {
		fmt.Fprintf(&b, "\na second start came up but: %v", err)
		return b.String()
	}
	ops, _, maxIndex := r.totals()
	st, err := getState(ctx, client, second.addr)
	if err != nil {
		fmt.Fprintf(&b, "\na second start came up at index %d, but: %v", rec.Index, err)
		return b.String()
	}
	lost := 0
	for _, c := range r.clients {
		for k, name := range c.keys {
			if st.Counts[name] < c.answered[k] || st.Counts[name] > c.submitted[k] {
				lost++
			}
		}
	}
	fmt.Fprintf(&b, "\na second start on the same data directory came up: recovered to index %d (snapshot %d, %d records replayed and verified); "+
		"highest acknowledged index %d, %d operations submitted, %d keys with a total outside [acknowledged, submitted]",
		rec.Index, rec.Snapshot, rec.Replayed, maxIndex, ops, lost)
	return b.String()
}

// checkExact requires every op to be answered and each key's total to be
// the sum of every increment ever submitted for it, and the log to hold
// exactly one record per operation.
func (r *crashRun) checkExact(ctx context.Context, client *http.Client, addr, when string) {
	ops, unanswered, _ := r.totals()
	if unanswered != 0 {
		r.fatalf("%s: %d operations still unanswered", when, unanswered)
	}
	st, err := getState(ctx, client, addr)
	if err != nil {
		r.fatalf("%s: %v", when, err)
	}
	var bad []string
	known := map[string]bool{}
	for _, c := range r.clients {
		n := make([]int, keysPerClient)
		for i, op := range c.ops {
			n[op.key]++
			if !op.answered {
				bad = append(bad, fmt.Sprintf("%s was never answered", c.idemKey(i)))
			}
		}
		for k, name := range c.keys {
			known[name] = true
			if got, want := st.Counts[name], c.submitted[k]; got != want {
				bad = append(bad, fmt.Sprintf("key %s: expected total %d (sum of %d increments), got %d (%+d)",
					name, want, n[k], got, got-want))
			}
		}
	}
	var unknown []string
	for name := range st.Counts {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		bad = append(bad, fmt.Sprintf("key %s: total %d, but no client ever incremented it", name, st.Counts[name]))
	}
	if st.Index != genesisRecords+uint64(ops) {
		bad = append(bad, fmt.Sprintf("the log ends at index %d, but %d operations were submitted after the genesis record, each to be applied exactly once", st.Index, ops))
	}
	if len(bad) > 0 {
		r.fatalf("%s:\n%s", when, firstLines(bad))
	}
}

// settle resubmits every unanswered op to a live node, checks the totals
// exactly, and rechecks the last acknowledged ops.
func (r *crashRun) settle(ctx context.Context, client *http.Client, addr string, rec recoveryLine, when string) {
	never := func() bool { return false }
	if errs := r.eachClient(func(c *crashClient) error { return c.resubmit(ctx, client, addr, rec.Index, never) }); len(errs) > 0 {
		r.fatalf("%s: resubmitting unanswered operations: %v", when, joinErrs(errs))
	}
	r.checkExact(ctx, client, addr, when)
	if errs := r.eachClient(func(c *crashClient) error { return c.recheck(ctx, client, addr) }); len(errs) > 0 {
		r.fatalf("%s: %v", when, joinErrs(errs))
	}
}

func (r *crashRun) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.rng.Int64N(int64(hi-lo)+1))
}

// normalRun restarts the node, settles and checks, then loads it with all
// clients and kills it at a random moment.
func (r *crashRun) normalRun(ctx context.Context) {
	spawned := time.Now()
	n := startNode(r.t, r.bin, r.dataDir, crashSnapshotEvery)
	client := newHTTPClient()
	defer client.CloseIdleConnections()
	rec := r.up(ctx, n, client)
	r.startup = time.Since(spawned)
	r.settle(ctx, client, n.addr, rec, "after restart")

	var stop atomic.Bool
	var wg sync.WaitGroup
	var errs []error
	wg.Go(func() {
		errs = r.eachClient(func(c *crashClient) error { return c.load(ctx, client, n.addr, &stop) })
	})
	time.Sleep(r.between(minLoad, maxLoad))
	// Clients finishing a request from here on start no new one; those in
	// flight are cut by the kill.
	stop.Store(true)
	killErr := n.kill()
	wg.Wait()
	r.stats.kills++
	r.noteRecovery(n)
	if killErr != nil {
		r.fatalf("kill under load: %v%s", killErr, r.diagnoseRefusedStart(ctx, n, client))
	}
	if len(errs) > 0 {
		r.fatalf("under load: %v\nstderr:\n%s", joinErrs(errs), n.log)
	}
}

// earlyRun kills the node at a random moment from its spawn: during
// catalog loading, recovery, or the resubmission of unanswered operations.
func (r *crashRun) earlyRun(ctx context.Context) {
	window := max(2*r.startup, 100*time.Millisecond)
	delay := r.between(0, window)
	n := startNode(r.t, r.bin, r.dataDir, crashSnapshotEvery)
	client := newHTTPClient()
	defer client.CloseIdleConnections()
	var killed atomic.Bool
	killAt := time.After(delay)
	up := make(chan struct{})
	go func() {
		if n.waitListening(startTimeout) == nil {
			close(up)
		}
	}()
	var wg sync.WaitGroup
	var errs []error
	select {
	case <-killAt:
	case <-up:
		rec, _ := n.recovery()
		wg.Go(func() {
			errs = r.eachClient(func(c *crashClient) error {
				return c.resubmit(ctx, client, n.addr, rec.Index, killed.Load)
			})
		})
		<-killAt
	}
	listening := false
	select {
	case <-up:
		listening = true
	default:
	}
	killed.Store(true)
	killErr := n.kill()
	wg.Wait()
	r.stats.kills++
	r.stats.earlyKills++
	if !listening {
		r.stats.killsBeforeListening++
		if _, err := n.recovery(); err != nil {
			r.stats.killsBeforeRecovered++
		}
	}
	r.noteRecovery(n)
	if killErr != nil {
		r.fatalf("kill %v after spawn: %v%s", delay, killErr, r.diagnoseRefusedStart(ctx, n, client))
	}
	if len(errs) > 0 {
		r.fatalf("resubmitting before an early kill: %v\nstderr:\n%s", joinErrs(errs), n.log)
	}
}

// finalRuns settles after the last kill, stops the node gracefully,
// restarts it and requires the same state hash.
func (r *crashRun) finalRuns(ctx context.Context) {
	n := startNode(r.t, r.bin, r.dataDir, crashSnapshotEvery)
	client := newHTTPClient()
	defer client.CloseIdleConnections()
	rec := r.up(ctx, n, client)
	r.settle(ctx, client, n.addr, rec, "after the last kill")
	before, err := getHealth(ctx, client, n.addr)
	if err != nil {
		r.fatalf("before graceful stop: %v", err)
	}
	if err := n.terminate(); err != nil {
		r.fatalf("graceful stop: %v", err)
	}
	r.noteRecovery(n)
	r.run++

	n = startNode(r.t, r.bin, r.dataDir, crashSnapshotEvery)
	rec = r.up(ctx, n, client)
	after, err := getHealth(ctx, client, n.addr)
	if err != nil {
		r.fatalf("after graceful restart: %v", err)
	}
	if after.Index != before.Index || after.StateHash != before.StateHash {
		r.fatalf("graceful stop and restart changed the node: index %d state hash %s before, index %d state hash %s after",
			before.Index, before.StateHash, after.Index, after.StateHash)
	}
	r.checkExact(ctx, client, n.addr, "after graceful restart")
	r.finalIdx = rec.Index
	if err := n.terminate(); err != nil {
		r.fatalf("final graceful stop: %v", err)
	}
	r.noteRecovery(n)
}

// TestCrashKill9 runs the real reprise binary under concurrent clients,
// SIGKILLs it at random moments and restarts it on the same data
// directory. After every restart the clients resubmit each operation whose
// answer they never got, with its original idempotency key; each key's
// total must then equal the sum of every increment ever submitted for it,
// the log must hold exactly one record per operation, and the last
// acknowledged operations before the kill must come back as duplicates of
// their records. The node verifies every record's state hash while it
// recovers and refuses to start on a mismatch, which fails the test.
//
// REPRISE_CRASH_KILLS sets the number of kills (the long form is 300, see
// `task crash-long`); REPRISE_CRASH_SEED fixes the random schedule.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test builds and repeatedly kills the reprise binary; skipped with -short")
	}
	kills := shortFormKills
	if s := os.Getenv("REPRISE_CRASH_KILLS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("REPRISE_CRASH_KILLS=%q: want a positive number of kills", s)
		}
		kills = v
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("REPRISE_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("REPRISE_CRASH_SEED=%q: want an unsigned integer", s)
		}
		seed = v
	}
	t.Logf("crash test: %d kills, seed %d (REPRISE_CRASH_SEED=%d repeats the schedule), race-instrumented server: %t",
		kills, seed, seed, raceEnabled())

	dir := t.TempDir()
	r := &crashRun{
		t: t, seed: seed, bin: buildReprise(t, dir), dataDir: filepath.Join(dir, "data"),
		rng: rand.New(rand.NewPCG(seed, 0)), started: time.Now(),
	}
	for id := range crashClients {
		r.clients = append(r.clients, newCrashClient(id, seed))
	}
	ctx := context.Background()
	for r.run = 0; r.run < kills; r.run++ {
		// The first run always comes up, so the early-kill window can be
		// sized from a measured startup.
		// At least one early kill happens whenever there are two kills.
		lastChance := r.run == kills-1 && r.stats.earlyKills == 0
		if r.run > 0 && (r.rng.IntN(earlyKillOneIn) == 0 || lastChance) {
			r.earlyRun(ctx)
		} else {
			r.normalRun(ctx)
		}
		if testing.Verbose() && (r.run+1)%50 == 0 {
			ops, unanswered, _ := r.totals()
			t.Logf("%d kills, %d operations, %d unanswered, %v", r.run+1, ops, unanswered, time.Since(r.started).Round(time.Second))
		}
	}
	r.finalRuns(ctx)

	var c opCounts
	for _, cl := range r.clients {
		c.add(cl.counts)
	}
	ops, _, _ := r.totals()
	s := r.stats
	t.Logf("crash summary: seed=%d kills=%d (under load %d, early %d of which %d before listening, %d of those before recovery completed) operations=%d acknowledged_before_kill=%d "+
		"unanswered_at_kill=%d no_answer_while_live=%d resubmissions=%d resolved=%d duplicates=%d (applied before the crash, answer lost) "+
		"applied_on_resubmission=%d acknowledged_rechecked=%d recoveries=%d records_replayed=%d snapshots=%d final_index=%d elapsed=%v",
		r.seed, s.kills, s.kills-s.earlyKills, s.earlyKills, s.killsBeforeListening, s.killsBeforeRecovered, ops, c.ackedUnderLoad,
		c.unansweredAtKill, c.noAnswerLive, c.resubmissions, c.resolved, c.duplicates,
		c.resolved-c.duplicates, c.rechecked, s.recoveries, s.replayed, s.snapshots, r.finalIdx, time.Since(r.started).Round(time.Millisecond))
}
