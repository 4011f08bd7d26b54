package catalogstore_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/abi/canon"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/catalogstore"
	"github.com/reprise-dev/reprise/host/wasmbin"
)

func TestPutStoresModuleAndMetadata(t *testing.T) {
	ctx := context.Background()
	s, clock := newStore(t)
	want := clock.next
	wasm := builtinWasm(t, "counter")
	hash := host.Hash(wasm)

	info, added, err := s.Put(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	if !added {
		t.Error("the first Put reports the catalog as already stored")
	}
	wantInfo := catalogstore.Info{
		Hash:         hash,
		Name:         "counter",
		Version:      "1.0.0",
		ABIVersion:   abi.Version,
		Transitions:  []string{"TRANSITION_INCREMENT", "TRANSITION_RESET"},
		MigratesFrom: []abi.MigrationInfo{},
		Size:         int64(len(wasm)),
		Uploaded:     want,
	}
	if !reflect.DeepEqual(info, wantInfo) {
		t.Fatalf("Put returned\n%+v\nwant\n%+v", info, wantInfo)
	}
	hexHash := hex.EncodeToString(hash[:])
	if got, want := dirNames(t, s.Dir()), []string{hexHash + ".json", hexHash + ".wasm", "catalogs.lock"}; !slices.Equal(got, want) {
		t.Fatalf("directory holds %v, want %v", got, want)
	}
	if b := mustReadFile(t, filepath.Join(s.Dir(), hexHash+".wasm")); !bytes.Equal(b, wasm) {
		t.Fatal("the stored module differs from the bytes put")
	}
	meta := mustReadFile(t, filepath.Join(s.Dir(), hexHash+".json"))
	if c, err := canon.Canonicalize(meta); err != nil || !bytes.Equal(c, meta) {
		t.Fatalf("metadata is not canonical JSON (%v):\n%s", err, meta)
	}
	wantMeta := fmt.Sprintf(`{"abi_version":1,"format":1,"hash":"%s","migrates_from":[],"name":"counter","size":%d,"transitions":["TRANSITION_INCREMENT","TRANSITION_RESET"],"uploaded":"2026-03-14T15:09:26.535897932Z","version":"1.0.0"}`, hexHash, len(wasm))
	if string(meta) != wantMeta {
		t.Fatalf("metadata\n%s\nwant\n%s", meta, wantMeta)
	}

	if st, err := s.Stat(hash); err != nil || !reflect.DeepEqual(st, info) {
		t.Fatalf("Stat = %+v, %v; want %+v", st, err, info)
	}
	if b, err := s.Get(hash); err != nil || !bytes.Equal(b, wasm) {
		t.Fatalf("Get: %v (%d bytes, want %d)", err, len(b), len(wasm))
	}
	m, err := s.Load(ctx, hash)
	if err != nil {
		t.Fatal(err)
	}
	if m.Hash != hash || m.Descriptor.Name != "counter" {
		t.Fatalf("Load gave module %s (%s)", m.HashHex(), m.Descriptor.Name)
	}
	// The engine compiles once: the admission at Put is the module Load
	// returns, and the engine hands out the same one.
	if again, err := s.Engine().Load(ctx, wasm); err != nil || again != m {
		t.Fatalf("the engine did not keep the module Load returned (%v)", err)
	}
	if list, err := s.List(); err != nil || !reflect.DeepEqual(list, []catalogstore.Info{info}) {
		t.Fatalf("List = %+v, %v", list, err)
	}
}

func TestPutIsIdempotentAndKeepsTheFirstUploadTime(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	wasm := versionModule(t, "1.0.0")
	first := mustPut(t, s, wasm)
	metaPath := filepath.Join(s.Dir(), first.HashHex()+".json")
	metaBefore := mustReadFile(t, metaPath)
	statBefore, err := os.Stat(metaPath)
	if err != nil {
		t.Fatal(err)
	}

	for range 3 {
		again, added, err := s.Put(ctx, bytes.Clone(wasm))
		if err != nil {
			t.Fatal(err)
		}
		if added {
			t.Error("putting stored bytes again reports them as added")
		}
		if !reflect.DeepEqual(again, first) {
			t.Fatalf("second Put returned %+v, want the first %+v", again, first)
		}
	}
	if got := mustReadFile(t, metaPath); !bytes.Equal(got, metaBefore) {
		t.Fatalf("metadata rewritten:\n%s\nwas\n%s", got, metaBefore)
	}
	if st, err := os.Stat(metaPath); err != nil || !os.SameFile(st, statBefore) {
		t.Errorf("the metadata file was replaced by an idempotent Put (%v)", err)
	}
	if list, _ := s.List(); len(list) != 1 {
		t.Fatalf("List has %d entries after putting one module four times", len(list))
	}
}

func TestPutRefusesWhatTheHostRefusesAndWritesNothing(t *testing.T) {
	smallLimits := host.DefaultLimits
	smallLimits.MaxModuleBytes = 4096
	withImport := func(m *wasmbin.Module) {
		m.Imports = []wasmbin.Import{{Module: "env", Name: "foo", Kind: wasmbin.KindFunc, Func: 0}}
		for i := range m.Exports {
			if m.Exports[i].Kind == wasmbin.KindFunc {
				m.Exports[i].Index++
			}
		}
	}
	demo := abi.Descriptor{Name: "demo", Version: "1"}
	cases := []struct {
		name   string
		limits host.Limits
		wasm   func(t *testing.T) []byte
		want   []string
	}{
		{"imports", host.DefaultLimits, func(t *testing.T) []byte { return describedModule(t, demo, withImport) },
			[]string{"imports env.foo (function)", "reprise catalog seal"}},
		{"malformed", host.DefaultLimits, func(*testing.T) []byte { return []byte("\x00asm\x01\x00\x00\x00\x01\xff") },
			[]string{"not a valid wasm module"}},
		{"not wasm", host.DefaultLimits, func(*testing.T) []byte { return []byte("these are notes") },
			[]string{"not a valid wasm module", "magic"}},
		{"empty", host.DefaultLimits, func(*testing.T) []byte { return nil },
			[]string{"not a valid wasm module"}},
		{"huge", smallLimits, func(t *testing.T) []byte { return builtinWasm(t, "counter") },
			[]string{"the limit is 4096"}},
		{"beyond the default limit", host.DefaultLimits, func(*testing.T) []byte { return make([]byte, host.DefaultLimits.MaxModuleBytes+1) },
			[]string{fmt.Sprintf("the limit is %d", host.DefaultLimits.MaxModuleBytes)}},
		{"missing export", host.DefaultLimits, func(t *testing.T) []byte {
			return describedModule(t, demo, func(m *wasmbin.Module) { m.Exports = m.Exports[1:] })
		}, []string{"missing export reprise_abi_version"}},
		{"bad descriptor", host.DefaultLimits, func(t *testing.T) []byte { return describedModule(t, abi.Descriptor{Name: "demo"}, nil) },
			[]string{"catalog version is empty"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), catalogstore.DirName)
			s := openStore(t, dir, newEngine(t, c.limits), newStepClock().Now)
			wasm := c.wasm(t)
			info, added, err := s.Put(context.Background(), wasm)
			var refused *host.RefusedError
			if !errors.As(err, &refused) {
				t.Fatalf("Put = %+v, %v, %v; want a *host.RefusedError", info, added, err)
			}
			for _, w := range append(c.want, fmt.Sprintf("%x", host.Hash(wasm))) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if got := dirNames(t, dir); !slices.Equal(got, []string{"catalogs.lock"}) {
				t.Errorf("a refused module left %v in the store", got)
			}
			if _, err := s.Stat(host.Hash(wasm)); !errors.Is(err, catalogstore.ErrNotFound) {
				t.Errorf("Stat of the refused module: %v, want ErrNotFound", err)
			}
		})
	}
}

func TestMetadataRecordsMigrationsAndSurvivesReopening(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), catalogstore.DirName)
	clock := newStepClock()
	migrates := []abi.MigrationInfo{
		{Catalog: "demo", Versions: "1.*", Doc: "splits hits per key"},
		{Catalog: "legacy", Versions: "0.9.0"},
	}
	v2 := describedModule(t, abi.Descriptor{
		Name:         "demo",
		Version:      "2.0.0",
		Transitions:  []abi.TransitionInfo{{Name: "TRANSITION_ZAP"}, {Name: "TRANSITION_HIT"}},
		MigratesFrom: migrates,
	}, nil)
	v1 := versionModule(t, "1.0.0")
	s1 := openStore(t, dir, newEngine(t, host.DefaultLimits), clock.Now)
	info1 := mustPut(t, s1, v1)
	info2 := mustPut(t, s1, v2)
	if !reflect.DeepEqual(info2.MigratesFrom, migrates) {
		t.Fatalf("MigratesFrom = %+v, want %+v", info2.MigratesFrom, migrates)
	}
	if !slices.Equal(info2.Transitions, []string{"TRANSITION_HIT", "TRANSITION_ZAP"}) {
		t.Fatalf("transitions %v, want them sorted", info2.Transitions)
	}

	// A second store (as after a restart) with a fresh engine sees the
	// same catalogs and compiles them on Load.
	s2 := openStore(t, dir, newEngine(t, host.DefaultLimits), newStepClock().Now)
	list, err := s2.List()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(list, []catalogstore.Info{info1, info2}) {
		t.Fatalf("after reopening List =\n%+v\nwant\n%+v", list, []catalogstore.Info{info1, info2})
	}
	m, err := s2.Load(ctx, info2.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Descriptor.MigratesFromRef(info1.Ref()) {
		t.Errorf("loaded v2 does not migrate from %s", info1.Ref())
	}
}

func TestCorruptModuleIsReportedByHashAndNeverLoaded(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), catalogstore.DirName)
	clock := newStepClock()
	s := openStore(t, dir, newEngine(t, host.DefaultLimits), clock.Now)
	good := mustPut(t, s, versionModule(t, "1.0.0"))
	wasm := versionModule(t, "2.0.0")
	victim := mustPut(t, s, wasm)
	modulePath := filepath.Join(dir, victim.HashHex()+".wasm")

	// A fresh engine, so that nothing was compiled from good bytes before.
	reopen := func() *catalogstore.Store {
		return openStore(t, dir, newEngine(t, host.DefaultLimits), clock.Now)
	}
	wantCorrupt := func(t *testing.T, err error, problem string) {
		t.Helper()
		var ce *catalogstore.CorruptError
		if !errors.As(err, &ce) || !errors.Is(err, catalogstore.ErrCorrupt) {
			t.Fatalf("error %v (%T), want a *CorruptError", err, err)
		}
		if ce.Hash != victim.Hash || !strings.Contains(err.Error(), victim.HashHex()) || !strings.Contains(err.Error(), problem) {
			t.Fatalf("error %q does not name catalog %s and %q", err, victim.HashHex(), problem)
		}
	}
	requireListSkipsVictim := func(t *testing.T, s *catalogstore.Store, problem string) {
		t.Helper()
		list, err := s.List()
		wantCorrupt(t, err, problem)
		if len(list) != 1 || list[0].Hash != good.Hash {
			t.Fatalf("List = %+v, want only the intact catalog", list)
		}
	}

	t.Run("flipped byte", func(t *testing.T) {
		b := bytes.Clone(wasm)
		b[len(b)/2] ^= 0x40
		writeFile(t, modulePath, b)
		s := reopen()
		if _, err := s.Stat(victim.Hash); err != nil {
			t.Fatalf("Stat checks sizes, not bytes, yet failed: %v", err)
		}
		_, err := s.Get(victim.Hash)
		wantCorrupt(t, err, "module bytes hash to")
		m, err := s.Load(ctx, victim.Hash)
		wantCorrupt(t, err, "module bytes hash to")
		if m != nil {
			t.Fatal("Load returned a module for corrupt bytes")
		}
		if _, err := s.Get(good.Hash); err != nil {
			t.Fatalf("an intact catalog is unreadable beside a corrupt one: %v", err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		writeFile(t, modulePath, wasm[:len(wasm)-7])
		s := reopen()
		_, err := s.Stat(victim.Hash)
		wantCorrupt(t, err, fmt.Sprintf("module file is %d bytes, the metadata says %d", len(wasm)-7, len(wasm)))
		_, err = s.Load(ctx, victim.Hash)
		wantCorrupt(t, err, "module file is")
		requireListSkipsVictim(t, s, "module file is")
	})
	t.Run("module missing", func(t *testing.T) {
		if err := os.Remove(modulePath); err != nil {
			t.Fatal(err)
		}
		// Open removes a module without metadata, never metadata without
		// its module: that stays visible as a corrupt catalog.
		s := reopen()
		_, err := s.Get(victim.Hash)
		wantCorrupt(t, err, "module file is missing")
		requireListSkipsVictim(t, s, "module file is missing")
	})
	t.Run("put again repairs and keeps the upload time", func(t *testing.T) {
		writeFile(t, modulePath, wasm[:10])
		s := reopen()
		info, added, err := s.Put(ctx, wasm)
		if err != nil {
			t.Fatal(err)
		}
		if added || !reflect.DeepEqual(info, victim) {
			t.Fatalf("repairing Put = %+v (added %v), want %+v", info, added, victim)
		}
		if b, err := s.Get(victim.Hash); err != nil || !bytes.Equal(b, wasm) {
			t.Fatalf("after the repair Get: %v", err)
		}
	})
	t.Run("metadata garbled", func(t *testing.T) {
		metaPath := filepath.Join(dir, victim.HashHex()+".json")
		writeFile(t, metaPath, []byte(`{"format":1,"hash":"`))
		s := reopen()
		_, err := s.Stat(victim.Hash)
		wantCorrupt(t, err, "metadata does not decode")
		_, err = s.Load(ctx, victim.Hash)
		wantCorrupt(t, err, "metadata does not decode")
		requireListSkipsVictim(t, s, "metadata does not decode")
	})
	t.Run("metadata of another module", func(t *testing.T) {
		metaPath := filepath.Join(dir, victim.HashHex()+".json")
		writeFile(t, metaPath, mustReadFile(t, filepath.Join(dir, good.HashHex()+".json")))
		s := reopen()
		_, err := s.Get(victim.Hash)
		wantCorrupt(t, err, "metadata names hash "+good.HashHex())
		// Putting the bytes again rewrites the metadata; the old upload
		// time is lost with it, so the catalog counts as added.
		info, added, err := s.Put(ctx, wasm)
		if err != nil || !added || info.Version != "2.0.0" {
			t.Fatalf("Put over bad metadata = %+v, %v, %v", info, added, err)
		}
		if _, err := s.Load(ctx, victim.Hash); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRemoveRefusesACatalogInUse(t *testing.T) {
	s, _ := newStore(t)
	kept := mustPut(t, s, versionModule(t, "1.0.0"))
	doomed := mustPut(t, s, versionModule(t, "2.0.0"))
	var asked [][32]byte
	inUse := func(h [32]byte) bool {
		asked = append(asked, h)
		return h == kept.Hash
	}

	err := s.Remove(kept.Hash, inUse)
	if !errors.Is(err, catalogstore.ErrInUse) || !strings.Contains(err.Error(), kept.HashHex()) || !strings.Contains(err.Error(), "demo@1.0.0") {
		t.Fatalf("removing a catalog in use: %v, want ErrInUse naming %s (demo@1.0.0)", err, kept.HashHex())
	}
	if _, err := s.Get(kept.Hash); err != nil {
		t.Fatalf("a refused Remove damaged the catalog: %v", err)
	}

	if err := s.Remove(doomed.Hash, inUse); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(asked, [][32]byte{kept.Hash, doomed.Hash}) {
		t.Errorf("the predicate was asked about %x, want each removed hash once", asked)
	}
	if _, err := s.Stat(doomed.Hash); !errors.Is(err, catalogstore.ErrNotFound) {
		t.Fatalf("Stat after Remove: %v, want ErrNotFound", err)
	}
	if _, err := s.Load(context.Background(), doomed.Hash); !errors.Is(err, catalogstore.ErrNotFound) {
		t.Fatalf("Load after Remove: %v, want ErrNotFound", err)
	}
	for _, name := range dirNames(t, s.Dir()) {
		if strings.HasPrefix(name, doomed.HashHex()) {
			t.Errorf("Remove left %s", name)
		}
	}
	if err := s.Remove(doomed.Hash, inUse); !errors.Is(err, catalogstore.ErrNotFound) {
		t.Errorf("removing it again: %v, want ErrNotFound", err)
	}
	if err := s.Remove(kept.Hash, nil); err == nil || !strings.Contains(err.Error(), "in-use predicate") {
		t.Errorf("Remove without a predicate: %v", err)
	}
	if list, err := s.List(); err != nil || len(list) != 1 || list[0].Hash != kept.Hash {
		t.Fatalf("List = %+v, %v; want only the catalog in use", list, err)
	}
	// Removed bytes can come back, as a new upload.
	if _, added, err := s.Put(context.Background(), versionModule(t, "2.0.0")); err != nil || !added {
		t.Fatalf("putting removed bytes again: added %v, %v", added, err)
	}
}

func TestListOrderIsUploadTimeThenHash(t *testing.T) {
	var times []time.Time
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// Upload times, in put order: the last two modules share one.
	for _, offset := range []time.Duration{3 * time.Hour, time.Hour, 0, 0} {
		times = append(times, base.Add(offset))
	}
	next := 0
	now := func() time.Time { next++; return times[next-1] }
	s := openStore(t, filepath.Join(t.TempDir(), catalogstore.DirName), newEngine(t, host.DefaultLimits), now)
	var infos []catalogstore.Info
	for _, v := range []string{"a", "b", "c", "d"} {
		infos = append(infos, mustPut(t, s, versionModule(t, v)))
	}
	tied := []catalogstore.Info{infos[2], infos[3]}
	slices.SortFunc(tied, func(a, b catalogstore.Info) int { return bytes.Compare(a.Hash[:], b.Hash[:]) })
	want := []catalogstore.Info{tied[0], tied[1], infos[1], infos[0]}
	got, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		var g, w []string
		for i := range got {
			g = append(g, got[i].Version)
		}
		for i := range want {
			w = append(w, want[i].Version)
		}
		t.Fatalf("List order %v, want %v", g, w)
	}
}

func TestResolve(t *testing.T) {
	s, _ := newStore(t)
	info := mustPut(t, s, versionModule(t, "1.0.0"))
	other := mustPut(t, s, versionModule(t, "2.0.0"))
	full := info.HashHex()
	for _, in := range []string{full, full[:8], full[:20], "sha256:" + full[:12], strings.ToUpper(full[:16]), " " + full[:9] + "\n"} {
		if got, err := s.Resolve(in); err != nil || got != info.Hash {
			t.Errorf("Resolve(%q) = %x, %v; want %s", in, got, err, full)
		}
	}
	if full[:8] == other.HashHex()[:8] {
		t.Fatal("the two test modules share an 8-digit prefix; pick other versions")
	}
	for in, want := range map[string]string{
		full[:7]:          "too short",
		"sha256:" + "abc": "too short",
		full + "0":        "longer than a SHA-256 hash",
		"0123456z89":      "not hexadecimal",
	} {
		if _, err := s.Resolve(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Resolve(%q) error %v, want one saying %q", in, err, want)
		}
	}
	absent := strings.Repeat("f", 8)
	if strings.HasPrefix(full, absent) || strings.HasPrefix(other.HashHex(), absent) {
		absent = strings.Repeat("e", 8)
	}
	if _, err := s.Resolve(absent); !errors.Is(err, catalogstore.ErrNotFound) || !strings.Contains(err.Error(), absent) {
		t.Errorf("Resolve of an unknown prefix: %v, want ErrNotFound naming it", err)
	}

	// Two stored names sharing a prefix. Finding two real modules whose
	// hashes share 32 bits takes billions of tries, so the second entry is
	// a copy of the first under a forged name: Resolve looks at names only.
	forged := full[:10] + strings.Repeat("0", 54)
	if forged == full {
		forged = full[:10] + strings.Repeat("1", 54)
	}
	writeFile(t, filepath.Join(s.Dir(), forged+".json"), mustReadFile(t, filepath.Join(s.Dir(), full+".json")))
	_, err := s.Resolve(full[:10])
	if !errors.Is(err, catalogstore.ErrAmbiguous) || !strings.Contains(err.Error(), full+" (demo@1.0.0)") || !strings.Contains(err.Error(), forged) {
		t.Fatalf("ambiguous prefix: %v, want ErrAmbiguous naming both %s and %s", err, full, forged)
	}
	if got, err := s.Resolve(full[:11]); forged[10] != full[10] && (err != nil || got != info.Hash) {
		t.Errorf("a longer prefix should be unique again: %x, %v", got, err)
	}
}

func TestOpenRemovesLeftoversOfInterruptedWrites(t *testing.T) {
	dir := filepath.Join(t.TempDir(), catalogstore.DirName)
	engine := newEngine(t, host.DefaultLimits)
	s := openStore(t, dir, engine, newStepClock().Now)
	kept := mustPut(t, s, versionModule(t, "1.0.0"))
	orphan := versionModule(t, "2.0.0")
	orphanName := fmt.Sprintf("%x.wasm", host.Hash(orphan))
	writeFile(t, filepath.Join(dir, orphanName), orphan)
	writeFile(t, filepath.Join(dir, ".tmp-"+kept.HashHex()+".json-123456"), []byte(`{"format":`))
	writeFile(t, filepath.Join(dir, "NOTES"), []byte("left alone"))

	s = openStore(t, dir, engine, newStepClock().Now)
	want := []string{kept.HashHex() + ".json", kept.HashHex() + ".wasm", "NOTES", "catalogs.lock"}
	slices.Sort(want)
	if got := dirNames(t, dir); !slices.Equal(got, want) {
		t.Fatalf("after Open the directory holds %v, want %v", got, want)
	}
	if list, err := s.List(); err != nil || len(list) != 1 {
		t.Fatalf("List = %+v, %v", list, err)
	}
}

func TestOpenErrors(t *testing.T) {
	engine := newEngine(t, host.DefaultLimits)
	if _, err := catalogstore.Open("", catalogstore.Options{Engine: engine}); err == nil {
		t.Error("Open with an empty path succeeded")
	}
	if _, err := catalogstore.Open(t.TempDir(), catalogstore.Options{}); err == nil || !strings.Contains(err.Error(), "Engine") {
		t.Errorf("Open without an engine: %v", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, nil)
	if _, err := catalogstore.Open(file, catalogstore.Options{Engine: engine}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Open on a file: %v", err)
	}
}

func TestUploadTimeThatCannotBeStoredIsAnError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), catalogstore.DirName)
	s := openStore(t, dir, newEngine(t, host.DefaultLimits), func() time.Time { return time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) })
	if _, _, err := s.Put(context.Background(), versionModule(t, "1.0.0")); err == nil || !strings.Contains(err.Error(), "upload time") {
		t.Fatalf("Put with a clock in year 10000: %v", err)
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"catalogs.lock"}) {
		t.Errorf("the failed Put left %v", got)
	}
}

func TestPutBuiltin(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	info, added, err := catalogstore.PutBuiltin(ctx, s, "counter")
	if err != nil || !added || info.Name != "counter" || info.Hash != host.Hash(builtinWasm(t, "counter")) {
		t.Fatalf("PutBuiltin(counter) = %+v, %v, %v", info, added, err)
	}
	if _, _, err := catalogstore.PutBuiltin(ctx, s, "nope"); err == nil || !strings.Contains(err.Error(), `"nope" is not a built-in catalog (built-ins: counter, swoosh)`) {
		t.Fatalf("PutBuiltin of an unknown name: %v", err)
	}
}

func TestSummaryJSON(t *testing.T) {
	s, _ := newStore(t)
	info := mustPut(t, s, versionModule(t, "1.0.0"))
	b, err := json.Marshal(catalogstore.NewListReply([]catalogstore.Info{info}))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`{"catalogs":[{"hash":"%s","name":"demo","version":"1.0.0","transitions":["TRANSITION_CLEAR","TRANSITION_HIT"],"migrates_from":[],"size":%d,"uploaded":"2026-03-14T15:09:26.535897932Z"}]}`,
		info.HashHex(), info.Size)
	if string(b) != want {
		t.Fatalf("list reply\n%s\nwant\n%s", b, want)
	}
	if b, _ := json.Marshal(catalogstore.NewListReply(nil)); string(b) != `{"catalogs":[]}` {
		t.Errorf("empty list reply %s", b)
	}
	active := true
	sum := info.Summary()
	sum.Active = &active
	b, _ = json.Marshal(catalogstore.PushReply{Added: true, Catalog: sum})
	var back catalogstore.PushReply
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&back); err != nil || !back.Added || back.Catalog.Active == nil || !*back.Catalog.Active || back.Catalog.Hash != info.HashHex() {
		t.Fatalf("push reply does not round-trip: %s (%v)", b, err)
	}
}

func mustReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
