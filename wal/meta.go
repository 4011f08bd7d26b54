package wal

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Limits of SetMeta: metadata is for small facts (the current epoch, the
// active catalog), not for payloads.
const (
	MaxMetaKeyBytes   = 256
	MaxMetaValueBytes = 64 << 10
)

// metaFormatVersion versions a metadata value: version byte, the value,
// CRC-32C of both.
const metaFormatVersion = 1

// SetMeta stores val under key durably (one fsync). Metadata is kept by every
// truncation and by Reset.
func (l *Log) SetMeta(key string, val []byte) error {
	if key == "" {
		return errors.New("wal: empty metadata key")
	}
	if len(key) > MaxMetaKeyBytes {
		return fmt.Errorf("wal: metadata key of %d bytes exceeds the %d-byte limit", len(key), MaxMetaKeyBytes)
	}
	if len(val) > MaxMetaValueBytes {
		return fmt.Errorf("wal: metadata %q: value of %d bytes exceeds the %d-byte limit", key, len(val), MaxMetaValueBytes)
	}
	if err := l.life.enter(); err != nil {
		return err
	}
	defer l.life.leave()
	if err := l.writable(); err != nil {
		return err
	}
	b := make([]byte, 0, 1+len(val)+checksumLen)
	b = append(b, metaFormatVersion)
	b = appendChecksum(append(b, val...))
	txn := l.db.NewTransaction(true)
	if err := txn.Set(metaKey(key), b); err != nil {
		txn.Discard()
		return fmt.Errorf("wal: staging metadata %q: %w", key, err)
	}
	if err := l.commitTxn(txn); err != nil {
		return fmt.Errorf("wal: metadata %q: %w", key, err)
	}
	return nil
}

// GetMeta returns the value stored under key, and whether there is one. A
// value that fails its checksum is a *CorruptError.
func (l *Log) GetMeta(key string) ([]byte, bool, error) {
	if key == "" {
		return nil, false, errors.New("wal: empty metadata key")
	}
	if err := l.life.enter(); err != nil {
		return nil, false, err
	}
	defer l.life.leave()
	var val []byte
	found := false
	err := l.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(metaKey(key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			body, ok := verifyChecksum(v)
			if !ok || body[0] != metaFormatVersion {
				return &CorruptError{Reason: fmt.Sprintf("metadata %q: checksum mismatch, truncation or unknown format (%d bytes)", key, len(v))}
			}
			val, found = append([]byte{}, body[1:]...), true
			return nil
		})
	})
	var ce *CorruptError
	if errors.As(err, &ce) {
		return nil, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("wal: reading metadata %q: %w", key, err)
	}
	return val, found, nil
}
