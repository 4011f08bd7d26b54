package canon

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

type member struct {
	Name string `json:"name"`
	Role string `json:"role,omitempty"`
}

type team struct {
	Zeta    int               `json:"zeta"`
	Alpha   string            `json:"alpha"`
	Members []member          `json:"members"`
	Tags    map[string]string `json:"tags,omitempty"`
	skipped int
	Ignored string `json:"-"`
}

// sameTeamOtherOrder has team's fields declared in another order.
type sameTeamOtherOrder struct {
	Tags    map[string]string `json:"tags,omitempty"`
	Alpha   string            `json:"alpha"`
	Members []member          `json:"members"`
	Zeta    int               `json:"zeta"`
}

type Base struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
}

type Audit struct {
	By string `json:"by"`
}

type document struct {
	Base
	*Audit
	Title string `json:"title"`
}

type named struct {
	Base  `json:"base"`
	Title string `json:"title"`
}

type Level int

type omissions struct {
	B   bool           `json:"b,omitempty"`
	I   int            `json:"i,omitempty"`
	F   float64        `json:"f,omitempty"`
	S   string         `json:"s,omitempty"`
	P   *int           `json:"p,omitempty"`
	A   any            `json:"a,omitempty"`
	Sl  []int          `json:"sl,omitempty"`
	M   map[string]int `json:"m,omitempty"`
	Arr [0]int         `json:"arr,omitempty"`
	St  struct{}       `json:"st,omitempty"`
	Z   Base           `json:"z,omitzero"`
	N   Number         `json:"n,omitempty"`
	R   Raw            `json:"r,omitempty"`
}

func marshalString(t *testing.T, v any) string {
	t.Helper()
	b, err := Marshal(v)
	if err != nil {
		t.Fatalf("Marshal(%#v): %v", v, err)
	}
	return string(b)
}

func TestMarshalCanonicalBytes(t *testing.T) {
	seven := 7
	pseven := &seven
	for _, tc := range []struct {
		name string
		in   any
		want string
	}{
		{"nil", nil, `null`},
		{"true", true, `true`},
		{"false", false, `false`},
		{"int", -42, `-42`},
		{"int8 min", int8(math.MinInt8), `-128`},
		{"int64 min", int64(math.MinInt64), `-9223372036854775808`},
		{"uint64 max", uint64(math.MaxUint64), `18446744073709551615`},
		{"uintptr", uintptr(9), `9`},
		{"named int", Level(3), `3`},
		{"float integral", 1.0, `1`},
		{"float fraction", 0.5, `0.5`},
		{"float large", 1e21, `1e+21`},
		{"float small", 1e-7, `1e-7`},
		{"float negative zero", math.Copysign(0, -1), `0`},
		{"float32", float32(0.1), `0.1`},
		{"string plain", "héllo €", `"héllo €"`},
		{"string escapes", "q\"b\\s/\b\f\n\r\t", `"q\"b\\s/\b\f\n\r\t"`},
		{"string controls", "\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"string no html escaping", "<a>&</a>", `"<a>&</a>"`},
		{"string line separators", "\u2028\u2029", "\"\u2028\u2029\""},
		{"string astral", "𝄞", `"𝄞"`},
		{"bytes", []byte("hi!?"), `"aGkhPw=="`},
		{"nil bytes", []byte(nil), `null`},
		{"empty bytes", []byte{}, `""`},
		{"byte array is numbers", [3]byte{1, 2, 3}, `[1,2,3]`},
		{"slice", []int{3, 1, 2}, `[3,1,2]`},
		{"nil slice", []string(nil), `null`},
		{"empty slice", []string{}, `[]`},
		{"array", [2]string{"b", "a"}, `["b","a"]`},
		{"map sorted", map[string]int{"b": 2, "a": 1, "": 0, "B": 3}, `{"":0,"B":3,"a":1,"b":2}`},
		{"map sorted bytewise", map[string]int{"é": 1, "z": 2, "\U0001F600": 3, "\uffff": 4}, "{\"z\":2,\"é\":1,\"\uffff\":4,\"\U0001F600\":3}"},
		{"map int keys sorted as strings", map[int]bool{10: true, 9: false, -1: true}, `{"-1":true,"10":true,"9":false}`},
		{"map uint8 keys", map[uint8]string{255: "x", 0: "y"}, `{"0":"y","255":"x"}`},
		{"nil map", map[string]int(nil), `null`},
		{"empty map", map[string]int{}, `{}`},
		{"pointer", pseven, `7`},
		{"pointer to pointer", &pseven, `7`},
		{"nil pointer", (*int)(nil), `null`},
		{"struct sorted by name", team{Zeta: 1, Alpha: "x", Members: []member{{Name: "n", Role: "r"}, {Name: "m"}}, skipped: 5, Ignored: "no"},
			`{"alpha":"x","members":[{"name":"n","role":"r"},{"name":"m"}],"zeta":1}`},
		{"embedded structs flattened", document{Base: Base{ID: "d1", Kind: "doc"}, Audit: &Audit{By: "ann"}, Title: "t"},
			`{"by":"ann","id":"d1","kind":"doc","title":"t"}`},
		{"nil embedded pointer omitted", document{Base: Base{ID: "d1"}}, `{"id":"d1","kind":"","title":""}`},
		{"tagged embedded struct is a member", named{Base: Base{ID: "i"}, Title: "t"}, `{"base":{"id":"i","kind":""},"title":"t"}`},
		{"omitempty and omitzero", omissions{}, `{"st":{}}`},
		{"omitempty keeps non-empty", omissions{B: true, I: 1, S: "s", Sl: []int{0}, Z: Base{ID: "x"}, N: "2"},
			`{"b":true,"i":1,"n":2,"s":"s","sl":[0],"st":{},"z":{"id":"x","kind":""}}`},
		{"generic tree", map[string]any{"z": []any{1, "two", 3.5, nil, true}, "a": map[string]any{"y": Number("1.50"), "x": Raw(` { "b" : 1 , "a" : [ ] } `)}},
			`{"a":{"x":{"a":[],"b":1},"y":1.5},"z":[1,"two",3.5,null,true]}`},
		{"any holding struct", []any{member{Name: "a"}, &member{Name: "b"}}, `[{"name":"a"},{"name":"b"}]`},
		{"number integer kept", Number("123456789012345678901234567890"), `123456789012345678901234567890`},
		{"number negative zero", Number("-0"), `0`},
		{"number float canonical", Number("1.250E+2"), `125`},
		{"empty number", Number(""), `0`},
		{"raw canonicalized", Raw("[1.0, \"\\u00e9\", {\"b\":null,\"a\":false}]"), `[1,"é",{"a":false,"b":null}]`},
		{"empty raw", Raw(nil), `null`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := marshalString(t, tc.in); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestMarshalIgnoresFieldDeclarationOrder(t *testing.T) {
	a := marshalString(t, team{Zeta: 9, Alpha: "a", Members: []member{{Name: "x"}}, Tags: map[string]string{"k": "v"}})
	b := marshalString(t, sameTeamOtherOrder{Zeta: 9, Alpha: "a", Members: []member{{Name: "x"}}, Tags: map[string]string{"k": "v"}})
	if a != b {
		t.Fatalf("declaration order changed the bytes:\n%s\n%s", a, b)
	}
}

// TestDashNamedField uses a type built at run time, because a literal
// json:"-," tag (a member named "-") upsets linters.
func TestDashNamedField(t *testing.T) {
	typ := reflect.StructOf([]reflect.StructField{
		{Name: "Dash", Type: reflect.TypeFor[int](), Tag: `json:"-,"`},
		{Name: "Skip", Type: reflect.TypeFor[int](), Tag: `json:"-"`},
	})
	v := reflect.New(typ).Elem()
	v.Field(0).SetInt(4)
	v.Field(1).SetInt(5)
	if got := marshalString(t, v.Interface()); got != `{"-":4}` {
		t.Fatalf("got %s", got)
	}
}

func TestAppendMarshalAppends(t *testing.T) {
	dst := []byte("prefix:")
	out, err := AppendMarshal(dst, map[string]int{"a": 1})
	if err != nil || string(out) != `prefix:{"a":1}` {
		t.Fatalf("got %q, %v", out, err)
	}
	out, err = AppendMarshal(dst, math.NaN())
	if err == nil || string(out) != "prefix:" {
		t.Fatalf("on error got %q, %v; want the original dst and an error", out, err)
	}
}

type withChan struct {
	C chan int
}

type outer struct {
	In withChan
}

type conflict struct {
	Named
	Labelled
}

type Named struct {
	Name string
}

type Labelled struct {
	Label string `json:"Name"`
}

type badTag struct {
	N int `json:"n,string"`
}

type unexportedEmbeddedPtr struct {
	*hidden
}

type hidden struct {
	X int
}

type selfEmbed struct {
	*SelfEmbed
}

type SelfEmbed struct {
	*SelfEmbed
	Y int
}

type recursivePointer *recursivePointer

type node struct {
	Name string `json:"name"`
	Next *node  `json:"next,omitempty"`
}

func TestMarshalErrors(t *testing.T) {
	loop := &node{Name: "loop"}
	loop.Next = loop
	var selfRef any
	selfRef = &selfRef
	deep := any(nil)
	for range 513 {
		deep = []any{deep}
	}
	notDeep := any(nil)
	for range 512 {
		notDeep = []any{notDeep}
	}
	if _, err := Marshal(notDeep); err != nil {
		t.Fatalf("512 levels: %v", err)
	}
	for _, tc := range []struct {
		name string
		in   any
		want string
	}{
		{"NaN", math.NaN(), "unsupported float value NaN"},
		{"+Inf in struct", struct {
			F float64 `json:"f"`
		}{math.Inf(1)}, "f: unsupported float value +Inf"},
		{"-Inf in map", map[string]float32{"k": float32(math.Inf(-1))}, "k: unsupported float value -Inf"},
		{"invalid UTF-8 string", []string{"ok", "a\xffb"}, "[1]: invalid UTF-8 at byte 1 of string"},
		{"invalid UTF-8 key", map[string]int{"\xfe": 1}, `["\xfe"]: invalid UTF-8 at byte 0 of string`},
		{"chan", make(chan int), "unsupported type chan int"},
		{"func", func() {}, "unsupported type func()"},
		{"complex", complex(1, 2), "unsupported type complex128"},
		{"nested unsupported field", outer{}, "canon.outer field In: canon.withChan field C: unsupported type chan int"},
		{"unsupported type behind nil pointer", (*withChan)(nil), "canon.withChan field C: unsupported type chan int"},
		{"unsupported map key", map[float64]int{}, "unsupported map key type float64 in map[float64]int (keys must be strings or integers)"},
		{"name conflict", conflict{}, `canon.conflict: fields Named.Name and Labelled.Label both have the JSON name "Name"`},
		{"unknown tag option", badTag{}, `canon.badTag: field N: unsupported json tag option "string"`},
		{"unexported embedded pointer", unexportedEmbeddedPtr{}, "canon.unexportedEmbeddedPtr: embedded field hidden is a pointer to an unexported struct type, which cannot be allocated when decoding"},
		{"self embedding", selfEmbed{}, "canon.selfEmbed: embedded field SelfEmbed.SelfEmbed embeds canon.SelfEmbed in itself"},
		{"recursive pointer type", recursivePointer(nil), "unsupported recursive pointer type canon.recursivePointer"},
		{"cyclic struct", loop, strings.Repeat("next.", 511) + "next: nesting deeper than 512 levels (is the value cyclic?)"},
		{"cyclic interface", selfRef, "more than 512 pointers or interfaces in a row (is the value cyclic?)"},
		{"too deep", deep, strings.Repeat("[0]", 512) + ": nesting deeper than 512 levels (is the value cyclic?)"},
		{"invalid number", Number("01"), `invalid number literal "01"`},
		{"invalid number in struct", struct {
			N Number `json:"n"`
		}{"1e"}, `n: invalid number literal "1e"`},
		{"number out of range", Number("1e400"), "number 1e400 is out of range for float64"},
		{"invalid raw", map[string]Raw{"r": Raw(`{"a":1,}`)}, `r: invalid Raw value: syntax error at offset 7: invalid character '}' looking for beginning of object key string`},
		{"raw with duplicate", []Raw{Raw(`{"a":1,"a":2}`)}, `[0]: invalid Raw value: duplicate key "a"`},
		{"raw with trailing data", Raw(`1 2`), `invalid Raw value: syntax error at offset 2: invalid character '2' after top-level value`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Marshal(tc.in)
			if err == nil {
				t.Fatalf("Marshal succeeded with %s", b)
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

func TestErrorPathQuotesUnusualKeys(t *testing.T) {
	_, err := Marshal(map[string]any{"a b": map[string]any{"x.y": []any{math.NaN()}}})
	if want := `["a b"]["x.y"][0]: unsupported float value NaN`; fmt.Sprint(err) != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.Path != `["a b"]["x.y"][0]` || ce.Msg != "unsupported float value NaN" {
		t.Fatalf("fields: %+v", ce)
	}
}
