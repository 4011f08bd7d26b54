package api

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/reprise-dev/reprise/catalogs/builtin"
	"github.com/reprise-dev/reprise/guest/build"
	"github.com/reprise-dev/reprise/host/catalogstore"
	"github.com/reprise-dev/reprise/host/replay"
)

// pushReply is POST /v1/catalogs's answer.
type pushReply = catalogstore.PushReply

// TestCatalogLifecycleOverHTTP walks a catalog version through the API as
// an operator would: upload it, shadow-replay it, see the shadow refuse a
// required-clean activation, activate it anyway, roll back, replay the WAL
// across both swaps (honouring the activations, and forcing the candidate),
// restart, and find the same state.
func TestCatalogLifecycleOverHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a catalog with the Go toolchain")
	}
	divergeWasm, err := build.Build(context.Background(), filepath.Join("..", "..", "catalogs", "counterdiverge"), build.Options{})
	if err != nil {
		t.Fatalf("build catalogs/counterdiverge: %v", err)
	}
	counter := builtinModule(t, "counter") // loads the shared engine
	store, err := catalogstore.Open(filepath.Join(t.TempDir(), "catalogs"), catalogstore.Options{Engine: modules.engine, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, dir: t.TempDir(), module: counter, cfg: Config{Catalogs: store}}
	n.ecfg.SnapshotEvery, n.ecfg.SnapshotKeep, n.ecfg.Catalogs = 1<<40, 10, store
	n.start()
	t.Cleanup(n.stop)

	push := func(wasm []byte) (reply, pushReply) {
		t.Helper()
		r := n.do(http.MethodPost, "/v1/catalogs", string(wasm), "Content-Type", "application/wasm")
		var pr pushReply
		if r.status == http.StatusOK || r.status == http.StatusCreated {
			decode(t, r, &pr)
		}
		return r, pr
	}
	counterWasm, _ := builtin.Lookup("counter")
	if r, pr := push(counterWasm); r.status != http.StatusCreated || !pr.Added || pr.Catalog.Active == nil || !*pr.Catalog.Active {
		t.Fatalf("pushing the catalog in force: %s", r)
	}
	if r, pr := push(counterWasm); r.status != http.StatusOK || pr.Added {
		t.Fatalf("pushing it again: %s", r)
	}
	p := wantProblem(t, n.do(http.MethodPost, "/v1/catalogs", "\x00asm\x01\x00\x00\x00garbage", "Content-Type", "application/wasm"), http.StatusUnprocessableEntity, "catalog_refused")
	if len(p.Problems) == 0 {
		t.Fatalf("a refused module's problem lists no reasons: %+v", p)
	}
	wantProblem(t, n.post("/v1/catalogs", ""), http.StatusBadRequest, "empty_module")
	r, pr := push(divergeWasm.Wasm)
	if r.status != http.StatusCreated || pr.Catalog.Version != "1.1.0" || *pr.Catalog.Active {
		t.Fatalf("pushing the candidate: %s", r)
	}
	candidate := pr.Catalog.Hash
	counterHash := hex.EncodeToString(counter.Hash[:])

	var list catalogstore.ListReply
	decode(t, n.get("/v1/catalogs"), &list)
	if len(list.Catalogs) != 2 || list.Catalogs[0].Hash != counterHash || !*list.Catalogs[0].Active || *list.Catalogs[1].Active {
		t.Fatalf("catalog list %+v", list)
	}

	// Records 2..4 under 1.0.0; the reset at 3 is where 1.1.0 differs.
	n.mustAccept(`{"transition":"TRANSITION_INCREMENT","inputs":{"key":"a","by":2}}`)
	reset := n.mustAccept(`{"transition":"TRANSITION_RESET","inputs":{"key":"a"}}`)
	n.mustAccept(`{"transition":"TRANSITION_INCREMENT","inputs":{"key":"b","by":1}}`)

	var shadow replay.Report
	decode(t, n.post("/v1/catalogs/"+candidate[:12]+"/shadow", ""), &shadow)
	if shadow.First == nil || shadow.First.Index != reset.Index || shadow.First.Transition != "TRANSITION_RESET" {
		t.Fatalf("shadow report names %+v, want record %d (TRANSITION_RESET)", shadow.First, reset.Index)
	}
	p = wantProblem(t, n.post("/v1/catalogs/"+candidate+"/activate", `{"require_clean_shadow":true}`), http.StatusConflict, "shadow_diverged")
	if p.Shadow == nil || p.Shadow.First == nil || p.Shadow.First.Index != reset.Index {
		t.Fatalf("refused activation carries shadow %+v", p.Shadow)
	}
	if h := n.health(); h.Index != reset.Index+1 {
		t.Fatalf("a refused activation moved the index to %d", h.Index)
	}

	var act activatedJSON
	decode(t, n.post("/v1/catalogs/"+candidate+"/activate", ""), &act)
	if act.Index != reset.Index+2 || act.Catalog.Hash != candidate || act.Replaced == nil || act.Replaced.Hash != counterHash || act.Migrated {
		t.Fatalf("activation %+v", act)
	}
	wantProblem(t, n.post("/v1/catalogs/"+candidate+"/activate", ""), http.StatusConflict, "already_in_force")
	after := n.mustAccept(`{"transition":"TRANSITION_RESET","inputs":{"key":"b"}}`)
	if got := n.get("/state"); string(got.body) != `{"counts":{"b":0}}`+"\n" && string(got.body) != `{"counts":{"b":0}}` {
		t.Fatalf("state under 1.1.0 after a reset: %s", got.body)
	}
	decode(t, n.post("/v1/catalogs/"+counterHash[:16]+"/activate", ""), &act)
	if act.Index != after.Index+1 || act.Catalog.Hash != counterHash {
		t.Fatalf("rollback %+v", act)
	}

	var rep replay.Report
	decode(t, n.post("/v1/replay", `{}`), &rep)
	if !rep.Clean() || rep.Replayed != act.Index || rep.Activations != 3 || rep.FinalStateHash != act.StateHash {
		t.Fatalf("replay across both swaps: %+v", rep)
	}
	decode(t, n.post("/v1/replay", fmt.Sprintf(`{"from":1,"to":%d,"catalog":%q}`, reset.Index+1, candidate)), &rep)
	if rep.First == nil || rep.First.Index != reset.Index || rep.Forced != candidate {
		t.Fatalf("forced replay: %+v", rep)
	}

	wantProblem(t, n.post("/v1/catalogs/"+"0123456789abcdef/activate", ""), http.StatusNotFound, "unknown_catalog")
	wantProblem(t, n.post("/v1/catalogs/xyz/shadow", ""), http.StatusBadRequest, "bad_catalog_hash")
	wantProblem(t, n.post("/v1/replay", `{"from":5,"to":2}`), http.StatusBadRequest, "bad_parameter")
	wantProblem(t, n.post("/v1/replay", `{"form":1}`), http.StatusBadRequest, "malformed_json")

	before := n.health()
	n.restart()
	if h := n.health(); h.Index != before.Index || h.StateHash != before.StateHash || h.Catalog.Hash != counterHash {
		t.Fatalf("after a restart: %+v, before %+v", h, before)
	}
}

// TestHotSwapUnderLoadOverHTTP activates a new catalog version and then
// rolls back while eight clients keep submitting over HTTP: no submission
// fails or is lost, every record between the two activations carries the
// new version's hash, and a restart and a full replay reach the same state.
func TestHotSwapUnderLoadOverHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a catalog with the Go toolchain")
	}
	divergeWasm, err := build.Build(context.Background(), filepath.Join("..", "..", "catalogs", "counterdiverge"), build.Options{})
	if err != nil {
		t.Fatalf("build catalogs/counterdiverge: %v", err)
	}
	counter := builtinModule(t, "counter")
	store, err := catalogstore.Open(filepath.Join(t.TempDir(), "catalogs"), catalogstore.Options{Engine: modules.engine, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	info, _, err := store.Put(context.Background(), divergeWasm.Wasm)
	if err != nil {
		t.Fatal(err)
	}
	counterWasm, _ := builtin.Lookup("counter")
	if _, _, err := store.Put(context.Background(), counterWasm); err != nil { // as serve does
		t.Fatal(err)
	}
	candidate, counterHash := info.HashHex(), hex.EncodeToString(counter.Hash[:])
	n := &node{t: t, dir: t.TempDir(), module: counter, cfg: Config{Catalogs: store}}
	n.ecfg.SnapshotEvery, n.ecfg.SnapshotKeep, n.ecfg.Catalogs = 1<<40, 10, store
	n.start()
	t.Cleanup(n.stop)

	const clients = 8
	var (
		acked   atomic.Int64
		stop    atomic.Bool
		wg      sync.WaitGroup
		perKey  [clients]int64
		failure = make(chan string, clients)
	)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				body := fmt.Sprintf(`{"transition":"TRANSITION_INCREMENT","inputs":{"key":"load-%d","by":1},"idem_key":"c%d-%d"}`, c, c, i)
				resp, err := n.client.Post(n.url+"/transition", "application/json", strings.NewReader(body))
				if err != nil {
					failure <- err.Error()
					return
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), `"success":true`) {
					failure <- fmt.Sprintf("%s: %d %s", body, resp.StatusCode, raw)
					return
				}
				perKey[c]++
				acked.Add(1)
			}
		}()
	}
	waitAcked := func(more int64) {
		t.Helper()
		for target := acked.Load() + more; acked.Load() < target; {
			select {
			case f := <-failure:
				stop.Store(true)
				t.Fatalf("a submission failed under load: %s", f)
			default:
				runtime.Gosched()
			}
		}
	}
	waitAcked(200)
	var swapIn, swapBack activatedJSON
	decode(t, n.post("/v1/catalogs/"+candidate+"/activate", ""), &swapIn)
	waitAcked(200)
	decode(t, n.post("/v1/catalogs/"+counterHash+"/activate", ""), &swapBack)
	waitAcked(200)
	stop.Store(true)
	wg.Wait()
	close(failure)
	for f := range failure {
		t.Fatalf("a submission failed under load: %s", f)
	}

	// Every record between the activations was produced by the candidate.
	for from := swapIn.Index + 1; from < swapBack.Index; {
		var page walPage
		decode(t, n.get(fmt.Sprintf("/v1/wal?from=%d&to=%d", from, swapBack.Index-1)), &page)
		for _, rec := range page.Records {
			if rec.CatalogHash != candidate {
				t.Fatalf("record %d between the swaps names catalog %s, want %s", rec.Index, rec.CatalogHash, candidate)
			}
		}
		if page.NextFrom == 0 {
			break
		}
		from = page.NextFrom
	}
	var view struct{ Counts map[string]int64 }
	decode(t, n.get("/state"), &view)
	for c := range clients {
		if got := view.Counts[fmt.Sprintf("load-%d", c)]; got != perKey[c] {
			t.Fatalf("load-%d totals %d, but %d increments were acknowledged", c, got, perKey[c])
		}
	}
	before := n.health()
	var rep replay.Report
	decode(t, n.post("/v1/replay", `{}`), &rep)
	if !rep.Clean() || rep.Activations != 3 || rep.FinalStateHash != before.StateHash {
		t.Fatalf("replay across both swaps: %+v", rep)
	}
	n.restart()
	if h := n.health(); h.Index != before.Index || h.StateHash != before.StateHash {
		t.Fatalf("after a restart %+v, before %+v", h, before)
	}
}
