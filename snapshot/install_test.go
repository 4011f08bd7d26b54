package snapshot

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// primaryWith returns the raw bytes of a snapshot at index written by a
// separate store, as a primary would send them.
func primaryWith(t testing.TB, index uint64, payload []byte) []byte {
	t.Helper()
	primary := openStore(t, t.TempDir(), Options{})
	writeSnapshot(t, primary, index, payload)
	return rawBytes(t, primary, index)
}

func TestInstallAcceptsAGoodStream(t *testing.T) {
	payload := testPayload(50, 2<<20+3)
	raw := primaryWith(t, 50, payload)
	readers := map[string]func([]byte) io.Reader{
		"whole":    func(b []byte) io.Reader { return bytes.NewReader(b) },
		"halves":   func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
		"one byte": func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
		"data+EOF": func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) },
	}
	for _, name := range []string{"whole", "halves", "one byte", "data+EOF"} {
		t.Run(name, func(t *testing.T) {
			data, want := raw, payload
			if name == "one byte" { // keep it quick: a smaller snapshot
				want = testPayload(50, 3000)
				data = primaryWith(t, 50, want)
			}
			replica := openStore(t, t.TempDir(), Options{})
			info, err := replica.Install(testMeta(50), readers[name](data))
			if err != nil {
				t.Fatalf("Install: %v", err)
			}
			if !info.Valid || info.Index != 50 || info.Size != int64(len(data)) {
				t.Fatalf("Install info = %+v", info)
			}
			if !bytes.Equal(rawBytes(t, replica, 50), data) {
				t.Fatal("installed file differs from the stream")
			}
			r, err := replica.OpenAt(50)
			if err != nil {
				t.Fatalf("OpenAt after Install: %v", err)
			}
			defer r.Close()
			if !reflect.DeepEqual(r.Meta, testMeta(50)) || !bytes.Equal(readPayload(t, r), want) {
				t.Fatal("installed snapshot reads back differently")
			}
		})
	}
}

func TestInstallRefusesBadStreams(t *testing.T) {
	payload := testPayload(50, 200_000)
	raw := primaryWith(t, 50, payload)
	tamper := func(offset int) []byte {
		b := bytes.Clone(raw)
		if offset < 0 {
			offset += len(b)
		}
		b[offset] ^= 0x01
		return b
	}
	otherMeta := func(change func(*Meta)) Meta {
		m := testMeta(50)
		change(&m)
		return m
	}
	errBroken := errors.New("connection reset")
	cases := []struct {
		name    string
		meta    Meta
		stream  io.Reader
		wantErr error
		wantIn  string
	}{
		{"payload byte flipped", testMeta(50), bytes.NewReader(tamper(100_000)), ErrCorrupt, "checksum mismatch"},
		{"checksum flipped", testMeta(50), bytes.NewReader(tamper(-1)), ErrCorrupt, "checksum mismatch"},
		{"payload length flipped", testMeta(50), bytes.NewReader(tamper(-33)), ErrCorrupt, "trailer says the payload is"},
		{"header byte flipped", testMeta(50), bytes.NewReader(tamper(30)), ErrCorrupt, "header checksum mismatch"},
		{"magic flipped", testMeta(50), bytes.NewReader(tamper(1)), ErrCorrupt, "not a snapshot"},
		{"truncated", testMeta(50), bytes.NewReader(raw[:len(raw)-1]), ErrCorrupt, ""},
		{"truncated to the header", testMeta(50), bytes.NewReader(raw[:150]), ErrCorrupt, "too short for the"},
		{"truncated inside the header", testMeta(50), bytes.NewReader(raw[:20]), ErrCorrupt, "truncated inside the header"},
		{"empty", testMeta(50), bytes.NewReader(nil), ErrCorrupt, "truncated"},
		{"extra bytes appended", testMeta(50), bytes.NewReader(append(bytes.Clone(raw), 0)), ErrCorrupt, ""},
		{"wrong index", otherMeta(func(m *Meta) { m.Index = 51 }), bytes.NewReader(raw), ErrMetaMismatch, "index 50, expected 51"},
		{"wrong state hash", otherMeta(func(m *Meta) { m.StateHash[0] ^= 1 }), bytes.NewReader(raw), ErrMetaMismatch, "state hash"},
		{"wrong epoch", otherMeta(func(m *Meta) { m.Epoch++ }), bytes.NewReader(raw), ErrMetaMismatch, "epoch"},
		{"wrong catalog", otherMeta(func(m *Meta) { m.CatalogHash[31] ^= 1 }), bytes.NewReader(raw), ErrMetaMismatch, "catalog hash"},
		{"wrong extra", otherMeta(func(m *Meta) { m.Extra = nil }), bytes.NewReader(raw), ErrMetaMismatch, "extra metadata"},
		{"read error midway", testMeta(50), io.MultiReader(bytes.NewReader(raw[:100_000]), iotest.ErrReader(errBroken)), errBroken, "connection reset"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			replica := openStore(t, dir, Options{Keep: 1})
			writeSnapshot(t, replica, 10, testPayload(10, 100))

			_, err := replica.Install(tc.meta, tc.stream)
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantIn) {
				t.Fatalf("Install error = %v, want %v containing %q", err, tc.wantErr, tc.wantIn)
			}
			if temps := tempFilesIn(t, dir); len(temps) != 0 {
				t.Fatalf("temp files left behind: %v", temps)
			}
			wantIndexes(t, replica, 10)
			wantLatest(t, replica, 10, testPayload(10, 100))
		})
	}
}

func TestInstallIgnoresCreatedUnix(t *testing.T) {
	raw := primaryWith(t, 5, []byte("state"))
	replica := openStore(t, t.TempDir(), Options{})
	meta := testMeta(5)
	meta.CreatedUnix = 0
	info, err := replica.Install(meta, bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("Install with a different CreatedUnix: %v", err)
	}
	if info.CreatedUnix != testMeta(5).CreatedUnix {
		t.Fatalf("Info.CreatedUnix = %d, want the file's %d", info.CreatedUnix, testMeta(5).CreatedUnix)
	}
}

func TestInstallDiskFull(t *testing.T) {
	raw := primaryWith(t, 5, testPayload(5, 1<<20))
	dir := t.TempDir()
	replica := openStore(t, dir, Options{})
	injectFailingFile(replica, failingFile{failAfter: 500_000, writeErr: errNoSpace()})
	_, err := replica.Install(testMeta(5), bytes.NewReader(raw))
	if !errors.Is(err, errNoSpace()) || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "index 5") {
		t.Fatalf("Install error = %v, want a disk-full error naming index 5", err)
	}
	if temps := tempFilesIn(t, dir); len(temps) != 0 {
		t.Fatalf("temp files left behind: %v", temps)
	}
	wantIndexes(t, replica)
}

// FuzzInstall feeds arbitrary bytes to Install and, as a file, to OpenFile:
// neither may panic, and the streaming check and the file check must agree.
func FuzzInstall(f *testing.F) {
	valid := primaryWith(f, 9, testPayload(9, 300))
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add(valid[:140])
	f.Add(append(bytes.Clone(valid), 1, 2, 3))
	f.Add([]byte{})
	f.Add([]byte("REPRSNAP\x00\x01\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		meta, _, headerErr := readHeader(bytes.NewReader(data), "fuzz input")
		dir := t.TempDir()
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_, installErr := s.Install(meta, bytes.NewReader(data))
		if headerErr != nil && installErr == nil {
			t.Fatalf("Install accepted a stream whose header is invalid: %v", headerErr)
		}
		if installErr == nil && !bytes.Equal(rawBytes(t, s, meta.Index), data) {
			t.Fatal("Install stored bytes other than the stream")
		}

		path := dir + "/input.rsnap"
		if err := writeFile(path, data); err != nil {
			t.Fatal(err)
		}
		r, fileErr := OpenFile(path)
		if fileErr == nil {
			io.Copy(io.Discard, r.Payload())
			r.Close()
		}
		if (installErr == nil) != (fileErr == nil) {
			t.Fatalf("stream check says %v, file check says %v", installErr, fileErr)
		}
	})
}
