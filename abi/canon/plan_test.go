package canon

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
)

type wrapsPointer struct{ P *int }
type wrapsMap struct{ M map[string]int }
type wrapsWrapper struct{ W wrapsPointer }
type wrapsInt struct{ N int }

// TestMarshalByValueMatchesByPointer covers the types an interface stores
// in its data word (single pointers, maps and wrappers of them) and some
// it does not, passed by value and by pointer.
func TestMarshalByValueMatchesByPointer(t *testing.T) {
	seven := 7
	values := []any{
		wrapsPointer{&seven}, wrapsPointer{}, wrapsMap{map[string]int{"b": 2, "a": 1}},
		wrapsWrapper{wrapsPointer{&seven}}, wrapsInt{9}, [1]*int{&seven}, [1]int{3}, [2]*int{&seven, nil},
		map[string]int{"z": 1}, &seven, struct{}{}, [0]int{},
	}
	for _, v := range values {
		byValue, err := Marshal(v)
		if err != nil {
			t.Fatalf("%T: %v", v, err)
		}
		ptr := reflect.New(reflect.TypeOf(v))
		ptr.Elem().Set(reflect.ValueOf(v))
		byPointer, err := Marshal(ptr.Interface())
		if err != nil {
			t.Fatalf("*%T: %v", v, err)
		}
		if string(byValue) != string(byPointer) {
			t.Errorf("%T: by value %s, by pointer %s", v, byValue, byPointer)
		}
		inSlice, err := Marshal([]any{v})
		if err != nil || string(inSlice) != "["+string(byValue)+"]" {
			t.Errorf("%T inside []any: %s, %v", v, inSlice, err)
		}
	}
	if b, _ := Marshal(wrapsPointer{&seven}); string(b) != `{"P":7}` {
		t.Errorf("got %s", b)
	}
}

type Recursive struct {
	Name     string       `json:"name"`
	Children []*Recursive `json:"children,omitempty"`
	Parent   *Recursive   `json:"-"`
}

func TestRecursiveTypes(t *testing.T) {
	in := []byte(`{"children":[{"name":"b"},{"children":[{"name":"d"}],"name":"c"}],"name":"a"}`)
	var r Recursive
	if err := Unmarshal(in, &r); err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(&r)
	if err != nil || string(out) != string(in) {
		t.Fatalf("got %s, %v", out, err)
	}
}

// TestConcurrentUse builds and uses plans from many goroutines at once;
// run with -race it checks the plan cache and the last-plan slots.
func TestConcurrentUse(t *testing.T) {
	type payload struct {
		A int               `json:"a"`
		B []string          `json:"b"`
		C map[string]uint16 `json:"c"`
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				var err error
				switch (g + i) % 4 {
				case 0:
					var v payload
					err = Unmarshal([]byte(`{"a":1,"b":["x"],"c":{"k":2}}`), &v)
					if err == nil && (v.A != 1 || v.B[0] != "x" || v.C["k"] != 2) {
						err = fmt.Errorf("decoded %+v", v)
					}
				case 1:
					var b []byte
					b, err = Marshal(payload{A: i})
					if err == nil && string(b) != fmt.Sprintf(`{"a":%d,"b":null,"c":null}`, i) {
						err = fmt.Errorf("encoded %s", b)
					}
				case 2:
					var v transitionInput
					err = Unmarshal([]byte(`{"key":"k","by":3}`), &v)
					if err == nil && v != (transitionInput{Key: "k", By: 3}) {
						err = fmt.Errorf("decoded %+v", v)
					}
				case 3:
					var b []byte
					b, err = Marshal(&roster{Members: []member{{Name: "n"}}})
					if err == nil && string(b) != `{"members":[{"name":"n"}]}` {
						err = fmt.Errorf("encoded %s", b)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// manyFields has more fields than fit in the 64-bit seen set.
type manyFields struct {
	F00, F01, F02, F03, F04, F05, F06, F07, F08, F09 int
	F10, F11, F12, F13, F14, F15, F16, F17, F18, F19 int
	F20, F21, F22, F23, F24, F25, F26, F27, F28, F29 int
	F30, F31, F32, F33, F34, F35, F36, F37, F38, F39 int
	F40, F41, F42, F43, F44, F45, F46, F47, F48, F49 int
	F50, F51, F52, F53, F54, F55, F56, F57, F58, F59 int
	F60, F61, F62, F63, F64, F65, F66, F67, F68, F69 int
}

func TestStructWithManyFields(t *testing.T) {
	var members []string
	for i := range 70 {
		members = append(members, fmt.Sprintf(`"F%02d":%d`, i, i))
	}
	in := "{" + strings.Join(members, ",") + "}"
	var v manyFields
	if err := Unmarshal([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	if v.F00 != 0 || v.F37 != 37 || v.F69 != 69 {
		t.Fatalf("decoded %+v", v)
	}
	out, err := Marshal(&v)
	if err != nil || string(out) != in {
		t.Fatalf("round trip: %s, %v", out, err)
	}
	v.F68 = 5
	if err := Unmarshal([]byte(`{"F69":1}`), &v); err != nil || v.F68 != 0 || v.F69 != 1 {
		t.Fatalf("absent members not zeroed: %+v, %v", v, err)
	}
	err = Unmarshal([]byte(`{"F66":1,"F01":2,"F66":3}`), &v)
	if err == nil || err.Error() != `duplicate key "F66"` {
		t.Fatalf("duplicate: %v", err)
	}
}
