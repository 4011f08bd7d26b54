// Command sealreactor is a Go reactor that the seal tests build for
// GOOS=wasip1 GOARCH=wasm, seal, and run in wazero. Each export exercises
// one part of the virtual WASI world: the clock, sleeping, randomness,
// stdout and stderr, stdin, files, JSON, and exiting.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"
)

var start = time.Now()

// now returns the wall clock in ns since the Unix epoch.
//
//go:wasmexport now
func now() int64 { return time.Now().UnixNano() }

// monotonic returns the monotonic time since start-up in ns.
//
//go:wasmexport monotonic
func monotonic() int64 { return int64(time.Since(start)) }

// sleep sleeps ms milliseconds and returns how long it took by the clock.
//
//go:wasmexport sleep
func sleep(ms int32) int64 {
	t := time.Now()
	time.Sleep(time.Duration(ms) * time.Millisecond)
	return int64(time.Since(t))
}

// random returns the next number of math/rand/v2's global generator.
//
//go:wasmexport random
func random() uint64 { return rand.Uint64() }

// printLine prints to stdout and stderr and returns 1 when both succeed.
//
//go:wasmexport print_line
func printLine() int32 {
	if _, err := fmt.Println("hello from the reactor"); err != nil {
		return 0
	}
	if _, err := fmt.Fprintln(os.Stderr, "and to stderr"); err != nil {
		return 0
	}
	return 1
}

// jsonRoundTrip encodes and decodes a value and returns 1 when it survives.
//
//go:wasmexport json_round_trip
func jsonRoundTrip() int32 {
	type item struct {
		Name  string            `json:"name"`
		Tags  []string          `json:"tags"`
		Attrs map[string]int    `json:"attrs"`
		Next  *item             `json:"next,omitempty"`
		Extra map[string]string `json:"extra,omitempty"`
	}
	in := item{Name: "a", Tags: []string{"x", "y"}, Attrs: map[string]int{"k": 1, "j": 2}, Next: &item{Name: "b"}}
	b, err := json.Marshal(in)
	if err != nil {
		return 0
	}
	var out item
	if err := json.Unmarshal(b, &out); err != nil || out.Name != "a" || out.Next == nil || out.Next.Name != "b" || out.Attrs["j"] != 2 {
		return 0
	}
	return int32(len(b))
}

// readFile reads a file that cannot exist and returns 1 when it gets an
// error (there are no files in a sealed world).
//
//go:wasmexport read_file
func readFile() int32 {
	if _, err := os.ReadFile("/etc/hostname"); err != nil {
		return 1
	}
	return 0
}

// readStdin returns 1 when stdin is at end of file.
//
//go:wasmexport read_stdin
func readStdin() int32 {
	var buf [16]byte
	n, err := os.Stdin.Read(buf[:])
	if n == 0 && errors.Is(err, io.EOF) {
		return 1
	}
	return 0
}

// exit calls os.Exit, which must trap.
//
//go:wasmexport exit
func exit() { os.Exit(3) }

func main() {}
