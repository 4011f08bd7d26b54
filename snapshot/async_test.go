package snapshot

import (
	"bytes"
	"errors"
	"testing"
)

func TestAsyncWriterKeepsOrderAcrossBlocks(t *testing.T) {
	var out bytes.Buffer
	a := newAsyncWriter(&out)
	want := testPayload(3, 5*asyncBlockSize+12345)
	if err := chunkedWrite(want)(a); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("wrote %d bytes, want the %d given, in order", out.Len(), len(want))
	}
	if _, err := a.Write([]byte("x")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}

// errAfterWriter is a fault double for the destination: it accepts limit
// bytes and then fails.
type errAfterWriter struct {
	limit int
	err   error
}

func (w *errAfterWriter) Write(p []byte) (int, error) {
	if len(p) > w.limit {
		n := w.limit
		w.limit = 0
		return n, w.err
	}
	w.limit -= len(p)
	return len(p), nil
}

func TestAsyncWriterReportsAFailedBlock(t *testing.T) {
	errDevice := errors.New("device gone")
	for _, limit := range []int{0, asyncBlockSize + 1, 3*asyncBlockSize - 1} {
		a := newAsyncWriter(&errAfterWriter{limit: limit, err: errDevice})
		a.Write(testPayload(1, 3*asyncBlockSize+7)) // may or may not see the error yet
		if err := a.Close(); !errors.Is(err, errDevice) {
			t.Fatalf("limit %d: Close error = %v, want %v", limit, err, errDevice)
		}
	}
	a := newAsyncWriter(&errAfterWriter{limit: 1 << 30})
	a.Write([]byte("abandoned"))
	a.abort()
	if err := a.Close(); !errors.Is(err, errAsyncAborted) {
		t.Fatalf("Close after abort = %v, want errAsyncAborted", err)
	}
}
