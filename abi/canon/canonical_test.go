package canon

import (
	"strings"
	"testing"
)

func TestCanonicalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`null`, `null`},
		{` true `, `true`},
		{"\t\n\r false", `false`},
		{`{ "b" : 1 , "a" : [ 1 , 2 ] }`, `{"a":[1,2],"b":1}`},
		{`{"b":{"d":1,"c":2},"a":{"f":[{"z":0,"y":1}],"e":null}}`, `{"a":{"e":null,"f":[{"y":1,"z":0}]},"b":{"c":2,"d":1}}`},
		{`{"":1,"a":2,"A":3,"é":4,"z":5}`, `{"":1,"A":3,"a":2,"z":5,"é":4}`},
		{`{"\u0022":1,"#":2}`, `{"\"":1,"#":2}`},
		{`{"\ud83d\ude00":1,"\uffff":2}`, "{\"\uffff\":2,\"\U0001F600\":1}"},
		{`"\u0041\u00e9\u20ac\ud834\udd1e\/"`, `"Aé€𝄞/"`},
		{`"\u001f\u007f\b\f\n\r\t\"\\"`, "\"\\u001f\x7f\\b\\f\\n\\r\\t\\\"\\\\\""},
		{`"\u2028<>&"`, "\"\u2028<>&\""},
		{`0`, `0`},
		{`-0`, `0`},
		{`-0.0`, `0`},
		{`-0e5`, `0`},
		{`123456789012345678901234567890`, `123456789012345678901234567890`},
		{`-123456789012345678901234567890`, `-123456789012345678901234567890`},
		{`1.0`, `1`},
		{`1.5e3`, `1500`},
		{`1E21`, `1e+21`},
		{`1e-7`, `1e-7`},
		{`0.000001`, `0.000001`},
		{`1e-400`, `0`},
		{`[1e1, 10, 10.0]`, `[10,10,10]`},
		{`[]`, `[]`},
		{`{}`, `{}`},
		{`[{},[],[[]]]`, `[{},[],[[]]]`},
	} {
		got, err := Canonicalize([]byte(tc.in))
		if err != nil {
			t.Errorf("Canonicalize(%s): %v", tc.in, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("Canonicalize(%s)\ngot  %s\nwant %s", tc.in, got, tc.want)
		}
		if !Valid([]byte(tc.in)) {
			t.Errorf("Valid(%s) = false", tc.in)
		}
		again, err := Canonicalize(got)
		if err != nil || string(again) != string(got) {
			t.Errorf("not idempotent: %s -> %s, %v", got, again, err)
		}
	}
}

func TestCanonicalizeErrors(t *testing.T) {
	deep := strings.Repeat("[", 513) + strings.Repeat("]", 513)
	for _, tc := range []struct{ in, want string }{
		{`{"a":1,"a":2}`, `duplicate key "a"`},
		{`{"b":1,"a":2,"b":3}`, `duplicate key "b"`},
		{`{"x":[{"k":0,"\u006b":1}]}`, `x[0]: duplicate key "k"`},
		{`[1e400]`, `[0]: number 1e400 is out of range for float64`},
		{`-1.5e309`, `number -1.5e309 is out of range for float64`},
		{deep, strings.Repeat("[0]", 512) + ": nesting deeper than 512 levels"},
		{`{"a":1}x`, "syntax error at offset 7: invalid character 'x' after top-level value"},
		{`[1 2]`, "syntax error at offset 3: invalid character '2' after array element (expecting ',' or ']')"},
		{`{"a":1,}`, "syntax error at offset 7: invalid character '}' looking for beginning of object key string"},
		{`{"a":[nul]}`, "a[0]: syntax error at offset 9: invalid character ']' in literal null"},
		{"\"\xed\xa0\x80\"", "syntax error at offset 1: invalid UTF-8 in string"},
		{"\xef\xbb\xbf1", "syntax error at offset 0: invalid character byte 0xef looking for beginning of value"},
		{`NaN`, "syntax error at offset 0: invalid character 'N' looking for beginning of value"},
		{`.5`, "syntax error at offset 0: invalid character '.' looking for beginning of value"},
		{``, "syntax error at offset 0: unexpected end of input"},
	} {
		got, err := Canonicalize([]byte(tc.in))
		if err == nil {
			t.Errorf("Canonicalize(%q) = %s, want error", tc.in, got)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("Canonicalize(%.40q)\ngot  %v\nwant %s", tc.in, err, tc.want)
		}
		if Valid([]byte(tc.in)) {
			t.Errorf("Valid(%.40q) = true", tc.in)
		}
	}
}

// TestCanonicalizeAgreesWithMarshal checks that the two ways to canonical
// bytes meet: Marshal of a decoded generic value equals Canonicalize.
func TestCanonicalizeAgreesWithMarshal(t *testing.T) {
	in := []byte(`{"z":[1.50,{"b":"\u00e9","a":-0}],"a":12345678901234567890123,"m":{"y":null,"x":true}}`)
	var v any
	if err := Unmarshal(in, &v); err != nil {
		t.Fatal(err)
	}
	fromValue, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	fromText, err := Canonicalize(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(fromValue) != string(fromText) {
		t.Fatalf("Marshal(Unmarshal(x)) = %s\nCanonicalize(x)    = %s", fromValue, fromText)
	}
}
