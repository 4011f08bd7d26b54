package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// Durable state of truncations.
//
// sysFloor holds the lowest index the log may contain; it is written before
// the records below it are deleted, so a crash in the middle leaves a floor
// that Open enforces by finishing the deletion. It also remembers the log's
// position once every record is gone.
//
// sysTailCut exists only while TruncateTail or Reset runs: it holds an index
// above which records and idempotency entries are being deleted, and Open
// finishes that deletion and removes it.

// Pin holds records from index from upwards against head truncation until
// release is called; TruncateHead never removes the lowest pinned index or
// anything above it. Pinning below FirstIndex fails with ErrCompacted, and
// an index not appended yet may be pinned. Pins live in memory: a restart
// releases them. TruncateTail and Reset are not held back by pins. release is
// safe to call more than once and from any goroutine.
func (l *Log) Pin(from uint64) (release func(), err error) {
	if from == 0 {
		return nil, errors.New("wal: Pin from index 0: indexes start at 1")
	}
	if err := l.life.enter(); err != nil {
		return nil, err
	}
	defer l.life.leave()
	l.pinMu.Lock()
	defer l.pinMu.Unlock()
	if b := l.bounds.Load(); from < b.first {
		return nil, fmt.Errorf("%w: cannot pin from %d, the first index is %d", ErrCompacted, from, b.first)
	}
	id := l.nextPin
	l.nextPin++
	l.pins[id] = from
	var once sync.Once
	return func() {
		once.Do(func() {
			l.pinMu.Lock()
			delete(l.pins, id)
			l.pinMu.Unlock()
		})
	}, nil
}

// lowestPinLocked returns the lowest pinned index; pinMu must be held.
func (l *Log) lowestPinLocked() (uint64, bool) {
	var lowest uint64
	found := false
	for _, from := range l.pins {
		if !found || from < lowest {
			lowest, found = from, true
		}
	}
	return lowest, found
}

// TruncateHead deletes the records up to upTo inclusive, stopping below the
// lowest pin and at LastIndex, and returns the new FirstIndex (unchanged when
// there was nothing it could delete). Idempotency entries are kept.
func (l *Log) TruncateHead(upTo uint64) (uint64, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.life.enter(); err != nil {
		return 0, err
	}
	defer l.life.leave()
	if err := l.writable(); err != nil {
		return l.FirstIndex(), err
	}

	l.pinMu.Lock()
	b := l.bounds.Load()
	limit := min(upTo, b.last)
	if pin, ok := l.lowestPinLocked(); ok && pin <= limit {
		limit = pin - 1
	}
	if b.empty() || limit < b.first {
		l.pinMu.Unlock()
		return b.first, nil
	}
	newFirst := limit + 1
	// The floor is durable before any record goes, and published while pins
	// are locked so that no Pin can slip in below it.
	if err := l.writeSystem(systemWrite{key: sysFloor, value: newFirst}); err != nil {
		l.pinMu.Unlock()
		return b.first, err
	}
	l.bounds.Store(&bounds{first: newFirst, last: b.last})
	l.pinMu.Unlock()

	d := l.newDeleter()
	if _, err := l.deleteRecords(d, b.first, limit); err != nil {
		d.discard()
		return newFirst, err
	}
	if err := d.finish(nil); err != nil {
		return newFirst, err
	}
	l.kickGC()
	return newFirst, nil
}

// TruncateTail deletes the records above after, with their idempotency
// entries, and returns once the deletion is durable. It is for a replica
// holding records that were never committed; after it, Append continues at
// after+1. Truncating below FirstIndex-1 is refused (that is Reset's job).
func (l *Log) TruncateTail(after uint64) error {
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
	if after >= b.last {
		return nil
	}
	if b.first > 0 && after+1 < b.first {
		return fmt.Errorf("wal: cannot truncate the tail to %d: records up to %d were already removed from the head; use Reset",
			after, b.first-1)
	}
	return l.cutTail(b, newBounds(b.first, after), after, 0)
}

// Reset drops every record (and the idempotency entries of the records it
// drops, and of any index from nextIndex on) and makes the log continue at
// nextIndex: FirstIndex becomes nextIndex and LastIndex nextIndex-1. It is
// for a replica that installed a snapshot at nextIndex-1. Metadata is kept.
func (l *Log) Reset(nextIndex uint64) error {
	if nextIndex == 0 {
		return errors.New("wal: Reset to index 0: indexes start at 1")
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
	// Idempotency entries survive head truncation, so entries of indexes at
	// or above nextIndex may exist below FirstIndex; those would make the
	// records replayed from nextIndex on look like duplicates.
	cut := nextIndex - 1
	if !b.empty() && b.first <= nextIndex {
		cut = b.first - 1
	}
	return l.cutTail(b, newBounds(nextIndex, nextIndex-1), cut, nextIndex)
}

// cutTail deletes records and idempotency entries above cut and, when floor
// is not 0, records below floor, then publishes final. The marker makes an
// interrupted run resumable by Open.
func (l *Log) cutTail(old, final *bounds, cut, floor uint64) error {
	writes := []systemWrite{{key: sysTailCut, value: cut}}
	if floor != 0 {
		writes = append(writes, systemWrite{key: sysFloor, value: floor})
	}
	if err := l.writeSystem(writes...); err != nil {
		return err
	}
	l.bounds.Store(&bounds{first: final.first, last: final.last, cutting: true, cut: cut})
	l.tailEpochKnown = false

	d := l.newDeleter()
	err := l.finishCut(d, cut, floor)
	if err == nil {
		err = d.finish(func(txn *badger.Txn) error { return txn.Delete(sysTailCut) })
	} else {
		d.discard()
	}
	if err != nil {
		// The durable marker still asks Open to delete everything above cut;
		// a record appended now would be deleted by that, so the Log takes no
		// more writes until a reopen has finished the cut.
		l.failed.CompareAndSwap(nil, &failure{err: err})
		return err
	}
	l.bounds.Store(final)
	if !old.empty() {
		l.kickGC()
	}
	return nil
}

// finishCut stages the deletions of a tail cut (and of a floor).
func (l *Log) finishCut(d *deleter, cut, floor uint64) error {
	if cut < maxIndex {
		if _, err := l.deleteRecords(d, cut+1, maxIndex); err != nil {
			return err
		}
		if _, err := l.deleteIdemRange(d, cut+1, maxIndex); err != nil {
			return err
		}
	}
	if floor > 1 {
		if _, err := l.deleteRecords(d, 1, floor-1); err != nil {
			return err
		}
	}
	return nil
}

// deleteRecords stages the deletion of records lo..hi inclusive.
func (l *Log) deleteRecords(d *deleter, lo, hi uint64) (int, error) {
	txn := l.db.NewTransaction(false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false})
	defer it.Close()
	n := 0
	for it.Seek(recordKey(lo)); it.Valid(); it.Next() {
		index, ok := indexOfKey(it.Item().Key())
		if !ok {
			return n, &CorruptError{Reason: fmt.Sprintf("foreign key %x in the record range", it.Item().Key())}
		}
		if index > hi {
			break
		}
		if err := d.delete(it.Item().KeyCopy(nil)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// systemWrite sets a system key to an index, or deletes it.
type systemWrite struct {
	key    []byte
	value  uint64
	delete bool
}

// writeSystem applies system-key writes in one durable transaction.
func (l *Log) writeSystem(writes ...systemWrite) error {
	txn := l.db.NewTransaction(true)
	for _, w := range writes {
		var err error
		if w.delete {
			err = txn.Delete(w.key)
		} else {
			err = txn.Set(w.key, encodeUint64(w.value))
		}
		if err != nil {
			txn.Discard()
			return fmt.Errorf("wal: staging system key %q: %w", w.key[recordKeyLen+1:], err)
		}
	}
	return l.commitTxn(txn)
}

func (l *Log) readSystem(key []byte) (uint64, bool, error) {
	var v uint64
	found := false
	err := l.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(b []byte) error {
			if len(b) != 8 {
				return &CorruptError{Reason: fmt.Sprintf("system key %q holds %d bytes, expected 8", key[recordKeyLen+1:], len(b))}
			}
			v, found = binary.BigEndian.Uint64(b), true
			return nil
		})
	})
	if err != nil {
		return 0, false, fmt.Errorf("wal: reading system key %q: %w", key[recordKeyLen+1:], err)
	}
	return v, found, nil
}

// deleter deletes keys in as few transactions as Badger's limits allow,
// committing whenever the current one is full. Callers order deletions so
// that any committed prefix leaves a state Open can finish from.
type deleter struct {
	l   *Log
	txn *badger.Txn
}

func (l *Log) newDeleter() *deleter { return &deleter{l: l, txn: l.db.NewTransaction(true)} }

func (d *deleter) delete(key []byte) error {
	err := d.txn.Delete(key)
	if errors.Is(err, badger.ErrTxnTooBig) {
		if err := d.flush(); err != nil {
			return err
		}
		err = d.txn.Delete(key)
	}
	if err != nil {
		return fmt.Errorf("wal: staging deletion: %w", err)
	}
	return nil
}

func (d *deleter) flush() error {
	txn := d.txn
	d.txn = nil
	if err := d.l.commitTxn(txn); err != nil {
		return err
	}
	d.txn = d.l.db.NewTransaction(true)
	return nil
}

// finish applies last (if any) and commits what is staged.
func (d *deleter) finish(last func(*badger.Txn) error) error {
	if last != nil {
		err := last(d.txn)
		if errors.Is(err, badger.ErrTxnTooBig) {
			if err := d.flush(); err != nil {
				return err
			}
			err = last(d.txn)
		}
		if err != nil {
			d.discard()
			return fmt.Errorf("wal: staging deletion: %w", err)
		}
	}
	txn := d.txn
	d.txn = nil
	return d.l.commitTxn(txn)
}

func (d *deleter) discard() {
	if d.txn != nil {
		d.txn.Discard()
		d.txn = nil
	}
}

// recover checks the layout, finishes interrupted truncations and loads the
// bounds.
func (l *Log) recover() error {
	if err := l.checkLayout(); err != nil {
		return err
	}
	floor, _, err := l.readSystem(sysFloor)
	if err != nil {
		return err
	}
	cut, cutting, err := l.readSystem(sysTailCut)
	if err != nil {
		return err
	}
	if cutting || floor > 1 {
		d := l.newDeleter()
		if !cutting {
			cut = maxIndex
		}
		if err := l.finishCut(d, cut, floor); err != nil {
			d.discard()
			return fmt.Errorf("wal: finishing an interrupted truncation: %w", err)
		}
		var last func(*badger.Txn) error
		if cutting {
			l.logger.Warn("wal: finishing a tail truncation interrupted by a crash", "dir", l.dir, "after", cut)
			last = func(txn *badger.Txn) error { return txn.Delete(sysTailCut) }
		}
		if err := d.finish(last); err != nil {
			return fmt.Errorf("wal: finishing an interrupted truncation: %w", err)
		}
	}
	b, err := l.scan(floor)
	if err != nil {
		return err
	}
	l.bounds.Store(b)
	return nil
}

// checkLayout refuses a directory written with another key layout, or a
// Badger database that is not a WAL, and marks a new one.
func (l *Log) checkLayout() error {
	v, found, err := l.readSystem(sysLayout)
	if err != nil {
		return err
	}
	if found {
		if v != layoutVersion {
			return fmt.Errorf("wal: %s uses WAL layout version %d; this build knows version %d", l.dir, v, layoutVersion)
		}
		return nil
	}
	empty := true
	err = l.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false})
		defer it.Close()
		it.Rewind()
		empty = !it.Valid()
		return nil
	})
	if err != nil {
		return fmt.Errorf("wal: inspecting %s: %w", l.dir, err)
	}
	if !empty {
		return fmt.Errorf("wal: %s holds a Badger database that is not a WAL (no layout marker)", l.dir)
	}
	return l.writeSystem(systemWrite{key: sysLayout, value: layoutVersion})
}

// scan reads every record key once, checking that they are contiguous and
// start at the floor.
func (l *Log) scan(floor uint64) (*bounds, error) {
	txn := l.db.NewTransaction(false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false})
	defer it.Close()
	expectFirst := max(floor, 1)
	var first, last uint64
	// Records below the floor were deleted by recover; seeking past them
	// skips their tombstones.
	for it.Seek(recordKey(expectFirst)); it.Valid(); it.Next() {
		index, ok := indexOfKey(it.Item().Key())
		if !ok {
			return nil, &CorruptError{Index: last + 1,
				Reason: fmt.Sprintf("foreign key %x in the record range", it.Item().Key())}
		}
		switch {
		case first == 0 && index != expectFirst:
			return nil, &CorruptError{Index: expectFirst,
				Reason: fmt.Sprintf("index gap: records %d to %d are missing before the first stored record", expectFirst, index-1)}
		case first == 0:
			first = index
		case index != last+1:
			return nil, &CorruptError{Index: last + 1,
				Reason: fmt.Sprintf("index gap: record %d follows record %d", index, last)}
		}
		last = index
	}
	if first == 0 {
		return newBounds(expectFirst, expectFirst-1), nil
	}
	return &bounds{first: first, last: last}, nil
}
