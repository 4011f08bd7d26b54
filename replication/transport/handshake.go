package transport

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The handshake. Each side sends, without waiting for the other:
//
//	magic       8 bytes "RPRSREPL"
//	version     2 bytes, big-endian (ProtocolVersion)
//	hello len   2 bytes, big-endian, at most maxHelloBody
//	hello       cluster, node ID (each a uvarint length and the bytes), nonce (32 bytes)
//
// then checks the peer's: magic, version, cluster, and that the peer's node ID
// is not its own. Each then sends a 32-byte proof, HMAC-SHA256 keyed by the
// shared token over the cluster, its own node ID and nonce and the peer's
// nonce, and checks the peer's in constant time. The token never travels,
// a proof is bound to this connection's nonces (no replay) and to the
// sender's node ID (it cannot be reflected back), and both sides reach the
// same verdict, so each can name what was wrong.

// ProtocolVersion is the version of the wire format this package speaks.
const ProtocolVersion = 1

var handshakeMagic = [8]byte{'R', 'P', 'R', 'S', 'R', 'E', 'P', 'L'}

const (
	nonceLen     = 32
	proofLen     = sha256.Size
	maxNameLen   = 255
	maxHelloBody = 2*(2+maxNameLen) + nonceLen
	proofLabel   = "reprise replication handshake proof v1"
)

type hello struct {
	cluster string
	nodeID  string
	nonce   [nonceLen]byte
}

// handshake runs the exchange on an established stream (the caller bounds it
// with a deadline) and returns the peer's node ID.
func handshake(br *bufio.Reader, bw *bufio.Writer, cfg *Config) (string, error) {
	own := hello{cluster: cfg.Cluster, nodeID: cfg.NodeID}
	if _, err := rand.Read(own.nonce[:]); err != nil {
		return "", fmt.Errorf("transport: handshake nonce: %w", err)
	}
	if err := writeHello(bw, &own); err != nil {
		return "", fmt.Errorf("transport: sending hello: %w", err)
	}
	peer, err := readHello(br)
	if err != nil {
		return "", err
	}
	switch {
	case peer.cluster != cfg.Cluster:
		return "", fmt.Errorf("%w: peer %q is in cluster %q, this node is in cluster %q", ErrWrongCluster, peer.nodeID, peer.cluster, cfg.Cluster)
	case peer.nodeID == cfg.NodeID:
		return "", fmt.Errorf("%w: peer announced node ID %q (connected to itself, or two nodes share an ID)", ErrSelfConnection, peer.nodeID)
	}
	if _, err := bw.Write(proof(cfg.Token, cfg.Cluster, own.nodeID, own.nonce, peer.nonce)); err != nil {
		return "", fmt.Errorf("transport: sending proof: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return "", fmt.Errorf("transport: sending proof: %w", err)
	}
	var got [proofLen]byte
	if _, err := io.ReadFull(br, got[:]); err != nil {
		return "", fmt.Errorf("transport: reading proof of peer %q: %w", peer.nodeID, closedEarly(err))
	}
	want := proof(cfg.Token, cfg.Cluster, peer.nodeID, peer.nonce, own.nonce)
	if !hmac.Equal(got[:], want) {
		return "", fmt.Errorf("%w: peer %q did not prove it holds this node's token", ErrBadToken, peer.nodeID)
	}
	return peer.nodeID, nil
}

func writeHello(bw *bufio.Writer, h *hello) error {
	body := make([]byte, 0, maxHelloBody)
	body = appendString(body, h.cluster)
	body = appendString(body, h.nodeID)
	body = append(body, h.nonce[:]...)
	head := make([]byte, 0, 12)
	head = append(head, handshakeMagic[:]...)
	head = binary.BigEndian.AppendUint16(head, ProtocolVersion)
	head = binary.BigEndian.AppendUint16(head, uint16(len(body)))
	if _, err := bw.Write(head); err != nil {
		return err
	}
	if _, err := bw.Write(body); err != nil {
		return err
	}
	return bw.Flush()
}

func readHello(br *bufio.Reader) (hello, error) {
	var head [12]byte
	if _, err := io.ReadFull(br, head[:8]); err != nil {
		return hello{}, fmt.Errorf("transport: reading hello: %w", closedEarly(err))
	}
	if [8]byte(head[:8]) != handshakeMagic {
		return hello{}, fmt.Errorf("%w: it opened with %q", ErrNotReplicationPeer, head[:8])
	}
	if _, err := io.ReadFull(br, head[8:]); err != nil {
		return hello{}, fmt.Errorf("transport: reading hello: %w", closedEarly(err))
	}
	if v := binary.BigEndian.Uint16(head[8:10]); v != ProtocolVersion {
		return hello{}, fmt.Errorf("%w: peer speaks version %d, this node speaks version %d", ErrUnsupportedVersion, v, ProtocolVersion)
	}
	n := binary.BigEndian.Uint16(head[10:12])
	if n > maxHelloBody {
		return hello{}, fmt.Errorf("%w: hello of %d bytes is over the %d-byte limit", ErrProtocol, n, maxHelloBody)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		return hello{}, fmt.Errorf("transport: reading hello: %w", closedEarly(err))
	}
	d := decoder{b: body}
	var h hello
	h.cluster = d.string("cluster")
	h.nodeID = d.string("node ID")
	if d.err == "" && len(d.b)-d.off != nonceLen {
		d.fail("nonce is %d bytes, want %d", len(d.b)-d.off, nonceLen)
	}
	if d.err != "" {
		return hello{}, fmt.Errorf("%w: hello: %s", ErrProtocol, d.err)
	}
	copy(h.nonce[:], d.b[d.off:])
	if h.nodeID == "" {
		return hello{}, fmt.Errorf("%w: hello without a node ID", ErrProtocol)
	}
	return h, nil
}

// proof is what a side whose node ID is sender, with nonce ownNonce, sends a
// peer that sent peerNonce.
func proof(token, cluster, sender string, ownNonce, peerNonce [nonceLen]byte) []byte {
	m := hmac.New(sha256.New, []byte(token))
	b := make([]byte, 0, len(proofLabel)+len(cluster)+len(sender)+2*nonceLen+4)
	b = appendString(b, proofLabel)
	b = appendString(b, cluster)
	b = appendString(b, sender)
	b = append(b, ownNonce[:]...)
	b = append(b, peerNonce[:]...)
	m.Write(b)
	return m.Sum(nil)
}

// closedEarly names a stream that ended during the handshake: the peer
// refused this node (it reports why in its own log) or is not a node.
func closedEarly(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("peer closed the connection during the handshake: %w", io.ErrUnexpectedEOF)
	}
	return err
}
