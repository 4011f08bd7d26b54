package snapshot

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
)

// Install receives a snapshot in the on-disk format (as produced by Raw on
// another node) and commits it as the snapshot at meta.Index. The header is
// checked first: its Meta must equal meta in every field except CreatedUnix
// (index, epoch, catalog hash, state hash, entries, extra), or Install stops
// before reading the payload with an error wrapping ErrMetaMismatch. The
// SHA-256 is computed as the bytes stream to a temp file, and the file is
// renamed into place (then the directory fsynced and old snapshots pruned,
// as for Write) only if the checksum and the payload length in the trailer
// match; otherwise the error wraps ErrCorrupt and nothing is installed.
func (s *Store) Install(meta Meta, r io.Reader) (Info, error) {
	source := fmt.Sprintf("snapshot stream for index %d", meta.Index)
	return s.install(r, source, func(got Meta) error {
		if diffs := mismatches(got, meta); len(diffs) > 0 {
			return fmt.Errorf("%w: %s has %s", ErrMetaMismatch, source, strings.Join(diffs, "; "))
		}
		return nil
	})
}

// InstallAt is Install for a receiver that knows only the index and the
// state hash the snapshot must hold (a replica being rebuilt): the header's
// other fields are taken as they come, and are checked only by the
// checksum.
func (s *Store) InstallAt(index uint64, stateHash [32]byte, r io.Reader) (Info, error) {
	source := fmt.Sprintf("snapshot stream for index %d", index)
	return s.install(r, source, func(got Meta) error {
		var diffs []string
		if got.Index != index {
			diffs = append(diffs, fmt.Sprintf("index %d, want %d", got.Index, index))
		}
		if got.StateHash != stateHash {
			diffs = append(diffs, fmt.Sprintf("state hash %x, want %x", got.StateHash, stateHash))
		}
		if len(diffs) > 0 {
			return fmt.Errorf("%w: %s has %s", ErrMetaMismatch, source, strings.Join(diffs, "; "))
		}
		return nil
	})
}

func (s *Store) install(r io.Reader, source string, check func(Meta) error) (Info, error) {
	if r == nil {
		return Info{}, errors.New("snapshot: Install needs a reader")
	}
	if err := s.checkOpen(); err != nil {
		return Info{}, err
	}
	got, header, err := readHeader(r, source)
	if err != nil {
		return Info{}, err
	}
	if err := check(got); err != nil {
		return Info{}, err
	}
	meta := got

	tmp, err := s.createTemp(s.dir, FileName(meta.Index)+".*"+tempSuffix)
	if err != nil {
		return Info{}, fmt.Errorf("snapshot: creating temp file for index %d in %s: %w", meta.Index, s.dir, err)
	}
	pending := &pendingFile{file: tmp}
	defer pending.discard()

	size, err := receiveBody(tmp, header, r, source)
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			return Info{}, err
		}
		return Info{}, fmt.Errorf("snapshot: installing index %d into %s: %w", meta.Index, tmp.Name(), describeWriteErr(err))
	}
	return s.commit(pending, got, size) // got is meta plus the file's CreatedUnix
}

// receiveBody writes the already-read header and the rest of r to f,
// checking the trailer of the stream, and returns the total size.
// Bytes are hashed on the caller's goroutine while earlier blocks are
// written to f on another.
func receiveBody(f io.Writer, header []byte, r io.Reader, source string) (int64, error) {
	async := newAsyncWriter(f)
	defer async.abort()
	sum := sha256.New()
	sum.Write(header)
	if err := writeAll(async, header); err != nil {
		return 0, err
	}
	tail := &tailHoldingHash{sum: sum}
	buf := make([]byte, copyBufferSize)
	var received int64
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if err := writeAll(async, buf[:n]); err != nil {
				return 0, err
			}
			tail.Write(buf[:n])
			received += int64(n)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return 0, fmt.Errorf("reading %s: %w", source, rerr)
		}
	}
	if err := async.Close(); err != nil {
		return 0, err
	}
	if received < trailerLen {
		return 0, corruptf(source, "stream ends %d bytes after the header, too short for the %d-byte trailer", received, trailerLen)
	}
	lenBytes, stored := tail.held[:8], tail.held[8:]
	sum.Write(lenBytes)
	payloadLen := binary.BigEndian.Uint64(lenBytes)
	if want := received - trailerLen; payloadLen != uint64(want) {
		return 0, corruptf(source, "trailer says the payload is %d bytes but the stream carried %d", payloadLen, want)
	}
	var computed [sha256.Size]byte
	sum.Sum(computed[:0])
	if !bytes.Equal(computed[:], stored) {
		return 0, corruptf(source, "checksum mismatch (stream says %x, content hashes to %x)", stored, computed)
	}
	return int64(len(header)) + received, nil
}

// tailHoldingHash hashes everything written to it except the last
// trailerLen bytes, which it holds back: a stream's trailer is only known to
// be the trailer once the stream ends.
type tailHoldingHash struct {
	sum  hash.Hash
	held [trailerLen]byte
	n    int // bytes in held
}

func (t *tailHoldingHash) Write(p []byte) {
	if len(p) >= trailerLen {
		t.sum.Write(t.held[:t.n])
		t.sum.Write(p[:len(p)-trailerLen])
		t.n = copy(t.held[:], p[len(p)-trailerLen:])
		return
	}
	if over := t.n + len(p) - trailerLen; over > 0 {
		t.sum.Write(t.held[:over])
		t.n = copy(t.held[:], t.held[over:t.n])
	}
	t.n += copy(t.held[t.n:], p)
}
