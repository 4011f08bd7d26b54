package state

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"io"
)

// Hash is a published state hash.
type Hash [32]byte

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash parses the hex form of a Hash.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, errBadHash(s)
	}
	copy(h[:], b)
	return h, nil
}

type errBadHash string

func (e errBadHash) Error() string { return "not a 64-digit hex state hash: " + string(e) }

const (
	lanes = 1024
	words = lanes / 4 // four 16-bit lanes per uint64

	// hi has the top bit of every 16-bit lane set.
	hi = 0x8000800080008000
)

// lthash is the lane vector: 1024 lanes of 16 bits, four per word.
type lthash [words]uint64

var (
	entryDomain = []byte("reprise/state-entry/v1\x00")
	hashDomain  = []byte("reprise/state-hash/v1\x00")
	zeroStream  [words * 8]byte
)

// scratch holds the buffers of expand and digest, reused across calls so
// that hashing a transition's delta allocates next to nothing: a State is
// only ever mutated by one goroutine, and each State has its own.
type scratch struct {
	h    hash.Hash
	buf  [words * 8]byte
	v    lthash
	n    [binary.MaxVarintLen64]byte
	seed [32]byte
	iv   [aes.BlockSize]byte
	out  Hash
}

func newScratch() *scratch { return &scratch{h: sha256.New()} }

// expand maps one entry to its lane vector, left in x.v.
func (x *scratch) expand(field, key string, value []byte) *lthash {
	h, n := x.h, x.n[:]
	h.Reset()
	h.Write(entryDomain)
	h.Write(n[:binary.PutUvarint(n, uint64(len(field)))])
	io.WriteString(h, field)
	h.Write(n[:binary.PutUvarint(n, uint64(len(key)))])
	io.WriteString(h, key)
	h.Write(value)
	h.Sum(x.seed[:0])
	block, err := aes.NewCipher(x.seed[:])
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	cipher.NewCTR(block, x.iv[:]).XORKeyStream(x.buf[:], zeroStream[:])
	for i := range x.v {
		x.v[i] = binary.LittleEndian.Uint64(x.buf[i*8:])
	}
	return &x.v
}

// add adds v lane-wise (mod 2^16 per lane) without carries crossing lanes.
func (l *lthash) add(v *lthash) {
	for i := range l {
		a, b := l[i], v[i]
		l[i] = ((a &^ hi) + (b &^ hi)) ^ ((a ^ b) & hi)
	}
}

// sub subtracts v lane-wise (mod 2^16 per lane).
func (l *lthash) sub(v *lthash) {
	for i := range l {
		a, b := l[i], v[i]
		l[i] = ((a | hi) - (b &^ hi)) ^ ((a ^ ^b) & hi)
	}
}

func (l *lthash) digest(x *scratch) Hash {
	for i, w := range l {
		binary.LittleEndian.PutUint64(x.buf[i*8:], w)
	}
	h := x.h
	h.Reset()
	h.Write(hashDomain)
	h.Write(x.buf[:])
	h.Sum(x.out[:0])
	return x.out
}
