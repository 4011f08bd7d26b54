package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/catalogstore"
)

// maxFetchedModule bounds a catalog fetched from the primary; the store's
// admission applies its own, usually lower, limit.
const maxFetchedModule = 256 << 20

// FetchingCatalogs is a replica's catalog store: a catalog a shipped record
// names and the store lacks (the primary activated an upload this node never
// saw) is fetched from the primary's API (GET /v1/catalogs/{hash}/module),
// checked against its hash, admitted and stored like any upload, then
// loaded.
type FetchingCatalogs struct {
	Store *catalogstore.Store
	// Primary returns the primary's API address (host:port), "" when none
	// is known.
	Primary func() string
	// Token is sent as a bearer token, for a primary that protects reads.
	Token  string
	Client *http.Client
}

// Load returns the catalog from the store, fetching it first if needed.
func (f *FetchingCatalogs) Load(ctx context.Context, hash [32]byte) (*host.Module, error) {
	m, err := f.Store.Load(ctx, hash)
	if err == nil || !errors.Is(err, catalogstore.ErrNotFound) {
		return m, err
	}
	addr := ""
	if f.Primary != nil {
		addr = f.Primary()
	}
	if addr == "" {
		return nil, err
	}
	wasm, ferr := f.fetch(ctx, addr, hash)
	if ferr != nil {
		return nil, fmt.Errorf("%w; fetching it from the primary at %s failed: %v", err, addr, ferr)
	}
	if _, _, perr := f.Store.Put(ctx, wasm); perr != nil {
		return nil, fmt.Errorf("catalog %x fetched from the primary was refused: %w", hash, perr)
	}
	return f.Store.Load(ctx, hash)
}

func (f *FetchingCatalogs) fetch(ctx context.Context, addr string, hash [32]byte) ([]byte, error) {
	client := f.Client
	if client == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/catalogs/"+hex.EncodeToString(hash[:])+"/module", nil)
	if err != nil {
		return nil, err
	}
	if f.Token != "" {
		req.Header.Set("Authorization", "Bearer "+f.Token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", req.URL, resp.Status)
	}
	wasm, err := io.ReadAll(io.LimitReader(resp.Body, maxFetchedModule+1))
	if err != nil {
		return nil, err
	}
	if len(wasm) > maxFetchedModule {
		return nil, fmt.Errorf("module is larger than %d bytes", maxFetchedModule)
	}
	if sha256.Sum256(wasm) != hash {
		return nil, fmt.Errorf("the bytes served do not hash to %x", hash)
	}
	return wasm, nil
}
