package snapshot

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Reader gives access to one snapshot whose checksum has been verified.
type Reader struct {
	Meta Meta

	file       *os.File
	path       string
	payloadOff int64
	payloadLen int64
}

// Payload returns a reader over the payload, from its first byte. Each call
// returns an independent reader; all of them stop working after Close.
func (r *Reader) Payload() io.Reader {
	return io.NewSectionReader(r.file, r.payloadOff, r.payloadLen)
}

// PayloadSize is the length of the payload in bytes.
func (r *Reader) PayloadSize() int64 { return r.payloadLen }

// Path is the snapshot file the Reader reads.
func (r *Reader) Path() string { return r.path }

// Close releases the file.
func (r *Reader) Close() error {
	if err := r.file.Close(); err != nil {
		return fmt.Errorf("snapshot: closing %s: %w", r.path, err)
	}
	return nil
}

// newReader verifies the whole of f (read once, through the same open file
// the Reader will use, so a rename over the name cannot swap what was
// verified) and returns a Reader that owns f. f is closed on failure.
func newReader(f *os.File, path string, nameIndex *uint64) (*Reader, error) {
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("snapshot: stat of %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("snapshot: %s is not a regular file", path)
	}
	lay, err := verifyFile(f, st.Size(), nameIndex, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Reader{
		Meta:       lay.meta,
		file:       f,
		path:       path,
		payloadOff: lay.headerLen,
		payloadLen: lay.payloadLen,
	}, nil
}

// OpenLatest returns the newest valid snapshot, after verifying its checksum
// over the whole file. A newer snapshot that fails verification is skipped
// with a warning naming the file and the reason. It returns an error wrapping
// ErrNoSnapshot when there is none, including when the directory cannot be
// read.
func (s *Store) OpenLatest() (*Reader, error) {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, ErrClosed
	}
	infos, err := s.scanLocked()
	if err != nil {
		s.mu.RUnlock()
		return nil, fmt.Errorf("%w (%w)", ErrNoSnapshot, err)
	}
	// Open every candidate while the directory cannot change, so pruning
	// after a concurrent Write cannot pull a file away between the listing
	// and the verification (an open file stays readable once unlinked).
	files := make([]*os.File, len(infos))
	for i := range infos {
		if !infos[i].Valid {
			continue
		}
		f, err := os.Open(infos[i].Path)
		if err != nil {
			infos[i].Valid = false
			infos[i].Err = fmt.Errorf("snapshot: opening %s: %w", infos[i].Path, err)
			continue
		}
		files[i] = f
	}
	s.mu.RUnlock()
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()

	for i, info := range infos {
		if !info.Valid {
			s.warnSkipped(info.Path, info.Err)
			continue
		}
		f := files[i]
		files[i] = nil // newReader owns it from here
		r, err := newReader(f, info.Path, &info.Index)
		if err != nil {
			s.warnSkipped(info.Path, err)
			continue
		}
		return r, nil
	}
	if len(infos) == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNoSnapshot, s.dir)
	}
	return nil, fmt.Errorf("%w in %s: all %d snapshot files failed verification", ErrNoSnapshot, s.dir, len(infos))
}

func (s *Store) warnSkipped(path string, reason error) {
	s.log.Warn("snapshot: skipping invalid snapshot", "file", path, "reason", reason.Error())
}

// OpenAt returns the snapshot at index, after verifying its checksum over the
// whole file. A missing snapshot gives an error wrapping ErrNoSnapshot, a
// damaged one an error wrapping ErrCorrupt.
func (s *Store) OpenAt(index uint64) (*Reader, error) {
	f, path, err := s.openIndex(index)
	if err != nil {
		return nil, err
	}
	return newReader(f, path, &index)
}

// Raw returns the on-disk bytes of the snapshot at info.Index in this Store
// (info.Path is not consulted), for Install on another node. Only the
// header and the size are checked here; Install verifies the checksum as the
// bytes arrive.
func (s *Store) Raw(info Info) (io.ReadCloser, error) {
	f, path, err := s.openIndex(info.Index)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("snapshot: stat of %s: %w", path, err)
	}
	if _, err := checkStructure(f, st.Size(), &info.Index, path); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func (s *Store) openIndex(index uint64) (*os.File, string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, "", ErrClosed
	}
	path := s.path(index)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("%w at index %d in %s", ErrNoSnapshot, index, s.dir)
	}
	if err != nil {
		return nil, "", fmt.Errorf("snapshot: opening %s: %w", path, err)
	}
	return f, path, nil
}

// OpenFile verifies and opens a single snapshot file anywhere, without a
// Store (and without its directory lock), for inspection tools. When the
// file has a snapshot file name, its index must match the header.
func OpenFile(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("snapshot: opening %s: %w", path, err)
	}
	var nameIndex *uint64
	if index, ok := parseFileName(filepath.Base(path)); ok {
		nameIndex = &index
	}
	return newReader(f, path, nameIndex)
}
