package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/reprise-dev/reprise/catalogs/builtin"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/replay"
	"github.com/reprise-dev/reprise/snapshot"
	"github.com/reprise-dev/reprise/wal"
)

// exitDiverged is the exit code of a replay that found a record that does
// not reproduce (the report is printed as usual).
const exitDiverged = 3

func newReplayCmd() *cobra.Command {
	var (
		dataDir, catalog, engine string
		modules                  []string
		from, to                 uint64
		maxDiff                  int
		asJSON                   bool
	)
	cmd := &cobra.Command{
		Use:   "replay [--data-dir D] [--from N] [--to M] [--catalog HASH|NAME|FILE.wasm] [--json]",
		Short: "Replay a data directory's WAL offline and report the first record that does not reproduce",
		Long: `Replays records of a stopped node's WAL (the data directory is locked while
a server runs on it) and compares each with what the WAL recorded: result
code, output and state hash. It starts from genesis when the WAL still
holds record 1, else from the newest snapshot at or before --from, applying
the records in between first.

Without --catalog every record runs under the catalog it names, following
the activation records. With --catalog, every record of the range runs
under that catalog instead (a hash, a built-in name or a sealed .wasm file),
starting from the state at --from - 1 handed over to it, while the records'
own catalogs run in lockstep as the reference.

Catalogs are looked up among the built-ins, the data directory's catalog
store (D/catalogs) and the files given with --module. The report names the
first divergent record with both results and a diff of the state there,
and any difference between the host that recorded an activation and this
one (--engine interpreter replays under the other engine). Exit code 3
when a record diverges.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runReplay(cmd, replayOptions{dataDir: dataDir, catalog: catalog, engine: engine, modules: modules,
				from: from, to: to, maxDiff: maxDiff, asJSON: asJSON})
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", "data", "data directory of a stopped node")
	f.Uint64Var(&from, "from", 0, "first record to compare (0: as early as the WAL and snapshots allow)")
	f.Uint64Var(&to, "to", 0, "last record to compare (0: the last record)")
	f.StringVar(&catalog, "catalog", "", "run the range under this catalog: a hash (or a unique prefix of 8+ digits), a built-in name or a .wasm file")
	f.StringArrayVar(&modules, "module", nil, "a sealed .wasm file the log may name (repeatable)")
	f.StringVar(&engine, "engine", string(host.EngineCompiler), "wazero engine: compiler or interpreter")
	f.IntVar(&maxDiff, "max-diff", replay.DefaultMaxDiff, "entries listed in a state diff")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

type replayOptions struct {
	dataDir, catalog, engine string
	modules                  []string
	from, to                 uint64
	maxDiff                  int
	asJSON                   bool
}

func runReplay(cmd *cobra.Command, o replayOptions) error {
	ctx := cmd.Context()
	walDir := filepath.Join(o.dataDir, "wal")
	if st, err := os.Stat(walDir); err != nil || !st.IsDir() {
		return fmt.Errorf("%s holds no WAL (%s): is it a node's data directory?", o.dataDir, walDir)
	}
	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	log, err := wal.Open(wal.Options{Dir: walDir, Logger: logger, GCInterval: -1})
	if err != nil {
		return fmt.Errorf("open the WAL of %s (a server running on it holds it): %w", o.dataDir, err)
	}
	defer log.Close()
	var snaps *snapshot.Store
	if st, err := os.Stat(filepath.Join(o.dataDir, "snapshots")); err == nil && st.IsDir() {
		snaps, err = snapshot.Open(filepath.Join(o.dataDir, "snapshots"), snapshot.Options{Logger: logger})
		if err != nil {
			return fmt.Errorf("open the snapshots of %s: %w", o.dataDir, err)
		}
		defer snaps.Close()
	}

	ecfg := host.EngineConfig{Kind: host.EngineKind(o.engine)}
	if st, err := os.Stat(filepath.Join(o.dataDir, "cache")); err == nil && st.IsDir() && ecfg.Kind == host.EngineCompiler {
		ecfg.CacheDir = filepath.Join(o.dataDir, "cache")
	}
	engine, err := host.NewEngine(ctx, ecfg)
	if err != nil {
		return err
	}
	defer engine.Close(context.Background())
	catalogs, err := newFileCatalogs(engine, filepath.Join(o.dataDir, "catalogs"), o.modules)
	if err != nil {
		return err
	}
	req := replay.Request{From: o.from, To: o.to, MaxDiff: o.maxDiff}
	if o.catalog != "" {
		if req.Catalog, err = catalogs.resolve(o.catalog); err != nil {
			return err
		}
		req.Force = true
	}
	bar := newProgressBar(cmd.ErrOrStderr())
	if bar != nil {
		req.Progress = bar.update
	}
	rep, err := replay.Run(ctx, replay.Source{WAL: log, Snapshots: snaps, Catalogs: catalogs}, req)
	if bar != nil {
		bar.finish()
	}
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if o.asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		fmt.Fprint(out, rep.Text())
	}
	if !rep.Clean() {
		what := "stopped early"
		if rep.First != nil {
			what = fmt.Sprintf("record %d diverges", rep.First.Index)
		}
		return &exitError{code: exitDiverged, err: fmt.Errorf("replay of %s: %s", o.dataDir, what)}
	}
	return nil
}

// fileCatalogs finds catalog modules by hash among the built-ins, the
// files of a catalog store directory and extra files, and loads them into
// an engine when a replay asks for them. A file is only ever used for the
// hash of its bytes.
type fileCatalogs struct {
	engine *host.Engine
	mu     sync.Mutex
	bytes  map[[32]byte][]byte // known content (built-ins, files read already)
	paths  map[[32]byte]string // store files named by their hash, read on demand
}

func newFileCatalogs(engine *host.Engine, storeDir string, files []string) (*fileCatalogs, error) {
	c := &fileCatalogs{engine: engine, bytes: map[[32]byte][]byte{}, paths: map[[32]byte]string{}}
	for _, name := range builtin.Names() {
		b, _ := builtin.Lookup(name)
		c.bytes[host.Hash(b)] = b
	}
	err := filepath.WalkDir(storeDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path == storeDir {
				return fs.SkipDir
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".wasm") {
			return nil
		}
		if h, ok := parseHex(strings.TrimSuffix(d.Name(), ".wasm")); ok {
			c.paths[h] = path
			return nil
		}
		_, err = c.addFile(path)
		return err
	})
	if err != nil && !errors.Is(err, fs.SkipDir) {
		return nil, fmt.Errorf("catalog store %s: %w", storeDir, err)
	}
	for _, f := range files {
		if _, err := c.addFile(f); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *fileCatalogs) addFile(path string) ([32]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return [32]byte{}, fmt.Errorf("catalog module: %w", err)
	}
	h := host.Hash(b)
	c.bytes[h] = b
	return h, nil
}

func parseHex(s string) ([32]byte, bool) {
	var h [32]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, false
	}
	copy(h[:], b)
	return h, true
}

// Load implements replay.Catalogs.
func (c *fileCatalogs) Load(ctx context.Context, hash [32]byte) (*host.Module, error) {
	c.mu.Lock()
	b, ok := c.bytes[hash]
	path := c.paths[hash]
	c.mu.Unlock()
	if !ok && path != "" {
		var err error
		if b, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("catalog store: %w", err)
		}
		if host.Hash(b) != hash {
			return nil, fmt.Errorf("catalog store file %s does not hash to its name: it is damaged", path)
		}
		ok = true
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s is neither built in, in the catalog store, nor given with --module",
			replay.ErrUnknownCatalog, replay.HashHex(hash))
	}
	m, err := c.engine.Load(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", replay.HashHex(hash), err)
	}
	return m, nil
}

// resolve turns --catalog into a hash: a .wasm file (added), a built-in
// name, a full hash, or a unique prefix of at least 8 hex digits of a
// known catalog.
func (c *fileCatalogs) resolve(s string) ([32]byte, error) {
	if b, ok := builtin.Lookup(s); ok {
		return host.Hash(b), nil
	}
	if strings.HasSuffix(s, ".wasm") || strings.ContainsRune(s, os.PathSeparator) {
		return c.addFile(s)
	}
	if h, ok := parseHex(s); ok {
		return h, nil
	}
	prefix := strings.ToLower(s)
	if _, err := hex.DecodeString(prefix + strings.Repeat("0", len(prefix)%2)); err != nil || len(prefix) < 8 {
		return [32]byte{}, fmt.Errorf("--catalog %q is neither a built-in (%s), a .wasm file, nor a catalog hash (or a prefix of 8 or more hex digits)",
			s, strings.Join(builtin.Names(), ", "))
	}
	var matches []string
	found := map[string][32]byte{}
	for h := range c.bytes {
		found[replay.HashHex(h)] = h
	}
	for h := range c.paths {
		found[replay.HashHex(h)] = h
	}
	for hx := range found {
		if strings.HasPrefix(hx, prefix) {
			matches = append(matches, hx)
		}
	}
	sort.Strings(matches)
	switch len(matches) {
	case 0:
		return [32]byte{}, fmt.Errorf("--catalog %s: %w: no known catalog hash starts with it", s, replay.ErrUnknownCatalog)
	case 1:
		return found[matches[0]], nil
	}
	return [32]byte{}, fmt.Errorf("--catalog %s is ambiguous: %s", s, strings.Join(matches, ", "))
}

// progressBar draws replay progress on a terminal's stderr, redrawing only
// when the whole percentage changes.
type progressBar struct {
	w    io.Writer
	last int
}

// newProgressBar returns a bar drawing on w, or nil when w is not a
// terminal (a bar would only clutter a log or a pipe).
func newProgressBar(w io.Writer) *progressBar {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return &progressBar{w: w, last: -1}
}

const progressWidth = 40

func (p *progressBar) update(done, total uint64) {
	if total == 0 {
		return
	}
	pct := int(done * 100 / total)
	if pct == p.last {
		return
	}
	p.last = pct
	filled := pct * progressWidth / 100
	fmt.Fprintf(p.w, "\rreplay [%s%s] %3d%% %d/%d records", strings.Repeat("=", filled), strings.Repeat(" ", progressWidth-filled), pct, done, total)
}

func (p *progressBar) finish() {
	if p.last >= 0 {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
