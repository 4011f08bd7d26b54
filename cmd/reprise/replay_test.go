package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/catalogs/builtin"
	"github.com/reprise-dev/reprise/guest/build"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/executor"
	"github.com/reprise-dev/reprise/host/replay"
	"github.com/reprise-dev/reprise/wal"
)

// runReplayCmd runs `reprise replay` in-process.
func runReplayCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := newReplayCmd()
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// replayDataDir writes a counter node's data directory: a snapshot at
// index 6, records up to 21 with a reset of k1 at 12, then a clean close
// (a final snapshot at 21; the WAL compacted up to the snapshot at 6). It
// returns the directory, the reset's index and the final state hash.
func replayDataDir(t *testing.T) (dir string, resetAt uint64, final string) {
	t.Helper()
	ctx := context.Background()
	wasm, _ := builtin.Lookup("counter")
	engine, err := host.NewEngine(ctx, host.EngineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close(ctx) })
	m, err := engine.Load(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	e, err := executor.Open(ctx, executor.Config{DataDir: dir, Module: m, SnapshotEvery: 1 << 40, SnapshotKeep: 2,
		Logger: slog.New(slog.DiscardHandler), WAL: wal.Options{GCInterval: -1}})
	if err != nil {
		t.Fatal(err)
	}
	submit := func(p abi.Proposal) uint64 {
		v, err := e.Submit(ctx, executor.Submission{Proposal: p})
		if err != nil || !v.Accepted {
			t.Fatalf("%s: %+v, %v", p.Inputs, v, err)
		}
		return v.Index
	}
	for i := range 20 {
		if i == 10 {
			resetAt = submit(abi.Proposal{Transition: "TRANSITION_RESET", Inputs: []byte(`{"key":"k1"}`)})
			continue
		}
		submit(abi.Proposal{Transition: "TRANSITION_INCREMENT", Inputs: fmt.Appendf(nil, `{"by":%d,"key":"k%d"}`, i+1, i%3)})
		if i == 4 {
			if _, err := e.Snapshot(); err != nil {
				t.Fatal(err)
			}
		}
	}
	final = e.Status().StateHash.String()
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return dir, resetAt, final
}

// TestReplayCommand replays a stopped node's data directory: clean under
// its own catalogs (text and JSON), with fingerprint drift under the other
// engine, and with exit code 3 and the reset named when forced under
// counter 1.1.0, whose reset differs.
func TestReplayCommand(t *testing.T) {
	dir, resetAt, final := replayDataDir(t)

	out := mustRun(t, runReplayCmd, "--data-dir", dir)
	for _, want := range []string{"replayed records 7..21 (15 records, 0 activations) from the snapshot at index 6", "final state hash " + final, "no divergence"} {
		if !strings.Contains(out, want) {
			t.Fatalf("replay output lacks %q:\n%s", want, out)
		}
	}
	out = mustRun(t, runReplayCmd, "--data-dir", dir, "--from", "10", "--to", "15", "--json")
	var rep replay.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if rep.From != 10 || rep.To != 15 || rep.Replayed != 6 || rep.LeadIn != 3 || rep.BaseIndex != 6 || !rep.Clean() {
		t.Fatalf("--from 10 --to 15: %+v", rep)
	}
	out = mustRun(t, runReplayCmd, "--data-dir", dir, "--engine", "interpreter")
	if !strings.Contains(out, "no divergence") || !strings.Contains(out, "fingerprint drift: the activation in force at the base snapshot") ||
		!strings.Contains(out, "engine: compiler -> interpreter") {
		t.Fatalf("replay under the interpreter:\n%s", out)
	}

	if testing.Short() {
		t.Skip("builds a catalog with the Go toolchain")
	}
	res, err := build.Build(context.Background(), filepath.Join("..", "..", "catalogs", "counterdiverge"), build.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v11 := filepath.Join(t.TempDir(), "counter-1.1.0.wasm")
	if err := os.WriteFile(v11, res.Wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err = runReplayCmd(t, "--data-dir", dir, "--catalog", v11)
	requireExitCode(t, err, exitDiverged)
	for _, want := range []string{fmt.Sprintf("the first is record %d (transition TRANSITION_RESET", resetAt), "counts/k1: (absent) → 0"} {
		if !strings.Contains(out, want) {
			t.Fatalf("forced replay output lacks %q:\n%s", want, out)
		}
	}
	// The catalog can be named by a hash prefix once it is known.
	hash := fmt.Sprintf("%x", host.Hash(res.Wasm))
	_, _, err = runReplayCmd(t, "--data-dir", dir, "--module", v11, "--catalog", hash[:10])
	requireExitCode(t, err, exitDiverged)
}

// TestReplayCommandRefusals: a directory that is no data directory, one a
// node holds open, and a catalog nobody knows are refused with errors that
// say so.
func TestReplayCommandRefusals(t *testing.T) {
	dir, _, _ := replayDataDir(t)
	ctx := context.Background()

	if _, _, err := runReplayCmd(t, "--data-dir", t.TempDir()); err == nil || !strings.Contains(err.Error(), "holds no WAL") {
		t.Fatalf("empty directory: %v", err)
	}
	if _, _, err := runReplayCmd(t, "--data-dir", dir, "--catalog", "feedface"); err == nil || !strings.Contains(err.Error(), "no known catalog hash starts with it") {
		t.Fatalf("unknown catalog prefix: %v", err)
	}
	if _, _, err := runReplayCmd(t, "--data-dir", dir, "--catalog", "nope"); err == nil || !strings.Contains(err.Error(), "neither a built-in") {
		t.Fatalf("bad catalog: %v", err)
	}

	wasm, _ := builtin.Lookup("counter")
	engine, err := host.NewEngine(ctx, host.EngineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close(ctx)
	m, err := engine.Load(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	e, err := executor.Open(ctx, executor.Config{DataDir: dir, Module: m, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	if _, _, err := runReplayCmd(t, "--data-dir", dir); err == nil || !strings.Contains(err.Error(), "a server running on it holds it") {
		t.Fatalf("replay of a data directory in use: %v", err)
	}
}

// requireExitCode requires err to carry the process exit code.
func requireExitCode(t *testing.T, err error, code int) {
	t.Helper()
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != code {
		t.Fatalf("error %v, want exit code %d", err, code)
	}
}

// mustRun runs a command runner and fails on an error.
func mustRun(t *testing.T, run func(*testing.T, ...string) (string, string, error), args ...string) string {
	t.Helper()
	out, errOut, err := run(t, args...)
	if err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}
