package api

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/reprise-dev/reprise/wal"
)

// recordJSON is a WAL record as /v1/wal and /v1/events show it. Byte
// fields that hold JSON (inputs, outputs, activation bodies) are shown as
// JSON; anything else as base64 in the *_base64 member instead.
type recordJSON struct {
	Index       uint64          `json:"index"`
	Epoch       uint64          `json:"epoch"`
	Kind        string          `json:"kind"`
	Timestamp   int64           `json:"timestamp"` // unix nanoseconds, assigned by the primary
	Time        string          `json:"time"`      // the same, RFC 3339 in UTC
	CatalogHash string          `json:"catalog_hash"`
	Transition  string          `json:"transition,omitempty"`
	Inputs      json.RawMessage `json:"inputs,omitempty"`
	InputsB64   string          `json:"inputs_base64,omitempty"`
	InputsHash  string          `json:"inputs_hash,omitempty"`
	IdemKey     string          `json:"idem_key,omitempty"`
	Signer      string          `json:"signer,omitempty"`
	HLC         string          `json:"hlc,omitempty"`
	WindowID    string          `json:"window_id,omitempty"`
	Evidence    []string        `json:"evidence,omitempty"`
	Code        string          `json:"code,omitempty"`
	Output      json.RawMessage `json:"output,omitempty"`
	OutputB64   string          `json:"output_base64,omitempty"`
	Fuel        uint64          `json:"fuel"`
	StateHash   string          `json:"state_hash"`
	Body        json.RawMessage `json:"body,omitempty"`
	BodyB64     string          `json:"body_base64,omitempty"`
}

func newRecordJSON(r *wal.Record) recordJSON {
	out := recordJSON{
		Index: r.Index, Epoch: r.Epoch, Kind: r.Kind.String(), Timestamp: r.Timestamp,
		Time:        time.Unix(0, r.Timestamp).UTC().Format(time.RFC3339Nano),
		CatalogHash: hex.EncodeToString(r.CatalogHash[:]), Transition: r.Transition, InputsHash: r.InputsHash,
		IdemKey: r.IdemKey, Signer: r.Signer, HLC: r.HLC, WindowID: r.WindowID, Evidence: r.Evidence,
		Code: r.Code, Fuel: r.Fuel, StateHash: hex.EncodeToString(r.StateHash[:]),
	}
	out.Inputs, out.InputsB64 = jsonOrBase64(r.Inputs)
	out.Output, out.OutputB64 = jsonOrBase64(r.Output)
	out.Body, out.BodyB64 = jsonOrBase64(r.Body)
	return out
}

func jsonOrBase64(b []byte) (json.RawMessage, string) {
	switch {
	case len(b) == 0:
		return nil, ""
	case json.Valid(b):
		return b, ""
	}
	return nil, base64.StdEncoding.EncodeToString(b)
}
