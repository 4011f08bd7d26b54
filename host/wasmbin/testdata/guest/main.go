// Command wasmbinguest is a small Go reactor that the wasmbin tests build for
// GOOS=wasip1 GOARCH=wasm to get a real module to parse, decode and
// re-encode. It touches integer, float, string and map code so the runtime
// and the program between them use a wide range of instructions.
package main

import (
	"math"
	"strconv"
	"strings"
)

var counts = map[string]int{}

//go:wasmexport add
func add(a, b int32) int32 { return a + b }

//go:wasmexport hypot
func hypot(x, y float64) float64 { return math.Hypot(x, y) }

//go:wasmexport count
func count(n int32) int32 {
	var sb strings.Builder
	for i := int32(0); i < n; i++ {
		sb.WriteString(strconv.Itoa(int(i)))
		counts[sb.String()]++
	}
	return int32(len(counts))
}

func main() {}
