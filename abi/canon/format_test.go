package canon

import (
	"math"
	"strconv"
	"testing"
)

// Expected strings are ECMAScript's String(Number(input)), recorded from a
// JavaScript engine.
var ecmaScriptNumbers = []struct{ in, want string }{
	{"0", "0"},
	{"-0", "0"},
	{"1", "1"},
	{"-1", "-1"},
	{"1.5", "1.5"},
	{"0.1", "0.1"},
	{"0.000001", "0.000001"},
	{"0.0000001", "1e-7"},
	{"1e-7", "1e-7"},
	{"1.5e-7", "1.5e-7"},
	{"123456789", "123456789"},
	{"1e20", "100000000000000000000"},
	{"1e21", "1e+21"},
	{"1.2345e21", "1.2345e+21"},
	{"-1e21", "-1e+21"},
	{"123456789012345680000", "123456789012345680000"},
	{"9007199254740991", "9007199254740991"},
	{"9007199254740992", "9007199254740992"},
	{"9007199254740993", "9007199254740992"},
	{"4.5", "4.5"},
	{"2e-3", "0.002"},
	{"1e+30", "1e+30"},
	{"0.000000000000000000000000001", "1e-27"},
	{"5e-324", "5e-324"},
	{"1.7976931348623157e308", "1.7976931348623157e+308"},
	{"-1.7976931348623157e308", "-1.7976931348623157e+308"},
	{"2.2250738585072014e-308", "2.2250738585072014e-308"},
	{"0.3", "0.3"},
	{"0.30000000000000004", "0.30000000000000004"},
	{"333333333.3333333", "333333333.3333333"},
	{"1e-6", "0.000001"},
	{"9.999999999999999e-7", "0.000001"},
	{"999999999999999900000", "999999999999999900000"},
	{"1e23", "1e+23"},
	{"123e-20", "1.23e-18"},
	{"-0.0000033", "-0.0000033"},
	{"1.0", "1"},
	{"1E2", "100"},
	{"12.5e1", "125"},
	{"295147905179352830000", "295147905179352830000"},
}

var ecmaScriptBits = []struct {
	bits uint64
	want string
}{
	{0x1c0d57f10c894254, "1.4830122828920016e-173"},
	{0x43f04a6ece53d613, "18781959765316678000"},
	{0xe2b8410510668fa6, "-3.575532127436644e+167"},
	{0xd5f2e30a9e501b7d, "-1.0829258728928171e+106"},
	{0x535c8ea8a4e05948, "3.7230187291668613e+93"},
	{0x8f7b1bac9609eaf7, "-4.262874002980358e-234"},
	{0xcb3af636587957ba, "-2.5824242072052563e+54"},
	{0x6438f14dfe833301, "6.169062368256605e+174"},
	{0xd0af9825c659f77c, "-4.682717518917287e+80"},
	{0x302bd02b522a861b, "1.2009957333271821e-76"},
	{0xfd70522e931f790e, "-1.6677967842578716e+296"},
	{0x29616ccb5e0010f0, "2.318589285015657e-109"},
	{0xa92e8eaf3493d9a4, "-2.5412503051231247e-110"},
	{0x5fe48bdeead11f23, "8.60880578948587e+153"},
	{0x38c4ac26c846fc8a, "3.1104470921459883e-35"},
	{0x41b96ab112ea4c55, "426422546.91522723"},
	{0x4b0e14fa2fee1740, "3.601597095685222e+53"},
	{0xc360b934d02e7346, "-37657888876108340"},
	{0x48a12d9e7a7f7e9d, "7.482161107104073e+41"},
	{0x36aed0278207c317, "2.698647105952319e-45"},
}

func TestAppendFloatMatchesECMAScript(t *testing.T) {
	for _, tc := range ecmaScriptNumbers {
		f, err := strconv.ParseFloat(tc.in, 64)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendFloat(nil, f, 64)
		if err != nil || string(got) != tc.want {
			t.Errorf("appendFloat(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range ecmaScriptBits {
		got, err := appendFloat(nil, math.Float64frombits(tc.bits), 64)
		if err != nil || string(got) != tc.want {
			t.Errorf("appendFloat(bits %#x) = %q, %v; want %q", tc.bits, got, err, tc.want)
		}
	}
}

func TestAppendFloat32UsesShortestFloat32Digits(t *testing.T) {
	for _, tc := range []struct {
		in   float32
		want string
	}{
		{0.1, "0.1"},
		{16777217, "16777216"},
		{1.1e10, "11000000000"},
		{3.4028235e38, "3.4028235e+38"},
		{1e-7, "1e-7"},
		{-2.5, "-2.5"},
		{float32(math.Copysign(0, -1)), "0"},
	} {
		got, err := appendFloat(nil, float64(tc.in), 32)
		if err != nil || string(got) != tc.want {
			t.Errorf("appendFloat(float32 %v) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestAppendFloatRoundTrips checks the two properties that make the float
// form canonical on values spread over the whole float64 range: it reads
// back as the same value, and it is the shortest such decimal.
func TestAppendFloatRoundTrips(t *testing.T) {
	x := uint64(0x9e3779b97f4a7c15)
	for range 20000 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		f := math.Float64frombits(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		got, err := appendFloat(nil, f, 64)
		if err != nil {
			t.Fatal(err)
		}
		back, err := strconv.ParseFloat(string(got), 64)
		if err != nil || back != f {
			t.Fatalf("%q reads back as %v, want %v (bits %#x)", got, back, f, x)
		}
		shortest := strconv.FormatFloat(f, 'e', -1, 64)
		if digits(string(got)) != digits(shortest) {
			t.Fatalf("%q has digits %s, shortest form %s has %s", got, digits(string(got)), shortest, digits(shortest))
		}
	}
}

// digits returns the significant digits of a decimal number text.
func digits(s string) string {
	var b []byte
	for i := 0; i < len(s) && s[i] != 'e'; i++ {
		if isDigit(s[i]) {
			b = append(b, s[i])
		}
	}
	for len(b) > 1 && b[0] == '0' {
		b = b[1:]
	}
	for len(b) > 1 && b[len(b)-1] == '0' {
		b = b[:len(b)-1]
	}
	return string(b)
}
