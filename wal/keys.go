package wal

import "encoding/binary"

// Key layout.
//
// A record's key is exactly its index as 8 big-endian bytes, so Badger's key
// order is log order and a record's key never needs parsing beyond that.
//
// Every other key starts with 8 zero bytes (the key of index 0, which is never
// a valid index) followed by a namespace byte and a name. Such a key is longer
// than 8 bytes and its 8th byte is 0x00, so it sorts after the unused index 0
// and before index 1: all auxiliary data lies below the record range, and an
// iterator positioned on a record key never meets it. Records therefore never
// interleave with metadata, and idempotency entries, however many, do not slow
// down a Range.
const recordKeyLen = 8

// Namespaces of auxiliary keys (the byte after the 8-zero prefix).
const (
	nsIdem    = 'i' // idempotency key → encoded IdemEntry
	nsMeta    = 'm' // SetMeta/GetMeta key → checksummed value
	nsReverse = 'r' // 8-byte big-endian index → idempotency key of that record
	nsSystem  = 's' // the log's own durable state (layout version, floor, pending tail cut)
)

// System keys.
var (
	sysLayout  = auxKey(nsSystem, []byte("layout"))
	sysFloor   = auxKey(nsSystem, []byte("floor"))
	sysTailCut = auxKey(nsSystem, []byte("tailcut"))
)

func recordKey(index uint64) []byte {
	k := make([]byte, recordKeyLen)
	binary.BigEndian.PutUint64(k, index)
	return k
}

// indexOfKey returns the index a record key holds; ok is false for any key
// that is not a record key.
func indexOfKey(k []byte) (uint64, bool) {
	if len(k) != recordKeyLen {
		return 0, false
	}
	i := binary.BigEndian.Uint64(k)
	return i, i != 0
}

func auxKey(ns byte, name []byte) []byte {
	k := make([]byte, recordKeyLen+1+len(name))
	k[recordKeyLen] = ns
	copy(k[recordKeyLen+1:], name)
	return k
}

func idemKey(key string) []byte { return auxKey(nsIdem, []byte(key)) }

func metaKey(key string) []byte { return auxKey(nsMeta, []byte(key)) }

func reverseKey(index uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], index)
	return auxKey(nsReverse, b[:])
}

// indexOfReverseKey returns the index a reverse-index key refers to.
func indexOfReverseKey(k []byte) (uint64, bool) {
	if len(k) != recordKeyLen+1+8 || k[recordKeyLen] != nsReverse {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[recordKeyLen+1:]), true
}

func encodeUint64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}
