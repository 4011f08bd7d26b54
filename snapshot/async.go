package snapshot

import (
	"errors"
	"io"
	"sync"
)

const (
	asyncBlockSize = 1 << 20
	asyncBlocks    = 4
)

var (
	errAsyncClosed  = errors.New("snapshot: write to a finished snapshot body")
	errAsyncAborted = errors.New("snapshot: snapshot body abandoned")
)

// asyncWriter gathers writes into fixed-size blocks and writes full blocks to
// w from its own goroutine, so the caller's work on the next block
// (producing the payload, hashing it) overlaps the file write of the
// previous one. Like bufio.Writer, an error is sticky and may surface on a
// later Write than the one whose bytes failed; Close reports it in any case.
type asyncWriter struct {
	w    io.Writer
	cur  []byte
	free chan []byte
	full chan []byte
	done chan struct{}

	mu  sync.Mutex // guards err, set by the writing goroutine
	err error

	closed bool // only touched by the caller's goroutine
}

func newAsyncWriter(w io.Writer) *asyncWriter {
	a := &asyncWriter{
		w:    w,
		cur:  make([]byte, 0, asyncBlockSize),
		free: make(chan []byte, asyncBlocks),
		full: make(chan []byte, asyncBlocks),
		done: make(chan struct{}),
	}
	for range asyncBlocks - 1 {
		a.free <- make([]byte, 0, asyncBlockSize)
	}
	go a.run()
	return a
}

func (a *asyncWriter) run() {
	defer close(a.done)
	for block := range a.full {
		if a.failure() == nil {
			if err := writeAll(a.w, block); err != nil {
				a.fail(err)
			}
		}
		a.free <- block[:0]
	}
}

func (a *asyncWriter) failure() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

func (a *asyncWriter) fail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err == nil {
		a.err = err
	}
}

func (a *asyncWriter) Write(p []byte) (int, error) {
	if a.closed {
		return 0, errAsyncClosed
	}
	if err := a.failure(); err != nil {
		return 0, err
	}
	written := 0
	for len(p) > 0 {
		n := copy(a.cur[len(a.cur):cap(a.cur)], p)
		a.cur = a.cur[:len(a.cur)+n]
		written += n
		p = p[n:]
		if len(a.cur) == cap(a.cur) {
			a.full <- a.cur
			a.cur = <-a.free
			if err := a.failure(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// Close writes what is buffered, waits for the goroutine and returns the
// first error. It may be called more than once.
func (a *asyncWriter) Close() error {
	if !a.closed {
		a.closed = true
		if len(a.cur) > 0 {
			a.full <- a.cur
			a.cur = nil
		}
		close(a.full)
		<-a.done
	}
	return a.failure()
}

// abort stops the goroutine without writing what is still buffered; after
// Close it does nothing.
func (a *asyncWriter) abort() {
	if a.closed {
		return
	}
	a.fail(errAsyncAborted)
	a.Close()
}
