package wal

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// MaxIdemKeyBytes bounds an idempotency key; it is stored as part of a Badger
// key.
const MaxIdemKeyBytes = 1024

// IdemEntry is what the log remembers of a record that carried an
// idempotency key: enough to answer a repeated proposal with the original
// result, even after the record itself was truncated from the head.
type IdemEntry struct {
	Index     uint64
	Code      string
	StateHash [32]byte
	Output    []byte
}

// idemFormatVersion versions the IdemEntry encoding:
//
//	version 1 byte, Index uvarint, Code uvarint length + bytes,
//	StateHash 32 bytes, Output uvarint length + bytes, CRC-32C 4 bytes.
const idemFormatVersion = 1

func encodeIdemEntry(e IdemEntry) []byte {
	b := make([]byte, 0, 1+10+fieldLen(len(e.Code))+32+fieldLen(len(e.Output))+checksumLen)
	b = append(b, idemFormatVersion)
	b = binary.AppendUvarint(b, e.Index)
	b = appendString(b, e.Code)
	b = append(b, e.StateHash[:]...)
	b = appendBytes(b, e.Output)
	return appendChecksum(b)
}

func decodeIdemEntry(key string, b []byte) (IdemEntry, error) {
	corrupt := func(index uint64, format string, args ...any) (IdemEntry, error) {
		return IdemEntry{}, &CorruptError{Index: index,
			Reason: fmt.Sprintf("idempotency entry for key %q: ", key) + fmt.Sprintf(format, args...)}
	}
	body, ok := verifyChecksum(b)
	if !ok {
		return corrupt(0, "checksum mismatch or truncated (%d bytes)", len(b))
	}
	d := decoder{b: body}
	if v := d.byte("format version"); d.err == "" && v != idemFormatVersion {
		return corrupt(0, "unknown format version %d", v)
	}
	var e IdemEntry
	e.Index = d.uvarint("Index")
	e.Code = d.string("Code")
	e.StateHash = d.hash("StateHash")
	e.Output = d.bytes("Output")
	if d.err == "" && d.off != len(d.b) {
		d.fail("%d unexpected bytes after the last field", len(d.b)-d.off)
	}
	if d.err != "" {
		return corrupt(e.Index, "%s", d.err)
	}
	return e, nil
}

// IdempotencyLookup returns the entry recorded for an idempotency key. Entries
// survive head truncation; they disappear with the records they belong to on
// TruncateTail and Reset, and through PruneIdempotency. Only results the log
// holds as committed are answered: an entry for an index above LastIndex
// (left by a commit that failed) is not.
func (l *Log) IdempotencyLookup(key string) (IdemEntry, bool, error) {
	if key == "" {
		return IdemEntry{}, false, errors.New("wal: empty idempotency key")
	}
	if err := l.life.enter(); err != nil {
		return IdemEntry{}, false, err
	}
	defer l.life.leave()
	txn, b := l.snapshot()
	defer txn.Discard()
	e, ok, err := lookupIdem(txn, key)
	if err != nil || !ok {
		return IdemEntry{}, false, err
	}
	if e.Index > b.last || (b.cutting && e.Index > b.cut) {
		// Above LastIndex the entry belongs to a batch whose commit failed or
		// is not published yet; above a cut in progress, a tail truncation or
		// reset is removing it with its record. Neither is a committed result.
		return IdemEntry{}, false, nil
	}
	return e, true, nil
}

func lookupIdem(txn *badger.Txn, key string) (IdemEntry, bool, error) {
	item, err := txn.Get(idemKey(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return IdemEntry{}, false, nil
	}
	if err != nil {
		return IdemEntry{}, false, fmt.Errorf("wal: reading idempotency key %q: %w", key, err)
	}
	var e IdemEntry
	err = item.Value(func(v []byte) error {
		var derr error
		e, derr = decodeIdemEntry(key, v)
		return derr
	})
	if err != nil {
		return IdemEntry{}, false, err
	}
	return e, true, nil
}

// PruneIdempotency removes the idempotency entries of records with an index
// below belowIndex (retention of the exactly-once window) and returns how
// many it removed. A repeat of a pruned key is no longer recognised.
func (l *Log) PruneIdempotency(belowIndex uint64) (int, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.life.enter(); err != nil {
		return 0, err
	}
	defer l.life.leave()
	if err := l.writable(); err != nil {
		return 0, err
	}
	if belowIndex <= 1 {
		return 0, nil
	}
	d := l.newDeleter()
	n, err := l.deleteIdemRange(d, 1, belowIndex-1)
	if err == nil {
		err = d.finish(nil)
	}
	if err != nil {
		d.discard()
		return n, err
	}
	return n, nil
}

// deleteIdemRange deletes, through d, the idempotency entries (and their
// reverse-index entries) of records lo..hi inclusive, and returns how many.
// An entry is deleted before its reverse entry, so an interrupted run leaves
// at most reverse entries whose entry is gone, which a later run clears.
func (l *Log) deleteIdemRange(d *deleter, lo, hi uint64) (int, error) {
	txn := l.db.NewTransaction(false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false, Prefix: auxKey(nsReverse, nil)})
	defer it.Close()
	n := 0
	for it.Seek(reverseKey(lo)); it.Valid(); it.Next() {
		item := it.Item()
		index, ok := indexOfReverseKey(item.Key())
		if !ok {
			return n, &CorruptError{Reason: fmt.Sprintf("malformed idempotency reverse key %x", item.Key())}
		}
		if index > hi {
			break
		}
		key, err := item.ValueCopy(nil)
		if err != nil {
			return n, fmt.Errorf("wal: reading idempotency reverse entry of record %d: %w", index, err)
		}
		// Delete the entry only if it still belongs to this record: keys are
		// unique in the log, but a stale reverse entry must not remove a
		// newer record's entry.
		e, found, err := lookupIdem(txn, string(key))
		var ce *CorruptError
		switch {
		case errors.As(err, &ce):
			found, e.Index = true, index // an unreadable entry of this record goes too
		case err != nil:
			return n, err
		}
		if found && e.Index == index {
			if err := d.delete(idemKey(string(key))); err != nil {
				return n, err
			}
			n++
		}
		if err := d.delete(item.KeyCopy(nil)); err != nil {
			return n, err
		}
	}
	return n, nil
}
