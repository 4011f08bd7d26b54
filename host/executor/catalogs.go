package executor

import (
	"context"
	"fmt"

	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/replay"
	"github.com/reprise-dev/reprise/wal"
)

// Catalogs loads catalog modules by hash: what the executor needs from a
// catalog store. Load must return the module whose bytes hash to hash, and
// wrap replay.ErrUnknownCatalog when it holds no such catalog.
type Catalogs = replay.Catalogs

// withModule serves the configured module without consulting the store.
type withModule struct {
	base   Catalogs
	module *host.Module
}

func (c withModule) Load(ctx context.Context, hash [32]byte) (*host.Module, error) {
	if c.module != nil && c.module.Hash == hash {
		return c.module, nil
	}
	if c.base == nil {
		return nil, fmt.Errorf("%w: %s (no catalog store is configured; only the configured catalog %s is available)",
			replay.ErrUnknownCatalog, replay.HashHex(hash), c.module.HashHex())
	}
	return c.base.Load(ctx, hash)
}

// loadModule loads a catalog through the executor's catalogs and checks
// that it is the one asked for.
func (e *Executor) loadModule(ctx context.Context, hash [32]byte) (*host.Module, error) {
	m, err := e.catalogs.Load(ctx, hash)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("%w: %s", replay.ErrUnknownCatalog, replay.HashHex(hash))
	}
	if m.Hash != hash {
		return nil, fmt.Errorf("catalog %s: the catalog store returned module %s", replay.HashHex(hash), m.HashHex())
	}
	return m, nil
}

// CatalogsInUse returns the catalogs a replay or a recovery of this node
// may still need: the catalog in force, the catalog of every snapshot kept,
// and every catalog a retained WAL record names (records carry the catalog
// that produced them; activation records also name the catalog they
// replaced). A catalog store must not remove any of them. It reads the
// whole retained WAL, so it is meant for occasional calls such as a
// removal, not for a hot path.
func (e *Executor) CatalogsInUse() (map[[32]byte]bool, error) {
	in := map[[32]byte]bool{e.Catalog().Hash: true}
	infos, err := e.snaps.List()
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	for _, s := range infos {
		if s.Valid {
			in[s.CatalogHash] = true
		}
	}
	first, last := e.wal.FirstIndex(), e.wal.LastIndex()
	if first == 0 || last < first {
		return in, nil
	}
	err = e.wal.Range(first, last, func(rec wal.Record) error {
		in[rec.CatalogHash] = true
		if rec.Kind == wal.KindActivation {
			a, err := replay.DecodeActivation(&rec)
			if err != nil {
				return err
			}
			if h, _ := a.ReplacedHash(); h != ([32]byte{}) {
				in[h] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the WAL: %w", err)
	}
	return in, nil
}
