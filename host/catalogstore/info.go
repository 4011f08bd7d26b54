package catalogstore

import (
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host"
)

// Info describes one stored catalog.
type Info struct {
	Hash         [32]byte
	Name         string
	Version      string
	ABIVersion   uint32
	Transitions  []string            // transition names, sorted
	MigratesFrom []abi.MigrationInfo // in descriptor order
	Size         int64               // module size in bytes
	Uploaded     time.Time           // when the module was first stored, UTC
}

// HashHex is the module hash in lowercase hex.
func (i Info) HashHex() string { return hex.EncodeToString(i.Hash[:]) }

// Ref is the catalog's name and version.
func (i Info) Ref() abi.CatalogRef { return abi.CatalogRef{Name: i.Name, Version: i.Version} }

// Summary is the JSON form of one stored catalog, shared by the command
// line (`reprise catalog push|list --json`) and the HTTP API
// (POST and GET /v1/catalogs), so that both print and parse one shape.
type Summary struct {
	Hash         string              `json:"hash"` // lowercase hex, no prefix
	Name         string              `json:"name"`
	Version      string              `json:"version"`
	Transitions  []string            `json:"transitions"`
	MigratesFrom []abi.MigrationInfo `json:"migrates_from"`
	Size         int64               `json:"size"`
	Uploaded     string              `json:"uploaded"` // RFC 3339 with nanoseconds, UTC
	// Active is set by whoever knows which catalog the node runs (the
	// server); an offline listing leaves it out.
	Active *bool `json:"active,omitempty"`
}

// Summary returns the JSON form of i, with Active left unset.
func (i Info) Summary() Summary {
	return Summary{
		Hash:         i.HashHex(),
		Name:         i.Name,
		Version:      i.Version,
		Transitions:  nonNil(i.Transitions),
		MigratesFrom: nonNil(i.MigratesFrom),
		Size:         i.Size,
		Uploaded:     formatTime(i.Uploaded),
	}
}

// PushReply is the answer to storing a module: whether it was new, and what
// is stored. `reprise catalog push --json` prints it; POST /v1/catalogs
// answers it.
type PushReply struct {
	Added   bool    `json:"added"`
	Catalog Summary `json:"catalog"`
}

// ListReply is the answer to listing the store, in List's order.
// `reprise catalog list --json` prints it; GET /v1/catalogs answers it.
type ListReply struct {
	Catalogs []Summary `json:"catalogs"`
}

// NewListReply summarises infos in order, with an empty list (not null)
// when there are none.
func NewListReply(infos []Info) ListReply {
	r := ListReply{Catalogs: make([]Summary, len(infos))}
	for i, info := range infos {
		r.Catalogs[i] = info.Summary()
	}
	return r
}

// metaFormat is the version of the metadata file layout.
const metaFormat = 1

// metaFile is the metadata stored beside each module, as canonical JSON.
// Field names are part of the on-disk format: never rename one.
type metaFile struct {
	Format       int                 `json:"format"`
	Hash         string              `json:"hash"`
	Name         string              `json:"name"`
	Version      string              `json:"version"`
	ABIVersion   uint32              `json:"abi_version"`
	Transitions  []string            `json:"transitions"`
	MigratesFrom []abi.MigrationInfo `json:"migrates_from"`
	Size         int64               `json:"size"`
	Uploaded     string              `json:"uploaded"`
}

func newMeta(m *host.Module, uploaded time.Time) metaFile {
	return metaFile{
		Format:       metaFormat,
		Hash:         m.HashHex(),
		Name:         m.Descriptor.Name,
		Version:      m.Descriptor.Version,
		ABIVersion:   m.ABIVersion,
		Transitions:  nonNil(m.Descriptor.TransitionNames()),
		MigratesFrom: nonNil(slices.Clone(m.Descriptor.MigratesFrom)),
		Size:         int64(m.Size),
		Uploaded:     formatTime(uploaded),
	}
}

// info checks a decoded metadata file against the hash it is stored under.
func (mf metaFile) info(hash [32]byte) (Info, error) {
	if mf.Format != metaFormat {
		return Info{}, fmt.Errorf("metadata format %d, this build reads %d", mf.Format, metaFormat)
	}
	if mf.Hash != hex.EncodeToString(hash[:]) {
		return Info{}, fmt.Errorf("metadata names hash %s", mf.Hash)
	}
	if mf.Size < 0 {
		return Info{}, fmt.Errorf("metadata gives a negative size %d", mf.Size)
	}
	uploaded, err := time.Parse(time.RFC3339Nano, mf.Uploaded)
	if err != nil {
		return Info{}, fmt.Errorf("metadata upload time: %v", err)
	}
	return Info{
		Hash:         hash,
		Name:         mf.Name,
		Version:      mf.Version,
		ABIVersion:   mf.ABIVersion,
		Transitions:  nonNil(mf.Transitions),
		MigratesFrom: nonNil(mf.MigratesFrom),
		Size:         mf.Size,
		Uploaded:     uploaded.UTC(),
	}, nil
}

// formatTime renders t in UTC with as many fractional digits as it has, so
// parsing the text gives t back.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
