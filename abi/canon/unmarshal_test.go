package canon

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

type transitionInput struct {
	Key string `json:"key"`
	By  int64  `json:"by"`
}

type roster struct {
	Members []member `json:"members"`
}

type numbers struct {
	I8  int8    `json:"i8"`
	I16 int16   `json:"i16"`
	I32 int32   `json:"i32"`
	I64 int64   `json:"i64"`
	U8  uint8   `json:"u8"`
	U16 uint16  `json:"u16"`
	U32 uint32  `json:"u32"`
	U64 uint64  `json:"u64"`
	F32 float32 `json:"f32"`
	F64 float64 `json:"f64"`
}

type wide struct {
	F00, F01, F02, F03, F04, F05, F06, F07, F08, F09 int
	F10, F11, F12                                    int
}

type optional struct {
	P   *int     `json:"p"`
	PP  **string `json:"pp"`
	A   any      `json:"a"`
	R   Raw      `json:"r"`
	N   Number   `json:"n"`
	S   []int    `json:"s"`
	M   map[string]int
	Arr [2]int `json:"arr"`
}

type stringer interface{ String() string }

func ptr[T any](v T) *T { return &v }

func TestUnmarshalValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want any
	}{
		{"small input", `{"key":"a","by":2}`, transitionInput{Key: "a", By: 2}},
		{"member order free, whitespace", " \t\n\r{ \"by\" : -7 ,\n \"key\" : \"\\u00e9\\n\" } ", transitionInput{Key: "é\n", By: -7}},
		{"missing members stay zero", `{}`, transitionInput{}},
		{"null members are zero", `{"key":null,"by":null}`, transitionInput{}},
		{"integer limits", `{"i8":-128,"i16":32767,"i32":-2147483648,"i64":9223372036854775807,"u8":255,"u16":65535,"u32":4294967295,"u64":18446744073709551615,"f32":0.1,"f64":1e308}`,
			numbers{I8: -128, I16: 32767, I32: math.MinInt32, I64: math.MaxInt64, U8: 255, U16: 65535, U32: math.MaxUint32, U64: math.MaxUint64, F32: 0.1, F64: 1e308}},
		{"negative zero integer", `{"i8":-0,"u8":-0}`, numbers{}},
		{"integer literal into float", `{"f64":123456789012345678901234567890}`, numbers{F64: 1.2345678901234568e29}},
		{"float underflow reads as zero", `{"f64":1e-400}`, numbers{}},
		{"nested", `{"members":[{"name":"a","role":"lead"},{"name":"b"}]}`, roster{Members: []member{{Name: "a", Role: "lead"}, {Name: "b"}}}},
		{"empty array is empty slice", `{"members":[]}`, roster{Members: []member{}}},
		{"null array is nil slice", `{"members":null}`, roster{}},
		{"long slice grows", `[1,2,3,4,5,6,7,8,9,10,11]`, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
		{"embedded fields", `{"by":"x","id":"1","kind":"k","title":"t"}`, document{Base: Base{ID: "1", Kind: "k"}, Audit: &Audit{By: "x"}, Title: "t"}},
		{"embedded pointer left nil", `{"id":"1"}`, document{Base: Base{ID: "1"}}},
		{"many fields use the map lookup", `{"F12":12,"F00":1}`, wide{F00: 1, F12: 12}},
		{"pointers", `{"p":5,"pp":"s"}`, optional{P: ptr(5), PP: ptr(ptr("s"))}},
		{"any values", `{"a":{"z":[1,-0,2.50,"x",true,false,null,{}],"big":123456789012345678901234567890}}`,
			optional{A: map[string]any{"z": []any{Number("1"), Number("0"), Number("2.5"), "x", true, false, nil, map[string]any{}}, "big": Number("123456789012345678901234567890")}}},
		{"raw is canonical copy", `{"r":{ "b" : [1.0] , "a" : "\u0041" }}`, optional{R: Raw(`{"a":"A","b":[1]}`)}},
		{"raw keeps null", `{"r":null}`, optional{R: Raw("null")}},
		{"number canonical", `{"n":-1.50e1}`, optional{N: Number("-15")}},
		{"number keeps integer digits", `{"n":98765432109876543210}`, optional{N: Number("98765432109876543210")}},
		{"array exact length", `{"arr":[1,2]}`, optional{Arr: [2]int{1, 2}}},
		{"map", `{"M":{"b":2,"a":1}}`, optional{M: map[string]int{"a": 1, "b": 2}}},
		{"int keys", `{"-5":"a","0":"b","17":"c"}`, map[int16]string{-5: "a", 0: "b", 17: "c"}},
		{"uint keys", `{"255":true}`, map[uint8]bool{255: true}},
		{"bytes", `"aGkhPw=="`, []byte("hi!?")},
		{"empty bytes", `""`, []byte{}},
		{"byte array from numbers", `[1,2,3]`, [3]byte{1, 2, 3}},
		{"map of any", `{"k":[1]}`, map[string]any{"k": []any{Number("1")}}},
		{"slice of any", `[{"k":"v"},null]`, []any{map[string]any{"k": "v"}, nil}},
		{"escapes", `"\"\\\/\b\f\n\r\t\u0000\u001F\uD834\uDD1E\u20ac"`, "\"\\/\b\f\n\r\t\x00\x1f𝄞€"},
		{"literal UTF-8", `"日本語"`, "日本語"},
		{"named int", `3`, Level(3)},
		{"non-empty interface accepts null", `{"s":null}`, struct {
			S stringer `json:"s"`
		}{}},
		{"bool", `true`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := reflect.New(reflect.TypeOf(tc.want))
			if err := Unmarshal([]byte(tc.in), got.Interface()); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Elem().Interface(), tc.want) {
				t.Errorf("got  %#v\nwant %#v", got.Elem().Interface(), tc.want)
			}
		})
	}
}

func TestUnmarshalOverwritesEverything(t *testing.T) {
	shared := []member{{Name: "kept"}}
	r := roster{Members: shared}
	if err := Unmarshal([]byte(`{"members":[{"name":"new"}]}`), &r); err != nil {
		t.Fatal(err)
	}
	if shared[0].Name != "kept" {
		t.Fatalf("decoding wrote into a slice the caller still holds: %q", shared[0].Name)
	}
	m := map[string]int{"old": 1}
	if err := Unmarshal([]byte(`{"new":2}`), &m); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, map[string]int{"new": 2}) {
		t.Fatalf("map not replaced: %v", m)
	}
	in := transitionInput{Key: "stale", By: 9}
	if err := Unmarshal([]byte(`{"by":1}`), &in); err != nil {
		t.Fatal(err)
	}
	if in != (transitionInput{By: 1}) {
		t.Fatalf("struct not reset: %+v", in)
	}
	n := 5
	if err := Unmarshal([]byte(`null`), &n); err != nil || n != 0 {
		t.Fatalf("null into int: %d, %v", n, err)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	deep := strings.Repeat("[", 513) + strings.Repeat("]", 513)
	if err := Unmarshal([]byte(deep[1:len(deep)-1]), new(any)); err != nil {
		t.Fatalf("512 levels: %v", err)
	}
	for _, tc := range []struct {
		name   string
		in     string
		target any
		want   string
	}{
		{"string into int", `{"key":"a","by":"2"}`, new(transitionInput), "by: cannot decode string into int64"},
		{"number into string", `{"key":1}`, new(transitionInput), "key: cannot decode number into string"},
		{"object into slice", `{"members":{}}`, new(roster), "members: cannot decode object into []canon.member"},
		{"array into struct", `[]`, new(transitionInput), "cannot decode array into canon.transitionInput"},
		{"bool into int", `true`, new(int), "cannot decode bool into int"},
		{"unknown field", `{"members":[{"name":"a"},{"name":"b"},{"name":"c","rol":"x"}]}`, new(roster), `members[2]: unknown field "rol"`},
		{"field names are case-sensitive", `{"Key":"a"}`, new(transitionInput), `unknown field "Key"`},
		{"duplicate field", `{"by":1,"key":"a","by":2}`, new(transitionInput), `duplicate key "by"`},
		{"duplicate field in wide struct", `{"F11":1,"F11":2}`, new(wide), `duplicate key "F11"`},
		{"duplicate map key", `{"a":1,"b":2,"a":3}`, new(map[string]int), `duplicate key "a"`},
		{"duplicate any key", `{"x":{"a":1,"a":1}}`, new(any), `x: duplicate key "a"`},
		{"duplicate key through escapes", `{"a":1,"\u0061":2}`, new(map[string]int), `duplicate key "a"`},
		{"trailing data", `{"key":"a"} {}`, new(transitionInput), "syntax error at offset 12: invalid character '{' after top-level value"},
		{"trailing comma", `[1,2,]`, new([]int), "[2]: syntax error at offset 5: invalid character ']' looking for beginning of value"},
		{"int8 overflow", `{"i8":128}`, new(numbers), "i8: number 128 overflows int8"},
		{"int8 underflow", `{"i8":-129}`, new(numbers), "i8: number -129 overflows int8"},
		{"int64 overflow", `{"i64":9223372036854775808}`, new(numbers), "i64: number 9223372036854775808 overflows int64"},
		{"uint64 overflow", `{"u64":18446744073709551616}`, new(numbers), "u64: number 18446744073709551616 overflows uint64"},
		{"negative into unsigned", `{"u16":-1}`, new(numbers), "u16: number -1 overflows uint16"},
		{"float into int", `{"by":2.0}`, new(transitionInput), "by: cannot decode non-integer number 2.0 into int64"},
		{"exponent into int", `{"by":1e2}`, new(transitionInput), "by: cannot decode non-integer number 1e2 into int64"},
		{"float32 overflow", `{"f32":1e39}`, new(numbers), "f32: number 1e39 overflows float32"},
		{"float64 overflow", `{"f64":-1e309}`, new(numbers), "f64: number -1e309 overflows float64"},
		{"number out of range into any", `[1e400]`, new(any), "[0]: number 1e400 is out of range for float64"},
		{"too deep", deep, new(any), strings.Repeat("[0]", 512) + ": nesting deeper than 512 levels"},
		{"too deep typed", `{"a":` + deep + `}`, new(map[string][]any), "a" + strings.Repeat("[0]", 511) + ": nesting deeper than 512 levels"},
		{"array too long", `{"arr":[1,2,3]}`, new(optional), "arr: cannot decode array of more than 2 elements into [2]int"},
		{"array too short", `{"arr":[1]}`, new(optional), "arr: cannot decode array of 1 elements into [2]int"},
		{"array empty", `{"arr":[]}`, new(optional), "arr: cannot decode array of 0 elements into [2]int"},
		{"bad base64", `"aGkhPw="`, new([]byte), "cannot decode string into []uint8: illegal base64 data at input byte 7"},
		{"base64 non-zero padding bits", `"aGkhPx=="`, new([]byte), "cannot decode string into []uint8: illegal base64 data at input byte 6"},
		{"base64 line break", `"aGkh\nPw=="`, new([]byte), "cannot decode string into []uint8: line break in base64 data"},
		{"non-canonical int key", `{"01":"a"}`, new(map[int]string), `01: map key is not a canonical decimal integer`},
		{"negative zero int key", `{"-0":"a"}`, new(map[int]string), `-0: map key is not a canonical decimal integer`},
		{"int key overflow", `{"128":"a"}`, new(map[int8]string), `128: map key overflows int8`},
		{"negative uint key", `{"-1":"a"}`, new(map[uint]string), `-1: map key is not a canonical decimal unsigned integer`},
		{"object into non-empty interface", `{}`, new(stringer), "cannot decode object into interface type canon.stringer (only null)"},
		{"invalid UTF-8", "{\"key\":\"a\xffb\"}", new(transitionInput), "key: syntax error at offset 9: invalid UTF-8 in string"},
		{"invalid UTF-8 after escape", "[\"\\n\xc3\"]", new([]string), "[0]: syntax error at offset 4: invalid UTF-8 in string"},
		{"lone high surrogate", `["\ud800x"]`, new([]string), `[0]: syntax error at offset 2: lone surrogate \ud800 in string`},
		{"lone low surrogate", `["\udc00"]`, new([]string), `[0]: syntax error at offset 2: lone surrogate \udc00 in string`},
		{"bad escape", `"\x"`, new(string), `syntax error at offset 1: invalid escape character 'x' after backslash in string`},
		{"bad unicode escape", `"\u12g4"`, new(string), `syntax error at offset 1: invalid \u escape in string`},
		{"raw control character", "\"a\tb\"", new(string), `syntax error at offset 2: control character byte 0x09 in string (must be escaped)`},
		{"unterminated string", `"abc`, new(string), "syntax error at offset 4: unexpected end of input in string"},
		{"empty input", ``, new(any), "syntax error at offset 0: unexpected end of input"},
		{"only whitespace", " \n", new(any), "syntax error at offset 2: unexpected end of input"},
		{"leading zero", `01`, new(int), "syntax error at offset 1: invalid character '1' after top-level value"},
		{"bare minus", `-`, new(int), "syntax error at offset 1: unexpected end of input in number"},
		{"missing fraction digits", `1.`, new(float64), "syntax error at offset 2: unexpected end of input in number"},
		{"missing exponent digits", `1e+x`, new(float64), "syntax error at offset 3: invalid character 'x' in number"},
		{"plus sign", `+1`, new(any), "syntax error at offset 0: invalid character '+' looking for beginning of value"},
		{"bad literal", `tru`, new(bool), "syntax error at offset 3: unexpected end of input"},
		{"misspelt literal", `nul1`, new(any), "syntax error at offset 3: invalid character '1' in literal null"},
		{"missing colon", `{"key" "a"}`, new(transitionInput), "syntax error at offset 7: invalid character '\"' after object key (expecting ':')"},
		{"missing comma", `{"key":"a" "by":1}`, new(transitionInput), "syntax error at offset 11: invalid character '\"' after object member (expecting ',' or '}')"},
		{"unquoted key", `{key:1}`, new(map[string]int), "syntax error at offset 1: invalid character 'k' looking for beginning of object key string"},
		{"unclosed object", `{"a":1`, new(map[string]int), "syntax error at offset 6: unexpected end of input"},
		{"nil target", `1`, nil, "Unmarshal needs a non-nil pointer, got nil"},
		{"non-pointer target", `1`, 5, "Unmarshal needs a non-nil pointer, got int"},
		{"nil pointer target", `1`, (*int)(nil), "Unmarshal needs a non-nil pointer, got nil *int"},
		{"unsupported target", `{}`, new(withChan), "canon.withChan field C: unsupported type chan int"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Unmarshal([]byte(tc.in), tc.target)
			if err == nil {
				t.Fatalf("Unmarshal succeeded")
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not *Error", err)
			}
			if err.Error() != tc.want {
				t.Errorf("got  %s\nwant %s", err, tc.want)
			}
		})
	}
}

type fastPathFields struct {
	Name        string `json:"name"`
	Named       string `json:"named"`
	Participant string `json:"participant"`
	Parts       string `json:"participants"`
	Small       int8   `json:"small"`
	Mid         int32  `json:"mid"`
	Big         int64  `json:"big"`
	Plain       int    `json:"plain"`
	Bytes       []byte `json:"bytes"`
}

// TestUnmarshalFastPathEdges feeds decodeStruct's in-place paths their
// boundaries: whitespace everywhere, escaped keys and values, keys that
// share prefixes or are longer than a word, members at the very end of the
// input, and integers the quick parse must hand over to the exact one.
func TestUnmarshalFastPathEdges(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want fastPathFields
	}{
		{`{"name":"n","named":"d","participant":"p","participants":"ps"}`, fastPathFields{Name: "n", Named: "d", Participant: "p", Parts: "ps"}},
		{" {\n \"name\" \t:\r\"n\" ,\"big\" : 7 } ", fastPathFields{Name: "n", Big: 7}},
		{`{"n\u0061me":"\u00e9","\u0070articipants":"a\"b"}`, fastPathFields{Name: "é", Parts: `a"b`}},
		{`{"name":"日本"}`, fastPathFields{Name: "日本"}},
		{`{"big":-9223372036854775808}`, fastPathFields{Big: -9223372036854775808}},
		{`{"big":999999999999999999}`, fastPathFields{Big: 999999999999999999}},
		{`{"big":-0}`, fastPathFields{}},
		{`{"small":-128,"mid":2147483647}`, fastPathFields{Small: -128, Mid: 2147483647}},
		{`{"plain":1}`, fastPathFields{Plain: 1}},
		{`{"bytes":"AQI=","plain":0}`, fastPathFields{Bytes: []byte{1, 2}}},
		{`{"name":""}`, fastPathFields{}},
	} {
		var got fastPathFields
		if err := Unmarshal([]byte(tc.in), &got); err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\ngot  %+v\nwant %+v", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{`{"small":128}`, "small: number 128 overflows int8"},
		{`{"mid":-2147483649}`, "mid: number -2147483649 overflows int32"},
		{`{"big":9223372036854775808}`, "big: number 9223372036854775808 overflows int64"},
		{`{"big":01}`, "syntax error at offset 8: invalid character '1' after object member (expecting ',' or '}')"},
		{`{"big":1.5}`, "big: cannot decode non-integer number 1.5 into int64"},
		{`{"big":1E3}`, "big: cannot decode non-integer number 1E3 into int64"},
		{`{"big":-}`, "big: syntax error at offset 8: invalid character '}' in number"},
		{"{\"name\":\"a\tb\"}", "name: syntax error at offset 10: control character byte 0x09 in string (must be escaped)"},
		{`{"name":"abc`, "name: syntax error at offset 12: unexpected end of input in string"},
		{`{"nam":"x"}`, `unknown field "nam"`},
		{`{"names":"x"}`, `unknown field "names"`},
		{`{"participantz":"x"}`, `unknown field "participantz"`},
		{`{"name":"x","n\u0061me":"y"}`, `duplicate key "name"`},
		{`{"name":"x"`, "syntax error at offset 11: unexpected end of input"},
		{`{"name":"x"]`, "syntax error at offset 11: invalid character ']' after object member (expecting ',' or '}')"},
		{`{"name" "x"}`, "syntax error at offset 8: invalid character '\"' after object key (expecting ':')"},
		{`{,}`, "syntax error at offset 1: invalid character ',' looking for beginning of object key string"},
		{`{"name":"x",}`, "syntax error at offset 12: invalid character '}' looking for beginning of object key string"},
	} {
		var got fastPathFields
		err := Unmarshal([]byte(tc.in), &got)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s:\ngot  %v\nwant %s", tc.in, err, tc.want)
		}
	}
}
