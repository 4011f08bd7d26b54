package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/catalogs/builtin/manifest"
	"github.com/reprise-dev/reprise/guest/build"
	"github.com/reprise-dev/reprise/host/seal"
	"github.com/reprise-dev/reprise/host/wasmbin"
)

// Paths relative to this package's directory, where go test runs.
var (
	embeddedCounterPath = filepath.Join("..", "..", "catalogs", "builtin", "counter.wasm")
	counterSourceDir    = filepath.Join("..", "..", "catalogs", "counter")
)

// runReprise runs the root command in-process, as main does, and returns what
// it printed.
func runReprise(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err = root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func mustRunReprise(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, err := runReprise(t, args...)
	if err != nil {
		t.Fatalf("reprise %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout
}

// wantExit requires err to carry the given process exit code.
func wantExit(t *testing.T, err error, code int) {
	t.Helper()
	var ee *exitError
	if !errors.As(err, &ee) {
		t.Fatalf("error %v (%T), want an *exitError with code %d", err, err, code)
	}
	if ee.code != code {
		t.Fatalf("exit code %d (%v), want %d", ee.code, ee, code)
	}
}

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeTempFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// counterBuildOnce is one build of the counter catalog, shared: its Unsealed
// bytes are the toolchain's output, a module with WASI imports.
var counterBuildOnce struct {
	once sync.Once
	res  *build.Result
	err  error
}

func sharedCounterBuild(t *testing.T) *build.Result {
	t.Helper()
	skipCatalogBuildsInShortMode(t)
	counterBuildOnce.once.Do(func() {
		counterBuildOnce.res, counterBuildOnce.err = build.Build(context.Background(), counterSourceDir, build.Options{})
	})
	if counterBuildOnce.err != nil {
		t.Fatalf("build %s: %v", counterSourceDir, counterBuildOnce.err)
	}
	return counterBuildOnce.res
}

func skipCatalogBuildsInShortMode(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds catalogs with the Go toolchain")
	}
}

// tableLine matches one "label: value" line of the inspection table, whatever
// the column padding.
func tableLine(label, value string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(label) + `:[ \t]+` + regexp.QuoteMeta(value) + `$`)
}

func TestInspectEmbeddedCounter(t *testing.T) {
	wasm := mustReadFile(t, embeddedCounterPath)
	out := mustRunReprise(t, "catalog", "inspect", embeddedCounterPath)
	for _, re := range []*regexp.Regexp{
		tableLine("file", embeddedCounterPath),
		tableLine("hash", fmt.Sprintf("sha256:%x", sha256.Sum256(wasm))),
		tableLine("size", fmt.Sprintf("%d bytes", len(wasm))),
		tableLine("catalog", "counter 1.0.0"),
		tableLine("abi version", fmt.Sprint(abi.Version)),
		tableLine("imports", "0"),
		regexp.MustCompile(`(?m)^sealed:[ \t]+` + regexp.QuoteMeta(fmt.Sprintf("%s %d; %s.", seal.RecordSection, seal.Version, seal.WASIModule))),
		regexp.MustCompile(`(?m)^  TRANSITION_INCREMENT[ \t]+\{by: integer, key: string\}[ \t]+\S`),
		regexp.MustCompile(`(?m)^  TRANSITION_RESET[ \t]+\{key: string\}[ \t]+\S`),
		regexp.MustCompile(`(?m)^state fields: counts \(map\)$`),
	} {
		if !re.MatchString(out) {
			t.Errorf("output has no line matching %s:\n%s", re, out)
		}
	}
	for _, name := range append([]string{abi.ExportMemory}, abi.RequiredExports...) {
		if !strings.Contains(out, name) {
			t.Errorf("output does not list export %s:\n%s", name, out)
		}
	}
	if strings.Contains(out, "REFUSED") {
		t.Errorf("an accepted module is reported as refused:\n%s", out)
	}
}

func TestInspectJSON(t *testing.T) {
	wasm := mustReadFile(t, embeddedCounterPath)
	out := mustRunReprise(t, "catalog", "inspect", "--json", embeddedCounterPath)
	var got inspection
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("output is not the inspection JSON: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("output holds more than one JSON value:\n%s", out)
	}
	if !got.Accepted || len(got.Problems) != 0 {
		t.Fatalf("accepted %v, problems %v", got.Accepted, got.Problems)
	}
	if got.File != embeddedCounterPath || got.Hash != fmt.Sprintf("sha256:%x", sha256.Sum256(wasm)) || got.Size != len(wasm) {
		t.Errorf("file %q hash %s size %d, want %q sha256 %x size %d", got.File, got.Hash, got.Size, embeddedCounterPath, sha256.Sum256(wasm), len(wasm))
	}
	if got.Name != "counter" || got.Version != "1.0.0" || got.ABIVersion != abi.Version {
		t.Errorf("identity %s %s abi %d", got.Name, got.Version, got.ABIVersion)
	}
	if got.Imports == nil || len(got.Imports) != 0 || !strings.Contains(out, `"imports": []`) {
		t.Errorf("imports %v, want an empty list", got.Imports)
	}
	if !strings.HasPrefix(got.Sealed, fmt.Sprintf("%s %d\n", seal.RecordSection, seal.Version)) {
		t.Errorf("seal record %q", got.Sealed)
	}
	var names []string
	for _, tr := range got.Transitions {
		names = append(names, tr.Name)
	}
	if !slices.Equal(names, []string{"TRANSITION_INCREMENT", "TRANSITION_RESET"}) {
		t.Errorf("transitions %v", names)
	}
	if !slices.Equal(got.Fields, []string{"counts (map)"}) {
		t.Errorf("fields %v", got.Fields)
	}
}

// TestUnsealedModuleIsRefusedThenSealed inspects the toolchain's raw
// output (refused, naming every WASI import), seals it with the CLI, and
// inspects the result (accepted).
func TestUnsealedModuleIsRefusedThenSealed(t *testing.T) {
	res := sharedCounterBuild(t)
	parsed, err := wasmbin.Parse(res.Unsealed)
	if err != nil {
		t.Fatal(err)
	}
	if len(parsed.Imports) == 0 {
		t.Fatal("the toolchain's output has no imports; nothing to check")
	}
	unsealed := writeTempFile(t, "unsealed.wasm", res.Unsealed)

	out, _, err := runReprise(t, "catalog", "inspect", unsealed)
	wantExit(t, err, 2)
	if !strings.Contains(err.Error(), unsealed) || !strings.Contains(err.Error(), "would be refused") {
		t.Errorf("error %q does not say that %s would be refused", err, unsealed)
	}
	if !strings.Contains(out, "REFUSED:") || !tableLine("imports", fmt.Sprint(len(parsed.Imports))).MatchString(out) {
		t.Errorf("output does not report the refusal and %d imports:\n%s", len(parsed.Imports), out)
	}
	for _, im := range parsed.Imports {
		if want := "  - imports " + seal.WASIModule + "." + im.Name + " "; !strings.Contains(out, want) {
			t.Errorf("output does not name import %s.%s:\n%s", im.Module, im.Name, out)
		}
	}
	if !strings.Contains(out, "reprise catalog seal") {
		t.Errorf("output does not say how to seal the module:\n%s", out)
	}

	jsonOut, _, err := runReprise(t, "catalog", "inspect", "--json", unsealed)
	wantExit(t, err, 2)
	var ins inspection
	if err := json.Unmarshal([]byte(jsonOut), &ins); err != nil {
		t.Fatalf("refusal is not valid JSON: %v\n%s", err, jsonOut)
	}
	if ins.Accepted || len(ins.Problems) != len(parsed.Imports) {
		t.Errorf("accepted %v with %d problems, want refused with one per import (%d): %v", ins.Accepted, len(ins.Problems), len(parsed.Imports), ins.Problems)
	}
	for i, im := range parsed.Imports {
		if i >= len(ins.Imports) || ins.Imports[i] != seal.WASIModule+"."+im.Name {
			t.Errorf("JSON imports %v do not list %s.%s at %d", ins.Imports, im.Module, im.Name, i)
		}
	}

	sealed := filepath.Join(t.TempDir(), "sealed.wasm")
	out = mustRunReprise(t, "catalog", "seal", unsealed, "-o", sealed)
	if want := fmt.Sprintf("sealed %s: %d WASI imports replaced, sha256 %x", sealed, len(parsed.Imports), sha256.Sum256(res.Wasm)); !strings.Contains(out, want) {
		t.Errorf("seal printed %q, want %q", out, want)
	}
	if got := mustReadFile(t, sealed); !bytes.Equal(got, res.Wasm) {
		t.Fatalf("the CLI sealed the module to sha256 %x, the builder to %x", sha256.Sum256(got), sha256.Sum256(res.Wasm))
	}

	out = mustRunReprise(t, "catalog", "inspect", sealed)
	if !tableLine("catalog", "counter 1.0.0").MatchString(out) || !tableLine("imports", "0").MatchString(out) {
		t.Errorf("sealed module not reported as the counter catalog without imports:\n%s", out)
	}
}

// TestCatalogBuildReproducesEmbeddedModule builds the counter catalog with
// the pinned toolchain through the CLI and requires the checked-in bytes.
func TestCatalogBuildReproducesEmbeddedModule(t *testing.T) {
	skipCatalogBuildsInShortMode(t)
	want := mustReadFile(t, embeddedCounterPath)
	file := filepath.Join(t.TempDir(), "counter.wasm")
	out := mustRunReprise(t, "catalog", "build", counterSourceDir, "-o", file, "--toolchain", manifest.Toolchain)
	got := mustReadFile(t, file)
	if !bytes.Equal(got, want) {
		t.Fatalf("built sha256 %x, embedded %s is sha256 %x", sha256.Sum256(got), embeddedCounterPath, sha256.Sum256(want))
	}
	if prefix := fmt.Sprintf("built %s: %d bytes, sha256 %x, ", file, len(got), sha256.Sum256(got)); !strings.HasPrefix(out, prefix) || !strings.HasSuffix(out, " WASI imports sealed\n") {
		t.Errorf("build printed %q, want %q... WASI imports sealed", out, prefix)
	}
	if info, err := os.Stat(file); err != nil {
		t.Error(err)
	} else if info.Mode().Perm() != 0o644 {
		t.Errorf("output file mode %v, want 0644", info.Mode().Perm())
	}
	left, err := filepath.Glob(filepath.Join(filepath.Dir(file), ".*tmp*"))
	if err != nil || len(left) != 0 {
		t.Errorf("temporary files left beside the output: %v %v", left, err)
	}
}

func TestSealOfSealedModuleWritesItUnchanged(t *testing.T) {
	in := mustReadFile(t, embeddedCounterPath)
	out := filepath.Join(t.TempDir(), "again.wasm")
	stdout := mustRunReprise(t, "catalog", "seal", embeddedCounterPath, "-o", out)
	if want := embeddedCounterPath + " has no imports; written unchanged to " + out; !strings.Contains(stdout, want) {
		t.Errorf("seal printed %q, want %q", stdout, want)
	}
	if got := mustReadFile(t, out); !bytes.Equal(got, in) {
		t.Errorf("sealing a sealed module changed it: sha256 %x, was %x", sha256.Sum256(got), sha256.Sum256(in))
	}
}

func TestInspectNonWasmFileNamesTheParseProblem(t *testing.T) {
	file := writeTempFile(t, "notes.wasm", []byte("these are notes, not a module\n"))
	out, _, err := runReprise(t, "catalog", "inspect", file)
	wantExit(t, err, 2)
	for _, want := range []string{"REFUSED:", "not a valid wasm module", "header", "magic"} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not contain %q:\n%s", want, out)
		}
	}
}

func TestSealNonWasmFileNamesTheParseProblem(t *testing.T) {
	file := writeTempFile(t, "notes.wasm", []byte("these are notes, not a module\n"))
	out := filepath.Join(t.TempDir(), "out.wasm")
	_, _, err := runReprise(t, "catalog", "seal", file, "-o", out)
	if err == nil || !errors.Is(err, seal.ErrNotWasm) || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "magic") {
		t.Fatalf("error %v, want one naming %s and the bad header", err, file)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed seal wrote %s (%v)", out, err)
	}
}

func TestInspectMissingFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "absent.wasm")
	_, _, err := runReprise(t, "catalog", "inspect", file)
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), file) {
		t.Fatalf("error %v, want one saying %s does not exist", err, file)
	}
	var ee *exitError
	if errors.As(err, &ee) {
		t.Errorf("a missing file is reported as a refused module (exit %d)", ee.code)
	}
}

// TestInspectAppliesConfiguredLimits shows the configuration file reaching
// the validation: a module-size limit below the module's size refuses it.
func TestInspectAppliesConfiguredLimits(t *testing.T) {
	size := len(mustReadFile(t, embeddedCounterPath))
	cfg := writeTempFile(t, "reprise.yaml", []byte("limits:\n  max_module_bytes: 1000\n"))
	out, _, err := runReprise(t, "--config", cfg, "catalog", "inspect", embeddedCounterPath)
	wantExit(t, err, 2)
	if want := fmt.Sprintf("module is %d bytes, the limit is 1000", size); !strings.Contains(out, want) {
		t.Errorf("output does not contain %q:\n%s", want, out)
	}
}

func TestMissingOutputFlag(t *testing.T) {
	for _, args := range [][]string{
		{"catalog", "build", counterSourceDir},
		{"catalog", "seal", embeddedCounterPath},
	} {
		_, _, err := runReprise(t, args...)
		if err == nil || !strings.Contains(err.Error(), "missing -o") {
			t.Errorf("reprise %s: error %v, want one about the missing -o", strings.Join(args, " "), err)
		}
	}
}

func TestVersion(t *testing.T) {
	out := mustRunReprise(t, "version")
	for _, want := range []string{"reprise ", fmt.Sprintf("abi %d,", abi.Version), fmt.Sprintf("seal v%d,", seal.Version)} {
		if !strings.Contains(out, want) {
			t.Errorf("version output does not contain %q:\n%s", want, out)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader on different
// goroutines (the server logs while the test reads).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestServeHelpListsEverySetting(t *testing.T) {
	out := mustRunReprise(t, "serve", "--help")
	for _, s := range serveSettings {
		if !strings.Contains(out, "--"+s.flag+" ") {
			t.Errorf("serve --help does not list --%s (%s)", s.flag, s.key)
		}
	}
	for _, want := range []string{"REPRISE_", "--config", "REPRISE_AUTH_TOKEN", "reprise.example.yaml", "--print-config", `(default "swoosh")`} {
		if !strings.Contains(out, want) {
			t.Errorf("serve --help does not mention %s:\n%s", want, out)
		}
	}
}

// printedConfig runs serve --print-config and parses its "key: value"
// lines into dotted keys.
func printedConfig(t *testing.T, args ...string) map[string]string {
	t.Helper()
	out := mustRunReprise(t, append(args, "serve", "--print-config")...)
	got := map[string]string{}
	section := ""
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		key, value, _ := strings.Cut(strings.TrimSpace(line), ":")
		value = strings.TrimSpace(value)
		switch {
		case !strings.HasPrefix(line, " ") && value == "":
			section = key + "."
		case strings.HasPrefix(line, " "):
			got[section+key] = value
		default:
			section = ""
			got[key] = value
		}
	}
	if len(got) != len(serveSettings) {
		t.Fatalf("--print-config printed %d settings, want %d:\n%s", len(got), len(serveSettings), out)
	}
	return got
}

// TestServeConfigPrecedence: defaults with no file; the file over
// defaults; REPRISE_* over the file; flags over everything.
func TestServeConfigPrecedence(t *testing.T) {
	defaults := printedConfig(t)
	for key, want := range map[string]string{
		"catalog": `"swoosh"`, "listen": `"127.0.0.1:8080"`, "http.submit_timeout": "30s", "auth.token": `""`,
		"auth.protect_reads": "false", "http.max_body_bytes": "1048576", "events.buffer": "1024",
	} {
		if defaults[key] != want {
			t.Errorf("default %s = %s, want %s", key, defaults[key], want)
		}
	}
	file := writeTempFile(t, "reprise.yaml", []byte(`listen: "file:1"
catalog: counter
http:
  submit_timeout: 7s
  write_timeout: 9s
auth:
  token: from-file
  protect_reads: true
`))
	t.Setenv("REPRISE_LISTEN", "env:2")
	t.Setenv("REPRISE_HTTP_WRITE_TIMEOUT", "11s")
	got := printedConfig(t, "--config", file)
	for key, want := range map[string]string{
		"listen": `"env:2"`, "catalog": `"counter"`, "http.submit_timeout": "7s", "http.write_timeout": "11s",
		"auth.token": `"<set, not shown>"`, "auth.protect_reads": "true", "snapshot.every": "10000",
	} {
		if got[key] != want {
			t.Errorf("%s = %s, want %s", key, got[key], want)
		}
	}
	out := mustRunReprise(t, "--config", file, "serve", "--print-config", "--listen", "flag:3", "--http-submit-timeout", "2s")
	if !strings.Contains(out, `listen: "flag:3"`) || !strings.Contains(out, "  submit_timeout: 2s\n") || strings.Contains(out, "from-file") {
		t.Errorf("flags do not win, or the token is shown:\n%s", out)
	}
}

// TestExampleConfigIsTheDefaults: reprise.example.yaml sets every key, to
// its default, so reading it changes nothing.
func TestExampleConfigIsTheDefaults(t *testing.T) {
	example := filepath.Join("..", "..", "reprise.example.yaml")
	text := string(mustReadFile(t, example))
	for _, s := range serveSettings {
		name := s.key[strings.LastIndex(s.key, ".")+1:]
		if !regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `:`).MatchString(text) {
			t.Errorf("%s does not set %s", example, s.key)
		}
	}
	if got, want := printedConfig(t, "--config", example), printedConfig(t); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the example config is not the defaults:\n got %v\nwant %v", got, want)
	}
}

func TestServeRefusesBadSettings(t *testing.T) {
	for _, c := range []struct {
		args    []string
		mention string
	}{
		{[]string{"--http-submit-timeout", "2m", "--http-write-timeout", "1m"}, "http.submit_timeout (2m0s) must be shorter than http.write_timeout (1m0s)"},
		{[]string{"--http-max-body-bytes", "0"}, "http.max_body_bytes is 0"},
		{[]string{"--events-heartbeat", "0s"}, "events.heartbeat"},
		{[]string{"--executor-max-batch", "0"}, "executor.max_batch"},
	} {
		args := append([]string{"serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0"}, c.args...)
		_, _, err := runReprise(t, args...)
		if err == nil || !strings.Contains(err.Error(), c.mention) {
			t.Errorf("serve %v: error %v, want one mentioning %q", c.args, err, c.mention)
		}
	}
}

// TestServeSwooshWithToken runs `reprise serve` in-process with its
// defaults (the swoosh catalog) and a token from the environment, talks to
// it over loopback, then stops it as SIGINT does.
func TestServeSwooshWithToken(t *testing.T) {
	t.Setenv("REPRISE_AUTH_TOKEN", "t0ken")
	addr, stderr, stop := startServe(t, "serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0")
	if !strings.Contains(stderr.String(), "auth=\"token required on mutating requests\"") {
		t.Errorf("the start-up log does not say how access is controlled:\n%s", stderr.String())
	}
	call := func(method, path, body, token string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	if status, body := call(http.MethodGet, "/health", "", ""); status != http.StatusOK || !strings.Contains(body, `"name":"swoosh"`) {
		t.Fatalf("GET /health: %d %s", status, body)
	}
	proposal := `{"transition":"CONFIG_OK","inputs":{"node_id":"node-001"}}`
	if status, body := call(http.MethodPost, "/transition", proposal, ""); status != http.StatusUnauthorized || !strings.Contains(body, `"code":"unauthorized"`) {
		t.Fatalf("POST /transition without the token: %d %s", status, body)
	}
	if status, body := call(http.MethodPost, "/transition", proposal, "t0ken"); status != http.StatusOK || !strings.Contains(body, `"success":true`) {
		t.Fatalf("POST /transition with the token: %d %s", status, body)
	}
	if status, body := call(http.MethodGet, "/metrics", "", ""); status != http.StatusOK ||
		!strings.Contains(body, `reprise_transitions_accepted_total{transition="TRANSITION_CONFIG_OK"} 1`) {
		t.Fatalf("GET /metrics: %d %s", status, body)
	}
	stop()
	if !strings.Contains(stderr.String(), "msg=stopped") {
		t.Errorf("no stop line in the log:\n%s", stderr.String())
	}
}

// startServe runs `reprise ARGS` (a serve command) in-process and waits
// until it logs its address. stop cancels it as SIGINT does and requires a
// clean exit; it is also registered as a cleanup.
func startServe(t *testing.T, args ...string) (addr string, stderr *syncBuffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	root := newRootCmd()
	stderr = &syncBuffer{}
	root.SetOut(io.Discard)
	root.SetErr(stderr)
	root.SetArgs(args)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	listening := regexp.MustCompile(`msg=listening addr=(\S+)`)
	for deadline := time.Now().Add(2 * time.Minute); addr == ""; time.Sleep(10 * time.Millisecond) {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve stopped before listening: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not log its address:\n%s", stderr.String())
		}
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v\n%s", err, stderr.String())
			}
		})
	}
	t.Cleanup(stop)
	return addr, stderr, stop
}
