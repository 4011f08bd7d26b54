package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprise-dev/reprise/host/catalogstore"
)

// TestCatalogCycleThroughTheCLI is the README's catalog cycle with the
// binary's own commands against a running server: build a new version,
// push it into the data directory's store while the server runs,
// shadow-replay it, see a required-clean activation refused, activate it,
// roll back, then stop the server and replay the whole WAL offline, both
// honouring the activations and forcing the new version.
func TestCatalogCycleThroughTheCLI(t *testing.T) {
	skipCatalogBuildsInShortMode(t)
	dir := t.TempDir()
	wasm := filepath.Join(t.TempDir(), "counterdiverge.wasm")
	mustRunReprise(t, "catalog", "build", filepath.Join("..", "..", "catalogs", "counterdiverge"), "-o", wasm)

	addr, _, stop := startServe(t, "serve", "--catalog", "counter", "--data-dir", dir, "--listen", "127.0.0.1:0")
	server := "http://" + addr
	post := func(body string) {
		t.Helper()
		resp, err := http.Post(server+"/transition", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /transition %s: %s", body, resp.Status)
		}
	}
	post(`{"transition":"INCREMENT","inputs":{"key":"a","by":2}}`)
	post(`{"transition":"RESET","inputs":{"key":"a"}}`) // record 3: 1.1.0 keeps a at zero here
	post(`{"transition":"INCREMENT","inputs":{"key":"b","by":1}}`)

	var pushed catalogstore.PushReply
	if err := json.Unmarshal([]byte(mustRunReprise(t, "catalog", "push", wasm, "--data-dir", dir, "--json")), &pushed); err != nil || !pushed.Added {
		t.Fatalf("push: %+v %v", pushed, err)
	}
	candidate := pushed.Catalog.Hash
	list := mustRunReprise(t, "catalog", "list", "--data-dir", dir)
	if !strings.Contains(list, candidate[:16]) || !strings.Contains(list, "1.1.0") {
		t.Fatalf("catalog list does not show the pushed version:\n%s", list)
	}

	out, _, err := runReprise(t, "catalog", "shadow", candidate[:12], "--server", server)
	wantExit(t, err, 3)
	if !strings.Contains(out, "the first is record 3 (transition TRANSITION_RESET") {
		t.Fatalf("shadow output does not name record 3:\n%s", out)
	}
	out, _, err = runReprise(t, "catalog", "activate", candidate, "--server", server, "--require-clean-shadow")
	wantExit(t, err, 2)
	if !strings.Contains(err.Error(), "shadow_diverged") {
		t.Fatalf("refused activation: %v\n%s", err, out)
	}
	out = mustRunReprise(t, "catalog", "activate", candidate, "--server", server)
	if !strings.Contains(out, "activated counter@1.1.0 ("+candidate+") at record 5") {
		t.Fatalf("activate printed:\n%s", out)
	}
	post(`{"transition":"RESET","inputs":{"key":"b"}}`) // record 6, under 1.1.0

	var counterHash string
	var listed catalogstore.ListReply
	if err := json.Unmarshal([]byte(mustRunReprise(t, "catalog", "list", "--data-dir", dir, "--json")), &listed); err != nil {
		t.Fatal(err)
	}
	for _, c := range listed.Catalogs {
		if c.Version == "1.0.0" {
			counterHash = c.Hash
		}
	}
	if counterHash == "" {
		t.Fatalf("the configured catalog is not in the store: %+v", listed)
	}
	out = mustRunReprise(t, "catalog", "activate", counterHash[:10], "--server", server)
	if !strings.Contains(out, "activated counter@1.0.0") || !strings.Contains(out, "at record 7") {
		t.Fatalf("rollback printed:\n%s", out)
	}
	stop()

	out = mustRunReprise(t, "replay", "--data-dir", dir)
	if !strings.Contains(out, "replayed records 1..7 (7 records, 3 activations)") || !strings.Contains(out, "no divergence") {
		t.Fatalf("offline replay:\n%s", out)
	}
	out, _, err = runReprise(t, "replay", "--data-dir", dir, "--catalog", candidate, "--to", fmt.Sprint(4))
	wantExit(t, err, 3)
	if !strings.Contains(out, "the first is record 3") {
		t.Fatalf("forced offline replay:\n%s", out)
	}
}
