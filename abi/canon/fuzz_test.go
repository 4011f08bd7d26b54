package canon

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"testing"
	"unicode/utf8"
)

// referenceAccepts decides, with encoding/json and independent checks,
// whether Canonicalize must accept data. canon accepts exactly what
// encoding/json accepts except for the stricter rules it documents:
// duplicate keys, nesting deeper than 512, invalid UTF-8, lone surrogate
// escapes and non-integer numbers beyond the float64 range.
func referenceAccepts(data []byte) (bool, string) {
	if !json.Valid(data) {
		return false, "encoding/json rejects it"
	}
	// Outside strings valid JSON is ASCII, so this checks string contents.
	if !utf8.Valid(data) {
		return false, "invalid UTF-8"
	}
	if hasLoneSurrogate(data) {
		return false, "lone surrogate"
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		object bool
		keys   map[string]bool
		expect bool // object: next string token is a key
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return true, ""
		}
		if err != nil {
			return false, "token error: " + err.Error()
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		isKey := top != nil && top.object && top.expect
		if top != nil && top.object {
			top.expect = !top.expect
		}
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{', '[':
				stack = append(stack, frame{object: tok == '{', keys: map[string]bool{}, expect: true})
				if len(stack) > maxDepth {
					return false, "too deep"
				}
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].expect = true
				}
			}
		case string:
			if isKey {
				if top.keys[tok] {
					return false, "duplicate key"
				}
				top.keys[tok] = true
			}
		case json.Number:
			if _, err := tok.Int64(); err != nil {
				if _, err := strconv.ParseFloat(string(tok), 64); err != nil && !isIntegerLiteral(string(tok)) {
					return false, "float out of range"
				}
			}
		}
	}
}

func isIntegerLiteral(s string) bool {
	end, isInt, ok := scanNumberAt(s, 0)
	return ok && isInt && end == len(s)
}

// hasLoneSurrogate looks for \uD800-\uDFFF escapes not forming a pair. In
// valid JSON a backslash only starts an escape inside a string.
func hasLoneSurrogate(data []byte) bool {
	hexAt := func(i int) int {
		n, err := strconv.ParseUint(string(data[i:i+4]), 16, 16)
		if err != nil {
			return -1
		}
		return int(n)
	}
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		if data[i+1] != 'u' {
			i++
			continue
		}
		r := hexAt(i + 2)
		switch {
		case r >= 0xd800 && r < 0xdc00:
			if i+12 <= len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
				if lo := hexAt(i + 8); lo >= 0xdc00 && lo < 0xe000 {
					i += 11
					continue
				}
			}
			return true
		case r >= 0xdc00 && r < 0xe000:
			return true
		}
		i += 5
	}
	return false
}

func FuzzCanonicalize(f *testing.F) {
	for _, s := range []string{
		`{"b":1,"a":[1.0,-0,1e21,"\u00e9"]}`, `[]`, `"\ud834\udd1e"`, `{"a":1,"a":2}`,
		`123456789012345678901234567890`, `1e400`, `[[[[]]]]`, `{"\u0022":{"#":null}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := Canonicalize(data)
		want, why := referenceAccepts(data)
		if (err == nil) != want {
			t.Fatalf("Canonicalize(%q): err = %v, but the reference says accept=%v (%s)", data, err, want, why)
		}
		if Valid(data) != (err == nil) {
			t.Fatalf("Valid(%q) disagrees with Canonicalize error %v", data, err)
		}
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not *Error", err)
			}
			return
		}
		again, err := Canonicalize(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", data, out, again, err)
		}
		var before, after any
		errBefore := json.Unmarshal(data, &before)
		errAfter := json.Unmarshal(out, &after)
		if (errBefore == nil) != (errAfter == nil) {
			t.Fatalf("encoding/json reads %q with %v but its canonical form %q with %v", data, errBefore, out, errAfter)
		}
		if errBefore == nil && !reflect.DeepEqual(before, after) {
			t.Fatalf("canonical form changed the value: %q -> %q\n%#v\n%#v", data, out, before, after)
		}
	})
}

type RoundTripEmbedded struct {
	Note string `json:"note"`
}

type roundTripInner struct {
	X int8    `json:"x"`
	Y float32 `json:"y,omitempty"`
	Z []byte  `json:"z"`
}

// roundTripRecord has a field of every supported kind.
type roundTripRecord struct {
	*RoundTripEmbedded
	B     bool                      `json:"b"`
	I     int                       `json:"i"`
	I8    int8                      `json:"i8"`
	I16   int16                     `json:"i16,omitempty"`
	I32   int32                     `json:"i32"`
	I64   int64                     `json:"i64"`
	U     uint                      `json:"u"`
	U8    uint8                     `json:"u8"`
	U16   uint16                    `json:"u16"`
	U32   uint32                    `json:"u32,omitzero"`
	U64   uint64                    `json:"u64"`
	F32   float32                   `json:"f32"`
	F64   float64                   `json:"f64"`
	S     string                    `json:"s"`
	Bytes []byte                    `json:"bytes"`
	Arr   [2]uint8                  `json:"arr"`
	Strs  []string                  `json:"strs"`
	M     map[string]roundTripInner `json:"m"`
	MI    map[int32]bool            `json:"mi"`
	MU    map[uint64][]int          `json:"mu"`
	P     *string                   `json:"p"`
	PP    **int64                   `json:"pp"`
	A     any                       `json:"a"`
	N     Number                    `json:"n,omitempty"`
	R     Raw                       `json:"r,omitempty"`
	In    roundTripInner            `json:"in"`
	Next  *roundTripRecord          `json:"next,omitempty"`
}

func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{
		`{"b":true,"i":-1,"f32":0.1,"f64":1e-7,"s":"\u00e9\n","bytes":"AAE=","arr":[1,2],"strs":["a"],"m":{"k":{"x":1,"z":null}},"mi":{"-3":true},"mu":{"18446744073709551615":[1]},"p":"x","pp":7,"a":{"z":[1.5,null]},"n":-0.0,"r":{"b":1,"a":2},"note":"n","next":{"i":2}}`,
		`{}`,
		`{"a":[[],{}],"r":null,"n":1E400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var first roundTripRecord
		if err := Unmarshal(data, &first); err != nil {
			return
		}
		encoded, err := Marshal(first)
		if err != nil {
			t.Fatalf("Marshal of a decoded value failed: %v\ninput %q", err, data)
		}
		if canonical, err := Canonicalize(encoded); err != nil || !bytes.Equal(canonical, encoded) {
			t.Fatalf("Marshal output is not canonical: %q -> %q, %v", encoded, canonical, err)
		}
		var second roundTripRecord
		if err := Unmarshal(encoded, &second); err != nil {
			t.Fatalf("Unmarshal of Marshal output failed: %v\n%s", err, encoded)
		}
		if !reflect.DeepEqual(first, second) {
			t.Fatalf("round trip changed the value\n%#v\n%#v\nvia %s", first, second, encoded)
		}
		again, err := Marshal(second)
		if err != nil || !bytes.Equal(again, encoded) {
			t.Fatalf("second Marshal differs: %s\n%s, %v", encoded, again, err)
		}
	})
}

// FuzzUnmarshalAgreesWithEncodingJSON checks that whatever canon accepts,
// encoding/json decodes to the same value.
func FuzzUnmarshalAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"b":true,"i8":-128,"u64":18446744073709551615,"f32":3.4e38,"bytes":"aGk=","arr":[1,2,3],"inner":{"index":{"65535":0.5}},"mi":{"-9223372036854775808":"x"},"count":4,"by":"z"}`,
		`{"pi":null,"nest":[[1],[]],"m":{"":{"label":"\u2028"}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var ours agreeRecord
		if err := Unmarshal(data, &ours); err != nil {
			return
		}
		var theirs agreeRecord
		if err := json.Unmarshal(data, &theirs); err != nil {
			t.Fatalf("canon accepts %q but encoding/json fails: %v", data, err)
		}
		if !reflect.DeepEqual(ours, theirs) {
			t.Fatalf("decoders disagree on %q\ncanon %#v\njson  %#v", data, ours, theirs)
		}
	})
}
