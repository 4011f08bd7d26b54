package wal

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// fullRecord sets every field of Record to a value distinct from its zero
// value, including the ones sampleRecord leaves empty.
func fullRecord(i uint64) Record {
	r := sampleRecord(i)
	r.Kind = KindActivation
	r.Epoch = 1 << 40
	r.Timestamp = -1_234_567_890 // negative: exercises the zigzag encoding
	r.Code = "REJECTED_GUARD"
	r.Fuel = 1<<63 + 5
	r.Body = []byte{0, 1, 2, 0xff}
	r.Evidence = []string{"a", "", "ucxl://proof/ünï"}
	return r
}

func TestRecordRoundTripEveryField(t *testing.T) {
	want := fullRecord(42)
	// Make sure no field was left at its zero value, so a field the codec
	// forgot would show.
	v := reflect.ValueOf(want)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("fullRecord leaves field %s zero", v.Type().Field(i).Name)
		}
	}
	enc, err := want.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary: %v", err)
	}
	if enc[0] != RecordFormatVersion {
		t.Fatalf("first byte = %d, want format version %d", enc[0], RecordFormatVersion)
	}
	if len(enc) != want.encodedSize() {
		t.Fatalf("encoded %d bytes, encodedSize says %d", len(enc), want.encodedSize())
	}
	got, err := UnmarshalRecord(enc)
	if err != nil {
		t.Fatalf("UnmarshalRecord: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	// The decoded record must not alias the input.
	for i := range enc {
		enc[i] = 0
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatal("decoded record changed when its input bytes were overwritten")
	}
}

func TestRecordEmptyAndNilFieldsAreAlike(t *testing.T) {
	a := Record{Index: 1, Kind: KindTransition, Inputs: []byte{}, Output: []byte{}, Body: []byte{}, Evidence: []string{}}
	b := Record{Index: 1, Kind: KindTransition}
	ea, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	eb, err := b.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ea, eb) {
		t.Fatalf("empty and nil fields encode differently: %x vs %x", ea, eb)
	}
	got, err := UnmarshalRecord(ea)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, b) {
		t.Fatalf("decoded %+v, want %+v (empty fields as nil)", got, b)
	}
}

// TestRecordFormatVersion1Golden pins the bytes of format version 1: a change
// here breaks every stored log and every replica, so it must be a new version.
func TestRecordFormatVersion1Golden(t *testing.T) {
	r := Record{
		Index:       300,
		Epoch:       2,
		Kind:        KindTransition,
		Timestamp:   -3,
		CatalogHash: [32]byte{0: 0xAA, 31: 0xBB},
		Transition:  "T",
		Inputs:      []byte("{}"),
		InputsHash:  "h",
		IdemKey:     "k",
		Signer:      "s",
		HLC:         "c",
		WindowID:    "w",
		Evidence:    []string{"e1", "e2"},
		Code:        "X",
		Output:      []byte{7},
		Fuel:        128,
		StateHash:   [32]byte{0: 0xCC, 31: 0xDD},
		Body:        []byte{9},
	}
	want := "01" + // version
		"ac02" + // Index 300
		"02" + // Epoch
		"01" + // Kind
		"05" + // Timestamp -3 zigzag
		"aa" + strings.Repeat("00", 30) + "bb" + // CatalogHash
		"0154" + // Transition "T"
		"027b7d" + // Inputs "{}"
		"0168" + "016b" + "0173" + "0163" + "0177" + // InputsHash, IdemKey, Signer, HLC, WindowID
		"02" + "026531" + "026532" + // Evidence
		"0158" + // Code "X"
		"0107" + // Output
		"8001" + // Fuel 128
		"cc" + strings.Repeat("00", 30) + "dd" + // StateHash
		"0109" // Body
	enc, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	body := hex.EncodeToString(enc[:len(enc)-checksumLen])
	if body != want {
		t.Fatalf("format version 1 encoding changed:\n got %s\nwant %s", body, want)
	}
	if got := hex.EncodeToString(enc[len(enc)-checksumLen:]); got != "e86430de" {
		t.Fatalf("checksum = %s, want e86430de (CRC-32C, big-endian)", got)
	}
}

func TestMarshalRefusesRecordsTheLogCannotHold(t *testing.T) {
	cases := map[string]Record{
		"index 0": {Kind: KindTransition},
		"kind 0":  {Index: 1},
		"too big": {Index: 1, Kind: KindActivation, Body: make([]byte, MaxRecordBytes)},
	}
	for name, r := range cases {
		if _, err := r.MarshalBinary(); err == nil {
			t.Errorf("%s: MarshalBinary succeeded", name)
		}
	}
}

func TestUnmarshalDetectsEveryFlippedByte(t *testing.T) {
	r := fullRecord(7)
	enc, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for i := range enc {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(enc)
			bad[i] ^= mask
			_, err := UnmarshalRecord(bad)
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("byte %d ^ %#x: error = %v, want *CorruptError", i, mask, err)
			}
		}
	}
}

func TestUnmarshalDetectsEveryTruncation(t *testing.T) {
	r := fullRecord(7)
	enc, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(enc) {
		_, err := UnmarshalRecord(enc[:n])
		var ce *CorruptError
		if !errors.As(err, &ce) {
			t.Fatalf("first %d of %d bytes: error = %v, want *CorruptError", n, len(enc), err)
		}
	}
}

// resealed replaces b's checksum with a valid one, so a test can reach the
// checks that run after the checksum.
func resealed(body []byte) []byte { return appendChecksum(bytes.Clone(body)) }

func TestUnmarshalRefusesNonCanonicalBytes(t *testing.T) {
	enc, err := (&Record{Index: 5, Kind: KindTransition}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	body := enc[:len(enc)-checksumLen]
	cases := map[string][]byte{
		// Index 5 written as a two-byte varint.
		"non-minimal varint": append([]byte{1, 0x85, 0x00}, body[2:]...),
		"trailing bytes":     append(bytes.Clone(body), 0),
		"format version 0":   append([]byte{0}, body[1:]...),
		"index 0":            append([]byte{1, 0}, body[2:]...),
		"kind 0":             append([]byte{1, 5, 1, 0}, body[4:]...),
		"length past end":    append(bytes.Clone(body[:len(body)-1]), 0x05),
		"evidence count":     append(bytes.Clone(body[:1+1+1+1+1+32+7]), 0xff, 0xff, 0x03),
	}
	for name, b := range cases {
		_, err := UnmarshalRecord(resealed(b))
		var ce *CorruptError
		if !errors.As(err, &ce) {
			t.Errorf("%s: error = %v, want *CorruptError", name, err)
		}
	}
}

func TestUnmarshalNewerFormatIsAVersionError(t *testing.T) {
	enc, err := (&Record{Index: 9, Kind: KindTransition}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Clone(enc[:len(enc)-checksumLen])
	body[0] = RecordFormatVersion + 1
	body = append(body, 0x01, 0x02) // a field this build does not know
	_, err = UnmarshalRecord(resealed(body))
	var ve *VersionError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v, want *VersionError", err)
	}
	if ve.Index != 9 || ve.Version != RecordFormatVersion+1 {
		t.Fatalf("VersionError = %+v, want index 9, version %d", ve, RecordFormatVersion+1)
	}
	var ce *CorruptError
	if errors.As(err, &ce) {
		t.Fatal("a newer format version was reported as corruption")
	}
}

func TestDecodeChecksIndexAgainstKey(t *testing.T) {
	r := sampleRecord(3)
	enc, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	_, err = decodeRecord(enc, 4)
	ce := wantCorrupt(t, err, 4)
	if !strings.Contains(ce.Reason, "holds record 3") {
		t.Fatalf("reason %q does not say which record it holds", ce.Reason)
	}
	if _, err := decodeRecord(enc, 3); err != nil {
		t.Fatalf("decode under its own index: %v", err)
	}
}

func TestCorruptErrorNamesTheIndex(t *testing.T) {
	r := sampleRecord(12)
	enc, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	enc[len(enc)/2] ^= 1
	_, err = decodeRecord(enc, 12)
	wantCorrupt(t, err, 12)
	if !strings.Contains(err.Error(), "record 12") {
		t.Fatalf("error %q does not name index 12", err)
	}
}

func TestUvarintLenMatchesEncoding(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 16383, 16384, 1<<56 - 1, 1 << 56, 1<<63 - 1, 1 << 63, ^uint64(0)} {
		if got, want := uvarintLen(v), len(binary.AppendUvarint(nil, v)); got != want {
			t.Errorf("uvarintLen(%d) = %d, encoding has %d bytes", v, got, want)
		}
	}
}
