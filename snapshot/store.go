package snapshot

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/reprise-dev/reprise/snapshot/durablefs"
)

var (
	// ErrNoSnapshot means no snapshot (or no valid one) was found where one
	// was asked for.
	ErrNoSnapshot = errors.New("snapshot: no snapshot")
	// ErrCorrupt wraps every error caused by bytes that are not a valid
	// snapshot: bad magic or version, header or payload checksum mismatch,
	// truncation.
	ErrCorrupt = errors.New("snapshot: corrupt snapshot")
	// ErrMetaMismatch means a snapshot stream given to Install is well formed
	// but describes a different state from the one expected.
	ErrMetaMismatch = errors.New("snapshot: snapshot metadata does not match")
	// ErrLocked means another Store holds the directory.
	ErrLocked = errors.New("snapshot: directory in use")
	// ErrClosed is returned by a Store after Close.
	ErrClosed = errors.New("snapshot: store closed")
)

// DefaultKeep is the number of snapshots kept when Options.Keep is 0.
const DefaultKeep = 3

const (
	filePrefix     = "snap-"
	fileSuffix     = ".rsnap"
	tempSuffix     = ".tmp"
	lockFileName   = "snapshots.lock"
	indexDigits    = 20 // enough for any uint64, so names sort by index
	copyBufferSize = 1 << 20
)

// Options configure a Store.
type Options struct {
	// Keep is how many of the newest snapshots survive pruning; 0 means
	// DefaultKeep.
	Keep int
	// Logger receives warnings about skipped snapshots and notes about
	// pruning; nil means slog.Default().
	Logger *slog.Logger
}

// Info describes one snapshot file.
type Info struct {
	Meta
	Path  string
	Size  int64
	Valid bool  // the file passed the check it was given (see List)
	Err   error // why it is not valid
}

// Store is a directory of snapshots. Its methods are safe for concurrent use;
// one Store (in one process) owns a directory at a time.
type Store struct {
	dir  string
	keep int
	log  *slog.Logger

	// mu orders changes to the directory (commit, prune, Remove, Close)
	// against scans of it, so a scan never sees a half-pruned directory.
	// Streaming a payload happens outside it.
	mu      sync.RWMutex
	closed  bool
	dirLock io.Closer

	// Fault-injection points for tests; production uses the os functions.
	createTemp func(dir, pattern string) (durablefs.TempFile, error)
	syncDir    func(dir string) error
}

// Open opens the snapshot directory dir, creating it if missing, takes the
// directory lock and removes temp files a crashed write left behind.
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("snapshot: empty directory path")
	}
	if opts.Keep < 0 {
		return nil, fmt.Errorf("snapshot: Keep is %d, it must be at least 1 (or 0 for the default of %d)", opts.Keep, DefaultKeep)
	}
	keep := opts.Keep
	if keep == 0 {
		keep = DefaultKeep
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("snapshot: creating directory %s: %w", dir, err)
	}
	dirLock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{
		dir:     dir,
		keep:    keep,
		log:     logger,
		dirLock: dirLock,
		createTemp: func(dir, pattern string) (durablefs.TempFile, error) {
			return os.CreateTemp(dir, pattern)
		},
		syncDir: durablefs.SyncDir,
	}
	if err := s.removeTempFiles(); err != nil {
		dirLock.Close()
		return nil, err
	}
	return s, nil
}

// Dir returns the directory the Store manages.
func (s *Store) Dir() string { return s.dir }

// Close releases the directory lock. Readers already open stay usable.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.dirLock.Close(); err != nil {
		return fmt.Errorf("snapshot: releasing lock on %s: %w", s.dir, err)
	}
	return nil
}

func (s *Store) removeTempFiles() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("snapshot: reading directory %s: %w", s.dir, err)
	}
	for _, e := range entries {
		if !isTempName(e.Name()) {
			continue
		}
		path := filepath.Join(s.dir, e.Name())
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("snapshot: removing leftover temp file %s: %w", path, err)
		}
		s.log.Info("snapshot: removed leftover temp file of an interrupted write", "file", path)
	}
	return nil
}

// FileName is the name of the snapshot file for index; names sort by index.
func FileName(index uint64) string {
	return fmt.Sprintf("%s%0*d%s", filePrefix, indexDigits, index, fileSuffix)
}

// parseFileName returns the index a snapshot file name stands for; names
// that FileName would not produce are not snapshots.
func parseFileName(name string) (uint64, bool) {
	digits, ok := strings.CutPrefix(name, filePrefix)
	if !ok {
		return 0, false
	}
	digits, ok = strings.CutSuffix(digits, fileSuffix)
	if !ok || len(digits) != indexDigits {
		return 0, false
	}
	index, err := strconv.ParseUint(digits, 10, 64) // digits only, no sign

	if err != nil {
		return 0, false
	}
	return index, true
}

func isTempName(name string) bool {
	return strings.HasPrefix(name, filePrefix) && strings.HasSuffix(name, tempSuffix)
}

func (s *Store) path(index uint64) string {
	return filepath.Join(s.dir, FileName(index))
}

// Write stores a snapshot of the state described by meta, whose payload the
// write func streams into w (w must not be used after write returns). The
// bytes go to a temp file while their SHA-256 is computed; the file is
// fsynced, renamed over the snapshot's name and the directory fsynced, and
// only then are old snapshots pruned to Keep. A snapshot already at
// meta.Index is replaced atomically.
//
// If anything fails before the rename, the temp file is removed and the
// existing snapshots are untouched. If the directory fsync after the rename
// fails, the error is returned and the complete, checksummed file stays in
// place, but its durability is not guaranteed: do not drop the WAL it covers.
// A failure to prune is logged, not returned.
func (s *Store) Write(meta Meta, write func(w io.Writer) error) (Info, error) {
	if write == nil {
		return Info{}, errors.New("snapshot: Write needs a write func")
	}
	header, err := encodeHeader(meta)
	if err != nil {
		return Info{}, err
	}
	if err := s.checkOpen(); err != nil {
		return Info{}, err
	}
	tmp, err := s.createTemp(s.dir, FileName(meta.Index)+".*"+tempSuffix)
	if err != nil {
		return Info{}, fmt.Errorf("snapshot: creating temp file for index %d in %s: %w", meta.Index, s.dir, err)
	}
	pending := &pendingFile{file: tmp}
	defer pending.discard()

	size, err := writeBody(tmp, header, write)
	if err != nil {
		return Info{}, fmt.Errorf("snapshot: writing index %d to %s: %w", meta.Index, tmp.Name(), describeWriteErr(err))
	}
	return s.commit(pending, meta, size)
}

// writeBody writes header, payload and trailer to f and returns the size.
// The payload is hashed on the caller's goroutine while earlier blocks are
// written to f on another.
func writeBody(f io.Writer, header []byte, write func(w io.Writer) error) (int64, error) {
	async := newAsyncWriter(f)
	finished := false
	defer func() {
		if !finished {
			async.abort()
		}
	}()
	body := &hashingWriter{w: async, sum: sha256.New()}
	if _, err := body.Write(header); err != nil {
		return 0, err
	}
	payload := &payloadWriter{w: body}
	err := write(payload)
	payload.done = true
	if err != nil {
		if body.err != nil && !errors.Is(err, body.err) {
			return 0, fmt.Errorf("payload: %w (after the file write failed: %w)", err, body.err)
		}
		return 0, fmt.Errorf("payload: %w", err)
	}
	// A write func may have swallowed a write error; the first one is kept.
	if body.err != nil {
		return 0, body.err
	}
	payloadLen := body.n - int64(len(header))
	var lenBuf [8]byte
	binary.BigEndian.PutUint64(lenBuf[:], uint64(payloadLen))
	if _, err := body.Write(lenBuf[:]); err != nil {
		return 0, err
	}
	finished = true
	if err := async.Close(); err != nil {
		return 0, err
	}
	checksum := body.sum.Sum(nil)
	if err := writeAll(f, checksum); err != nil {
		return 0, err
	}
	return body.n + int64(len(checksum)), nil
}

// commit makes a fully written temp file the snapshot at meta.Index.
func (s *Store) commit(pending *pendingFile, meta Meta, size int64) (Info, error) {
	tmpName := pending.file.Name()
	if err := pending.file.Sync(); err != nil {
		return Info{}, fmt.Errorf("snapshot: fsync of %s (index %d): %w", tmpName, meta.Index, describeWriteErr(err))
	}
	pending.closed = true
	if err := pending.file.Close(); err != nil {
		return Info{}, fmt.Errorf("snapshot: closing %s (index %d): %w", tmpName, meta.Index, describeWriteErr(err))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Info{}, ErrClosed
	}
	final := s.path(meta.Index)
	if err := os.Rename(tmpName, final); err != nil {
		return Info{}, fmt.Errorf("snapshot: renaming %s to %s: %w", tmpName, final, err)
	}
	pending.renamed = true
	if err := s.syncDir(s.dir); err != nil {
		return Info{}, fmt.Errorf("snapshot: fsync of directory %s after renaming in index %d (the snapshot file is complete but may not survive a crash): %w", s.dir, meta.Index, err)
	}
	s.pruneLocked(meta.Index)
	return Info{Meta: meta, Path: final, Size: size, Valid: true}, nil
}

// pendingFile tracks a temp file until it is renamed, so every early return
// (and a panicking write func) removes it.
type pendingFile struct {
	file    durablefs.TempFile
	closed  bool
	renamed bool
}

func (p *pendingFile) discard() {
	if p.renamed {
		return
	}
	if !p.closed {
		p.file.Close()
	}
	os.Remove(p.file.Name())
}

// pruneLocked deletes snapshots beyond the newest s.keep. Only snapshots at
// an index below verified (a snapshot this Store has just written or
// installed, so known to be valid) are ever deleted, which is what keeps the
// newest valid snapshot safe even when newer files are corrupt. Files whose
// header is invalid do not count towards Keep. Callers hold s.mu.
func (s *Store) pruneLocked(verified uint64) {
	infos, err := s.scanLocked()
	if err != nil {
		s.log.Warn("snapshot: not pruning", "dir", s.dir, "reason", err.Error())
		return
	}
	kept, removed := 0, false
	for _, info := range infos {
		if info.Index >= verified || (info.Valid && kept < s.keep) {
			if info.Valid {
				kept++
			}
			continue
		}
		if err := os.Remove(info.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("snapshot: pruning failed", "file", info.Path, "reason", err.Error())
			continue
		}
		removed = true
		if info.Valid {
			s.log.Info("snapshot: pruned old snapshot", "file", info.Path, "index", info.Index)
		} else {
			s.log.Warn("snapshot: pruned invalid snapshot", "file", info.Path, "index", info.Index, "reason", info.Err.Error())
		}
	}
	if removed {
		if err := s.syncDir(s.dir); err != nil {
			s.log.Warn("snapshot: fsync of directory after pruning failed", "dir", s.dir, "reason", err.Error())
		}
	}
}

// List returns every snapshot file in the directory, newest (highest index)
// first. Validation is by header only: the magic, version, header checksum,
// the index against the file name and the payload length against the file
// size are checked, which catches truncation and header damage but not a
// flipped payload byte; OpenLatest and OpenAt verify the full checksum.
func (s *Store) List() ([]Info, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	return s.scanLocked()
}

func (s *Store) scanLocked() ([]Info, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("snapshot: reading directory %s: %w", s.dir, err)
	}
	infos := make([]Info, 0, len(entries))
	for _, e := range entries {
		index, ok := parseFileName(e.Name())
		if !ok {
			continue
		}
		info, err := s.inspect(index)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed by someone else since ReadDir
		}
		infos = append(infos, info)
	}
	slices.SortFunc(infos, func(a, b Info) int {
		switch {
		case a.Index > b.Index:
			return -1
		case a.Index < b.Index:
			return 1
		}
		return 0
	})
	return infos, nil
}

// inspect checks the structure of the snapshot file at index. Its error is
// non-nil only when the file does not exist; any other problem is reported
// in the Info.
func (s *Store) inspect(index uint64) (Info, error) {
	path := s.path(index)
	info := Info{Meta: Meta{Index: index}, Path: path}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return info, err
	}
	if err != nil {
		info.Err = fmt.Errorf("snapshot: opening %s: %w", path, err)
		return info, nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		info.Err = fmt.Errorf("snapshot: stat of %s: %w", path, err)
		return info, nil
	}
	info.Size = st.Size()
	if !st.Mode().IsRegular() {
		info.Err = fmt.Errorf("snapshot: %s is not a regular file", path)
		return info, nil
	}
	lay, err := checkStructure(f, info.Size, &index, path)
	if err != nil {
		info.Err = err
		return info, nil
	}
	info.Meta = lay.meta
	info.Valid = true
	return info, nil
}

// Remove deletes the snapshot at index.
func (s *Store) Remove(index uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	path := s.path(index)
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w at index %d in %s", ErrNoSnapshot, index, s.dir)
		}
		return fmt.Errorf("snapshot: removing %s: %w", path, err)
	}
	if err := s.syncDir(s.dir); err != nil {
		return fmt.Errorf("snapshot: fsync of directory %s after removing index %d: %w", s.dir, index, err)
	}
	return nil
}

func (s *Store) checkOpen() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return nil
}

// hashingWriter writes to w and to a running SHA-256 together and keeps the
// first error, so a write func that drops an error cannot hide it.
type hashingWriter struct {
	w   io.Writer
	sum hash.Hash
	n   int64
	err error
}

func (h *hashingWriter) Write(p []byte) (int, error) {
	if h.err != nil {
		return 0, h.err
	}
	n, err := h.w.Write(p)
	h.sum.Write(p[:n])
	h.n += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		h.err = err
	}
	return n, err
}

// payloadWriter is the io.Writer handed to a write func. It hides what is
// underneath and refuses writes once the func has returned.
type payloadWriter struct {
	w    io.Writer
	done bool
}

func (p *payloadWriter) Write(b []byte) (int, error) {
	if p.done {
		return 0, errors.New("snapshot: payload written after the write func returned")
	}
	return p.w.Write(b)
}

func writeAll(w io.Writer, b []byte) error {
	n, err := w.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	return err
}

// describeWriteErr names a full disk as such, keeping the original error.
func describeWriteErr(err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("disk full: %w", err)
	}
	return err
}

// lockDir takes the directory's lock file without waiting, so two Stores
// never prune or clean up under each other.
func lockDir(dir string) (io.Closer, error) {
	path := filepath.Join(dir, lockFileName)
	l, err := durablefs.Lock(path, false)
	if errors.Is(err, durablefs.ErrHeld) {
		return nil, fmt.Errorf("%w: %s is held by another Store (lock file %s)", ErrLocked, dir, path)
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return l, nil
}
