package replay

import (
	"fmt"
	"io"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/abi/canon"
	"github.com/reprise-dev/reprise/host/state"
	"github.com/reprise-dev/reprise/snapshot"
)

// SnapshotExtra is the host's metadata in a snapshot (snapshot.Meta.Extra):
// what, besides the state, a node needs to go on from the snapshot. Field
// names are part of the snapshot format: never rename one.
type SnapshotExtra struct {
	// Catalog is the descriptor of the catalog in force.
	Catalog abi.CatalogRef `json:"catalog"`
	// LastHLC is the highest HLC accepted up to the snapshot.
	LastHLC string `json:"last_hlc,omitempty"`
	// Activation is the activation in force and ActivationIndex its record;
	// absent in snapshots of logs that predate activation records.
	Activation      *Activation `json:"activation,omitempty"`
	ActivationIndex uint64      `json:"activation_index,omitempty"`
}

// Encode returns the canonical JSON of the metadata.
func (x *SnapshotExtra) Encode() ([]byte, error) { return canon.Marshal(x) }

// ReadBase reads a snapshot (its payload too) into a Base for
// Machine.Start, with the snapshot's host metadata.
func ReadBase(r *snapshot.Reader) (Base, SnapshotExtra, error) {
	m := r.Meta
	var extra SnapshotExtra
	if len(m.Extra) > 0 {
		if err := canon.Unmarshal(m.Extra, &extra); err != nil {
			return Base{}, extra, fmt.Errorf("snapshot at index %d: metadata: %w", m.Index, err)
		}
	}
	if extra.Activation != nil {
		h, err := extra.Activation.CatalogHash()
		if err != nil {
			return Base{}, extra, fmt.Errorf("snapshot at index %d: %w", m.Index, err)
		}
		if h != m.CatalogHash {
			return Base{}, extra, fmt.Errorf("snapshot at index %d: its activation names catalog %s, its header %s", m.Index, extra.Activation.Catalog, HashHex(m.CatalogHash))
		}
	}
	payload, err := io.ReadAll(r.Payload())
	if err != nil {
		return Base{}, extra, fmt.Errorf("snapshot at index %d: %w", m.Index, err)
	}
	entries, err := abi.DecodeState(payload)
	if err != nil {
		return Base{}, extra, fmt.Errorf("snapshot at index %d: %w", m.Index, err)
	}
	return Base{
		Index: m.Index, Catalog: m.CatalogHash, Act: extra.Activation, ActIndex: extra.ActivationIndex,
		Entries: entries, StateHash: state.Hash(m.StateHash),
	}, extra, nil
}
