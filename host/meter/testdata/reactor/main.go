// Command reactor is a small Go reactor used by the meter tests: one export
// does a bounded amount of realistic work, another never returns.
package main

func main() {}

// payload is a record list as a transition might receive it: for each
// record, a varint key length, the key, and a varint value.
var payload = encode([]record{
	{"agent/alpha", 1}, {"agent/beta", 300}, {"task/42", 70_000},
	{"task/43", 5}, {"lease/alpha", 1 << 33}, {"epoch", 9},
	{"status", 127}, {"owner", 128},
})

type record struct {
	key   string
	value uint64
}

func encode(rs []record) []byte {
	var b []byte
	for _, r := range rs {
		b = appendUvarint(b, uint64(len(r.key)))
		b = append(b, r.key...)
		b = appendUvarint(b, r.value)
	}
	return b
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func uvarint(b []byte) (uint64, int) {
	var v uint64
	for i, c := range b {
		v |= uint64(c&0x7F) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

func decode(b []byte) []record {
	var rs []record
	for len(b) > 0 {
		n, k := uvarint(b)
		b = b[k:]
		key := string(b[:n])
		b = b[n:]
		v, k := uvarint(b)
		b = b[k:]
		rs = append(rs, record{key, v})
	}
	return rs
}

var index = map[string]uint64{}

// work decodes the payload rounds times, updates an index with the records
// and returns a checksum of what it saw.
//
//go:wasmexport work
func work(rounds int32) int64 {
	var sum uint64
	for r := int32(0); r < rounds; r++ {
		for _, rec := range decode(payload) {
			index[rec.key] += rec.value
			sum = sum*31 + rec.value + uint64(len(rec.key))
		}
	}
	return int64(sum)
}

var spins uint64

// spin never returns.
//
//go:wasmexport spin
func spin() {
	for {
		spins++
	}
}
