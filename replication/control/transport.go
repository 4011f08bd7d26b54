package control

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// tcpStream is raft's stream layer over a TCP listener. It advertises the
// configured address rather than the listener's, so a node bound to a
// wildcard address is still named by the address its peers dial.
type tcpStream struct {
	net.Listener
	advertise net.Addr
}

func (s *tcpStream) Addr() net.Addr { return s.advertise }

func (s *tcpStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	return d.Dial("tcp", string(addr))
}

// advertisedAddr is a net.Addr for a configured host:port.
type advertisedAddr string

func (a advertisedAddr) Network() string { return "tcp" }
func (a advertisedAddr) String() string  { return string(a) }

// hclogBridge makes raft's hclog output land in an slog.Logger: hclog writes
// one JSON object per line and the bridge re-emits it as an slog record with
// the same level, message and fields (sorted by key).
type hclogBridge struct {
	log *slog.Logger
}

func newRaftLogger(log *slog.Logger, name string) hclog.Logger {
	level := hclog.Error
	ctx := context.Background()
	switch {
	case log.Enabled(ctx, slog.LevelDebug):
		level = hclog.Debug
	case log.Enabled(ctx, slog.LevelInfo):
		level = hclog.Info
	case log.Enabled(ctx, slog.LevelWarn):
		level = hclog.Warn
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:        name,
		Level:       level,
		Output:      hclogBridge{log: log},
		JSONFormat:  true,
		DisableTime: true,
	})
}

func (b hclogBridge) Write(p []byte) (int, error) {
	for line := range bytes.Lines(p) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var fields map[string]any
		if err := json.Unmarshal(line, &fields); err != nil {
			b.log.Info(string(line))
			continue
		}
		level := slog.LevelInfo
		switch lv, _ := fields["@level"].(string); lv {
		case "trace", "debug":
			level = slog.LevelDebug
		case "warn":
			level = slog.LevelWarn
		case "error":
			level = slog.LevelError
		}
		msg, _ := fields["@message"].(string)
		keys := make([]string, 0, len(fields))
		for k := range fields {
			if !strings.HasPrefix(k, "@") {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		attrs := make([]slog.Attr, 0, len(keys)+1)
		if m, ok := fields["@module"].(string); ok {
			attrs = append(attrs, slog.String("module", m))
		}
		for _, k := range keys {
			attrs = append(attrs, slog.Any(k, fields[k]))
		}
		b.log.LogAttrs(context.Background(), level, msg, attrs...)
	}
	return len(p), nil
}
