package wasmbin

import (
	"errors"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/host/internal/wasmtest"
)

func TestParseErrors(t *testing.T) {
	typeSec := sec(SectionType, 0x01, 0x60, 0x00, 0x00)
	funcSec := sec(SectionFunction, 0x01, 0x00)
	codeSec := sec(SectionCode, 0x01, 0x02, 0x00, 0x0B)
	cases := []struct {
		name    string
		in      []byte
		want    error
		section string
		offset  int
		mention string
	}{
		{"empty", nil, ErrBadHeader, "header", 0, "shorter"},
		{"bad magic", []byte("\x00asn\x01\x00\x00\x00"), ErrBadHeader, "header", 0, "magic"},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), ErrBadHeader, "header", 4, "version"},
		{"truncated section size", append(rawModule(), 0x01, 0x80), ErrTruncated, "type section header", 9, "section size"},
		{"section past end", append(rawModule(), 0x01, 0x05, 0x01), ErrTruncated, "type section header", 8, "declares 5 bytes"},
		{"out of order", rawModule(typeSec, codeSec, funcSec), ErrSectionOrder, "function", 20, "after code"},
		{"duplicate", rawModule(typeSec, typeSec), ErrSectionOrder, "type", 14, "duplicate"},
		{"data count after code", rawModule(typeSec, funcSec, codeSec, sec(SectionDataCount, 0x00)), ErrSectionOrder, "data count", 24, "after code"},
		{"unknown section", rawModule(sec(13, 0x00)), ErrNotSupported, "unknown(13)", 8, "unknown section id 13"},
		{"absurd type count", rawModule(sec(SectionType, cat(uleb(0xFFFFFFFF), []byte{0x60, 0, 0})...)), ErrTruncated, "type", 10, "type count 4294967295"},
		{"absurd import count", rawModule(sec(SectionImport, cat(uleb(1<<28), []byte{0})...)), ErrTruncated, "import", 10, "import count"},
		{"absurd body size", rawModule(typeSec, funcSec, sec(SectionCode, cat([]byte{0x01}, uleb(1<<30), []byte{0x00, 0x0B})...)), ErrTruncated, "code", 21, "declares 1073741824 bytes"},
		{"absurd local groups", rawModule(typeSec, funcSec, sec(SectionCode, cat([]byte{0x01, 0x07}, uleb(1<<31), []byte{0x01, 0x7F, 0x0B})...)), ErrTruncated, "code", 22, "local group count"},
		{"too many locals", rawModule(typeSec, funcSec, sec(SectionCode, cat([]byte{0x01, 0x0A, 0x02}, uleb(0xFFFFFFFF), []byte{0x7F}, uleb(2), []byte{0x7E, 0x0B})...)), ErrMalformed, "code", 29, "2^32-1 locals"},
		{"body without end", rawModule(typeSec, funcSec, sec(SectionCode, 0x01, 0x02, 0x00, 0x01)), ErrMalformed, "code", 24, "does not finish with end"},
		{"shared memory", rawModule(sec(SectionMemory, 0x01, 0x03, 0x01, 0x01)), ErrNotSupported, "memory", 11, "shared memory"},
		{"memory64", rawModule(sec(SectionMemory, 0x01, 0x04, 0x01)), ErrNotSupported, "memory", 11, "64-bit memory"},
		{"bad value type", rawModule(sec(SectionType, 0x01, 0x60, 0x01, 0x55, 0x00)), ErrMalformed, "type", 13, "0x55 is not a value type"},
		{"bad type form", rawModule(sec(SectionType, 0x01, 0x5F, 0x00, 0x00)), ErrMalformed, "type", 11, "form 0x5f"},
		{"tag import", rawModule(sec(SectionImport, 0x01, 0x01, 'a', 0x01, 'b', 0x04, 0x00, 0x00)), ErrNotSupported, "import", 15, "kind 0x04"},
		{"invalid utf-8 name", rawModule(sec(SectionExport, 0x01, 0x01, 0xFF, 0x00, 0x00)), ErrMalformed, "export", 11, "UTF-8"},
		{"trailing bytes in section", rawModule(sec(SectionType, 0x00, 0x00)), ErrMalformed, "type", 11, "unexpected bytes"},
		{"global without end", rawModule(sec(SectionGlobal, 0x01, 0x7F, 0x00, 0x41, 0x00)), ErrTruncated, "global", 15, "has no end"},
		{"SIMD in global init", rawModule(sec(SectionGlobal, 0x01, 0x7B, 0x00, 0xFD, 0x0C, 0x0B)), ErrMalformed, "global", 13, "SIMD"},
		{"type index out of range", rawModule(typeSec, sec(SectionFunction, 0x01, 0x05), codeSec), ErrMalformed, "function", 16, "type index 5"},
		{"missing code", rawModule(typeSec, funcSec), ErrMalformed, "function", 16, "1 functions but code section has 0"},
		{"export out of range", rawModule(sec(SectionExport, 0x01, 0x01, 'f', 0x00, 0x03)), ErrMalformed, "export", 10, "func 3"},
		{"start out of range", rawModule(sec(SectionStart, 0x00)), ErrMalformed, "start", 10, "start function 0"},
		{"data count mismatch", rawModule(sec(SectionDataCount, 0x02), sec(SectionData, 0x01, 0x01, 0x00)), ErrMalformed, "data count", 10, "data section has 1"},
	}
	for _, c := range cases {
		m, err := Parse(c.in)
		if err == nil {
			t.Errorf("%s: parsed without error: %+v", c.name, m)
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%s: %T is not a *ParseError: %v", c.name, err, err)
			continue
		}
		if !errors.Is(err, c.want) || pe.Section != c.section || pe.Offset != c.offset || !strings.Contains(err.Error(), c.mention) {
			t.Errorf("%s: got %q (section %q, offset %d), want %v in section %q at %d mentioning %q",
				c.name, err, pe.Section, pe.Offset, c.want, c.section, c.offset, c.mention)
		}
		if !strings.Contains(err.Error(), "byte offset") {
			t.Errorf("%s: error %q does not state the byte offset", c.name, err)
		}
	}
}

func TestParseTruncatedGoModule(t *testing.T) {
	wasm := goGuest(t)
	for _, cut := range []int{3, 9, 200, len(wasm) / 3, len(wasm) / 2, len(wasm) - 1} {
		_, err := Parse(wasm[:cut])
		if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrBadHeader) {
			t.Errorf("cut at %d of %d: got %v, want a truncation error", cut, len(wasm), err)
		}
	}
}

func TestParseDoesNotAliasInput(t *testing.T) {
	in := sampleModule().Encode()
	m, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 0xAA
	}
	if m.Code[2].Code[0] != 0x41 || m.Customs[0].Data[0] != 1 {
		t.Fatal("the parsed module changed when its input was overwritten")
	}
	// Appending to one body must not overwrite the next.
	m.Code[0].Code = append(m.Code[0].Code, 0x01)
	if m.Code[1].Code[0] != 0x0B {
		t.Fatal("appending to a body overwrote the following body")
	}
}

func TestParseEmptyModule(t *testing.T) {
	m, err := Parse(rawModule())
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Encode(); string(got) != string(rawModule()) {
		t.Fatalf("empty module encodes as % x", got)
	}
}

// TestSampleModuleValidates runs wasm-validate (from wabt) on the encoding of
// the sample module when the tool is installed.
func TestSampleModuleValidates(t *testing.T) {
	wasmtest.Validate(t, sampleModule().Encode(), "the sample module's encoding")
}
