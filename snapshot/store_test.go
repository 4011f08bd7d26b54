package snapshot

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func TestWriteThenOpenLatestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	meta := testMeta(1234)
	payload := testPayload(1234, 3<<20+17) // several buffer lengths, odd size

	info, err := s.Write(meta, chunkedWrite(payload))
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	wantPath := filepath.Join(dir, "snap-00000000000000001234.rsnap")
	if info.Path != wantPath || !info.Valid || info.Err != nil {
		t.Fatalf("Write info = %+v, want valid at %s", info, wantPath)
	}
	st, err := os.Stat(wantPath)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != st.Size() {
		t.Fatalf("Write info size %d, file is %d bytes", info.Size, st.Size())
	}

	r, err := s.OpenLatest()
	if err != nil {
		t.Fatalf("OpenLatest: %v", err)
	}
	defer r.Close()
	if !reflect.DeepEqual(r.Meta, meta) {
		t.Fatalf("meta read back = %+v\nwant %+v", r.Meta, meta)
	}
	if r.PayloadSize() != int64(len(payload)) {
		t.Fatalf("PayloadSize = %d, want %d", r.PayloadSize(), len(payload))
	}
	if got := readPayload(t, r); !bytes.Equal(got, payload) {
		t.Fatal("payload read back differs from the payload written")
	}
	// Each Payload call starts again from the first byte.
	if got := readPayload(t, r); !bytes.Equal(got, payload) {
		t.Fatal("second Payload reader differs from the payload written")
	}

	infos, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || !reflect.DeepEqual(infos[0], info) {
		t.Fatalf("List = %+v, want [%+v]", infos, info)
	}
}

func TestEmptyPayloadAndNoExtra(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	meta := testMeta(0)
	meta.Extra = nil
	if _, err := s.Write(meta, func(io.Writer) error { return nil }); err != nil {
		t.Fatalf("Write: %v", err)
	}
	r, err := s.OpenAt(0)
	if err != nil {
		t.Fatalf("OpenAt(0): %v", err)
	}
	defer r.Close()
	if !reflect.DeepEqual(r.Meta, meta) || r.PayloadSize() != 0 {
		t.Fatalf("got meta %+v, payload %d bytes; want %+v and none", r.Meta, r.PayloadSize(), meta)
	}
}

func TestSnapshotBytesAreDeterministic(t *testing.T) {
	a := openStore(t, t.TempDir(), Options{})
	b := openStore(t, t.TempDir(), Options{})
	payload := testPayload(7, 100_000)
	writeSnapshot(t, a, 7, payload)
	if _, err := b.Write(testMeta(7), func(w io.Writer) error { // one big write instead of many small ones
		_, err := w.Write(payload)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rawBytes(t, a, 7), rawBytes(t, b, 7)) {
		t.Fatal("same meta and payload produced different snapshot files")
	}
}

func TestOpenAt(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{Keep: 10})
	for _, index := range []uint64{3, 8, 5} {
		writeSnapshot(t, s, index, testPayload(index, 1000))
	}
	r, err := s.OpenAt(5)
	if err != nil {
		t.Fatalf("OpenAt(5): %v", err)
	}
	defer r.Close()
	if r.Meta.Index != 5 || !bytes.Equal(readPayload(t, r), testPayload(5, 1000)) {
		t.Fatalf("OpenAt(5) returned index %d or the wrong payload", r.Meta.Index)
	}
	if _, err := s.OpenAt(4); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("OpenAt(4) error = %v, want ErrNoSnapshot", err)
	}
}

func TestOpenLatestPicksHighestIndex(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{Keep: 10})
	for _, index := range []uint64{5, 90, 7, 10} { // written out of order
		writeSnapshot(t, s, index, testPayload(index, 500))
	}
	wantIndexes(t, s, 90, 10, 7, 5)
	wantLatest(t, s, 90, testPayload(90, 500))
}

func TestWriteSameIndexReplaces(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	writeSnapshot(t, s, 4, testPayload(4, 100))
	writeSnapshot(t, s, 4, testPayload(40, 200))
	wantIndexes(t, s, 4)
	wantLatest(t, s, 4, testPayload(40, 200))
}

func TestCorruptNewestIsSkipped(t *testing.T) {
	const size = 64 << 10
	cases := []struct {
		name        string
		damage      func(t *testing.T, path string)
		listValid   bool // whether a header-only check can see the damage
		wantInError string
	}{
		{"payload byte flipped", func(t *testing.T, p string) { flipByte(t, p, 5000) }, true, "checksum mismatch"},
		{"last payload byte flipped", func(t *testing.T, p string) { flipByte(t, p, -trailerLen-1) }, true, "checksum mismatch"},
		{"checksum byte flipped", func(t *testing.T, p string) { flipByte(t, p, -1) }, true, "checksum mismatch"},
		{"payload length flipped", func(t *testing.T, p string) { flipByte(t, p, -sha256Len-1) }, false, "trailer says the payload is"},
		{"magic flipped", func(t *testing.T, p string) { flipByte(t, p, 0) }, false, "not a snapshot"},
		{"meta byte flipped", func(t *testing.T, p string) { flipByte(t, p, 20) }, false, "header checksum mismatch"},
		{"truncated by one byte", func(t *testing.T, p string) { truncateBy(t, p, 1) }, false, "trailer says the payload is"},
		{"truncated to half", func(t *testing.T, p string) { truncateBy(t, p, size/2) }, false, "trailer says the payload is"},
		{"truncated inside header", func(t *testing.T, p string) { truncateBy(t, p, size+trailerLen+40) }, false, "shorter than the smallest valid snapshot"},
		{"truncated to empty", func(t *testing.T, p string) { truncateBy(t, p, 1<<30) }, false, "shorter than the smallest valid snapshot"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logger, logs := newLogger()
			s := openStore(t, t.TempDir(), Options{Logger: logger})
			writeSnapshot(t, s, 1, testPayload(1, size))
			newest := writeSnapshot(t, s, 2, testPayload(2, size))
			tc.damage(t, newest.Path)

			wantLatest(t, s, 1, testPayload(1, size))
			out := logs.String()
			if !strings.Contains(out, "level=WARN") || !strings.Contains(out, newest.Path) || !strings.Contains(out, tc.wantInError) {
				t.Fatalf("want a warning naming %s and %q, log was:\n%s", newest.Path, tc.wantInError, out)
			}

			_, err := s.OpenAt(2)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.wantInError) {
				t.Fatalf("OpenAt(2) error = %v, want ErrCorrupt with %q", err, tc.wantInError)
			}
			infos, err := s.List()
			if err != nil {
				t.Fatal(err)
			}
			if len(infos) != 2 || infos[0].Index != 2 || infos[0].Valid != tc.listValid || infos[1].Index != 1 || !infos[1].Valid {
				t.Fatalf("List = %+v, want index 2 (valid=%v) then a valid index 1", infos, tc.listValid)
			}
			if !tc.listValid && !errors.Is(infos[0].Err, ErrCorrupt) {
				t.Fatalf("List error for index 2 = %v, want ErrCorrupt", infos[0].Err)
			}
		})
	}
}

const sha256Len = trailerLen - 8

func TestAllSnapshotsCorrupt(t *testing.T) {
	logger, _ := newLogger()
	s := openStore(t, t.TempDir(), Options{Logger: logger})
	info := writeSnapshot(t, s, 1, testPayload(1, 100))
	flipByte(t, info.Path, -1)
	if _, err := s.OpenLatest(); !errors.Is(err, ErrNoSnapshot) || !strings.Contains(err.Error(), "failed verification") {
		t.Fatalf("OpenLatest error = %v, want ErrNoSnapshot saying all failed verification", err)
	}
}

func TestFileRenamedToAnotherIndexIsInvalid(t *testing.T) {
	logger, _ := newLogger()
	dir := t.TempDir()
	s := openStore(t, dir, Options{Logger: logger})
	info := writeSnapshot(t, s, 3, testPayload(3, 100))
	if err := os.Rename(info.Path, filepath.Join(dir, FileName(9))); err != nil {
		t.Fatal(err)
	}
	_, err := s.OpenLatest()
	if !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("OpenLatest error = %v, want ErrNoSnapshot", err)
	}
	infos, _ := s.List()
	if len(infos) != 1 || infos[0].Valid || !strings.Contains(infos[0].Err.Error(), "header says index 3 but the file name says 9") {
		t.Fatalf("List = %+v, want index 9 invalid for its header index", infos)
	}
}

func TestOpenCreatesMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "snapshots")
	s := openStore(t, dir, Options{})
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		t.Fatalf("Open did not create %s: %v", dir, err)
	}
	if s.Dir() != dir {
		t.Fatalf("Dir() = %s, want %s", s.Dir(), dir)
	}
	writeSnapshot(t, s, 1, []byte("state"))
	wantLatest(t, s, 1, []byte("state"))
}

func TestNoSnapshot(t *testing.T) {
	t.Run("empty directory", func(t *testing.T) {
		s := openStore(t, t.TempDir(), Options{})
		if _, err := s.OpenLatest(); !errors.Is(err, ErrNoSnapshot) {
			t.Fatalf("OpenLatest error = %v, want ErrNoSnapshot", err)
		}
		if infos, err := s.List(); err != nil || len(infos) != 0 {
			t.Fatalf("List = %v, %v; want nothing", infos, err)
		}
	})
	t.Run("only unrelated files", func(t *testing.T) {
		dir := t.TempDir()
		for _, name := range []string{"README", "snap-12.rsnap", "snap-0000000000000000001x.rsnap", "snap-00000000000000000001.rsnap.bak"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		s := openStore(t, dir, Options{})
		if _, err := s.OpenLatest(); !errors.Is(err, ErrNoSnapshot) {
			t.Fatalf("OpenLatest error = %v, want ErrNoSnapshot", err)
		}
	})
	// Running as root defeats permission bits, so the directory is made
	// unreadable by replacing it with a file, and by removing it.
	t.Run("directory replaced by a file", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "snaps")
		s := openStore(t, dir, Options{})
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir, []byte("not a directory"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := s.OpenLatest()
		if !errors.Is(err, ErrNoSnapshot) || !errors.Is(err, syscall.ENOTDIR) {
			t.Fatalf("OpenLatest error = %v, want ErrNoSnapshot carrying ENOTDIR", err)
		}
		if _, err := s.List(); !errors.Is(err, syscall.ENOTDIR) {
			t.Fatalf("List error = %v, want ENOTDIR", err)
		}
	})
	t.Run("directory removed", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "snaps")
		s := openStore(t, dir, Options{})
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if _, err := s.OpenLatest(); !errors.Is(err, ErrNoSnapshot) || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("OpenLatest error = %v, want ErrNoSnapshot carrying ErrNotExist", err)
		}
	})
	t.Run("unreadable directory", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("permission bits do not stop root from reading; the cases above cover an unreadable directory")
		}
		dir := filepath.Join(t.TempDir(), "snaps")
		s := openStore(t, dir, Options{})
		if err := os.Chmod(dir, 0); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(dir, 0o750)
		if _, err := s.OpenLatest(); !errors.Is(err, ErrNoSnapshot) || !errors.Is(err, os.ErrPermission) {
			t.Fatalf("OpenLatest error = %v, want ErrNoSnapshot carrying ErrPermission", err)
		}
	})
}

func TestKeepPrunesOldest(t *testing.T) {
	logger, logs := newLogger()
	s := openStore(t, t.TempDir(), Options{Keep: 2, Logger: logger})
	for index := uint64(1); index <= 5; index++ {
		writeSnapshot(t, s, index, testPayload(index, 100))
	}
	wantIndexes(t, s, 5, 4)
	if !strings.Contains(logs.String(), "pruned old snapshot") {
		t.Fatalf("want pruning logged, log was:\n%s", logs.String())
	}

	d := openStore(t, t.TempDir(), Options{})
	for index := uint64(1); index <= 5; index++ {
		writeSnapshot(t, d, index, testPayload(index, 100))
	}
	wantIndexes(t, d, 5, 4, 3) // DefaultKeep
}

func TestPruneNeverDeletesNewestValid(t *testing.T) {
	logger, _ := newLogger()
	s := openStore(t, t.TempDir(), Options{Keep: 1, Logger: logger})
	writeSnapshot(t, s, 10, testPayload(10, 1000))
	bad := writeSnapshot(t, s, 20, testPayload(20, 1000))
	flipByte(t, bad.Path, 500) // header still valid, payload corrupt
	writeSnapshot(t, s, 15, testPayload(15, 1000))

	// 20 outranks 15 by index but is corrupt: 15 must survive Keep=1.
	wantIndexes(t, s, 20, 15)
	wantLatest(t, s, 15, testPayload(15, 1000))

	// A file with a broken header does not count towards Keep, is kept
	// while newer than what was just written, and is pruned once older.
	broken := writeSnapshot(t, s, 30, testPayload(30, 1000))
	flipByte(t, broken.Path, 0)
	writeSnapshot(t, s, 25, testPayload(25, 1000))
	infos, _ := s.List()
	if len(infos) != 2 || infos[0].Index != 30 || infos[0].Valid || infos[1].Index != 25 || !infos[1].Valid {
		t.Fatalf("List = %+v, want 30 (invalid) and 25", infos)
	}
	writeSnapshot(t, s, 40, testPayload(40, 1000))
	wantIndexes(t, s, 40)
}

func TestFailedWriteLeavesNoTraceAndKeepsOlderSnapshots(t *testing.T) {
	errWrite := errors.New("state iterator broke")
	cases := []struct {
		name    string
		fault   *failingFile
		write   func(io.Writer) error
		wantErr error
		wantIn  string
	}{
		{
			name:    "write func fails",
			write:   func(w io.Writer) error { w.Write([]byte("partial")); return errWrite },
			wantErr: errWrite,
			wantIn:  "state iterator broke",
		},
		{
			name:    "file write fails midway",
			fault:   &failingFile{failAfter: 1 << 20, writeErr: syscall.EIO},
			wantErr: syscall.EIO,
			wantIn:  "input/output error",
		},
		{
			name:    "file write fails and the write func swallows it",
			fault:   &failingFile{failAfter: 1 << 20, writeErr: syscall.EIO},
			write:   func(w io.Writer) error { chunkedWrite(testPayload(3, 4<<20))(w); return nil },
			wantErr: syscall.EIO,
			wantIn:  "input/output error",
		},
		{
			name:    "file write fails in the last block",
			fault:   &failingFile{failAfter: 4<<20 - 10, writeErr: syscall.EIO},
			wantErr: syscall.EIO,
			wantIn:  "input/output error",
		},
		{
			name:    "header write fails",
			fault:   &failingFile{failAfter: 0, writeErr: syscall.EIO},
			wantErr: syscall.EIO,
			wantIn:  "input/output error",
		},
		{
			name:    "fsync fails",
			fault:   &failingFile{failAfter: -1, syncErr: syscall.EIO},
			wantErr: syscall.EIO,
			wantIn:  "fsync of",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir, Options{Keep: 1})
			writeSnapshot(t, s, 1, testPayload(1, 1000))
			writeSnapshot(t, s, 2, testPayload(2, 1000))
			if tc.fault != nil {
				injectFailingFile(s, *tc.fault)
			}
			write := tc.write
			if write == nil {
				write = chunkedWrite(testPayload(3, 4<<20))
			}
			_, err := s.Write(testMeta(3), write)
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantIn) || !strings.Contains(err.Error(), "index 3") {
				t.Fatalf("Write error = %v, want %v mentioning %q and index 3", err, tc.wantErr, tc.wantIn)
			}
			if temps := tempFilesIn(t, dir); len(temps) != 0 {
				t.Fatalf("temp files left behind: %v", temps)
			}
			mustNotExist(t, filepath.Join(dir, FileName(3)))
			wantIndexes(t, s, 2) // no pruning happened either
			wantLatest(t, s, 2, testPayload(2, 1000))
		})
	}
}

func TestWriteFuncPanicLeavesNoTempFile(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	writeSnapshot(t, s, 1, testPayload(1, 100))
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the write func's panic did not propagate")
			}
		}()
		s.Write(testMeta(2), func(w io.Writer) error {
			w.Write([]byte("some state"))
			panic("host bug")
		})
	}()
	if temps := tempFilesIn(t, dir); len(temps) != 0 {
		t.Fatalf("temp files left behind: %v", temps)
	}
	wantIndexes(t, s, 1)
}

func TestDiskFullIsReportedClearly(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	writeSnapshot(t, s, 1, testPayload(1, 1000))
	injectFailingFile(s, failingFile{failAfter: 3 << 20, writeErr: syscall.ENOSPC})

	_, err := s.Write(testMeta(2), chunkedWrite(testPayload(2, 8<<20)))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Write error = %v, want it to wrap ENOSPC", err)
	}
	msg := err.Error()
	for _, want := range []string{"index 2", "disk full", "no space left on device", filepath.Join(dir, FileName(2))} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if temps := tempFilesIn(t, dir); len(temps) != 0 {
		t.Fatalf("temp files left behind: %v", temps)
	}
	wantLatest(t, s, 1, testPayload(1, 1000))
}

func TestDirectorySyncFailure(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{Keep: 1})
	writeSnapshot(t, s, 1, testPayload(1, 100))
	s.syncDir = func(string) error { return syscall.EIO }

	_, err := s.Write(testMeta(2), chunkedWrite(testPayload(2, 100)))
	if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "may not survive a crash") {
		t.Fatalf("Write error = %v, want EIO saying the snapshot may not survive a crash", err)
	}
	// The complete file stays; nothing was pruned on the strength of it.
	wantIndexes(t, s, 2, 1)
	wantLatest(t, s, 2, testPayload(2, 100))
}

func TestWriteAfterWriteFuncReturnedFails(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	var kept io.Writer
	writeSnapshot(t, s, 1, nil)
	if _, err := s.Write(testMeta(2), func(w io.Writer) error { kept = w; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := kept.Write([]byte("late")); err == nil {
		t.Fatal("writing to the payload writer after the write func returned succeeded")
	}
	wantLatest(t, s, 2, nil)
}

func TestWriteRejectsBadArguments(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	meta := testMeta(1)
	meta.Extra = make([]byte, MaxExtraSize+1)
	if _, err := s.Write(meta, func(io.Writer) error { return nil }); err == nil || !strings.Contains(err.Error(), "extra metadata") {
		t.Fatalf("Write with oversized Extra: error = %v", err)
	}
	if _, err := s.Write(testMeta(1), nil); err == nil {
		t.Fatal("Write with a nil write func succeeded")
	}
	if _, err := Open(t.TempDir(), Options{Keep: -1}); err == nil || !strings.Contains(err.Error(), "Keep is -1") {
		t.Fatalf("Open with Keep -1: error = %v", err)
	}
	if _, err := Open("", Options{}); err == nil {
		t.Fatal("Open with an empty path succeeded")
	}
}

func TestExtraAtLimitRoundTrips(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	meta := testMeta(1)
	meta.Extra = testPayload(99, MaxExtraSize)
	if _, err := s.Write(meta, chunkedWrite([]byte("p"))); err != nil {
		t.Fatal(err)
	}
	r, err := s.OpenLatest()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !bytes.Equal(r.Meta.Extra, meta.Extra) {
		t.Fatal("Extra at MaxExtraSize did not round-trip")
	}
}

func TestLeftoverTempFilesRemovedAtOpen(t *testing.T) {
	dir := t.TempDir()
	leftover := filepath.Join(dir, FileName(7)+".123456.tmp")
	unrelated := filepath.Join(dir, "notes.tmp")
	for _, p := range []string{leftover, unrelated} {
		if err := os.WriteFile(p, []byte("half a snapshot"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logger, logs := newLogger()
	openStore(t, dir, Options{Logger: logger})
	mustNotExist(t, leftover)
	if _, err := os.Stat(unrelated); err != nil {
		t.Fatalf("Open removed a file it does not own: %v", err)
	}
	if !strings.Contains(logs.String(), leftover) {
		t.Fatalf("removal of %s not logged:\n%s", leftover, logs.String())
	}
}

func TestDirectoryLock(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open error = %v, want ErrLocked", err)
	}
	writeSnapshot(t, s, 1, []byte("a"))
	r, err := s.OpenLatest()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// A Reader outlives its Store.
	if got := readPayload(t, r); string(got) != "a" {
		t.Fatalf("payload after Close = %q", got)
	}
	r.Close()
	if _, err := s.Write(testMeta(2), chunkedWrite(nil)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close: error = %v, want ErrClosed", err)
	}
	if _, err := s.OpenLatest(); !errors.Is(err, ErrClosed) {
		t.Fatalf("OpenLatest after Close: error = %v, want ErrClosed", err)
	}
	if _, err := s.List(); !errors.Is(err, ErrClosed) {
		t.Fatalf("List after Close: error = %v, want ErrClosed", err)
	}
	s2 := openStore(t, dir, Options{})
	wantLatest(t, s2, 1, []byte("a"))
}

func TestRemove(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	writeSnapshot(t, s, 1, []byte("one"))
	writeSnapshot(t, s, 2, []byte("two"))
	if err := s.Remove(2); err != nil {
		t.Fatalf("Remove(2): %v", err)
	}
	wantIndexes(t, s, 1)
	wantLatest(t, s, 1, []byte("one"))
	if err := s.Remove(2); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("Remove of a missing index: error = %v, want ErrNoSnapshot", err)
	}
}

func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	info := writeSnapshot(t, s, 12, testPayload(12, 5000))

	copyPath := filepath.Join(t.TempDir(), "exported.rsnap")
	if err := os.WriteFile(copyPath, rawBytes(t, s, 12), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{info.Path, copyPath} {
		r, err := OpenFile(p)
		if err != nil {
			t.Fatalf("OpenFile(%s): %v", p, err)
		}
		if !reflect.DeepEqual(r.Meta, testMeta(12)) || !bytes.Equal(readPayload(t, r), testPayload(12, 5000)) {
			t.Fatalf("OpenFile(%s) read back the wrong snapshot", p)
		}
		r.Close()
	}
	flipByte(t, copyPath, 100)
	if _, err := OpenFile(copyPath); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("OpenFile of a damaged copy: error = %v, want ErrCorrupt", err)
	}
	if _, err := OpenFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenFile of a missing file: error = %v", err)
	}
}

func TestRawRefusesDamagedOrMissing(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	info := writeSnapshot(t, s, 1, testPayload(1, 100))
	if _, err := s.Raw(Info{Meta: Meta{Index: 2}}); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("Raw of a missing index: error = %v, want ErrNoSnapshot", err)
	}
	truncateBy(t, info.Path, 3)
	if _, err := s.Raw(info); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Raw of a truncated file: error = %v, want ErrCorrupt", err)
	}
}
