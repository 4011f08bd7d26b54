package snapshot

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// On-disk layout (all integers big-endian):
//
//	offset        size     field
//	0             8        magic "REPRSNAP"
//	8             2        format version (1)
//	10            4        length M of the encoded Meta
//	14            M        encoded Meta (see encodeMeta)
//	14+M          4        CRC-32C of bytes [0, 14+M)
//	18+M          P        payload
//	18+M+P        8        payload length P
//	26+M+P        32       SHA-256 of bytes [0, 26+M+P)
//
// The header CRC lets List check a header without reading the payload; the
// payload length in the trailer lets it spot a truncated file from its size.
// Only the SHA-256 covers the payload.

// FormatVersion is the snapshot file format this package writes and reads.
const FormatVersion = 1

// MaxExtraSize bounds Meta.Extra, so a corrupt length field can never make a
// reader allocate more than this.
const MaxExtraSize = 1 << 20

var fileMagic = [8]byte{'R', 'E', 'P', 'R', 'S', 'N', 'A', 'P'}

const (
	prefixLen    = 8 + 2 + 4                   // magic, version, metadata length
	fixedMetaLen = 8 + 8 + 32 + 32 + 8 + 8 + 4 // Index, Epoch, CatalogHash, StateHash, Entries, CreatedUnix, len(Extra)
	headerCRCLen = 4
	trailerLen   = 8 + sha256.Size
	minFileLen   = prefixLen + fixedMetaLen + headerCRCLen + trailerLen
	maxMetaLen   = fixedMetaLen + MaxExtraSize
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Meta describes the state a snapshot holds.
type Meta struct {
	Index       uint64   // WAL index the state is at
	Epoch       uint64   // epoch of the record at Index
	CatalogHash [32]byte // catalog active at Index
	StateHash   [32]byte // the state hash at Index, as recorded in the WAL
	Entries     uint64   // number of state entries in the payload (informational)
	CreatedUnix int64    // informational only, never part of any comparison
	Extra       []byte   // host-defined metadata, at most MaxExtraSize bytes; nil and empty are the same
}

// mismatches lists, in a fixed order, every field other than CreatedUnix in
// which got differs from want.
func mismatches(got, want Meta) []string {
	var diffs []string
	if got.Index != want.Index {
		diffs = append(diffs, fmt.Sprintf("index %d, expected %d", got.Index, want.Index))
	}
	if got.Epoch != want.Epoch {
		diffs = append(diffs, fmt.Sprintf("epoch %d, expected %d", got.Epoch, want.Epoch))
	}
	if got.CatalogHash != want.CatalogHash {
		diffs = append(diffs, fmt.Sprintf("catalog hash %x, expected %x", got.CatalogHash, want.CatalogHash))
	}
	if got.StateHash != want.StateHash {
		diffs = append(diffs, fmt.Sprintf("state hash %x, expected %x", got.StateHash, want.StateHash))
	}
	if got.Entries != want.Entries {
		diffs = append(diffs, fmt.Sprintf("entries %d, expected %d", got.Entries, want.Entries))
	}
	if !bytes.Equal(got.Extra, want.Extra) {
		diffs = append(diffs, fmt.Sprintf("extra metadata of %d bytes differs from the expected %d bytes", len(got.Extra), len(want.Extra)))
	}
	return diffs
}

// encodeHeader returns the complete header (magic through header CRC) for meta.
func encodeHeader(meta Meta) ([]byte, error) {
	if len(meta.Extra) > MaxExtraSize {
		return nil, fmt.Errorf("snapshot: extra metadata is %d bytes, more than the limit of %d", len(meta.Extra), MaxExtraSize)
	}
	metaLen := fixedMetaLen + len(meta.Extra)
	buf := make([]byte, 0, prefixLen+metaLen+headerCRCLen)
	buf = append(buf, fileMagic[:]...)
	buf = binary.BigEndian.AppendUint16(buf, FormatVersion)
	buf = binary.BigEndian.AppendUint32(buf, uint32(metaLen))
	buf = binary.BigEndian.AppendUint64(buf, meta.Index)
	buf = binary.BigEndian.AppendUint64(buf, meta.Epoch)
	buf = append(buf, meta.CatalogHash[:]...)
	buf = append(buf, meta.StateHash[:]...)
	buf = binary.BigEndian.AppendUint64(buf, meta.Entries)
	buf = binary.BigEndian.AppendUint64(buf, uint64(meta.CreatedUnix))
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(meta.Extra)))
	buf = append(buf, meta.Extra...)
	return binary.BigEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli)), nil
}

// readHeader reads and checks a header from r and returns the decoded Meta
// and the raw header bytes. Every failure wraps ErrCorrupt; source names the
// file or stream in the message.
func readHeader(r io.Reader, source string) (Meta, []byte, error) {
	prefix := make([]byte, prefixLen)
	if _, err := io.ReadFull(r, prefix); err != nil {
		return Meta{}, nil, readErr(source, "header", err)
	}
	if !bytes.Equal(prefix[:len(fileMagic)], fileMagic[:]) {
		return Meta{}, nil, corruptf(source, "not a snapshot: magic is %q, expected %q", prefix[:len(fileMagic)], fileMagic[:])
	}
	if v := binary.BigEndian.Uint16(prefix[8:10]); v != FormatVersion {
		return Meta{}, nil, corruptf(source, "format version %d is not supported (this build reads version %d)", v, FormatVersion)
	}
	metaLen := binary.BigEndian.Uint32(prefix[10:14])
	if metaLen < fixedMetaLen || metaLen > maxMetaLen {
		return Meta{}, nil, corruptf(source, "header says its metadata is %d bytes, outside the valid range [%d, %d]", metaLen, fixedMetaLen, maxMetaLen)
	}
	raw := make([]byte, prefixLen+int(metaLen)+headerCRCLen)
	copy(raw, prefix)
	if _, err := io.ReadFull(r, raw[prefixLen:]); err != nil {
		return Meta{}, nil, readErr(source, "header metadata", err)
	}
	body, stored := raw[:len(raw)-headerCRCLen], binary.BigEndian.Uint32(raw[len(raw)-headerCRCLen:])
	if computed := crc32.Checksum(body, castagnoli); computed != stored {
		return Meta{}, nil, corruptf(source, "header checksum mismatch (stored %08x, computed %08x)", stored, computed)
	}
	meta, err := decodeMeta(body[prefixLen:])
	if err != nil {
		return Meta{}, nil, corruptf(source, "%v", err)
	}
	return meta, raw, nil
}

func decodeMeta(b []byte) (Meta, error) {
	var m Meta
	m.Index = binary.BigEndian.Uint64(b[0:8])
	m.Epoch = binary.BigEndian.Uint64(b[8:16])
	copy(m.CatalogHash[:], b[16:48])
	copy(m.StateHash[:], b[48:80])
	m.Entries = binary.BigEndian.Uint64(b[80:88])
	m.CreatedUnix = int64(binary.BigEndian.Uint64(b[88:96]))
	extraLen := binary.BigEndian.Uint32(b[96:100])
	if int64(extraLen) != int64(len(b)-fixedMetaLen) {
		return Meta{}, fmt.Errorf("header says extra metadata is %d bytes but %d remain", extraLen, len(b)-fixedMetaLen)
	}
	if extraLen > 0 {
		m.Extra = bytes.Clone(b[fixedMetaLen:])
	}
	return m, nil
}

// layout is where the parts of a structurally checked snapshot file lie.
type layout struct {
	meta       Meta
	headerLen  int64
	payloadLen int64
}

// checkStructure reads the header and the payload length of a snapshot file
// of the given size and checks that they agree with each other, with the
// size, and with the index in the file's name (nameIndex; nil when the name
// carries none). It does not read the payload.
func checkStructure(f io.ReaderAt, size int64, nameIndex *uint64, path string) (layout, error) {
	if size < minFileLen {
		return layout{}, corruptf(path, "file is %d bytes, shorter than the smallest valid snapshot (%d bytes)", size, minFileLen)
	}
	meta, raw, err := readHeader(io.NewSectionReader(f, 0, size), path)
	if err != nil {
		return layout{}, err
	}
	if nameIndex != nil && meta.Index != *nameIndex {
		return layout{}, corruptf(path, "header says index %d but the file name says %d", meta.Index, *nameIndex)
	}
	headerLen := int64(len(raw))
	if headerLen+trailerLen > size {
		return layout{}, corruptf(path, "file is %d bytes, too short for its %d-byte header and the trailer", size, headerLen)
	}
	var lenBuf [8]byte
	if _, err := f.ReadAt(lenBuf[:], size-trailerLen); err != nil {
		return layout{}, fmt.Errorf("snapshot: reading trailer of %s: %w", path, err)
	}
	payloadLen := binary.BigEndian.Uint64(lenBuf[:])
	if want := size - headerLen - trailerLen; payloadLen != uint64(want) {
		return layout{}, corruptf(path, "trailer says the payload is %d bytes but the file holds %d (truncated or extended)", payloadLen, want)
	}
	return layout{meta: meta, headerLen: headerLen, payloadLen: int64(payloadLen)}, nil
}

// verifyFile runs checkStructure and then hashes the whole file against its
// trailer. It reads every byte once.
func verifyFile(f io.ReaderAt, size int64, nameIndex *uint64, path string) (layout, error) {
	lay, err := checkStructure(f, size, nameIndex, path)
	if err != nil {
		return layout{}, err
	}
	sum := sha256.New()
	buf := make([]byte, copyBufferSize)
	if _, err := io.CopyBuffer(sum, io.NewSectionReader(f, 0, size-sha256.Size), buf); err != nil {
		return layout{}, fmt.Errorf("snapshot: reading %s to verify it: %w", path, err)
	}
	var stored [sha256.Size]byte
	if _, err := f.ReadAt(stored[:], size-sha256.Size); err != nil {
		return layout{}, fmt.Errorf("snapshot: reading checksum of %s: %w", path, err)
	}
	var computed [sha256.Size]byte
	sum.Sum(computed[:0])
	if computed != stored {
		return layout{}, corruptf(path, "checksum mismatch (stored %x, content hashes to %x)", stored, computed)
	}
	return lay, nil
}

func corruptf(source, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrCorrupt, source, fmt.Sprintf(format, args...))
}

// readErr reports a failed read of part: running out of bytes means the
// snapshot is truncated (corrupt); any other error is the source's own.
func readErr(source, part string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return corruptf(source, "truncated inside the %s", part)
	}
	return fmt.Errorf("snapshot: reading the %s of %s: %w", part, source, err)
}
