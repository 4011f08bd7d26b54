package catalogstore

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/reprise-dev/reprise/abi/canon"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/snapshot/durablefs"
)

// DirName is the store's directory inside a node's data directory.
const DirName = "catalogs"

// MinPrefixLen is the shortest hash prefix Resolve accepts.
const MinPrefixLen = 8

const (
	moduleSuffix = ".wasm"
	metaSuffix   = ".json"
	tempPrefix   = ".tmp-"
	lockFileName = "catalogs.lock"
	hashHexLen   = 64
)

// Options configure a Store.
type Options struct {
	// Engine admits every module before it is stored and compiles the
	// modules Load returns. Required. The Store does not close it.
	Engine *host.Engine
	// Now gives the upload time of a new catalog; nil means time.Now.
	Now func() time.Time
	// Logger receives notes about repairs and clean-up; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Store is a directory of catalog modules keyed by SHA-256. Its methods are
// safe for concurrent use. Writers in other processes are kept out by a lock
// file taken for the duration of each write, so an offline
// `reprise catalog push` cannot interleave with a server's upload.
type Store struct {
	dir    string
	engine *host.Engine
	now    func() time.Time
	log    *slog.Logger

	// mu orders writes (Put, Remove) against reads, so a reader never sees
	// metadata whose module is being removed.
	mu sync.RWMutex

	// Fault-injection points for tests; production uses the os functions.
	createTemp func(dir, pattern string) (durablefs.TempFile, error)
	syncDir    func(dir string) error
}

// Open opens the store in dir, creating the directory if missing, and
// removes what an interrupted write left behind: temp files, and module
// files whose metadata was never written (or was already removed).
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("catalogstore: empty directory path")
	}
	if opts.Engine == nil {
		return nil, errors.New("catalogstore: Options.Engine is nil; the store admits modules through an engine")
	}
	s := &Store{
		dir:    dir,
		engine: opts.Engine,
		now:    opts.Now,
		log:    opts.Logger,
		createTemp: func(dir, pattern string) (durablefs.TempFile, error) {
			return os.CreateTemp(dir, pattern)
		},
		syncDir: durablefs.SyncDir,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if err := s.makeDir(); err != nil {
		return nil, err
	}
	if err := s.cleanUp(); err != nil {
		return nil, err
	}
	return s, nil
}

// makeDir creates the directory and, when it had to, makes its entry in the
// parent durable.
func (s *Store) makeDir() error {
	if info, err := os.Stat(s.dir); err == nil {
		if !info.IsDir() {
			return fmt.Errorf("catalogstore: %s is not a directory", s.dir)
		}
		return nil
	}
	if err := os.MkdirAll(s.dir, 0o750); err != nil {
		return fmt.Errorf("catalogstore: creating directory %s: %w", s.dir, err)
	}
	if err := durablefs.SyncDir(filepath.Dir(filepath.Clean(s.dir))); err != nil {
		return fmt.Errorf("catalogstore: syncing the parent of %s: %w", s.dir, err)
	}
	return nil
}

// cleanUp removes leftovers of interrupted writes. It holds the write lock,
// so no other process is in the middle of a write.
func (s *Store) cleanUp() error {
	unlock, err := lockDir(s.dir)
	if err != nil {
		return err
	}
	defer unlock.Close()
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("catalogstore: reading directory %s: %w", s.dir, err)
	}
	metas := map[string]bool{}
	for _, e := range entries {
		if h, ok := strings.CutSuffix(e.Name(), metaSuffix); ok {
			metas[h] = true
		}
	}
	removed := false
	for _, e := range entries {
		name := e.Name()
		h, isModule := strings.CutSuffix(name, moduleSuffix)
		orphan := isModule && isHashHex(h) && !metas[h]
		if !orphan && !strings.HasPrefix(name, tempPrefix) {
			continue
		}
		path := filepath.Join(s.dir, name)
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("catalogstore: removing leftover %s: %w", path, err)
		}
		removed = true
		s.log.Info("catalogstore: removed the leftover of an interrupted write", "file", path)
	}
	if removed {
		if err := s.syncDir(s.dir); err != nil {
			return fmt.Errorf("catalogstore: syncing %s: %w", s.dir, err)
		}
	}
	return nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Engine returns the engine the store admits and loads modules with.
func (s *Store) Engine() *host.Engine { return s.engine }

func (s *Store) modulePath(hash [32]byte) string {
	return filepath.Join(s.dir, hex.EncodeToString(hash[:])+moduleSuffix)
}

func (s *Store) metaPath(hash [32]byte) string {
	return filepath.Join(s.dir, hex.EncodeToString(hash[:])+metaSuffix)
}

// Put admits wasm through the engine and stores it. It reports whether the
// catalog is new: putting stored bytes again changes nothing and keeps the
// first upload time (it only rewrites a stored file found corrupt). A module
// the engine refuses is not written; the error wraps the engine's
// *host.RefusedError, which names every problem.
func (s *Store) Put(ctx context.Context, wasm []byte) (Info, bool, error) {
	hash := host.Hash(wasm)
	// Admission compiles the module, which is slow: it runs outside the
	// lock, and leaves the module compiled in the engine for Load.
	m, err := s.engine.Load(ctx, wasm)
	if err != nil {
		return Info{}, false, fmt.Errorf("catalogstore: not storing module %x: %w", hash, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := lockDir(s.dir)
	if err != nil {
		return Info{}, false, err
	}
	defer unlock.Close()

	added, uploaded := true, s.now()
	old, oldBytes, err := s.readMeta(hash)
	switch {
	case err == nil:
		added, uploaded = false, old.Uploaded
	case errors.Is(err, ErrCorrupt):
		s.log.Warn("catalogstore: rewriting unreadable metadata", "hash", hex.EncodeToString(hash[:]), "err", err)
	case !errors.Is(err, ErrNotFound):
		return Info{}, false, err
	}
	meta := newMeta(m, uploaded)
	info, err := meta.info(hash)
	if err != nil {
		return Info{}, false, fmt.Errorf("catalogstore: upload time %v cannot be stored: %w", uploaded, err)
	}
	metaBytes, err := canon.Marshal(meta)
	if err != nil {
		return Info{}, false, fmt.Errorf("catalogstore: encoding metadata of %x: %w", hash, err)
	}

	// The module goes first and the metadata last: the metadata is what
	// makes a catalog exist, so a crash in between leaves an orphan module
	// that the next Open removes, never metadata without its module.
	if err := s.checkModuleFile(hash, int64(len(wasm))); err != nil {
		if !added {
			s.log.Warn("catalogstore: rewriting a corrupt module file", "hash", hex.EncodeToString(hash[:]), "err", err)
		}
		if err := s.writeFile(s.modulePath(hash), wasm); err != nil {
			return Info{}, false, err
		}
	}
	if !bytes.Equal(oldBytes, metaBytes) {
		if err := s.writeFile(s.metaPath(hash), metaBytes); err != nil {
			return Info{}, false, err
		}
	}
	return info, added, nil
}

// checkModuleFile reports whether the stored module file holds the bytes
// hashing to hash.
func (s *Store) checkModuleFile(hash [32]byte, size int64) error {
	path := s.modulePath(hash)
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Size() != size {
		return fmt.Errorf("%s is %d bytes, want %d", path, st.Size(), size)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if host.Hash(b) != hash {
		return fmt.Errorf("%s does not hash to its name", path)
	}
	return nil
}

// writeFile writes data to a temp file in the store, syncs it, renames it to
// path and syncs the directory, so that path holds either nothing, its old
// content, or all of data.
func (s *Store) writeFile(path string, data []byte) error {
	f, err := s.createTemp(s.dir, tempPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("catalogstore: creating a temp file for %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(step string, err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("catalogstore: %s %s: %w", step, path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail("writing", err)
	}
	if err := f.Sync(); err != nil {
		return fail("syncing", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("catalogstore: closing %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o640); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("catalogstore: setting the mode of %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("catalogstore: renaming into %s: %w", path, err)
	}
	if err := s.syncDir(s.dir); err != nil {
		return fmt.Errorf("catalogstore: syncing %s after writing %s: %w", s.dir, filepath.Base(path), err)
	}
	return nil
}

// readMeta reads and checks the metadata of hash. A missing file is
// ErrNotFound; anything else wrong is a *CorruptError. The raw bytes are
// returned whenever the file could be read.
func (s *Store) readMeta(hash [32]byte) (Info, []byte, error) {
	path := s.metaPath(hash)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, nil, fmt.Errorf("%w: %x", ErrNotFound, hash)
	}
	if err != nil {
		return Info{}, nil, fmt.Errorf("catalogstore: reading metadata of %x: %w", hash, err)
	}
	var mf metaFile
	if err := canon.Unmarshal(raw, &mf); err != nil {
		return Info{}, raw, &CorruptError{Hash: hash, File: path, Problem: "metadata does not decode: " + err.Error()}
	}
	info, err := mf.info(hash)
	if err != nil {
		return Info{}, raw, &CorruptError{Hash: hash, File: path, Problem: err.Error()}
	}
	return info, raw, nil
}

// stat reads the metadata of hash and checks that the module file beside
// it has the recorded size, which catches a missing or truncated module
// without reading it.
func (s *Store) stat(hash [32]byte) (Info, error) {
	info, _, err := s.readMeta(hash)
	if err != nil {
		return Info{}, err
	}
	path := s.modulePath(hash)
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Info{}, &CorruptError{Hash: hash, File: path, Problem: "module file is missing"}
	case err != nil:
		return Info{}, fmt.Errorf("catalogstore: %w", err)
	case st.Size() != info.Size:
		return Info{}, &CorruptError{Hash: hash, File: path, Problem: fmt.Sprintf("module file is %d bytes, the metadata says %d", st.Size(), info.Size)}
	}
	return info, nil
}

// Stat describes a stored catalog without reading its module (it checks the
// module file's size, not its hash).
func (s *Store) Stat(hash [32]byte) (Info, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.stat(hash)
}

// Get returns the module bytes of a stored catalog after checking that they
// hash to hash.
func (s *Store) Get(hash [32]byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.get(hash)
}

func (s *Store) get(hash [32]byte) ([]byte, error) {
	info, err := s.stat(hash)
	if err != nil {
		return nil, err
	}
	path := s.modulePath(hash)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("catalogstore: reading module of %x: %w", hash, err)
	}
	if got := host.Hash(b); got != hash {
		return nil, &CorruptError{Hash: hash, File: path,
			Problem: fmt.Sprintf("module bytes hash to %x (%d bytes, the metadata says %d)", got, len(b), info.Size)}
	}
	return b, nil
}

// Load returns a stored catalog compiled by the engine: its bytes are read
// and checked every time, and the engine compiles a module only once.
func (s *Store) Load(ctx context.Context, hash [32]byte) (*host.Module, error) {
	b, err := s.Get(hash)
	if err != nil {
		return nil, err
	}
	m, err := s.engine.Load(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("catalogstore: loading catalog %x: %w", hash, err)
	}
	return m, nil
}

// List describes every stored catalog, sorted by upload time, then hash. It
// reads metadata and checks module sizes, not module hashes (Get and Load
// do). A catalog whose files are found corrupt is left out and named in the
// returned error, which joins one *CorruptError per such catalog; the
// others are returned all the same.
func (s *Store) List() ([]Info, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	hashes, err := s.hashes()
	if err != nil {
		return nil, err
	}
	infos := make([]Info, 0, len(hashes))
	var errs []error
	for _, h := range hashes {
		info, err := s.stat(h)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		infos = append(infos, info)
	}
	slices.SortFunc(infos, func(a, b Info) int {
		if c := a.Uploaded.Compare(b.Uploaded); c != 0 {
			return c
		}
		return bytes.Compare(a.Hash[:], b.Hash[:])
	})
	return infos, errors.Join(errs...)
}

// hashes lists the hashes that have a metadata file, in hash order.
func (s *Store) hashes() ([][32]byte, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("catalogstore: reading directory %s: %w", s.dir, err)
	}
	var out [][32]byte
	for _, e := range entries {
		h, ok := strings.CutSuffix(e.Name(), metaSuffix)
		if !ok || !isHashHex(h) || !e.Type().IsRegular() {
			continue
		}
		var hash [32]byte
		hex.Decode(hash[:], []byte(h))
		out = append(out, hash)
	}
	slices.SortFunc(out, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	return out, nil
}

// Resolve turns a hash or a unique prefix of one (at least MinPrefixLen hex
// digits, optionally written "sha256:…") into the hash of a stored catalog.
func (s *Store) Resolve(prefix string) ([32]byte, error) {
	p := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(prefix), "sha256:"))
	switch {
	case len(p) < MinPrefixLen:
		return [32]byte{}, fmt.Errorf("catalogstore: hash prefix %q is too short: give at least %d hex digits", prefix, MinPrefixLen)
	case len(p) > hashHexLen:
		return [32]byte{}, fmt.Errorf("catalogstore: %q is longer than a SHA-256 hash (%d hex digits)", prefix, hashHexLen)
	case strings.Trim(p, "0123456789abcdef") != "":
		return [32]byte{}, fmt.Errorf("catalogstore: hash prefix %q is not hexadecimal", prefix)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	hashes, err := s.hashes()
	if err != nil {
		return [32]byte{}, err
	}
	var matches [][32]byte
	for _, h := range hashes {
		if strings.HasPrefix(hex.EncodeToString(h[:]), p) {
			matches = append(matches, h)
		}
	}
	switch len(matches) {
	case 0:
		return [32]byte{}, fmt.Errorf("%w: no stored catalog hash starts with %s", ErrNotFound, p)
	case 1:
		return matches[0], nil
	}
	names := make([]string, len(matches))
	for i, h := range matches {
		names[i] = hex.EncodeToString(h[:])
		if info, _, err := s.readMeta(h); err == nil {
			names[i] += " (" + info.Ref().String() + ")"
		}
	}
	return [32]byte{}, fmt.Errorf("%w: %s matches %d catalogs: %s", ErrAmbiguous, p, len(matches), strings.Join(names, ", "))
}

// Remove deletes a stored catalog unless inUse reports that the caller (the
// executor, which knows what the retained WAL and snapshots refer to) still
// needs it. inUse is asked while the store is locked, so no Put or Remove
// runs between its answer and the deletion.
func (s *Store) Remove(hash [32]byte, inUse func([32]byte) bool) error {
	if inUse == nil {
		return errors.New("catalogstore: Remove needs an in-use predicate")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := lockDir(s.dir)
	if err != nil {
		return err
	}
	defer unlock.Close()

	info, _, err := s.readMeta(hash)
	if errors.Is(err, ErrNotFound) {
		return err
	}
	// A catalog with corrupt metadata can still be removed, but never
	// one in use.
	if inUse(hash) {
		what := fmt.Sprintf("%x", hash)
		if err == nil {
			what += " (" + info.Ref().String() + ")"
		}
		return fmt.Errorf("%w: %s is still referred to by the retained WAL or a snapshot; it can be removed once none refers to it", ErrInUse, what)
	}
	// Metadata first: once it is gone the catalog no longer exists, and a
	// crash before the module goes leaves an orphan that Open removes.
	for _, path := range []string{s.metaPath(hash), s.modulePath(hash)} {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("catalogstore: removing %s: %w", path, err)
		}
		if err := s.syncDir(s.dir); err != nil {
			return fmt.Errorf("catalogstore: syncing %s after removing %s: %w", s.dir, filepath.Base(path), err)
		}
	}
	return nil
}

func isHashHex(s string) bool {
	if len(s) != hashHexLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// lockDir waits for the store's lock file and holds it until the returned
// Closer is closed. Writes are short, so waiting is bounded by another
// writer's one Put or Remove.
func lockDir(dir string) (io.Closer, error) {
	l, err := durablefs.Lock(filepath.Join(dir, lockFileName), true)
	if err != nil {
		return nil, fmt.Errorf("catalogstore: %w", err)
	}
	return l, nil
}
