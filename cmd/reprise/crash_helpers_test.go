package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds on the child process, generous for a loaded 2-core machine running
// a race-instrumented binary. They only turn a hang into a clear failure.
const (
	buildTimeout   = 15 * time.Minute
	startTimeout   = 3 * time.Minute
	exitTimeout    = 2 * time.Minute
	requestTimeout = 2 * time.Minute
)

// raceEnabled reports whether this test binary was built with -race; the
// server under test is then built the same way, so data races in the node
// surface under crash load too.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// buildReprise compiles this package (the real reprise binary) into dir.
func buildReprise(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "reprise")
	args := []string{"build", "-o", bin}
	if raceEnabled() {
		args = append(args, "-race")
	}
	args = append(args, ".")
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// childEnv is the environment without REPRISE_* variables: the server
// reads its configuration from them, and the crash test's own settings
// (REPRISE_CRASH_*) or a developer's must not reach it.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REPRISE_") {
			env = append(env, kv)
		}
	}
	return env
}

// recoveryLine is what a node's "recovered" log line says.
type recoveryLine struct {
	Index, Snapshot, Replayed uint64
}

// stderrLog collects a node's stderr and picks out the lines the crash test
// needs: where it listens, what its recovery replayed, snapshots written.
type stderrLog struct {
	mu        sync.Mutex
	all       bytes.Buffer
	partial   []byte
	addr      string
	recovery  *recoveryLine
	badLine   error
	snapshots int
	listening chan struct{}
}

func newStderrLog() *stderrLog { return &stderrLog{listening: make(chan struct{})} }

func (l *stderrLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.line(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

// line interprets one text-format slog line.
func (l *stderrLog) line(s string) {
	switch {
	case strings.Contains(s, " msg=listening "):
		if l.addr != "" {
			return
		}
		addr := logField(s, "addr")
		if addr == "" {
			l.badLine = errors.New("listening line without addr: " + s)
			return
		}
		l.addr = addr
		close(l.listening)
	case strings.Contains(s, " msg=recovered "):
		var r recoveryLine
		for _, f := range []struct {
			name string
			dst  *uint64
		}{{"index", &r.Index}, {"snapshot", &r.Snapshot}, {"replayed", &r.Replayed}} {
			v, err := strconv.ParseUint(logField(s, f.name), 10, 64)
			if err != nil {
				l.badLine = fmt.Errorf("recovered line: field %s: %v: %s", f.name, err, s)
				return
			}
			*f.dst = v
		}
		l.recovery = &r
	case strings.Contains(s, ` msg="snapshot written" `):
		l.snapshots++
	}
}

// logField returns the value of key=value in a text-format slog line.
func logField(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

func (l *stderrLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

// node is one run of the reprise server process.
type node struct {
	cmd     *exec.Cmd
	log     *stderrLog
	exited  chan struct{}
	waitErr error // valid once exited is closed
	addr    string
}

// startNode starts `reprise serve` on dataDir. Extra flags follow the
// defaults, so a flag given again there (--listen) wins. The process is
// killed at cleanup if the test has not ended it.
func startNode(t *testing.T, bin, dataDir string, snapshotEvery int, extra ...string) *node {
	t.Helper()
	args := append([]string{"serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0",
		"--catalog", "counter", "--snapshot-every", strconv.Itoa(snapshotEvery), "--log-format", "text"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = childEnv()
	n := &node{cmd: cmd, log: newStderrLog(), exited: make(chan struct{})}
	cmd.Stderr = n.log
	cmd.Stdout = io.Discard
	cmd.WaitDelay = exitTimeout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		n.waitErr = cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-n.exited:
		default:
			_ = cmd.Process.Kill()
			<-n.exited
		}
	})
	return n
}

// hasExited reports whether the process is gone.
func (n *node) hasExited() bool {
	select {
	case <-n.exited:
		return true
	default:
		return false
	}
}

// waitListening waits for the listening line. It fails if the process
// exits first (a refused recovery exits non-zero) or does not come up.
func (n *node) waitListening(timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-n.log.listening:
	case <-n.exited:
		// The line may have been written just before the exit.
		select {
		case <-n.log.listening:
		default:
			return fmt.Errorf("reprise serve exited before listening (%v); stderr:\n%s", n.waitErr, n.log)
		}
	case <-timer.C:
		return fmt.Errorf("reprise serve did not log msg=listening within %v; stderr:\n%s", timeout, n.log)
	}
	n.log.mu.Lock()
	n.addr = n.log.addr
	n.log.mu.Unlock()
	return nil
}

// recovery returns the recovered line of this run, or an error if there
// was none or it did not parse.
func (n *node) recovery() (recoveryLine, error) {
	n.log.mu.Lock()
	defer n.log.mu.Unlock()
	if n.log.badLine != nil {
		return recoveryLine{}, n.log.badLine
	}
	if n.log.recovery == nil {
		return recoveryLine{}, fmt.Errorf("no msg=recovered line before msg=listening; stderr:\n%s", n.log.all.String())
	}
	return *n.log.recovery, nil
}

func (n *node) snapshotsWritten() int {
	n.log.mu.Lock()
	defer n.log.mu.Unlock()
	return n.log.snapshots
}

// kill sends SIGKILL and waits for the process to be gone. It reports an
// error if the process had already exited on its own.
func (n *node) kill() error {
	if n.hasExited() {
		return fmt.Errorf("reprise serve exited by itself before the kill (%v); stderr:\n%s", n.waitErr, n.log)
	}
	if err := n.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("SIGKILL: %w", err)
	}
	select {
	case <-n.exited:
		return nil
	case <-time.After(exitTimeout):
		return fmt.Errorf("process still running %v after SIGKILL", exitTimeout)
	}
}

// terminate sends SIGTERM and requires a clean exit.
func (n *node) terminate() error {
	if n.hasExited() {
		return fmt.Errorf("reprise serve exited by itself before SIGTERM (%v); stderr:\n%s", n.waitErr, n.log)
	}
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("SIGTERM: %w", err)
	}
	select {
	case <-n.exited:
	case <-time.After(exitTimeout):
		_ = n.cmd.Process.Kill()
		<-n.exited
		return fmt.Errorf("reprise serve did not exit within %v of SIGTERM; stderr:\n%s", exitTimeout, n.log)
	}
	if n.waitErr != nil {
		return fmt.Errorf("reprise serve exited with %v after SIGTERM; stderr:\n%s", n.waitErr, n.log)
	}
	return nil
}

// incrementAnswer is the part of a POST /transition answer the test reads.
type incrementAnswer struct {
	Success   bool   `json:"success"`
	Error     string `json:"error"`
	Code      string `json:"code"`
	StateHash string `json:"state_hash"`
	Index     uint64 `json:"index"`
	Duplicate bool   `json:"duplicate"`
}

// errNoAnswer wraps every failure that leaves an operation's fate unknown:
// the connection broke or the node said it gave no verdict in time.
var errNoAnswer = errors.New("no answer")

// postIncrement sends one TRANSITION_INCREMENT. A nil error means a 200
// answer with success:true. An error wrapping errNoAnswer leaves the fate
// of the operation unknown; any other error is a verdict the test must
// never see (a rejection, a malformed answer).
func postIncrement(ctx context.Context, client *http.Client, addr, key string, by int64, idemKey string) (incrementAnswer, error) {
	req, err := incrementRequest(ctx, addr, key, by, idemKey)
	if err != nil {
		return incrementAnswer{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return incrementAnswer{}, fmt.Errorf("%w: %v", errNoAnswer, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		// The status line came but the body did not: the node died while
		// answering. The verdict was not received.
		return incrementAnswer{}, fmt.Errorf("%w: reading answer: %v", errNoAnswer, err)
	}
	if resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(raw), `"code":"timeout"`) {
		return incrementAnswer{}, fmt.Errorf("%w: %s", errNoAnswer, bytes.TrimSpace(raw))
	}
	var a incrementAnswer
	if resp.StatusCode != http.StatusOK {
		return a, fmt.Errorf("POST /transition %s (key %s, by %d): HTTP %d: %s", idemKey, key, by, resp.StatusCode, bytes.TrimSpace(raw))
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return a, fmt.Errorf("POST /transition %s: answer does not decode: %v: %s", idemKey, err, raw)
	}
	if !a.Success || a.Index == 0 {
		return a, fmt.Errorf("POST /transition %s: HTTP 200 without success and an index: %s", idemKey, raw)
	}
	return a, nil
}

// incrementRequest is the POST /transition of one TRANSITION_INCREMENT.
func incrementRequest(ctx context.Context, addr, key string, by int64, idemKey string) (*http.Request, error) {
	body, err := json.Marshal(map[string]any{
		"transition": "TRANSITION_INCREMENT",
		"inputs":     map[string]any{"key": key, "by": by},
		"idem_key":   idemKey,
	})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/transition", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

// stateView is GET /state of the counter catalog.
type stateView struct {
	Counts    map[string]int64
	Index     uint64
	StateHash string
	// ReadIndex is the Reprise-Read-Index header: the index the read
	// reflects (a cluster replica may serve one below its last record).
	ReadIndex uint64
}

func getState(ctx context.Context, client *http.Client, addr string) (stateView, error) {
	var v stateView
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/state", nil)
	if err != nil {
		return v, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return v, fmt.Errorf("GET /state: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return v, fmt.Errorf("GET /state: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("GET /state: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	var body struct {
		Counts map[string]int64 `json:"counts"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return v, fmt.Errorf("GET /state: %v: %s", err, raw)
	}
	v.Counts = body.Counts
	if v.Index, err = strconv.ParseUint(resp.Header.Get("Reprise-Index"), 10, 64); err != nil {
		return v, fmt.Errorf("GET /state: Reprise-Index header: %v", err)
	}
	v.StateHash = resp.Header.Get("Reprise-State-Hash")
	if v.ReadIndex, err = strconv.ParseUint(resp.Header.Get("Reprise-Read-Index"), 10, 64); err != nil {
		return v, fmt.Errorf("GET /state: Reprise-Read-Index header: %v", err)
	}
	return v, nil
}

// healthView is the part of GET /health the test compares.
type healthView struct {
	Index     uint64 `json:"index"`
	StateHash string `json:"state_hash"`
	Ready     bool   `json:"ready"`
}

func getHealth(ctx context.Context, client *http.Client, addr string) (healthView, error) {
	var h healthView
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/health", nil)
	if err != nil {
		return h, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return h, fmt.Errorf("GET /health: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return h, fmt.Errorf("GET /health: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return h, fmt.Errorf("GET /health: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return h, fmt.Errorf("GET /health: %v: %s", err, raw)
	}
	if !h.Ready || h.StateHash == "" {
		return h, fmt.Errorf("GET /health: node not ready: %s", raw)
	}
	return h, nil
}
