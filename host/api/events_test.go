package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hangGuard bounds how long a test waits for something that must happen,
// so a bug fails the test instead of hanging it. It is never a performance
// threshold.
const hangGuard = 2 * time.Minute

// sseEvent is one server-sent event.
type sseEvent struct {
	id    string
	event string
	data  string
}

// sseStream reads a GET /v1/events answer.
type sseStream struct {
	t      testing.TB
	resp   *http.Response
	rd     *bufio.Reader
	cancel context.CancelFunc
}

func (n *node) openEvents(query string, header ...string) *sseStream {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.url+"/v1/events"+query, nil)
	if err != nil {
		n.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := n.client.Do(req)
	if err != nil {
		cancel()
		n.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		n.t.Fatalf("GET /v1/events%s: %d %s", query, resp.StatusCode, raw)
	}
	s := &sseStream{t: n.t, resp: resp, rd: bufio.NewReader(resp.Body), cancel: cancel}
	n.t.Cleanup(s.close)
	return s
}

func (s *sseStream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// next reads the next event, skipping comments and frames without data.
func (s *sseStream) next() (sseEvent, error) {
	var ev sseEvent
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.data != "" {
				return ev, nil
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"), strings.HasPrefix(line, "retry: "):
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			ev.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		default:
			return ev, fmt.Errorf("unexpected stream line %q", line)
		}
	}
}

// record reads the next event, which must be a record, and decodes it.
func (s *sseStream) record() recordJSON {
	s.t.Helper()
	ev, err := s.next()
	if err != nil {
		s.t.Fatalf("event stream: %v", err)
	}
	var rec recordJSON
	if err := json.Unmarshal([]byte(ev.data), &rec); err != nil || ev.id != strconv.FormatUint(rec.Index, 10) || ev.event != rec.Kind {
		s.t.Fatalf("event %+v is not a record event (%v)", ev, err)
	}
	return rec
}

// walRecords reads records from..to from GET /v1/wal.
func (n *node) walRecords(from, to uint64) []recordJSON {
	n.t.Helper()
	var out []recordJSON
	for from <= to {
		var page walPage
		decode(n.t, n.get(fmt.Sprintf("/v1/wal?from=%d&to=%d&limit=1000", from, to)), &page)
		if len(page.Records) == 0 {
			n.t.Fatalf("no records from %d", from)
		}
		out = append(out, page.Records...)
		from = page.Records[len(page.Records)-1].Index + 1
	}
	return out
}

func TestEventsCatchUpThenLive(t *testing.T) {
	n := startNode(t, "counter", Config{})
	incrementN(n, 5)
	h := n.health()
	s := n.openEvents(fmt.Sprintf("?from=%d", h.WAL.FirstIndex))
	want := n.walRecords(h.WAL.FirstIndex, h.Index)
	for _, w := range want {
		if got := s.record(); !reflect.DeepEqual(got, w) {
			t.Fatalf("event %+v, the WAL has %+v", got, w)
		}
	}
	// Live: commits after the stream caught up.
	for i := range 3 {
		v := n.mustAccept(fmt.Sprintf(`{"transition":"TRANSITION_INCREMENT","inputs":{"key":"live","by":%d}}`, i+1))
		if got := s.record(); got.Index != v.Index || got.StateHash != v.StateHash || got.Transition != "TRANSITION_INCREMENT" {
			t.Fatalf("live event %+v for verdict %+v", got, v)
		}
	}
}

func TestEventsResume(t *testing.T) {
	n := startNodeKeeping(t, "counter", Config{}, 1)
	incrementN(n, 2)
	// Without a start, the stream begins with the next commit.
	s := n.openEvents("")
	a := n.mustAccept(`{"transition":"TRANSITION_INCREMENT","inputs":{"key":"r","by":1}}`)
	if got := s.record(); got.Index != a.Index {
		t.Fatalf("first event %d, want %d", got.Index, a.Index)
	}
	s.close()
	// Commits while disconnected arrive after reconnecting with
	// Last-Event-ID, exactly once and in order.
	var missed []verdict
	for i := range 4 {
		missed = append(missed, n.mustAccept(fmt.Sprintf(`{"transition":"TRANSITION_INCREMENT","inputs":{"key":"r","by":%d}}`, i+2)))
	}
	s = n.openEvents("?from=1", "Last-Event-ID", strconv.FormatUint(a.Index, 10))
	for _, v := range missed {
		if got := s.record(); got.Index != v.Index || got.StateHash != v.StateHash {
			t.Fatalf("resumed event %d/%s, want %d/%s", got.Index, got.StateHash, v.Index, v.StateHash)
		}
	}
	b := n.mustAccept(`{"transition":"TRANSITION_INCREMENT","inputs":{"key":"r","by":9}}`)
	if got := s.record(); got.Index != b.Index {
		t.Fatalf("live event after resuming: %d, want %d", got.Index, b.Index)
	}
	// A start the WAL no longer holds is refused with where it starts.
	if r := n.post("/v1/snapshots", ""); r.status != http.StatusCreated {
		t.Fatal(r)
	}
	p := wantProblem(t, n.get(fmt.Sprintf("/v1/events?from=%d", a.Index)), http.StatusGone, "wal_compacted")
	if p.FirstIndex == nil || *p.FirstIndex != b.Index+1 {
		t.Fatalf("compacted start: %+v", p)
	}
}

// bigProposal is an accepted counter increment whose WAL record (and
// event) is about 256 KB, through its evidence.
func bigProposal(i int) string {
	item := `"` + strings.Repeat("e", 1000) + `"`
	return fmt.Sprintf(`{"transition":"TRANSITION_INCREMENT","inputs":{"key":"big","by":1},"idem_key":"big-%d","evidence":[%s]}`,
		i, strings.TrimSuffix(strings.Repeat(item+",", maxEvidenceItems), ","))
}

// TestEventsSlowSubscriberIsDropped: a client that stops reading fills
// the socket, then its bounded buffer; the hub drops it without ever
// holding up the writer (every submission completes meanwhile), the client
// gets what was already sent and a "dropped" event, and resumes from its
// last id without losing or repeating a record.
func TestEventsSlowSubscriberIsDropped(t *testing.T) {
	n := startNode(t, "counter", Config{EventBuffer: 4})
	start := n.health().Index + 1
	s := n.openEvents(fmt.Sprintf("?from=%d", start)) // and read nothing yet
	// About 40 MB of events: more than the largest socket buffers on both
	// ends of a loopback connection hold (tcp_rmem and tcp_wmem maxima of
	// 32 MB and 4 MB here).
	const total = 160
	for i := range total {
		n.mustAccept(bigProposal(i))
	}
	end := n.health().Index
	waitFor(t, "the slow subscriber to be dropped", func() bool {
		n.metrics.mu.Lock()
		defer n.metrics.mu.Unlock()
		return n.metrics.dropped == 1
	})

	next := start
	for {
		ev, err := s.next()
		if err != nil {
			t.Fatalf("stream ended without a dropped event after %d: %v", next-1, err)
		}
		if ev.event == "dropped" {
			var p Problem
			if err := json.Unmarshal([]byte(ev.data), &p); err != nil || p.Code != "subscriber_too_slow" ||
				!strings.Contains(p.Detail, fmt.Sprintf("Last-Event-ID: %d", next-1)) {
				t.Fatalf("dropped event %+v (%v)", p, err)
			}
			break
		}
		if ev.id != strconv.FormatUint(next, 10) {
			t.Fatalf("event id %s, want %d", ev.id, next)
		}
		next++
	}
	if next > end {
		t.Fatalf("the whole log fitted in the socket before the drop; nothing was tested (got through %d)", next-1)
	}
	if _, err := s.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("stream goes on after the dropped event: %v", err)
	}
	s = n.openEvents("", "Last-Event-ID", strconv.FormatUint(next-1, 10))
	for ; next <= end; next++ {
		if got := s.record(); got.Index != next {
			t.Fatalf("resumed at %d, want %d", got.Index, next)
		}
	}
}

// TestHubNeverBlocksTheWriter subscribes without reading and commits more
// than the buffer holds: every commit completes and the subscriber is
// dropped with exactly a buffer's worth of events waiting.
func TestHubNeverBlocksTheWriter(t *testing.T) {
	n := startNode(t, "counter", Config{EventBuffer: 3})
	sub, _, err := n.api.events.subscribe()
	if err != nil {
		t.Fatal(err)
	}
	acks := incrementN(n, 8)
	waitFor(t, "the subscriber to be dropped", func() bool {
		n.api.events.mu.Lock()
		defer n.api.events.mu.Unlock()
		_, subscribed := n.api.events.subs[sub]
		return !subscribed
	})
	var got []uint64
	for ev := range sub.ch {
		got = append(got, ev.index)
	}
	if !sub.dropped || len(got) != 3 || got[0] != acks[0].Index || got[2] != acks[2].Index {
		t.Fatalf("dropped %v with events %v; first commits %d..%d", sub.dropped, got, acks[0].Index, acks[2].Index)
	}
	n.api.events.unsubscribe(sub) // after a drop: a no-op
}

// TestEventsEndOnShutdown: shutting the server down ends open streams with
// a shutdown event instead of waiting for them.
func TestEventsEndOnShutdown(t *testing.T) {
	n := startNode(t, "counter", Config{})
	s := n.openEvents("")
	a := n.mustAccept(`{"transition":"TRANSITION_INCREMENT","inputs":{"key":"s","by":1}}`)
	if got := s.record(); got.Index != a.Index {
		t.Fatalf("event %d, want %d", got.Index, a.Index)
	}
	n.stop()
	ev, err := s.next()
	if err != nil || ev.event != "shutdown" || !strings.Contains(ev.data, fmt.Sprintf("Last-Event-ID: %d", a.Index)) {
		t.Fatalf("after shutdown: %+v, %v", ev, err)
	}
}

// waitFor polls cond until it holds, failing after hangGuard.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
