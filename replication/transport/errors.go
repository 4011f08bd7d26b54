package transport

import "errors"

// Errors a connection fails with. Each is wrapped with the details of what
// was wrong; test for them with errors.Is.
var (
	// ErrNotReplicationPeer means the peer did not open with the Reprise
	// replication magic: it is some other program, or not speaking first.
	ErrNotReplicationPeer = errors.New("transport: peer is not a Reprise replication endpoint")
	// ErrUnsupportedVersion means the peer speaks another version of this
	// protocol.
	ErrUnsupportedVersion = errors.New("transport: unsupported protocol version")
	// ErrWrongCluster means the peer belongs to another cluster.
	ErrWrongCluster = errors.New("transport: peer is in another cluster")
	// ErrBadToken means the peer could not prove it holds this node's shared
	// token.
	ErrBadToken = errors.New("transport: bad token")
	// ErrSelfConnection means the peer announced this node's own ID.
	ErrSelfConnection = errors.New("transport: peer has this node's own ID")
	// ErrFrameTooLarge means a frame was over the MaxFrame limit: the
	// connection is closed without reading it.
	ErrFrameTooLarge = errors.New("transport: frame too large")
	// ErrProtocol means the bytes received are not a valid frame or not a
	// valid sequence of frames.
	ErrProtocol = errors.New("transport: protocol violation")
)
