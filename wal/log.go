package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Options configures Open.
type Options struct {
	// Dir is the directory of the Badger database; it is created if missing.
	Dir string
	// Logger receives the log's own warnings and Badger's warnings and
	// errors (Badger's info and debug output is dropped). Nil means
	// slog.Default().
	Logger *slog.Logger
	// GCInterval is the cadence of value-log garbage collection: 0 means one
	// minute, a negative value turns it off.
	GCInterval time.Duration
	// NoSyncWrites turns off the fsync of every commit. It exists only so
	// benchmarks can measure what durability costs; a product configuration
	// never sets it (a Go bool cannot default to true, hence the negative
	// name).
	NoSyncWrites bool
	// MemTableSize is Badger's memtable size; 0 means 64 MiB, the minimum is
	// 1 MiB. Badger caps one transaction at 15% of it (about 9.6 MB and
	// 100,000 entries at the default), which bounds the batch Append can
	// write atomically. Records of 64 KiB or more live in the value log and
	// count only a pointer against that cap.
	MemTableSize int64
	// CommitFault is a test double hook for a failing fsync or a full disk,
	// faults a test cannot cause on a real file system. When set, it is
	// called before each commit of a write transaction; a non-nil error is
	// returned as if that commit's fsync had failed: nothing of the
	// transaction is made visible and the Log refuses writes (ErrFailed)
	// until it is reopened. Production configurations leave it nil.
	CommitFault func() error
}

const (
	defaultGCInterval   = time.Minute
	defaultMemTableSize = 64 << 20
	minMemTableSize     = 1 << 20
	// valueThreshold: smaller values live in the LSM tree, next to their
	// key, so Range reads them without a second lookup; larger ones go to
	// the value log and cost a transaction only their pointer.
	valueThreshold = 64 << 10
	// valueLogFileSize is small enough that value-log GC reclaims space in
	// useful steps, large enough to hold the largest record.
	valueLogFileSize = 256 << 20
	// gcDiscardRatio: rewrite a value-log file once half of it is garbage.
	gcDiscardRatio = 0.5
	// layoutVersion is the version of the key layout (keys.go).
	layoutVersion = 1
)

// Log is the write-ahead log. Append, the truncations, Reset and
// PruneIdempotency are serialised with one another; Get, Range, Pin,
// IdempotencyLookup, GetMeta and the index accessors may run concurrently
// with them and with each other.
type Log struct {
	db     *badger.DB
	dir    string
	logger *slog.Logger

	// commit commits a write transaction. It is (*badger.Txn).Commit except
	// in tests that stand in a fault double for a failing fsync.
	commit func(*badger.Txn) error

	life lifecycle

	// bounds is replaced, never mutated. A new value is published after the
	// records it adds are committed and before the records it drops are
	// deleted, so every record inside the published bounds is visible to a
	// Badger read transaction opened while those bounds are current.
	bounds atomic.Pointer[bounds]
	failed atomic.Pointer[failure]

	wmu            sync.Mutex // serialises writers
	tailEpoch      uint64     // epoch of the last record; guarded by wmu
	tailEpochKnown bool       // guarded by wmu

	pinMu   sync.Mutex
	pins    map[uint64]uint64 // pin id → lowest pinned index
	nextPin uint64

	gcStop chan struct{}
	gcKick chan struct{}
	gcDone chan struct{}
}

// bounds are the log's first and last index. A fresh log is {0, 0}; a log
// emptied by truncation or Reset keeps its position as {n, n-1}, so the next
// record is always last+1.
type bounds struct {
	first, last uint64
	// cutting is set while TruncateTail or Reset removes idempotency entries
	// of records above cut: such entries are no longer answered.
	cutting bool
	cut     uint64
}

func newBounds(first, last uint64) *bounds {
	if last < first && first <= 1 {
		return &bounds{}
	}
	return &bounds{first: first, last: last}
}

func (b *bounds) empty() bool { return b.last == 0 || b.last < b.first }

type failure struct{ err error }

// badgerOptions are the Badger settings of a log in dir.
func badgerOptions(dir string, syncWrites bool, memTable int64, logger *slog.Logger) badger.Options {
	return badger.DefaultOptions(dir).
		WithSyncWrites(syncWrites).
		WithLogger(badgerLogger{logger.With("component", "badger")}).
		WithMemTableSize(memTable).
		WithValueThreshold(valueThreshold).
		WithValueLogFileSize(valueLogFileSize).
		WithNumVersionsToKeep(1).
		// One writer at a time (wmu), so there is nothing to detect.
		WithDetectConflicts(false).
		// Records are small and mostly incompressible hashes; without
		// compression Badger needs no block cache either.
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithMetricsEnabled(false)
}

// Open opens (or creates) the log in opts.Dir. It finishes any truncation a
// crash interrupted, then scans the record keys: a missing index between the
// first and last record is reported as a *CorruptError naming it, and the log
// does not open.
func Open(opts Options) (*Log, error) {
	if opts.Dir == "" {
		return nil, errors.New("wal: Options.Dir is empty")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	memTable := opts.MemTableSize
	if memTable == 0 {
		memTable = defaultMemTableSize
	}
	if memTable < minMemTableSize {
		return nil, fmt.Errorf("wal: Options.MemTableSize %d is below the minimum of %d bytes", memTable, minMemTableSize)
	}
	gcInterval := opts.GCInterval
	if gcInterval == 0 {
		gcInterval = defaultGCInterval
	}

	if err := removeEmptyMemtables(opts.Dir, logger); err != nil {
		return nil, err
	}
	bo := badgerOptions(opts.Dir, !opts.NoSyncWrites, memTable, logger)
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("wal: opening Badger in %s: %w", opts.Dir, err)
	}
	l := &Log{
		db:     db,
		dir:    opts.Dir,
		logger: logger,
		commit: commitWithFault(opts.CommitFault),
		pins:   make(map[uint64]uint64),
		gcStop: make(chan struct{}),
		gcKick: make(chan struct{}, 1),
		gcDone: make(chan struct{}),
	}
	l.life.init()
	if err := l.recover(); err != nil {
		if cerr := db.Close(); cerr != nil {
			logger.Warn("wal: closing Badger after a failed open", "dir", opts.Dir, "err", cerr)
		}
		return nil, err
	}
	if gcInterval > 0 {
		go l.runGC(gcInterval)
	} else {
		close(l.gcDone)
	}
	return l, nil
}

// Close stops value-log GC and closes Badger. It waits for calls in progress;
// later calls return ErrClosed. Closing twice returns ErrClosed.
func (l *Log) Close() error {
	if !l.life.close() {
		return ErrClosed
	}
	close(l.gcStop)
	<-l.gcDone
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("wal: closing Badger: %w", err)
	}
	return nil
}

// FirstIndex is the lowest index still in the log: 0 for a log that never
// held a record, LastIndex()+1 for a log emptied by truncation or Reset.
func (l *Log) FirstIndex() uint64 { return l.bounds.Load().first }

// LastIndex is the highest index appended (and not truncated): 0 for a fresh
// log. The next record must carry LastIndex()+1.
func (l *Log) LastIndex() uint64 { return l.bounds.Load().last }

// Sync flushes Badger's write-ahead files; with sync writes on (the default)
// every commit already did.
func (l *Log) Sync() error {
	if err := l.life.enter(); err != nil {
		return err
	}
	defer l.life.leave()
	if err := l.db.Sync(); err != nil {
		return fmt.Errorf("wal: sync: %w", err)
	}
	return nil
}

// Append writes recs durably. Their indexes must be LastIndex()+1,
// LastIndex()+2, … and their epochs must not decrease (from the last record
// in the log on). A record carrying an idempotency key also gets, in the same
// transaction, an IdemEntry under that key; a key already recorded, or twice
// in the batch, is refused with ErrDuplicateIdemKey naming it.
//
// The whole batch is one Badger transaction, hence one fsync, whenever it
// fits Badger's transaction limit (see Options.MemTableSize); then it is all
// or nothing, across crashes too. A larger batch is staged in consecutive
// transactions that are all prepared before the first commits, so any
// refusal or staging error still leaves nothing written. Only a failed commit
// or a crash between those commits can leave a contiguous prefix of such a
// batch durable, as if the rest had never been submitted; after a failed
// commit the Log refuses writes (ErrFailed) until it is reopened.
func (l *Log) Append(recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.life.enter(); err != nil {
		return err
	}
	defer l.life.leave()
	if err := l.writable(); err != nil {
		return err
	}
	b := l.bounds.Load()
	encoded, idems, err := l.prepareAppend(b, recs)
	if err != nil {
		return err
	}
	txns, ends, err := l.stageAppend(recs, encoded, idems)
	if err != nil {
		return err
	}
	done := 0 // records committed
	for k, txn := range txns {
		if err := l.commitTxn(txn); err != nil {
			for _, rest := range txns[k+1:] {
				rest.Discard()
			}
			if done > 0 {
				l.publishAppended(b, recs[:done])
			}
			return fmt.Errorf("wal: appending records %d to %d: %w",
				recs[done].Index, recs[len(recs)-1].Index, err)
		}
		done = ends[k]
	}
	l.publishAppended(b, recs)
	return nil
}

// prepareAppend validates the batch against the log and encodes it.
func (l *Log) prepareAppend(b *bounds, recs []Record) ([][]byte, [][]byte, error) {
	next := b.last + 1
	prevEpoch, haveEpoch := l.tailEpoch, l.tailEpochKnown
	if !haveEpoch && !b.empty() {
		last, err := l.Get(b.last)
		if err != nil {
			return nil, nil, fmt.Errorf("wal: reading record %d to check epochs before appending: %w", b.last, err)
		}
		prevEpoch, haveEpoch = last.Epoch, true
		l.tailEpoch, l.tailEpochKnown = last.Epoch, true
	}
	encoded := make([][]byte, len(recs))
	idems := make([][]byte, len(recs))
	var inBatch map[string]uint64
	for i := range recs {
		r := &recs[i]
		if want := next + uint64(i); r.Index != want {
			return nil, nil, fmt.Errorf("%w: batch element %d has index %d, expected %d", ErrNotContiguous, i, r.Index, want)
		}
		if haveEpoch && r.Epoch < prevEpoch {
			return nil, nil, fmt.Errorf("%w: record %d has epoch %d, below epoch %d of the record before it",
				ErrEpochRegression, r.Index, r.Epoch, prevEpoch)
		}
		prevEpoch, haveEpoch = r.Epoch, true
		enc, err := r.MarshalBinary()
		if err != nil {
			return nil, nil, err
		}
		encoded[i] = enc
		if r.IdemKey == "" {
			continue
		}
		if len(r.IdemKey) > MaxIdemKeyBytes {
			return nil, nil, fmt.Errorf("wal: record %d: idempotency key of %d bytes exceeds the %d-byte limit",
				r.Index, len(r.IdemKey), MaxIdemKeyBytes)
		}
		if inBatch == nil {
			inBatch = make(map[string]uint64)
		}
		if first, dup := inBatch[r.IdemKey]; dup {
			return nil, nil, fmt.Errorf("%w: key %q is carried by records %d and %d of the same batch",
				ErrDuplicateIdemKey, r.IdemKey, first, r.Index)
		}
		inBatch[r.IdemKey] = r.Index
		idems[i] = encodeIdemEntry(IdemEntry{Index: r.Index, Code: r.Code, StateHash: r.StateHash, Output: r.Output})
	}
	if inBatch == nil {
		return encoded, idems, nil
	}
	txn := l.db.NewTransaction(false)
	defer txn.Discard()
	for i := range recs { // in batch order, so the error names the first duplicate
		key := recs[i].IdemKey
		if key == "" {
			continue
		}
		e, found, err := lookupIdem(txn, key)
		var ce *CorruptError
		switch {
		case errors.As(err, &ce):
			return nil, nil, fmt.Errorf("%w: key %q is already recorded (its entry is unreadable: %v)",
				ErrDuplicateIdemKey, key, err)
		case err != nil:
			return nil, nil, err
		case found:
			return nil, nil, fmt.Errorf("%w: key %q of record %d is already recorded by record %d",
				ErrDuplicateIdemKey, key, recs[i].Index, e.Index)
		}
	}
	return encoded, idems, nil
}

// stageAppend puts the batch into as few write transactions as Badger's
// limits allow, without committing any. ends[k] is the number of records
// covered by txns[0..k].
func (l *Log) stageAppend(recs []Record, encoded, idems [][]byte) ([]*badger.Txn, []int, error) {
	maxCount, maxSize := l.db.MaxBatchCount(), l.db.MaxBatchSize()
	var (
		txns         []*badger.Txn
		ends         []int
		count, size  int64
		txn          *badger.Txn
		discardStage = func() {
			for _, t := range txns {
				t.Discard()
			}
		}
	)
	for i := range recs {
		r := &recs[i]
		entries := []struct{ key, val []byte }{{recordKey(r.Index), encoded[i]}}
		if idems[i] != nil {
			entries = append(entries,
				struct{ key, val []byte }{idemKey(r.IdemKey), idems[i]},
				struct{ key, val []byte }{reverseKey(r.Index), []byte(r.IdemKey)})
		}
		var recCount, recSize int64
		for _, e := range entries {
			recCount++
			recSize += estimateEntrySize(len(e.key), len(e.val))
		}
		// Badger refuses a Set that brings the count to maxCount or the size
		// to maxSize (txn.checkSize); mirror that so a record's entries are
		// never split across transactions.
		if txn == nil || count+recCount >= maxCount || size+recSize >= maxSize {
			if recCount >= maxCount || recSize >= maxSize {
				discardStage()
				return nil, nil, fmt.Errorf("wal: record %d needs %d bytes of one Badger transaction, above its %d-byte limit; raise Options.MemTableSize",
					r.Index, recSize, maxSize)
			}
			if txn != nil {
				ends = append(ends, i)
			}
			txn = l.db.NewTransaction(true)
			txns = append(txns, txn)
			count, size = 0, 0
		}
		for _, e := range entries {
			if err := txn.Set(e.key, e.val); err != nil {
				discardStage()
				return nil, nil, fmt.Errorf("wal: staging record %d: %w", r.Index, err)
			}
		}
		count += recCount
		size += recSize
	}
	ends = append(ends, len(recs))
	return txns, ends, nil
}

// estimateEntrySize is Badger's own estimate of what an entry costs a
// transaction (Entry.estimateSizeAndSetThreshold plus the 10 bytes
// txn.checkSize adds for the version).
func estimateEntrySize(keyLen, valLen int) int64 {
	const metaBytes, versionBytes, valuePointerBytes = 2, 10, 12
	n := int64(keyLen) + metaBytes + versionBytes
	if valLen < valueThreshold {
		return n + int64(valLen)
	}
	return n + valuePointerBytes
}

func (l *Log) publishAppended(b *bounds, added []Record) {
	first := b.first
	if b.empty() && first == 0 {
		first = added[0].Index
	}
	l.bounds.Store(&bounds{first: first, last: added[len(added)-1].Index})
	l.tailEpoch, l.tailEpochKnown = added[len(added)-1].Epoch, true
}

// Get returns record index. It reports ErrNotFound above LastIndex,
// ErrCompacted below FirstIndex, and a *CorruptError when the stored record
// fails its checksum, is malformed, holds another index, or is missing.
func (l *Log) Get(index uint64) (Record, error) {
	if err := l.life.enter(); err != nil {
		return Record{}, err
	}
	defer l.life.leave()
	txn, b := l.snapshot()
	defer txn.Discard()
	if err := b.check(index); err != nil {
		return Record{}, err
	}
	item, err := txn.Get(recordKey(index))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Record{}, &CorruptError{Index: index,
			Reason: fmt.Sprintf("missing, although the log spans %d to %d", b.first, b.last)}
	}
	if err != nil {
		return Record{}, fmt.Errorf("wal: reading record %d: %w", index, err)
	}
	return decodeItem(item, index)
}

func (b *bounds) check(index uint64) error {
	switch {
	case index == 0:
		return fmt.Errorf("%w: index 0 (indexes start at 1)", ErrNotFound)
	case index > b.last:
		return fmt.Errorf("%w: index %d is above the last index %d", ErrNotFound, index, b.last)
	case index < b.first:
		return fmt.Errorf("%w: index %d is below the first index %d", ErrCompacted, index, b.first)
	}
	return nil
}

func decodeItem(item *badger.Item, index uint64) (Record, error) {
	var r Record
	err := item.Value(func(v []byte) error {
		var derr error
		r, derr = decodeRecord(v, index)
		return derr
	})
	var ce *CorruptError
	var ve *VersionError
	if err != nil && !errors.As(err, &ce) && !errors.As(err, &ve) {
		return Record{}, fmt.Errorf("wal: reading the value of record %d: %w", index, err)
	}
	return r, err
}

// Range calls fn on records from..to inclusive, in index order, streaming
// them from one consistent view of the log (a concurrent truncation does not
// affect a Range already started). It stops at LastIndex when to is beyond
// it, returns ErrCompacted when from is below FirstIndex, stops with a
// *CorruptError at the first record that is corrupt or missing (fn never sees
// it), and returns fn's error unchanged if fn fails. A range with to < from
// visits nothing.
func (l *Log) Range(from, to uint64, fn func(Record) error) error {
	if from == 0 {
		return errors.New("wal: Range from index 0: indexes start at 1")
	}
	if to < from {
		return nil // an empty range, such as "everything after R" when R is the last index
	}
	if err := l.life.enter(); err != nil {
		return err
	}
	defer l.life.leave()
	txn, b := l.snapshot()
	defer txn.Discard()
	if from < b.first {
		return fmt.Errorf("%w: Range from %d is below the first index %d", ErrCompacted, from, b.first)
	}
	if b.empty() || from > b.last {
		return nil
	}
	end := min(to, b.last)
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	expect := from
	for it.Seek(recordKey(from)); it.Valid() && expect <= end; it.Next() {
		item := it.Item()
		index, ok := indexOfKey(item.Key())
		if !ok {
			return &CorruptError{Index: expect,
				Reason: fmt.Sprintf("found foreign key %x where the record should be", item.Key())}
		}
		if index != expect {
			return &CorruptError{Index: expect,
				Reason: fmt.Sprintf("missing: record %d follows record %d", index, expect-1)}
		}
		r, err := decodeItem(item, index)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
		expect++
	}
	if expect <= end {
		return &CorruptError{Index: expect,
			Reason: fmt.Sprintf("missing, although the log spans %d to %d", b.first, b.last)}
	}
	return nil
}

// snapshot opens a read transaction together with the bounds that were
// current when it opened: every record inside those bounds is visible to it.
func (l *Log) snapshot() (*badger.Txn, *bounds) {
	for {
		b := l.bounds.Load()
		txn := l.db.NewTransaction(false)
		if l.bounds.Load() == b {
			return txn, b
		}
		txn.Discard() // bounds moved while the view opened; take both again
	}
}

// writable refuses writes after a failed commit.
func (l *Log) writable() error {
	if f := l.failed.Load(); f != nil {
		return fmt.Errorf("%w: %w", ErrFailed, f.err)
	}
	return nil
}

// commitTxn commits a write transaction; a failure leaves what is durable
// unknown, so the Log stops accepting writes.
func (l *Log) commitTxn(txn *badger.Txn) error {
	if err := l.commit(txn); err != nil {
		txn.Discard()
		l.failed.CompareAndSwap(nil, &failure{err: err})
		l.logger.Error("wal: commit failed; refusing writes until reopened", "dir", l.dir, "err", err)
		return fmt.Errorf("wal: commit failed: %w", err)
	}
	return nil
}

// commitWithFault returns Badger's commit, preceded by fault when a test
// sets Options.CommitFault.
func commitWithFault(fault func() error) func(*badger.Txn) error {
	if fault == nil {
		return (*badger.Txn).Commit
	}
	return func(txn *badger.Txn) error {
		if err := fault(); err != nil {
			return err // commitTxn discards txn: nothing of it is written
		}
		return txn.Commit()
	}
}

// lifecycle lets calls run until Close, and Close wait for calls in progress.
// Unlike a sync.RWMutex it tolerates nested calls (a Range callback calling
// Get) while Close is waiting.
type lifecycle struct {
	mu     sync.Mutex
	idle   *sync.Cond
	active int
	closed bool
}

func (c *lifecycle) init() { c.idle = sync.NewCond(&c.mu) }

func (c *lifecycle) enter() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.active++
	return nil
}

func (c *lifecycle) leave() {
	c.mu.Lock()
	c.active--
	if c.active == 0 && c.closed {
		c.idle.Broadcast()
	}
	c.mu.Unlock()
}

// close marks the lifecycle closed and waits until no call is active; it
// reports false if it was already closed.
func (c *lifecycle) close() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.closed = true
	for c.active > 0 {
		c.idle.Wait()
	}
	return true
}

// maxIndex is the highest index the log can hold.
const maxIndex = math.MaxUint64

// removeEmptyMemtables deletes zero-length Badger memtable files (*.mem).
// Badger creates such a file empty and sizes it a moment later; a process
// killed in between leaves an empty file that makes the next open fail
// ("while opening memtables ... Create a new file", dgraph-io/badger#2207).
// An empty memtable file holds no entries, so removing it loses nothing.
func removeEmptyMemtables(dir string, logger *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("wal: read %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".mem") {
			continue
		}
		info, err := e.Info()
		if err != nil || info.Size() != 0 {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("wal: remove empty memtable file %s: %w", path, err)
		}
		logger.Warn("removed an empty memtable file left by a crash", "file", path)
	}
	return nil
}
