package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/host/catalogstore"
	"github.com/reprise-dev/reprise/host/seal"
)

var embeddedSwooshPath = filepath.Join("..", "..", "catalogs", "builtin", "swoosh.wasm")

// requireStoreCommands fails with what to do when the catalog command does
// not offer the store's commands.
func requireStoreCommands(t *testing.T) {
	t.Helper()
	for _, name := range []string{"push", "list"} {
		if c, _, err := newRootCmd().Find([]string{"catalog", name}); err != nil || c.Name() != name {
			t.Fatalf("`reprise catalog %s` is not registered: newCatalogCmd must call addCatalogStoreCommands(cmd, v)", name)
		}
	}
}

func hexHash(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func decodeStrict(t *testing.T, out string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("output is not the expected JSON: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("output holds more than one JSON value:\n%s", out)
	}
}

func TestCatalogPushAndList(t *testing.T) {
	requireStoreCommands(t)
	dataDir := t.TempDir()
	counter := mustReadFile(t, embeddedCounterPath)
	counterHash := hexHash(counter)

	out := mustRunReprise(t, "catalog", "push", embeddedCounterPath, "--data-dir", dataDir)
	storeDir := filepath.Join(dataDir, catalogstore.DirName)
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^added counter 1\.0\.0 to ` + regexp.QuoteMeta(storeDir) + `$`),
		tableLine("hash", counterHash),
		tableLine("size", fmt.Sprintf("%d bytes", len(counter))),
		tableLine("transitions", "TRANSITION_INCREMENT, TRANSITION_RESET"),
		regexp.MustCompile(`(?m)^uploaded:[ \t]+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$`),
	} {
		if !re.MatchString(out) {
			t.Errorf("push output has no line matching %s:\n%s", re, out)
		}
	}
	if got := mustReadFile(t, filepath.Join(storeDir, counterHash+".wasm")); !slices.Equal(got, counter) {
		t.Fatal("the stored module differs from the pushed file")
	}
	if _, err := os.Stat(filepath.Join(dataDir, "cache")); err != nil {
		t.Errorf("push did not compile into the data directory's cache: %v", err)
	}

	// Pushing again is harmless and says so; JSON gives the same upload time.
	firstUpload := regexp.MustCompile(`(?m)^uploaded:[ \t]+(\S+)$`).FindStringSubmatch(out)[1]
	out = mustRunReprise(t, "catalog", "push", embeddedCounterPath, "--data-dir", dataDir, "--json")
	var reply catalogstore.PushReply
	decodeStrict(t, out, &reply)
	if reply.Added || reply.Catalog.Hash != counterHash || reply.Catalog.Uploaded != firstUpload || reply.Catalog.Active != nil {
		t.Fatalf("second push replied %+v, want added=false, hash %s, uploaded %s", reply, counterHash, firstUpload)
	}

	swoosh := mustReadFile(t, embeddedSwooshPath)
	out = mustRunReprise(t, "catalog", "push", "--json", "--data-dir", dataDir, embeddedSwooshPath)
	decodeStrict(t, out, &reply)
	if !reply.Added || reply.Catalog.Name != "swoosh" || reply.Catalog.Hash != hexHash(swoosh) || len(reply.Catalog.Transitions) == 0 {
		t.Fatalf("pushing swoosh replied %+v", reply)
	}

	out = mustRunReprise(t, "catalog", "list", "--data-dir", dataDir)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !regexp.MustCompile(`^HASH +NAME +VERSION +UPLOADED +SIZE +TRANSITIONS$`).MatchString(lines[0]) {
		t.Fatalf("list printed:\n%s", out)
	}
	wantRow := regexp.MustCompile(`(?m)^` + counterHash[:16] + ` +counter +1\.0\.0 +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +` + fmt.Sprint(len(counter)) + ` +2$`)
	if !wantRow.MatchString(out) {
		t.Errorf("list has no row matching %s:\n%s", wantRow, out)
	}

	out = mustRunReprise(t, "catalog", "list", "--data-dir", dataDir, "--json")
	var list catalogstore.ListReply
	decodeStrict(t, out, &list)
	var hashes []string
	for _, c := range list.Catalogs {
		hashes = append(hashes, c.Hash)
		if c.Active != nil {
			t.Errorf("an offline list claims to know whether %s is active", c.Name)
		}
	}
	slices.Sort(hashes)
	want := []string{counterHash, hexHash(swoosh)}
	slices.Sort(want)
	if !slices.Equal(hashes, want) {
		t.Fatalf("list --json hashes %v, want %v", hashes, want)
	}
	if list.Catalogs[0].Uploaded > list.Catalogs[1].Uploaded {
		t.Errorf("list is not in upload order: %s then %s", list.Catalogs[0].Uploaded, list.Catalogs[1].Uploaded)
	}
}

// TestCatalogStoreDataDirFromEnvironment shows the data directory coming
// from REPRISE_DATA_DIR, the key serve uses.
func TestCatalogStoreDataDirFromEnvironment(t *testing.T) {
	requireStoreCommands(t)
	dataDir := t.TempDir()
	t.Setenv("REPRISE_DATA_DIR", dataDir)
	mustRunReprise(t, "catalog", "push", embeddedCounterPath)
	out := mustRunReprise(t, "catalog", "list", "--json")
	var list catalogstore.ListReply
	decodeStrict(t, out, &list)
	if len(list.Catalogs) != 1 || list.Catalogs[0].Name != "counter" {
		t.Fatalf("list via REPRISE_DATA_DIR = %+v", list)
	}
}

func TestCatalogPushRefusesAndStoresNothing(t *testing.T) {
	requireStoreCommands(t)
	dataDir := t.TempDir()
	file := writeTempFile(t, "notes.wasm", []byte("these are notes, not a module\n"))
	out, _, err := runReprise(t, "catalog", "push", file, "--data-dir", dataDir)
	wantExit(t, err, 2)
	for _, want := range []string{file, "refused, nothing stored", "not a valid wasm module", hexHash([]byte("these are notes, not a module\n"))} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if !strings.Contains(out, "REFUSED:\n  - not a valid wasm module") {
		t.Errorf("push does not list the problem:\n%s", out)
	}
	out, _, err = runReprise(t, "catalog", "push", "--json", file, "--data-dir", dataDir)
	wantExit(t, err, 2)
	if out != "" {
		t.Errorf("a refused push --json printed %q on stdout", out)
	}
	list := mustRunReprise(t, "catalog", "list", "--data-dir", dataDir)
	if want := "no catalogs in " + filepath.Join(dataDir, catalogstore.DirName) + "\n"; list != want {
		t.Errorf("after refusals list printed %q, want %q", list, want)
	}
}

func TestCatalogPushRefusesUnsealedModule(t *testing.T) {
	requireStoreCommands(t)
	res := sharedCounterBuild(t)
	file := writeTempFile(t, "unsealed.wasm", res.Unsealed)
	out, _, err := runReprise(t, "catalog", "push", file, "--data-dir", t.TempDir())
	wantExit(t, err, 2)
	if want := "  - imports " + seal.WASIModule + "."; !strings.Contains(out, want) || !strings.Contains(out, "reprise catalog seal") {
		t.Errorf("push of an unsealed module does not name its imports and the fix:\n%s", out)
	}
}

func TestCatalogPushAppliesTheSizeLimitBeforeReading(t *testing.T) {
	requireStoreCommands(t)
	cfg := writeTempFile(t, "reprise.yaml", []byte("limits:\n  max_module_bytes: 1000\n"))
	dataDir := t.TempDir()
	_, _, err := runReprise(t, "--config", cfg, "catalog", "push", embeddedCounterPath, "--data-dir", dataDir)
	wantExit(t, err, 2)
	if want := "larger than the module size limit of 1000 bytes"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if _, err := os.Stat(filepath.Join(dataDir, catalogstore.DirName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an oversized push created the store (%v)", err)
	}
}

func TestCatalogPushMissingFile(t *testing.T) {
	requireStoreCommands(t)
	file := filepath.Join(t.TempDir(), "absent.wasm")
	_, _, err := runReprise(t, "catalog", "push", file, "--data-dir", t.TempDir())
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), file) {
		t.Fatalf("error %v, want one saying %s does not exist", err, file)
	}
}

func TestCatalogListWithoutAStore(t *testing.T) {
	requireStoreCommands(t)
	absent := filepath.Join(t.TempDir(), "absent")
	if _, _, err := runReprise(t, "catalog", "list", "--data-dir", absent); err == nil || !strings.Contains(err.Error(), "data directory "+absent+" does not exist") {
		t.Errorf("list of a missing data directory: %v", err)
	}
	if _, err := os.Stat(absent); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("list created %s", absent)
	}
	empty := t.TempDir()
	if out := mustRunReprise(t, "catalog", "list", "--data-dir", empty, "--json"); out != "{\n  \"catalogs\": []\n}\n" {
		t.Errorf("list --json of an empty data directory printed %q", out)
	}
	if _, err := os.Stat(filepath.Join(empty, catalogstore.DirName)); !errors.Is(err, os.ErrNotExist) {
		t.Error("list created the store directory")
	}
}

func TestCatalogListNamesACorruptCatalog(t *testing.T) {
	requireStoreCommands(t)
	dataDir := t.TempDir()
	mustRunReprise(t, "catalog", "push", embeddedCounterPath, "--data-dir", dataDir)
	swooshHash := hexHash(mustReadFile(t, embeddedSwooshPath))
	mustRunReprise(t, "catalog", "push", embeddedSwooshPath, "--data-dir", dataDir)
	if err := os.Truncate(filepath.Join(dataDir, catalogstore.DirName, swooshHash+".wasm"), 100); err != nil {
		t.Fatal(err)
	}
	out, _, err := runReprise(t, "catalog", "list", "--data-dir", dataDir)
	if !errors.Is(err, catalogstore.ErrCorrupt) || !strings.Contains(err.Error(), swooshHash) {
		t.Fatalf("list with a truncated module: %v, want an error naming %s", err, swooshHash)
	}
	if !strings.Contains(out, "counter") || strings.Contains(out, "swoosh") {
		t.Errorf("list does not show exactly the intact catalog:\n%s", out)
	}
}
