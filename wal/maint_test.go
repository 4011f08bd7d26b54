package wal

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestValueLogGCRunsAndStopsWithClose runs the GC goroutine at a short
// cadence over a log whose large records live in Badger's value log and are
// truncated, and checks that the log stays intact and that Close stops the
// goroutine.
func TestValueLogGCRunsAndStopsWithClose(t *testing.T) {
	opts := testOptions(t.TempDir())
	opts.GCInterval = time.Millisecond
	l := openLog(t, opts)
	for i := uint64(1); i <= 40; i++ {
		r := sampleRecord(i)
		r.Output = bytes.Repeat([]byte{byte(i)}, 2*valueThreshold)
		mustAppend(t, l, []Record{r})
	}
	mustTruncateHead(t, l, 30, 31) // also asks the goroutine for a round
	l.collectValueLog()            // and one round on this goroutine, racing with it
	if err := l.Range(31, 40, func(r Record) error {
		if len(r.Output) != 2*valueThreshold || r.Output[0] != byte(r.Index) {
			t.Fatalf("record %d lost its value-log payload", r.Index)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.gcDone:
	default:
		t.Fatal("the GC goroutine is still running after Close")
	}
	l = openLog(t, opts)
	checkBounds(t, l, 31, 40)
}

// recordingHandler keeps the messages logged through it.
type recordingHandler struct {
	mu   sync.Mutex
	msgs []string
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler            { return h }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Level.String()+" "+r.Message)
	return nil
}

func TestBadgerLoggingGoesToSlogAtWarningAndAbove(t *testing.T) {
	h := &recordingHandler{}
	bl := badgerLogger{slog.New(h)}
	bl.Infof("replaying %s\n", "memtable")
	bl.Debugf("detail")
	bl.Warningf("value log %d is large\n", 3)
	bl.Errorf("cannot open %s", "file")
	got := strings.Join(h.msgs, "|")
	if got != "WARN value log 3 is large|ERROR cannot open file" {
		t.Fatalf("logged %q", got)
	}
}
