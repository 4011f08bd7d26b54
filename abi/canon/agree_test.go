package canon

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// agreeInner and agreeRecord use only types on which canon and
// encoding/json must agree: no any (encoding/json decodes numbers to
// float64, canon to Number), no Number or Raw.
type agreeInner struct {
	Label string             `json:"label"`
	Score float64            `json:"score,omitempty"`
	Flags []bool             `json:"flags"`
	Index map[uint16]float32 `json:"index"`
}

type AgreeEmbedded struct {
	Note  string `json:"note,omitempty"`
	Count uint32 `json:"count"`
}

type agreeRecord struct {
	AgreeEmbedded
	*Audit
	B     bool                  `json:"b"`
	I     int                   `json:"i"`
	I8    int8                  `json:"i8"`
	I64   int64                 `json:"i64,omitempty"`
	U     uint                  `json:"u"`
	U64   uint64                `json:"u64"`
	F32   float32               `json:"f32"`
	F64   float64               `json:"f64"`
	S     string                `json:"s"`
	Bytes []byte                `json:"bytes"`
	Arr   [3]int16              `json:"arr"`
	Strs  []string              `json:"strs"`
	Inner agreeInner            `json:"inner"`
	PI    *agreeInner           `json:"pi"`
	PS    *string               `json:"ps,omitempty"`
	M     map[string]agreeInner `json:"m"`
	MI    map[int64]string      `json:"mi"`
	Nest  [][]int8              `json:"nest"`
}

// randomValue fills v with values drawn from r, biased toward the edges
// (zero, extremes, characters that need escaping).
func randomValue(r *rand.Rand, v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := v.Type().Bits()
		switch r.IntN(4) {
		case 0:
			v.SetInt(0)
		case 1:
			v.SetInt(-1 << (bits - 1))
		case 2:
			v.SetInt(1<<(bits-1) - 1)
		default:
			v.SetInt(int64(r.Uint64()) >> (64 - bits))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		bits := v.Type().Bits()
		if r.IntN(3) == 0 {
			v.SetUint(math.MaxUint64 >> (64 - bits))
		} else {
			v.SetUint(r.Uint64() >> (64 - bits))
		}
	case reflect.Float32, reflect.Float64:
		var f float64
		switch r.IntN(6) {
		case 0:
			f = 0
		case 1:
			f = float64(r.IntN(2000) - 1000)
		case 2:
			f = r.NormFloat64() * math.Pow(10, float64(r.IntN(60)-30))
		case 3:
			f = math.Copysign(0, -1)
		default:
			for {
				f = math.Float64frombits(r.Uint64())
				if !math.IsNaN(f) && !math.IsInf(f, 0) {
					break
				}
			}
		}
		if v.Kind() == reflect.Float32 {
			f32 := float32(f)
			if math.IsInf(float64(f32), 0) {
				f32 = math.MaxFloat32
			}
			f = float64(f32)
		}
		v.SetFloat(f)
	case reflect.String:
		alphabet := []string{"a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\x00", "\x1f", "\x7f", "<", ">", "&", "é", "€", "\u2028", "𝄞", "\ufffd"}
		s := ""
		for range r.IntN(8) {
			s += alphabet[r.IntN(len(alphabet))]
		}
		v.SetString(s)
	case reflect.Slice:
		if r.IntN(5) == 0 || depth > 3 {
			v.SetZero()
			return
		}
		n := r.IntN(4)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			randomValue(r, s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Array:
		for i := range v.Len() {
			randomValue(r, v.Index(i), depth+1)
		}
	case reflect.Map:
		if r.IntN(5) == 0 || depth > 3 {
			v.SetZero()
			return
		}
		m := reflect.MakeMap(v.Type())
		for range r.IntN(4) {
			k := reflect.New(v.Type().Key()).Elem()
			randomValue(r, k, depth+1)
			e := reflect.New(v.Type().Elem()).Elem()
			randomValue(r, e, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Pointer:
		if r.IntN(3) == 0 || depth > 3 {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		randomValue(r, p.Elem(), depth+1)
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				randomValue(r, v.Field(i), depth+1)
			}
		}
	default:
		panic("randomValue: no generator for " + v.Type().String())
	}
}

func decodeWithEncodingJSON(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("encoding/json cannot read %s: %v", b, err)
	}
	return v
}

// TestAgreesWithEncodingJSON compares canon with encoding/json on random
// values: both encodings denote the same JSON value, Canonicalize turns
// encoding/json's bytes into exactly canon's, and both decoders read canon's
// bytes back into the same Go value as the original.
func TestAgreesWithEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		var rec agreeRecord
		randomValue(r, reflect.ValueOf(&rec).Elem(), 0)

		ours, err := Marshal(rec)
		if err != nil {
			t.Fatalf("value %d: Marshal: %v", i, err)
		}
		theirs, err := json.Marshal(rec)
		if err != nil {
			t.Fatalf("value %d: json.Marshal: %v", i, err)
		}
		if !reflect.DeepEqual(decodeWithEncodingJSON(t, ours), decodeWithEncodingJSON(t, theirs)) {
			t.Fatalf("value %d: different JSON values\ncanon %s\njson  %s", i, ours, theirs)
		}
		canonical, err := Canonicalize(theirs)
		if err != nil {
			t.Fatalf("value %d: Canonicalize(json.Marshal): %v", i, err)
		}
		if string(canonical) != string(ours) {
			t.Fatalf("value %d: Canonicalize(json.Marshal(v)) != Marshal(v)\n%s\n%s", i, canonical, ours)
		}

		var viaCanon, viaJSON agreeRecord
		if err := Unmarshal(ours, &viaCanon); err != nil {
			t.Fatalf("value %d: Unmarshal: %v\n%s", i, err, ours)
		}
		if err := json.Unmarshal(ours, &viaJSON); err != nil {
			t.Fatalf("value %d: json.Unmarshal: %v", i, err)
		}
		if !reflect.DeepEqual(viaCanon, viaJSON) {
			t.Fatalf("value %d: decoders disagree on %s\ncanon %+v\njson  %+v", i, ours, viaCanon, viaJSON)
		}
		if !reflect.DeepEqual(viaCanon, rec) {
			t.Fatalf("value %d: round trip changed the value\nin  %+v\nout %+v", i, rec, viaCanon)
		}
	}
}

// TestGenericValuesAgreeWithEncodingJSON decodes texts into any with both
// packages and compares after turning canon's Numbers into float64.
func TestGenericValuesAgreeWithEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{"a":[1,2.5,-0,1e300,"x",null,true,false,{}],"b":{"c":"\u00e9\ud834\udd1e"}}`,
		`[12345678901234567890,0.1,1E-7]`,
		`"plain"`,
		`{}`,
	} {
		var ours, theirs any
		if err := Unmarshal([]byte(in), &ours); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(in), &theirs); err != nil {
			t.Fatal(err)
		}
		if got := numbersToFloat(t, ours); !reflect.DeepEqual(got, theirs) {
			t.Errorf("%s:\ncanon %#v\njson  %#v", in, got, theirs)
		}
	}
}

func numbersToFloat(t *testing.T, v any) any {
	switch v := v.(type) {
	case Number:
		f, err := v.Float64()
		if err != nil {
			t.Fatal(err)
		}
		return f
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = numbersToFloat(t, x)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = numbersToFloat(t, x)
		}
		return out
	}
	return v
}

func TestNumberAccessors(t *testing.T) {
	if n, err := Number("-42").Int64(); err != nil || n != -42 {
		t.Errorf("Int64 = %d, %v", n, err)
	}
	if _, err := Number("1.5").Int64(); err == nil {
		t.Errorf("Int64 of 1.5 succeeded")
	}
	if f, err := Number("1.5").Float64(); err != nil || f != 1.5 {
		t.Errorf("Float64 = %v, %v", f, err)
	}
	if s := Number("7").String(); s != "7" {
		t.Errorf("String = %q", s)
	}
}
