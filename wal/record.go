package wal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/bits"
	"strconv"
)

// Kind says what a record is.
type Kind uint8

const (
	// KindTransition is a proposal the reducer decided on.
	KindTransition Kind = 1
	// KindActivation is a "from here on, catalog H" record; its own payload
	// is in Body.
	KindActivation Kind = 2
	// Values from 3 upwards are reserved for later kinds. The log stores any
	// non-zero kind; what a kind means is for its readers to decide.
)

func (k Kind) String() string {
	switch k {
	case KindTransition:
		return "transition"
	case KindActivation:
		return "activation"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Record is one WAL entry.
//
// Byte-slice fields (Inputs, Output, Body) and Evidence treat empty and nil
// alike: an empty one is encoded as absent and decodes as nil.
type Record struct {
	Index       uint64   // 1-based, contiguous
	Epoch       uint64   // replication epoch of the primary that appended it
	Kind        Kind     // never 0
	Timestamp   int64    // unix nanoseconds assigned by the primary
	CatalogHash [32]byte // SHA-256 of the catalog module that produced this record

	// The proposal as submitted.
	Transition string
	Inputs     []byte // canonical JSON, or nil
	InputsHash string
	IdemKey    string
	Signer     string
	HLC        string
	WindowID   string
	Evidence   []string

	// The result.
	Code      string   // "" when accepted; otherwise a stable rejection code
	Output    []byte   // optional transition output
	Fuel      uint64   // fuel used
	StateHash [32]byte // state hash after this record

	// Body is the payload of records that are not transitions (activations).
	Body []byte
}

// RecordFormatVersion is the encoding MarshalBinary writes and the newest
// UnmarshalRecord reads.
//
// Format version 1, in this fixed order:
//
//	version      1 byte (= 1)
//	Index        uvarint
//	Epoch        uvarint
//	Kind         1 byte
//	Timestamp    varint (zigzag)
//	CatalogHash  32 bytes
//	Transition   uvarint length + bytes
//	Inputs       uvarint length + bytes
//	InputsHash   uvarint length + bytes
//	IdemKey      uvarint length + bytes
//	Signer       uvarint length + bytes
//	HLC          uvarint length + bytes
//	WindowID     uvarint length + bytes
//	Evidence     uvarint count, then each as uvarint length + bytes
//	Code         uvarint length + bytes
//	Output       uvarint length + bytes
//	Fuel         uvarint
//	StateHash    32 bytes
//	Body         uvarint length + bytes
//	checksum     4 bytes, big-endian CRC-32C (Castagnoli) of everything before it
//
// Varints must be minimal and nothing may follow the last field, so a record
// has exactly one encoding: bytes that decode re-encode identically, which
// makes encoded records safe to hash and compare.
//
// Evolution: a later version appends its new fields after Body (before the
// checksum) and bumps the version byte. Its decoder reads the fields of every
// version up to the record's own and leaves newer fields zero, so records
// written by older builds stay readable forever. An older build refuses a
// newer record with a *VersionError rather than guessing.
const RecordFormatVersion = 1

// MaxRecordBytes bounds the encoded size of one record.
const MaxRecordBytes = 64 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const checksumLen = 4

// MarshalBinary encodes the record in the current format version. It fails on
// a record the log could not hold: index 0, kind 0, or an encoding larger
// than MaxRecordBytes.
func (r *Record) MarshalBinary() ([]byte, error) {
	if r.Index == 0 {
		return nil, fmt.Errorf("wal: cannot encode a record with index 0: indexes start at 1")
	}
	if r.Kind == 0 {
		return nil, fmt.Errorf("wal: cannot encode record %d: kind 0 is not a record kind", r.Index)
	}
	size := r.encodedSize()
	if size > MaxRecordBytes {
		return nil, fmt.Errorf("wal: record %d encodes to %d bytes, above the %d-byte limit",
			r.Index, size, MaxRecordBytes)
	}
	b := make([]byte, 0, size)
	b = append(b, RecordFormatVersion)
	b = binary.AppendUvarint(b, r.Index)
	b = binary.AppendUvarint(b, r.Epoch)
	b = append(b, byte(r.Kind))
	b = binary.AppendVarint(b, r.Timestamp)
	b = append(b, r.CatalogHash[:]...)
	b = appendString(b, r.Transition)
	b = appendBytes(b, r.Inputs)
	b = appendString(b, r.InputsHash)
	b = appendString(b, r.IdemKey)
	b = appendString(b, r.Signer)
	b = appendString(b, r.HLC)
	b = appendString(b, r.WindowID)
	b = binary.AppendUvarint(b, uint64(len(r.Evidence)))
	for _, e := range r.Evidence {
		b = appendString(b, e)
	}
	b = appendString(b, r.Code)
	b = appendBytes(b, r.Output)
	b = binary.AppendUvarint(b, r.Fuel)
	b = append(b, r.StateHash[:]...)
	b = appendBytes(b, r.Body)
	return appendChecksum(b), nil
}

// encodedSize is the exact length MarshalBinary produces.
func (r *Record) encodedSize() int {
	n := 1 + uvarintLen(r.Index) + uvarintLen(r.Epoch) + 1 +
		uvarintLen(zigzag(r.Timestamp)) + 32 +
		fieldLen(len(r.Transition)) + fieldLen(len(r.Inputs)) + fieldLen(len(r.InputsHash)) +
		fieldLen(len(r.IdemKey)) + fieldLen(len(r.Signer)) + fieldLen(len(r.HLC)) +
		fieldLen(len(r.WindowID)) + uvarintLen(uint64(len(r.Evidence)))
	for _, e := range r.Evidence {
		n += fieldLen(len(e))
	}
	n += fieldLen(len(r.Code)) + fieldLen(len(r.Output)) + uvarintLen(r.Fuel) + 32 +
		fieldLen(len(r.Body)) + checksumLen
	return n
}

// UnmarshalRecord decodes an encoded record after checking its checksum. Bytes
// that fail the checksum, are truncated, or are not in canonical form give a
// *CorruptError; a record of a newer format version gives a *VersionError.
// The result never aliases b.
func UnmarshalRecord(b []byte) (Record, error) {
	return decodeRecord(b, 0)
}

// decodeRecord decodes b, and when want is not 0 also checks that the record
// holds index want (the key it was stored under). Errors name want when it is
// known, else the index the record claims.
func decodeRecord(b []byte, want uint64) (Record, error) {
	corrupt := func(index uint64, format string, args ...any) (Record, error) {
		if want != 0 {
			index = want
		}
		return Record{}, &CorruptError{Index: index, Reason: fmt.Sprintf(format, args...)}
	}
	if len(b) > MaxRecordBytes {
		return corrupt(0, "%d bytes, above the %d-byte record limit", len(b), MaxRecordBytes)
	}
	body, ok := verifyChecksum(b)
	if !ok {
		if len(b) < 1+checksumLen {
			return corrupt(0, "truncated: %d bytes", len(b))
		}
		return corrupt(0, "checksum mismatch over %d bytes (torn or corrupted value)", len(b))
	}
	d := decoder{b: body}
	version := d.byte("format version")
	if d.err == "" && version == 0 {
		return corrupt(0, "format version 0 is not valid")
	}
	if d.err == "" && version > RecordFormatVersion {
		idx := want
		if idx == 0 {
			// The checksum held, so the index right after the version byte is
			// what the writer stored; report it for orientation.
			idx, _ = binary.Uvarint(body[1:])
		}
		return Record{}, &VersionError{Index: idx, Version: version}
	}
	var r Record
	r.Index = d.uvarint("Index")
	r.Epoch = d.uvarint("Epoch")
	r.Kind = Kind(d.byte("Kind"))
	r.Timestamp = d.varint("Timestamp")
	r.CatalogHash = d.hash("CatalogHash")
	r.Transition = d.string("Transition")
	r.Inputs = d.bytes("Inputs")
	r.InputsHash = d.string("InputsHash")
	r.IdemKey = d.string("IdemKey")
	r.Signer = d.string("Signer")
	r.HLC = d.string("HLC")
	r.WindowID = d.string("WindowID")
	r.Evidence = d.strings("Evidence")
	r.Code = d.string("Code")
	r.Output = d.bytes("Output")
	r.Fuel = d.uvarint("Fuel")
	r.StateHash = d.hash("StateHash")
	r.Body = d.bytes("Body")
	if d.err != "" {
		return corrupt(r.Index, "%s", d.err)
	}
	if d.off != len(d.b) {
		return corrupt(r.Index, "%d unexpected bytes after the last field", len(d.b)-d.off)
	}
	if r.Index == 0 {
		return corrupt(0, "index 0 is not a valid index")
	}
	if r.Kind == 0 {
		return corrupt(r.Index, "kind 0 is not a record kind")
	}
	if want != 0 && r.Index != want {
		return corrupt(want, "stored under index %d but holds record %d", want, r.Index)
	}
	return r, nil
}

// verifyChecksum splits b into its body and checks the trailing CRC-32C.
func verifyChecksum(b []byte) ([]byte, bool) {
	if len(b) < 1+checksumLen {
		return nil, false
	}
	body := b[:len(b)-checksumLen]
	return body, binary.BigEndian.Uint32(b[len(body):]) == crc32.Checksum(body, castagnoli)
}

func appendChecksum(b []byte) []byte {
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func uvarintLen(v uint64) int {
	if v == 0 {
		return 1
	}
	return (bits.Len64(v) + 6) / 7
}

func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

func fieldLen(n int) int { return uvarintLen(uint64(n)) + n }

// decoder reads canonical fields from b. The first failure is kept in err and
// makes every later read a no-op, so a decode reads straight through and
// checks once.
type decoder struct {
	b   []byte
	off int
	err string
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == "" {
		d.err = fmt.Sprintf(format, args...)
	}
}

func (d *decoder) byte(field string) byte {
	if d.err != "" {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail("truncated in field %s", field)
		return 0
	}
	v := d.b[d.off]
	d.off++
	return v
}

func (d *decoder) uvarint(field string) uint64 {
	if d.err != "" {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	switch {
	case n == 0:
		d.fail("truncated in field %s", field)
		return 0
	case n < 0:
		d.fail("varint overflow in field %s", field)
		return 0
	case n != uvarintLen(v):
		d.fail("non-minimal varint in field %s", field)
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint(field string) int64 {
	u := d.uvarint(field)
	return int64(u>>1) ^ -int64(u&1)
}

func (d *decoder) hash(field string) [32]byte {
	var h [32]byte
	if d.err != "" {
		return h
	}
	if len(d.b)-d.off < len(h) {
		d.fail("truncated in field %s", field)
		return h
	}
	d.off += copy(h[:], d.b[d.off:])
	return h
}

// span returns the next length-prefixed field, aliasing d.b.
func (d *decoder) span(field string) []byte {
	n := d.uvarint(field)
	if d.err != "" {
		return nil
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail("field %s claims %d bytes but only %d remain", field, n, len(d.b)-d.off)
		return nil
	}
	v := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return v
}

func (d *decoder) string(field string) string { return string(d.span(field)) }

// bytes returns a copy of the next length-prefixed field; empty decodes as nil.
func (d *decoder) bytes(field string) []byte {
	v := d.span(field)
	if len(v) == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}

func (d *decoder) strings(field string) []string {
	n := d.uvarint(field + " count")
	if d.err != "" || n == 0 {
		return nil
	}
	// Every element takes at least its one-byte length, which bounds the
	// allocation by the input size whatever the count claims.
	if n > uint64(len(d.b)-d.off) {
		d.fail("field %s claims %d elements but only %d bytes remain", field, n, len(d.b)-d.off)
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.string(field)
	}
	if d.err != "" {
		return nil
	}
	return out
}
