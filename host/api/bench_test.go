package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host/executor"
)

// BenchmarkHTTPLoad measures durable transitions over real HTTP on
// loopback at 64 concurrent connections, next to the same transitions
// submitted in-process to an executor (the durable core's figure), in one
// run: transitions/s and p50/p99 latency of each, and the HTTP/in-process
// ratios, which are the HTTP layer's cost.
//
// Both sides run the built-in counter catalog with group commit, each
// proposal with a unique idempotency key, on fresh data directories of one
// filesystem. They run in alternating rounds so that both sample the same
// fsync conditions of a shared disk. The HTTP client runs in the same
// process, on the same cores as the server, as a load generator beside a
// node would on a small machine. One
//
//	go test -run '^$' -bench HTTPLoad -benchtime 1x ./host/api/
//
// prints every figure; b.N is not used. Figures are reported, never
// enforced.
func BenchmarkHTTPLoad(b *testing.B) {
	const (
		clients = 64
		rounds  = 4
		perRun  = 4_000 // transitions per round and side
		warmup  = 500
	)
	module := builtinModule(b, "counter")
	open := func() *executor.Executor {
		ex, err := executor.Open(context.Background(), executor.Config{DataDir: b.TempDir(), Module: module, SnapshotEvery: 1 << 40, Logger: quietLogger()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = ex.Close(context.Background()) })
		return ex
	}

	inproc := open()
	node := open()
	srv, err := New(node, Config{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	httpServer := srv.HTTPServer()
	go func() { _ = httpServer.Serve(ln) }()
	b.Cleanup(func() { _ = httpServer.Close() })
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	url := "http://" + ln.Addr().String() + "/transition"

	submitInProcess := func(key string) error {
		v, err := inproc.Submit(context.Background(), executor.Submission{Proposal: abi.Proposal{
			Transition: "TRANSITION_INCREMENT", Inputs: benchInputs(key), IdemKey: key}})
		if err == nil && (!v.Accepted || v.Duplicate) {
			err = fmt.Errorf("%s: %s %s", key, v.Code.Slug(), v.Detail)
		}
		return err
	}
	submitHTTP := func(key string) error {
		body := `{"transition":"TRANSITION_INCREMENT","inputs":` + string(benchInputs(key)) + `,"idem_key":"` + key + `"}`
		resp, err := client.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		var v verdict
		if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&v); err != nil || resp.StatusCode != http.StatusOK || !v.Success || v.Duplicate {
			return fmt.Errorf("%s: %d %s", key, resp.StatusCode, raw)
		}
		return nil
	}

	runLoad(b, "inproc-warmup", warmup, clients, submitInProcess)
	runLoad(b, "http-warmup", warmup, clients, submitHTTP)
	var in, over loadResult
	for r := range rounds {
		in.add(runLoad(b, fmt.Sprintf("inproc-%d", r), perRun, clients, submitInProcess))
		over.add(runLoad(b, fmt.Sprintf("http-%d", r), perRun, clients, submitHTTP))
	}

	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	inTPS, httpTPS := in.perSecond(), over.perSecond()
	inP50, inP99, httpP50, httpP99 := in.percentile(50), in.percentile(99), over.percentile(50), over.percentile(99)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(inTPS, "tps-inproc")
	b.ReportMetric(httpTPS, "tps-http")
	b.ReportMetric(httpTPS/inTPS, "tps-http/inproc")
	b.ReportMetric(us(inP50), "inproc-p50-µs")
	b.ReportMetric(us(inP99), "inproc-p99-µs")
	b.ReportMetric(us(httpP50), "http-p50-µs")
	b.ReportMetric(us(httpP99), "http-p99-µs")
	b.ReportMetric(float64(httpP50)/float64(inP50), "p50-http/inproc")
	b.ReportMetric(float64(httpP99)/float64(inP99), "p99-http/inproc")
	b.Logf("%d concurrent submitters, %d rounds of %d durable counter increments per side\n"+
		"in-process Submit   %8.0f transitions/s   p50 %8.1f µs   p99 %8.1f µs\n"+
		"HTTP on loopback    %8.0f transitions/s   p50 %8.1f µs   p99 %8.1f µs\n"+
		"HTTP / in-process   %8.2f×                 p50 %7.2f×      p99 %7.2f×",
		clients, rounds, perRun, inTPS, us(inP50), us(inP99), httpTPS, us(httpP50), us(httpP99),
		httpTPS/inTPS, float64(httpP50)/float64(inP50), float64(httpP99)/float64(inP99))
}

// benchInputs spreads increments over 1,000 keys, derived from the
// idempotency key so that both sides submit the same sequence.
func benchInputs(key string) []byte {
	var h uint32
	for i := 0; i < len(key); i++ {
		h = h*31 + uint32(key[i])
	}
	return fmt.Appendf(nil, `{"by":1,"key":"key-%03d"}`, h%1000)
}

// loadResult is the outcome of load runs: transitions, wall time and
// every latency.
type loadResult struct {
	transitions int
	took        time.Duration
	latencies   []time.Duration
}

func (r *loadResult) add(o loadResult) {
	r.transitions += o.transitions
	r.took += o.took
	r.latencies = append(r.latencies, o.latencies...)
}

func (r *loadResult) perSecond() float64 { return float64(r.transitions) / r.took.Seconds() }

// percentile is the nearest-rank percentile p.
func (r *loadResult) percentile(p int) time.Duration {
	lat := slices.Clone(r.latencies)
	slices.Sort(lat)
	rank := (len(lat)*p + 99) / 100
	return lat[max(rank, 1)-1]
}

// runLoad submits n transitions named phase-i from the given number of
// goroutines and measures them.
func runLoad(b *testing.B, phase string, n, workers int, submit func(key string) error) loadResult {
	b.Helper()
	lat := make([]time.Duration, n)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				t0 := time.Now()
				if err := submit(fmt.Sprintf("%s-%06d", phase, i)); err != nil {
					errs[w] = err
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return loadResult{transitions: n, took: took, latencies: lat}
}
