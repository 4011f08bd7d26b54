package abi

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The binary encodings below are deliberately simple: a format byte, then
// uvarints and length-prefixed byte strings in a fixed order. They are cheap
// to produce and parse inside a wasm guest, where reflection-based codecs
// cost microseconds per call.

const (
	formatProposal byte = 1
	formatResult   byte = 1
	formatState    byte = 1
	formatImport   byte = 1
)

// Proposal is one transition as submitted, plus what the host decided about
// it before applying it (its index and timestamp). Everything a guard may
// consult arrives here, so replaying a record never asks the outside world.
type Proposal struct {
	Transition string
	Inputs     []byte // canonical JSON object, or empty
	Index      uint64 // WAL index the record will have if accepted
	Timestamp  int64  // unix nanoseconds assigned by the primary
	Signer     string
	HLC        string
	WindowID   string
	IdemKey    string
	InputsHash string
	Evidence   []string
}

// Change is one entry of a delta: a state entry set to a canonical JSON
// value, or deleted. Value fields use the empty key.
type Change struct {
	Field   string
	Key     string
	Value   []byte
	Deleted bool
}

// Result is the guest's verdict on a proposal, or on a state import.
type Result struct {
	Code   Code
	Detail string   // human-readable detail; Code.Message() is the stable text
	Output []byte   // optional canonical JSON the transition returned
	Delta  []Change // sorted by field, then key; empty when rejected
}

// Accepted reports whether the proposal was applied.
func (r *Result) Accepted() bool { return r.Code == OK }

// Entry is one state entry in an export. Value fields use the empty key.
type Entry struct {
	Field string
	Key   string
	Value []byte
}

// CatalogRef names a catalog version.
type CatalogRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

func (c CatalogRef) String() string { return c.Name + "@" + c.Version }

// ImportRequest hands a whole state to a module. From names the catalog
// that produced the entries: when it is another version or another catalog,
// the module migrates the entries or refuses them.
type ImportRequest struct {
	From    CatalogRef
	Entries []Entry
}

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed encoding")

// AppendProposal appends the encoding of p to dst.
func AppendProposal(dst []byte, p *Proposal) []byte {
	dst = append(dst, formatProposal)
	dst = appendString(dst, p.Transition)
	dst = appendBytes(dst, p.Inputs)
	dst = binary.AppendUvarint(dst, p.Index)
	dst = binary.AppendVarint(dst, p.Timestamp)
	dst = appendString(dst, p.Signer)
	dst = appendString(dst, p.HLC)
	dst = appendString(dst, p.WindowID)
	dst = appendString(dst, p.IdemKey)
	dst = appendString(dst, p.InputsHash)
	dst = binary.AppendUvarint(dst, uint64(len(p.Evidence)))
	for _, e := range p.Evidence {
		dst = appendString(dst, e)
	}
	return dst
}

// DecodeProposal decodes what AppendProposal wrote. Byte slices in the
// result alias b.
func DecodeProposal(b []byte) (Proposal, error) {
	var p Proposal
	d := decoder{b: b, what: "proposal"}
	d.format(formatProposal)
	p.Transition = d.string()
	p.Inputs = d.bytes()
	p.Index = d.uvarint()
	p.Timestamp = d.varint()
	p.Signer = d.string()
	p.HLC = d.string()
	p.WindowID = d.string()
	p.IdemKey = d.string()
	p.InputsHash = d.string()
	if n := d.count(); n > 0 {
		p.Evidence = make([]string, n)
		for i := range p.Evidence {
			p.Evidence[i] = d.string()
		}
	}
	return p, d.finish()
}

// AppendResult appends the encoding of r to dst.
func AppendResult(dst []byte, r *Result) []byte {
	dst = append(dst, formatResult)
	dst = binary.AppendUvarint(dst, uint64(r.Code))
	dst = appendString(dst, r.Detail)
	dst = appendBytes(dst, r.Output)
	dst = binary.AppendUvarint(dst, uint64(len(r.Delta)))
	for i := range r.Delta {
		c := &r.Delta[i]
		if c.Deleted {
			dst = append(dst, 0)
			dst = appendString(dst, c.Field)
			dst = appendString(dst, c.Key)
			continue
		}
		dst = append(dst, 1)
		dst = appendString(dst, c.Field)
		dst = appendString(dst, c.Key)
		dst = appendBytes(dst, c.Value)
	}
	return dst
}

// DecodeResult decodes what AppendResult wrote and checks that the delta is
// strictly sorted by (field, key). Byte slices alias b.
func DecodeResult(b []byte) (Result, error) {
	var r Result
	d := decoder{b: b, what: "result"}
	d.format(formatResult)
	code := d.uvarint()
	if code > 0xFFFF {
		d.fail("code %d out of range", code)
	}
	r.Code = Code(code)
	r.Detail = d.string()
	r.Output = d.bytes()
	if n := d.count(); n > 0 {
		r.Delta = make([]Change, n)
		for i := range r.Delta {
			c := &r.Delta[i]
			switch op := d.byte(); op {
			case 0:
				c.Deleted = true
				c.Field, c.Key = d.string(), d.string()
			case 1:
				c.Field, c.Key = d.string(), d.string()
				c.Value = d.bytes()
			default:
				d.fail("change %d: unknown operation %d", i, op)
			}
			if i > 0 && d.err == nil && !entryLess(r.Delta[i-1].Field, r.Delta[i-1].Key, c.Field, c.Key) {
				d.fail("change %d (%s/%q) is out of order", i, c.Field, c.Key)
			}
		}
	}
	return r, d.finish()
}

// AppendState appends the encoding of a whole state. Entries must be sorted
// by field, then key.
func AppendState(dst []byte, entries []Entry) []byte {
	dst = append(dst, formatState)
	dst = binary.AppendUvarint(dst, uint64(len(entries)))
	for i := range entries {
		dst = appendString(dst, entries[i].Field)
		dst = appendString(dst, entries[i].Key)
		dst = appendBytes(dst, entries[i].Value)
	}
	return dst
}

// DecodeState decodes what AppendState wrote and checks the order. Byte
// slices alias b.
func DecodeState(b []byte) ([]Entry, error) {
	d := decoder{b: b, what: "state"}
	d.format(formatState)
	entries := d.entries()
	return entries, d.finish()
}

// AppendImport appends the encoding of an import request.
func AppendImport(dst []byte, req *ImportRequest) []byte {
	dst = append(dst, formatImport)
	dst = appendString(dst, req.From.Name)
	dst = appendString(dst, req.From.Version)
	return AppendState(dst, req.Entries)
}

// DecodeImport decodes what AppendImport wrote. Byte slices alias b.
func DecodeImport(b []byte) (ImportRequest, error) {
	var req ImportRequest
	d := decoder{b: b, what: "import request"}
	d.format(formatImport)
	req.From.Name = d.string()
	req.From.Version = d.string()
	d.format(formatState)
	req.Entries = d.entries()
	return req, d.finish()
}

// CompareEntry orders state entries: by field, then by key.
func CompareEntry(af, ak, bf, bk string) int {
	switch {
	case af < bf:
		return -1
	case af > bf:
		return 1
	case ak < bk:
		return -1
	case ak > bk:
		return 1
	}
	return 0
}

func entryLess(af, ak, bf, bk string) bool { return CompareEntry(af, ak, bf, bk) < 0 }

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBytes(dst []byte, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// decoder reads the encodings above; the first error sticks and every
// later read returns a zero value, so callers check once at the end.
type decoder struct {
	b    []byte
	off  int
	what string
	err  error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d: %s", ErrMalformed, d.what, d.off, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) format(want byte) {
	if got := d.byte(); d.err == nil && got != want {
		d.fail("format %d, want %d", got, want)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail("unexpected end")
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

// count reads an element count and refuses one that cannot fit in what is
// left (each element takes at least one byte), so hostile input cannot make
// the decoder allocate more than the input's size.
func (d *decoder) count() int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)-d.off) {
		d.fail("count %d exceeds remaining %d bytes", n, len(d.b)-d.off)
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail("length %d exceeds remaining %d bytes", n, len(d.b)-d.off)
		return nil
	}
	if n == 0 {
		return nil
	}
	v := d.b[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return v
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) entries() []Entry {
	n := d.count()
	if n == 0 {
		return nil
	}
	entries := make([]Entry, n)
	for i := range entries {
		e := &entries[i]
		e.Field, e.Key, e.Value = d.string(), d.string(), d.bytes()
		if i > 0 && d.err == nil && !entryLess(entries[i-1].Field, entries[i-1].Key, e.Field, e.Key) {
			d.fail("entry %d (%s/%q) is out of order", i, e.Field, e.Key)
		}
	}
	return entries
}

func (d *decoder) finish() error {
	if d.err == nil && d.off != len(d.b) {
		d.fail("%d trailing bytes", len(d.b)-d.off)
	}
	return d.err
}
