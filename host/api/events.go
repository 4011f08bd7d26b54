package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/wal"
)

// The event stream, GET /v1/events, sends every committed WAL record as a
// server-sent event whose id is the record's index:
//
//	id: 42
//	event: transition
//	data: {"index":42,"transition":"TRANSITION_…",…}
//
// A client resumes after the last id it saw (the Last-Event-ID header, as
// EventSource sends it on reconnect, or ?from=<index> for the first index
// wanted). Records older than the live head come from the WAL; new ones
// from a hub that follows the executor's commits. The hub reads each
// committed batch from the WAL once and hands the encoded events to every
// subscriber through a bounded buffer, never blocking: a subscriber whose
// buffer is full is dropped (it receives "event: dropped" after what it
// already had) and reconnects from its last id. The writer is never held
// up by a reader.

// eventRoutes is the event stream.
func (s *Server) eventRoutes(r chi.Router) {
	r.Get("/v1/events", s.getEvents)
}

// event is one encoded record.
type event struct {
	index uint64
	frame []byte // a complete server-sent event, blank line included
}

func encodeEvent(rec *wal.Record) (event, error) {
	data, err := json.Marshal(newRecordJSON(rec))
	if err != nil {
		return event{}, fmt.Errorf("encode record %d: %w", rec.Index, err)
	}
	frame := make([]byte, 0, len(data)+64)
	frame = append(frame, "id: "...)
	frame = strconv.AppendUint(frame, rec.Index, 10)
	frame = append(frame, "\nevent: "...)
	frame = append(frame, rec.Kind.String()...)
	frame = append(frame, "\ndata: "...)
	frame = append(frame, data...)
	frame = append(frame, "\n\n"...)
	return event{index: rec.Index, frame: frame}, nil
}

// subscriber is one stream's buffer.
type subscriber struct {
	ch chan event
	// dropped is set before ch is closed when the subscriber fell behind;
	// a receiver that sees ch closed may read it.
	dropped bool
}

// hub follows the executor's commits and fans the committed records out to
// subscribers.
type hub struct {
	exec      *executor.Executor
	metrics   *Metrics
	buffer    int
	log       *slog.Logger
	onCatalog func() error // called when the module in force changes

	head atomic.Uint64 // the last index the executor reported committed
	wake chan struct{} // capacity 1: wake-ups coalesce
	stop chan struct{}
	done chan struct{}

	mu        sync.Mutex
	published uint64 // every record up to here was handed to every subscriber
	subs      map[*subscriber]struct{}
	closed    bool
}

var errHubClosed = errors.New("event stream closed: node is shutting down")

func newHub(exec *executor.Executor, m *Metrics, buffer int, log *slog.Logger, onCatalog func() error) *hub {
	st := exec.Status()
	h := &hub{exec: exec, metrics: m, buffer: buffer, log: log, onCatalog: onCatalog,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		published: st.Index, subs: map[*subscriber]struct{}{}}
	h.head.Store(st.Index)
	go h.run(st.Module)
	return h
}

// committed is the executor's commit callback: it runs on the writer, so it
// only records the index and wakes the hub.
func (h *hub) committed(index uint64) {
	h.head.Store(index)
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *hub) run(module [32]byte) {
	defer close(h.done)
	for {
		select {
		case <-h.stop:
			return
		case <-h.wake:
		}
		if st := h.exec.Status(); st.Module != module {
			module = st.Module
			if err := h.onCatalog(); err != nil {
				h.log.Warn("catalog changed but its descriptor could not be read", "err", err)
			}
		}
		h.publish(h.head.Load())
	}
}

// publish hands records up to head to every subscriber, at most a
// buffer's worth at a time: a subscriber cannot take more than that
// between two reads anyway, so the hub never holds more in memory.
func (h *hub) publish(head uint64) {
	for h.publishChunk(head) {
	}
}

// publishChunk hands the next chunk of records up to head to every
// subscriber and reports whether more remain.
func (h *hub) publishChunk(head uint64) bool {
	h.mu.Lock()
	from := h.published + 1
	if head < from || len(h.subs) == 0 {
		// Nobody to tell: nothing is read. A subscriber arriving later
		// reads what it needs from the WAL itself.
		h.published = max(h.published, head)
		h.mu.Unlock()
		return false
	}
	h.mu.Unlock()
	to := min(head, from+uint64(h.buffer)-1)

	events := make([]event, 0, to-from+1)
	err := h.exec.WAL().Range(from, to, func(rec wal.Record) error {
		ev, err := encodeEvent(&rec)
		if err != nil {
			return err
		}
		events = append(events, ev)
		return nil
	})

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	if err != nil {
		// The records are gone (compacted) or unreadable: every subscriber
		// must resume, and will learn why when it does.
		h.log.Warn("event stream: committed records could not be read; subscribers dropped", "from", from, "to", to, "err", err)
		for sub := range h.subs {
			h.dropLocked(sub)
		}
		h.published = head
		return false
	}
	for sub := range h.subs {
		for _, ev := range events {
			select {
			case sub.ch <- ev:
				continue
			default:
			}
			h.dropLocked(sub)
			break
		}
	}
	h.published = to
	return to < head
}

func (h *hub) dropLocked(sub *subscriber) {
	sub.dropped = true
	close(sub.ch)
	delete(h.subs, sub)
	h.metrics.eventSubscriberDropped()
	h.metrics.eventSubscribers(len(h.subs))
}

// subscribe registers a subscriber. Every record after the returned index
// will arrive on its channel (or it is dropped); records up to that index
// are the caller's to read from the WAL.
func (h *hub) subscribe() (*subscriber, uint64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, 0, errHubClosed
	}
	sub := &subscriber{ch: make(chan event, h.buffer)}
	h.subs[sub] = struct{}{}
	h.metrics.eventSubscribers(len(h.subs))
	return sub, h.published, nil
}

func (h *hub) unsubscribe(sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[sub]; ok {
		delete(h.subs, sub)
		close(sub.ch)
	}
	h.metrics.eventSubscribers(len(h.subs))
}

// close ends every stream and stops the hub.
func (h *hub) close() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		for sub := range h.subs {
			close(sub.ch)
			delete(h.subs, sub)
		}
		h.metrics.eventSubscribers(0)
		close(h.stop)
	}
	h.mu.Unlock()
	<-h.done
}

// eventStart reads where a stream starts: after Last-Event-ID when the
// client reconnects, else at ?from=, else after the current head.
func eventStart(r *http.Request) (uint64, bool, *Problem) {
	if raw := r.Header.Get("Last-Event-ID"); raw != "" {
		id, err := strconv.ParseUint(strings.TrimSpace(raw), 10, 64)
		if err != nil || id == ^uint64(0) {
			return 0, false, newProblem(http.StatusBadRequest, "bad_parameter", "Last-Event-ID is malformed",
				fmt.Sprintf("Last-Event-ID %q is not a record index", truncate(raw, 40)))
		}
		return id + 1, true, nil
	}
	from, ok, p := indexParam(r, "from")
	if p != nil {
		return 0, false, p
	}
	if ok && from == 0 {
		return 0, false, newProblem(http.StatusBadRequest, "bad_parameter", "query parameter is out of range", "from=0: indexes start at 1")
	}
	return from, ok, nil
}

// catchUpChunk is how many records a stream reads from the WAL between
// flushes while it catches up.
const catchUpChunk = 256

func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) {
	from, given, p := eventStart(r)
	if p != nil {
		sendProblem(w, p)
		return
	}
	if s.refuseUnreadable(w) {
		return
	}
	log := s.exec.WAL()
	st := s.exec.Status()
	if st.Failure != nil {
		writeProblem(w, http.StatusServiceUnavailable, "writer_stopped", "node stopped after a failure", st.Failure.Error())
		return
	}
	if !given {
		from = st.Index + 1
	}
	if first := log.FirstIndex(); from <= st.Index && from < first {
		p := newProblem(http.StatusGone, "wal_compacted", "records compacted",
			fmt.Sprintf("the stream cannot start at %d: the WAL now starts at index %d; read the state from GET /v1/state and follow from its index", from, first))
		p.FirstIndex = &first
		sendProblem(w, p)
		return
	}

	stream := &eventWriter{w: w, rc: http.NewResponseController(w), timeout: s.cfg.WriteTimeout}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	setReadIndex(w, st.Index)
	w.WriteHeader(http.StatusOK)
	// The server's write timeout bounds whole responses; a stream has no
	// end, so each write gets its own deadline instead.
	_ = stream.rc.SetWriteDeadline(time.Time{})
	if stream.write([]byte("retry: 1000\n\n")) != nil || stream.flush() != nil {
		return
	}

	next := from
	// Catch up from the WAL until the stream is within half a buffer of
	// the head, so that joining the hub does not overflow at once.
	for {
		last := s.lastVisible()
		if next > last || last-next < uint64(s.cfg.EventBuffer/2) {
			break
		}
		if r.Context().Err() != nil || !s.streamRange(stream, &next, min(last, next+catchUpChunk-1)) {
			return
		}
	}
	sub, joined, err := s.events.subscribe()
	if err != nil {
		stream.terminal("shutdown", newProblem(http.StatusServiceUnavailable, "shutting_down", "node is shutting down", err.Error()))
		return
	}
	defer s.events.unsubscribe(sub)
	for next <= joined {
		if r.Context().Err() != nil || !s.streamRange(stream, &next, min(joined, next+catchUpChunk-1)) {
			return
		}
	}

	heartbeat := time.NewTicker(s.cfg.EventHeartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-heartbeat.C:
			if stream.write([]byte(": keep-alive\n\n")) != nil || stream.flush() != nil {
				return
			}
		case ev, ok := <-sub.ch:
			if !ok {
				if sub.dropped {
					stream.terminal("dropped", newProblem(http.StatusServiceUnavailable, "subscriber_too_slow", "event stream fell behind",
						fmt.Sprintf("more than %d committed records were waiting for this stream; reconnect with Last-Event-ID: %d", s.cfg.EventBuffer, next-1)))
				} else {
					stream.terminal("shutdown", newProblem(http.StatusServiceUnavailable, "shutting_down", "node is shutting down",
						fmt.Sprintf("reconnect with Last-Event-ID: %d", next-1)))
				}
				return
			}
			if ev.index < next {
				continue
			}
			if stream.write(ev.frame) != nil {
				return
			}
			next = ev.index + 1
			// Flush once the buffer is drained: one syscall per burst.
			if len(sub.ch) == 0 && stream.flush() != nil {
				return
			}
		}
	}
}

// streamRange sends records *next..to from the WAL and advances *next. It
// reports whether the stream may go on.
func (s *Server) streamRange(stream *eventWriter, next *uint64, to uint64) bool {
	err := s.exec.WAL().Range(*next, to, func(rec wal.Record) error {
		ev, err := encodeEvent(&rec)
		if err != nil {
			return err
		}
		if err := stream.write(ev.frame); err != nil {
			return errStreamGone
		}
		*next = rec.Index + 1
		return nil
	})
	switch {
	case errors.Is(err, errStreamGone):
		return false
	case errors.Is(err, wal.ErrCompacted):
		first := s.exec.WAL().FirstIndex()
		p := newProblem(http.StatusGone, "wal_compacted", "records compacted", fmt.Sprintf("%v; the stream cannot continue from %d", err, *next))
		p.FirstIndex = &first
		stream.terminal("error", p)
		return false
	case err != nil:
		s.log.Error("event stream: WAL read failed", "from", *next, "to", to, "err", err)
		stream.terminal("error", newProblem(http.StatusInternalServerError, "internal", "WAL read failed", err.Error()))
		return false
	}
	return stream.flush() == nil
}

var errStreamGone = errors.New("event stream client gone")

// eventWriter writes to a stream, each write under its own deadline.
type eventWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (e *eventWriter) write(b []byte) error {
	_ = e.rc.SetWriteDeadline(time.Now().Add(e.timeout))
	_, err := e.w.Write(b)
	return err
}

func (e *eventWriter) flush() error {
	_ = e.rc.SetWriteDeadline(time.Now().Add(e.timeout))
	return e.rc.Flush()
}

// terminal sends a last event carrying a problem, then the stream ends.
func (e *eventWriter) terminal(name string, p *Problem) {
	data, _ := json.Marshal(p)
	frame := make([]byte, 0, len(data)+32)
	frame = append(frame, "event: "...)
	frame = append(frame, name...)
	frame = append(frame, "\ndata: "...)
	frame = append(frame, data...)
	frame = append(frame, "\n\n"...)
	if e.write(frame) == nil {
		_ = e.flush()
	}
}
