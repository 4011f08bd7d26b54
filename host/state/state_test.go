package state

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/reprise-dev/reprise/abi"
)

func lane(l *lthash, i int) uint16 { return uint16(l[i/4] >> (16 * (i % 4))) }

func TestLaneArithmeticMatchesPerLaneModulo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		var a, b lthash
		for i := range a {
			a[i], b[i] = rng.Uint64(), rng.Uint64()
		}
		if round == 0 { // carries and borrows at every lane boundary
			for i := range a {
				a[i], b[i] = 0xFFFF_FFFF_FFFF_FFFF, 0x0001_0001_0001_0001
			}
		}
		sum, diff := a, a
		sum.add(&b)
		diff.sub(&b)
		for i := 0; i < lanes; i++ {
			if got, want := lane(&sum, i), lane(&a, i)+lane(&b, i); got != want {
				t.Fatalf("round %d lane %d: add = %#x, want %#x", round, i, got, want)
			}
			if got, want := lane(&diff, i), lane(&a, i)-lane(&b, i); got != want {
				t.Fatalf("round %d lane %d: sub = %#x, want %#x", round, i, got, want)
			}
		}
	}
}

func randomDelta(rng *rand.Rand, n int) []abi.Change {
	d := make([]abi.Change, 0, n)
	for i := 0; i < n; i++ {
		c := abi.Change{Field: fmt.Sprintf("f%d", rng.IntN(3)), Key: fmt.Sprintf("k%d", rng.IntN(50))}
		if rng.IntN(4) == 0 {
			c.Deleted = true
		} else {
			c.Value = []byte(fmt.Sprint(rng.IntN(1000)))
		}
		d = append(d, c)
	}
	return d
}

func TestHashDependsOnlyOnContent(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	s := New()
	empty := s.Hash()
	for i := 0; i < 500; i++ {
		s.Apply(randomDelta(rng, 1+rng.IntN(5)))
	}
	// Rebuild from the sorted entries, and from them shuffled: same hash.
	entries := s.Entries()
	if got := FromEntries(entries).Hash(); got != s.Hash() {
		t.Fatalf("rebuilt hash %s, incremental %s", got, s.Hash())
	}
	rng.Shuffle(len(entries), func(i, j int) { entries[i], entries[j] = entries[j], entries[i] })
	if got := FromEntries(entries).Hash(); got != s.Hash() {
		t.Fatalf("shuffled rebuild hash %s, incremental %s", got, s.Hash())
	}
	if s.Len() != len(entries) {
		t.Fatalf("Len %d, entries %d", s.Len(), len(entries))
	}
	// Deleting everything returns to the empty hash.
	for _, e := range s.Entries() {
		s.Apply([]abi.Change{{Field: e.Field, Key: e.Key, Deleted: true}})
	}
	if s.Hash() != empty || s.Len() != 0 {
		t.Fatalf("after deleting all: hash %s len %d, want empty %s", s.Hash(), s.Len(), empty)
	}
}

func TestHashSeparatesFieldKeyAndValue(t *testing.T) {
	a := FromEntries([]abi.Entry{{Field: "ab", Key: "c", Value: []byte("1")}})
	b := FromEntries([]abi.Entry{{Field: "a", Key: "bc", Value: []byte("1")}})
	c := FromEntries([]abi.Entry{{Field: "ab", Key: "c", Value: []byte("2")}})
	if a.Hash() == b.Hash() || a.Hash() == c.Hash() {
		t.Fatal("distinct entries hash alike")
	}
	if _, err := ParseHash(a.Hash().String()); err != nil {
		t.Fatal(err)
	}
}

func TestCloneIsIndependent(t *testing.T) {
	s := New()
	s.Apply([]abi.Change{{Field: "counts", Key: "a", Value: []byte("1")}})
	c := s.Clone()
	s.Apply([]abi.Change{{Field: "counts", Key: "a", Value: []byte("2")}})
	if v, _ := c.Get("counts", "a"); string(v) != "1" {
		t.Fatalf("clone sees %s", v)
	}
	if c.Hash() == s.Hash() {
		t.Fatal("clone hash followed the original")
	}
}

func TestView(t *testing.T) {
	d := &abi.Descriptor{Fields: []abi.FieldInfo{{Name: "counts", Kind: abi.FieldMap}, {Name: "meta", Kind: abi.FieldValue}, {Name: "empty", Kind: abi.FieldMap}}}
	s := New()
	s.Apply([]abi.Change{{Field: "counts", Key: "b\"", Value: []byte("2")}, {Field: "counts", Key: "a", Value: []byte("1")}})
	want := `{"counts":{"a":1,"b\"":2},"empty":{},"meta":null}`
	if got := string(s.View(d)); got != want {
		t.Fatalf("View = %s, want %s", got, want)
	}
	if got, _ := s.FieldView(d, "counts"); string(got) != `{"a":1,"b\"":2}` {
		t.Fatalf("FieldView = %s", got)
	}
	if _, err := s.FieldView(d, "nope"); err == nil {
		t.Fatal("FieldView of an unknown field did not fail")
	}
}

func BenchmarkApplyOneEntry(b *testing.B) {
	s := New()
	for i := 0; i < 1000; i++ {
		s.Apply([]abi.Change{{Field: "counts", Key: fmt.Sprint(i), Value: []byte("1")}})
	}
	d := []abi.Change{{Field: "counts", Key: "7", Value: []byte("12345")}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d[0].Value[0] = byte('0' + i%10)
		s.Apply(d)
		_ = s.Hash()
	}
}
