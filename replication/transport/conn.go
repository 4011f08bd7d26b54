package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprise-dev/reprise/wal"
)

// Config configures both ends of a connection.
type Config struct {
	NodeID  string // this node's stable ID, announced in the handshake (1 to 255 bytes)
	Cluster string // cluster name; peers of another cluster are refused (at most 255 bytes)
	Token   string // shared secret, proven in the handshake and compared in constant time; "" means none

	DialTimeout      time.Duration // default 3s
	HandshakeTimeout time.Duration // default 3s
	WriteTimeout     time.Duration // per Send; default 10s
	// MaxFrame is the largest frame accepted or sent; default
	// wal.MaxRecordBytes + 64 KiB, so the largest record fits in one frame.
	MaxFrame int
	// Logger receives refused handshakes and accept errors; nil discards.
	Logger *slog.Logger
}

const (
	defaultDialTimeout      = 3 * time.Second
	defaultHandshakeTimeout = 3 * time.Second
	defaultWriteTimeout     = 10 * time.Second
	defaultMaxFrame         = wal.MaxRecordBytes + 64<<10
	minMaxFrame             = 4 << 10
	ioBufferSize            = 64 << 10
	// maxPendingHandshakes bounds the handshakes a Listener runs at once, so
	// a flood of connections that never speak cannot pile up goroutines.
	maxPendingHandshakes = 64
)

func (c Config) withDefaults() (Config, error) {
	switch {
	case c.NodeID == "":
		return c, errors.New("transport: config has no NodeID")
	case len(c.NodeID) > maxNameLen:
		return c, fmt.Errorf("transport: NodeID is %d bytes, at most %d allowed", len(c.NodeID), maxNameLen)
	case len(c.Cluster) > maxNameLen:
		return c, fmt.Errorf("transport: Cluster is %d bytes, at most %d allowed", len(c.Cluster), maxNameLen)
	case c.MaxFrame != 0 && c.MaxFrame < minMaxFrame:
		return c, fmt.Errorf("transport: MaxFrame %d is below the %d-byte minimum", c.MaxFrame, minMaxFrame)
	case c.DialTimeout < 0 || c.HandshakeTimeout < 0 || c.WriteTimeout < 0:
		return c, errors.New("transport: timeouts cannot be negative")
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = defaultDialTimeout
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = defaultHandshakeTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = defaultWriteTimeout
	}
	if c.MaxFrame == 0 {
		c.MaxFrame = defaultMaxFrame
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Conn is one handshaken connection to a peer. Send may be called from any
// number of goroutines; Recv from one at a time.
type Conn struct {
	nc   net.Conn
	peer string

	wmu          sync.Mutex
	fw           frameWriter
	writeTimeout time.Duration
	werr         error // sticky: set when a Send broke the stream

	fr   frameReader
	rerr error // sticky: set when Recv failed

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Dial connects to addr and runs the handshake. ctx bounds both; so do
// cfg.DialTimeout and cfg.HandshakeTimeout. The caller checks Peer against
// the node it meant to reach.
func Dial(ctx context.Context, addr string, cfg Config) (*Conn, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: cfg.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("transport: dial %s: %w", addr, err)
	}
	c, err := establish(ctx, nc, &cfg)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("transport: handshake with %s: %w", addr, err)
	}
	return c, nil
}

// establish sets up nc and runs the handshake, within cfg.HandshakeTimeout
// and for no longer than ctx lives.
func establish(ctx context.Context, nc net.Conn, cfg *Config) (*Conn, error) {
	if tc, ok := nc.(*net.TCPConn); ok {
		// Acks and barrier answers are small and latency-bound.
		if err := tc.SetNoDelay(true); err != nil {
			return nil, fmt.Errorf("transport: TCP_NODELAY: %w", err)
		}
	}
	if err := nc.SetDeadline(time.Now().Add(cfg.HandshakeTimeout)); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	br := bufio.NewReaderSize(nc, ioBufferSize)
	bw := bufio.NewWriterSize(nc, ioBufferSize)
	peer, err := handshake(br, bw, cfg)
	if !stop() {
		return nil, fmt.Errorf("transport: handshake abandoned: %w", context.Cause(ctx))
	}
	if err != nil {
		return nil, err
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	return &Conn{
		nc:           nc,
		peer:         peer,
		fw:           frameWriter{w: bw, maxFrame: cfg.MaxFrame},
		writeTimeout: cfg.WriteTimeout,
		fr:           frameReader{r: br, maxFrame: cfg.MaxFrame},
	}, nil
}

// Peer is the peer's NodeID, as it announced it in the handshake.
func (c *Conn) Peer() string { return c.peer }

// RemoteAddr is the peer's network address.
func (c *Conn) RemoteAddr() string { return c.nc.RemoteAddr().String() }

// Send writes env and flushes it, within the configured WriteTimeout. A Ship
// must come with exactly its records (From..Through, in order, with the
// epochs it names); anything else with none.
//
// An error found before anything was written (a message that is not one,
// records that do not match the Ship, a frame over MaxFrame) leaves the
// connection usable. Any other error (a write that failed or timed out, a
// record that could not be encoded midway through a Ship) closes the
// connection, and every later Send returns it.
func (c *Conn) Send(env Envelope) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return c.werr
	}
	if c.closed.Load() {
		return c.closedErr()
	}
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout)); err != nil {
		return c.breakSend(err)
	}
	broken, err := c.fw.write(env)
	if err == nil {
		if err = c.fw.w.Flush(); err != nil {
			broken = true
		}
	}
	if err != nil && broken {
		return c.breakSend(err)
	}
	return err
}

// breakSend records err as the sticky send error and closes the connection.
// Called with wmu held.
func (c *Conn) breakSend(err error) error {
	if c.closed.Load() {
		c.werr = c.closedErr()
	} else {
		c.werr = fmt.Errorf("transport: send to %s: %w (connection closed)", c.peer, err)
	}
	c.Close()
	return c.werr
}

// Recv returns the next envelope: a Ship with its records, checked; any
// other message with none. It returns io.EOF when the peer closed the
// connection cleanly between envelopes, an error wrapping net.ErrClosed after
// Close, and otherwise an error that names what was wrong (ErrFrameTooLarge,
// ErrProtocol, a record that failed its checksum, a stream cut mid-frame);
// then the connection is closed. After an error every call returns it again.
func (c *Conn) Recv() (Envelope, error) {
	if c.rerr != nil {
		return Envelope{}, c.rerr
	}
	env, err := c.fr.next()
	if err != nil {
		switch {
		case c.closed.Load():
			err = c.closedErr()
		case err == io.EOF:
		default:
			err = fmt.Errorf("transport: receive from %s: %w", c.peer, err)
			c.Close()
		}
		c.rerr = err
		return Envelope{}, err
	}
	return env, nil
}

// Close closes the connection, unblocking a pending Recv and Send. It is
// idempotent.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.closeErr = c.nc.Close()
	})
	return c.closeErr
}

func (c *Conn) closedErr() error {
	return fmt.Errorf("transport: connection to %s closed: %w", c.peer, net.ErrClosed)
}

// Listener accepts connections and runs their handshakes concurrently, so a
// slow or hostile peer never holds up another. Refused handshakes are logged,
// never returned by Accept.
type Listener struct {
	nl    net.Listener
	cfg   Config
	ready chan *Conn
	done  chan struct{}
	slots chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// Listen listens on addr ("127.0.0.1:0" picks a free port; Addr reports it).
func Listen(addr string, cfg Config) (*Listener, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	nl, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("transport: listen on %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Listener{
		nl:     nl,
		cfg:    cfg,
		ready:  make(chan *Conn),
		done:   make(chan struct{}),
		slots:  make(chan struct{}, maxPendingHandshakes),
		ctx:    ctx,
		cancel: cancel,
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l, nil
}

// Addr is the address the listener is bound to.
func (l *Listener) Addr() string { return l.nl.Addr().String() }

// Accept returns the next connection whose handshake succeeded. After Close
// it returns an error wrapping net.ErrClosed.
func (l *Listener) Accept() (*Conn, error) {
	select {
	case c := <-l.ready:
		select {
		case <-l.done:
			c.Close()
		default:
			return c, nil
		}
	case <-l.done:
	}
	return nil, fmt.Errorf("transport: listener on %s closed: %w", l.Addr(), net.ErrClosed)
}

// Close stops listening, abandons handshakes in progress, closes connections
// not yet accepted and returns once every goroutine of the listener is done.
// Connections already accepted stay open. It is idempotent.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		close(l.done)
		l.cancel()
		l.closeErr = l.nl.Close()
		l.wg.Wait()
	})
	return l.closeErr
}

func (l *Listener) acceptLoop() {
	defer l.wg.Done()
	var backoff time.Duration
	for {
		nc, err := l.nl.Accept()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			// Out of file descriptors and the like: wait and try again
			// rather than spin or give up.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.cfg.Logger.Warn("replication transport: accept failed", "addr", l.Addr(), "err", err, "retry_in", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-l.done:
				t.Stop()
				return
			}
			continue
		}
		backoff = 0
		select {
		case l.slots <- struct{}{}:
		default:
			l.cfg.Logger.Warn("replication transport: too many handshakes in progress, refusing connection",
				"remote", nc.RemoteAddr().String(), "limit", maxPendingHandshakes)
			nc.Close()
			continue
		}
		l.wg.Add(1)
		go l.serve(nc)
	}
}

// serve runs one handshake and hands the connection to Accept.
func (l *Listener) serve(nc net.Conn) {
	defer l.wg.Done()
	defer func() { <-l.slots }()
	c, err := establish(l.ctx, nc, &l.cfg)
	if err != nil {
		nc.Close()
		l.cfg.Logger.Warn("replication transport: refused connection", "remote", nc.RemoteAddr().String(), "err", err)
		return
	}
	select {
	case l.ready <- c:
	case <-l.done:
		c.Close()
	}
}
