package state

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
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

// expand maps one entry to its lane vector.
func expand(field, key string, value []byte, out *lthash) {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	h.Write(entryDomain)
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(field)))])
	h.Write([]byte(field))
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(key)))])
	h.Write([]byte(key))
	h.Write(value)
	var seed [32]byte
	h.Sum(seed[:0])
	block, err := aes.NewCipher(seed[:])
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	var iv [aes.BlockSize]byte
	var buf [words * 8]byte
	cipher.NewCTR(block, iv[:]).XORKeyStream(buf[:], zeroStream[:])
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(buf[i*8:])
	}
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

func (l *lthash) digest() Hash {
	var buf [words * 8]byte
	for i, w := range l {
		binary.LittleEndian.PutUint64(buf[i*8:], w)
	}
	h := sha256.New()
	h.Write(hashDomain)
	h.Write(buf[:])
	var out Hash
	h.Sum(out[:0])
	return out
}
