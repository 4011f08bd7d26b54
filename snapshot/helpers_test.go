package snapshot

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/reprise-dev/reprise/snapshot/durablefs"
)

// testMeta returns a deterministic Meta for index, with every field set.
func testMeta(index uint64) Meta {
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], index)
	return Meta{
		Index:       index,
		Epoch:       index/10 + 1,
		CatalogHash: sha256.Sum256(append([]byte("catalog"), seed[:]...)),
		StateHash:   sha256.Sum256(append([]byte("state"), seed[:]...)),
		Entries:     index * 3,
		CreatedUnix: 1_700_000_000 + int64(index),
		Extra:       []byte("watermark=" + string(seed[:])),
	}
}

// testPayload returns size deterministic pseudo-random bytes for index.
func testPayload(index uint64, size int) []byte {
	var seed [32]byte
	binary.BigEndian.PutUint64(seed[:], index)
	b := make([]byte, size)
	rand.NewChaCha8(seed).Read(b)
	return b
}

// chunkedWrite returns a write func that writes payload in uneven pieces,
// the way a host streams state entries.
func chunkedWrite(payload []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		for rest, step := payload, 1; len(rest) > 0; step = step*7%4093 + 1 {
			n := min(step, len(rest))
			if _, err := w.Write(rest[:n]); err != nil {
				return err
			}
			rest = rest[n:]
		}
		return nil
	}
}

func openStore(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func writeSnapshot(t testing.TB, s *Store, index uint64, payload []byte) Info {
	t.Helper()
	info, err := s.Write(testMeta(index), chunkedWrite(payload))
	if err != nil {
		t.Fatalf("Write(index %d): %v", index, err)
	}
	return info
}

func readPayload(t testing.TB, r *Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Payload())
	if err != nil {
		t.Fatalf("reading payload of %s: %v", r.Path(), err)
	}
	return b
}

// wantLatest checks that OpenLatest returns the snapshot at index with payload.
func wantLatest(t testing.TB, s *Store, index uint64, payload []byte) {
	t.Helper()
	r, err := s.OpenLatest()
	if err != nil {
		t.Fatalf("OpenLatest: %v", err)
	}
	defer r.Close()
	if r.Meta.Index != index {
		t.Fatalf("OpenLatest returned index %d, want %d", r.Meta.Index, index)
	}
	if got := readPayload(t, r); !bytes.Equal(got, payload) {
		t.Fatalf("payload of index %d: got %d bytes, want %d (contents differ)", index, len(got), len(payload))
	}
}

// wantIndexes checks that List reports exactly these valid snapshots, in
// this order.
func wantIndexes(t testing.TB, s *Store, want ...uint64) {
	t.Helper()
	infos, err := s.List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	got := make([]uint64, 0, len(infos))
	for _, info := range infos {
		if !info.Valid {
			t.Errorf("List: index %d invalid: %v", info.Index, info.Err)
		}
		got = append(got, info.Index)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("List indexes = %v, want %v", got, want)
	}
}

func tempFilesIn(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("reading %s: %v", dir, err)
	}
	var temps []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), tempSuffix) {
			temps = append(temps, e.Name())
		}
	}
	return temps
}

// logBuffer collects log output from a Store.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// failingFile is a fault double for the temp file a snapshot streams into:
// it passes writes through to a real file until failAfter bytes have been
// written and then fails every write with writeErr (failAfter < 0: writes
// never fail); Sync fails with syncErr when it is set.
type failingFile struct {
	*os.File
	failAfter int64
	writeErr  error
	syncErr   error
	written   int64
}

func (f *failingFile) Write(p []byte) (int, error) {
	if f.failAfter >= 0 && f.written+int64(len(p)) > f.failAfter {
		n, _ := f.File.Write(p[:max(0, f.failAfter-f.written)])
		f.written += int64(n)
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: f.writeErr}
	}
	n, err := f.File.Write(p)
	f.written += int64(n)
	return n, err
}

func (f *failingFile) Sync() error {
	if f.syncErr != nil {
		return &os.PathError{Op: "sync", Path: f.Name(), Err: f.syncErr}
	}
	return f.File.Sync()
}

// injectFailingFile makes every temp file s creates a copy of proto.
func injectFailingFile(s *Store, proto failingFile) {
	s.createTemp = func(dir, pattern string) (durablefs.TempFile, error) {
		f, err := os.CreateTemp(dir, pattern)
		if err != nil {
			return nil, err
		}
		ff := proto
		ff.File = f
		return &ff, nil
	}
}

func flipByte(t testing.TB, path string, offset int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if offset < 0 {
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		offset += st.Size()
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], offset); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x5a
	if _, err := f.WriteAt(b[:], offset); err != nil {
		t.Fatal(err)
	}
}

func truncateBy(t testing.TB, path string, n int64) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, max(0, st.Size()-n)); err != nil {
		t.Fatal(err)
	}
}

func rawBytes(t testing.TB, s *Store, index uint64) []byte {
	t.Helper()
	rc, err := s.Raw(Info{Meta: Meta{Index: index}})
	if err != nil {
		t.Fatalf("Raw(%d): %v", index, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustNotExist(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s: expected it not to exist, stat says %v", filepath.Base(path), err)
	}
}

func errNoSpace() error { return syscall.ENOSPC }

func writeFile(path string, data []byte) error { return os.WriteFile(path, data, 0o600) }
