package canon

import (
	"encoding/json"
	"testing"
	"time"
)

// benchAgainst measures op as the benchmark itself, then runs baseline the
// same number of times in the same process and reports its cost and the
// ratio baseline/op ("x-faster" above 1 means op is faster).
func benchAgainst(b *testing.B, op, baseline func() error) {
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := op(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	opNs := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	start := time.Now()
	for range b.N {
		if err := baseline(); err != nil {
			b.Fatal(err)
		}
	}
	baseNs := float64(time.Since(start).Nanoseconds()) / float64(b.N)
	b.ReportMetric(baseNs, "encoding/json-ns/op")
	b.ReportMetric(baseNs/opNs, "x-faster")
}

var smallInput = []byte(`{"key":"a","by":2}`)

func BenchmarkDecodeSmall(b *testing.B) {
	var in transitionInput
	benchAgainst(b,
		func() error { return Unmarshal(smallInput, &in) },
		func() error { return json.Unmarshal(smallInput, &in) })
}

func BenchmarkEncodeSmall(b *testing.B) {
	v := int64(1234567)
	benchAgainst(b,
		func() error { _, err := Marshal(v); return err },
		func() error { _, err := json.Marshal(v); return err })
}

// BenchmarkTransition is the per-transition work of a typical guest:
// decode the input, then encode the new value it computes.
func BenchmarkTransition(b *testing.B) {
	var in transitionInput
	counter := int64(1000)
	buf := make([]byte, 0, 64)
	benchAgainst(b,
		func() error {
			if err := Unmarshal(smallInput, &in); err != nil {
				return err
			}
			var err error
			buf, err = AppendMarshal(buf[:0], counter+in.By)
			return err
		},
		func() error {
			if err := json.Unmarshal(smallInput, &in); err != nil {
				return err
			}
			_, err := json.Marshal(counter + in.By)
			return err
		})
}

var mediumState = []byte(`{"phase":"review","round":12,"participants":[
 {"id":"agent-7","role":"lead","score":0.875,"votes":[1,0,1,1],"active":true},
 {"id":"agent-3","role":"critic","score":0.5,"votes":[0,0,1,0],"active":false},
 {"id":"agent-9","role":"scribe","score":1,"votes":[],"active":true}],
 "config":{"quorum":2,"timeout_ms":30000,"labels":{"team":"core","env":"prod"}},
 "history":["open","propose","discuss","review"]}`)

type participant struct {
	ID     string  `json:"id"`
	Role   string  `json:"role"`
	Score  float64 `json:"score"`
	Votes  []int   `json:"votes"`
	Active bool    `json:"active"`
}

type mediumStateValue struct {
	Phase        string        `json:"phase"`
	Round        int           `json:"round"`
	Participants []participant `json:"participants"`
	Config       struct {
		Quorum    int               `json:"quorum"`
		TimeoutMS int64             `json:"timeout_ms"`
		Labels    map[string]string `json:"labels"`
	} `json:"config"`
	History []string `json:"history"`
}

func BenchmarkDecodeMedium(b *testing.B) {
	var v mediumStateValue
	benchAgainst(b,
		func() error { return Unmarshal(mediumState, &v) },
		func() error { return json.Unmarshal(mediumState, &v) })
}

func BenchmarkEncodeMedium(b *testing.B) {
	var v mediumStateValue
	if err := Unmarshal(mediumState, &v); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	benchAgainst(b,
		func() error { var err error; buf, err = AppendMarshal(buf[:0], &v); return err },
		func() error { _, err := json.Marshal(&v); return err })
}

// BenchmarkCanonicalize compares with what encoding/json offers for the same
// purpose: decoding into any and encoding again, which sorts map keys.
func BenchmarkCanonicalize(b *testing.B) {
	benchAgainst(b,
		func() error { _, err := Canonicalize(mediumState); return err },
		func() error {
			var v any
			if err := json.Unmarshal(mediumState, &v); err != nil {
				return err
			}
			_, err := json.Marshal(v)
			return err
		})
}
