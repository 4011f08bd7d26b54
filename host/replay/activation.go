package replay

import (
	"encoding/hex"
	"fmt"

	"github.com/reprise-dev/reprise/abi/canon"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/state"
	"github.com/reprise-dev/reprise/wal"
)

// Activation is the body of an activation record ("from here on, catalog
// H"), stored as canonical JSON in wal.Record.Body. The record's
// CatalogHash is the catalog activated and its StateHash the state hash
// after the hand-over. Field names are part of the WAL format: never
// rename one.
type Activation struct {
	// Catalog is the hex SHA-256 of the module activated.
	Catalog string `json:"catalog"`
	// Name and Version are the activated catalog's descriptor.
	Name    string `json:"name"`
	Version string `json:"version"`
	// Fingerprint is the host that activated it (engine, limits, rewrite
	// versions); a replay compares it with its own.
	Fingerprint host.Fingerprint `json:"fingerprint"`
	// Fuel is the fuel budget of one transition from this record on;
	// replays use it, whatever their own engine's default.
	Fuel uint64 `json:"fuel"`
	// Replaced is the hex hash of the catalog in force before, empty for the
	// first activation of a log (genesis); ReplacedName and
	// ReplacedVersion are its descriptor.
	Replaced        string `json:"replaced,omitempty"`
	ReplacedName    string `json:"replaced_name,omitempty"`
	ReplacedVersion string `json:"replaced_version,omitempty"`
	// Migrated says the activated catalog declares a migration from the
	// replaced one, which its state import ran.
	Migrated bool `json:"migrated"`
}

// Genesis reports whether the activation starts a log.
func (a *Activation) Genesis() bool { return a.Replaced == "" }

// CatalogHash is Catalog decoded.
func (a *Activation) CatalogHash() ([32]byte, error) { return parseHash("catalog", a.Catalog) }

// ReplacedHash is Replaced decoded; the zero hash at genesis.
func (a *Activation) ReplacedHash() ([32]byte, error) {
	if a.Replaced == "" {
		return [32]byte{}, nil
	}
	return parseHash("replaced", a.Replaced)
}

func parseHash(what, s string) ([32]byte, error) {
	var h [32]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("activation %s %q is not a 64-digit hex hash", what, s)
	}
	copy(h[:], b)
	return h, nil
}

// HashHex is a catalog or state hash in hex, as reports and records write it.
func HashHex(h [32]byte) string { return hex.EncodeToString(h[:]) }

// Encode returns the canonical JSON body of the activation.
func (a *Activation) Encode() ([]byte, error) { return canon.Marshal(a) }

// DecodeActivation reads the body of an activation record and checks that
// it agrees with the record around it.
func DecodeActivation(rec *wal.Record) (Activation, error) {
	var a Activation
	if rec.Kind != wal.KindActivation {
		return a, fmt.Errorf("record %d is a %s record, not an activation", rec.Index, rec.Kind)
	}
	if err := canon.Unmarshal(rec.Body, &a); err != nil {
		return a, fmt.Errorf("activation record %d: body does not decode: %w", rec.Index, err)
	}
	h, err := a.CatalogHash()
	if err != nil {
		return a, fmt.Errorf("activation record %d: %w", rec.Index, err)
	}
	if h != rec.CatalogHash {
		return a, fmt.Errorf("activation record %d: body activates %s but the record names catalog %s", rec.Index, a.Catalog, HashHex(rec.CatalogHash))
	}
	if _, err := a.ReplacedHash(); err != nil {
		return a, fmt.Errorf("activation record %d: %w", rec.Index, err)
	}
	return a, nil
}

// Record builds the WAL record of an activation at index: its CatalogHash
// is the catalog activated, its StateHash the state after the hand-over.
func (a *Activation) Record(index, epoch uint64, timestamp int64, after state.Hash) (wal.Record, error) {
	h, err := a.CatalogHash()
	if err != nil {
		return wal.Record{}, err
	}
	body, err := a.Encode()
	if err != nil {
		return wal.Record{}, fmt.Errorf("encode activation: %w", err)
	}
	return wal.Record{
		Index: index, Epoch: epoch, Kind: wal.KindActivation, Timestamp: timestamp,
		CatalogHash: h, StateHash: after, Body: body,
	}, nil
}
