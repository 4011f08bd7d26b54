package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/reprise-dev/reprise/replication"
)

// candidateJSON is the wire form of a replication.Candidate, for the
// control plane's leader asking its peers (GET /v1/replication/candidate).
type candidateJSON struct {
	ID             string `json:"id"`
	Running        bool   `json:"running"`
	Epoch          uint64 `json:"epoch"`
	LineageEpoch   uint64 `json:"lineage_epoch"`
	Durable        uint64 `json:"durable"`
	Floor          uint64 `json:"floor"`
	KnownCommitted uint64 `json:"known_committed"`
	Rebuilding     bool   `json:"rebuilding"`
	NeedsRebuild   bool   `json:"needs_rebuild"`
}

// EncodeCandidate writes this node's candidate facts as JSON.
func (n *Node) EncodeCandidate(w io.Writer) error {
	c := n.Candidate()
	return json.NewEncoder(w).Encode(candidateJSON{ID: string(c.ID), Running: c.Running, Epoch: c.Epoch, LineageEpoch: c.LineageEpoch,
		Durable: c.Durable, Floor: c.Floor, KnownCommitted: c.KnownCommitted, Rebuilding: c.Rebuilding, NeedsRebuild: c.NeedsRebuild})
}

// FetchCandidate asks the node whose API is at addr for its candidate facts.
func FetchCandidate(ctx context.Context, client *http.Client, addr, token string) (replication.Candidate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/replication/candidate", nil)
	if err != nil {
		return replication.Candidate{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return replication.Candidate{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return replication.Candidate{}, fmt.Errorf("GET %s: %s", req.URL, resp.Status)
	}
	var c candidateJSON
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&c); err != nil {
		return replication.Candidate{}, fmt.Errorf("GET %s: %w", req.URL, err)
	}
	return replication.Candidate{ID: replication.ReplicaID(c.ID), Running: c.Running, Epoch: c.Epoch, LineageEpoch: c.LineageEpoch,
		Durable: c.Durable, Floor: c.Floor, KnownCommitted: c.KnownCommitted, Rebuilding: c.Rebuilding, NeedsRebuild: c.NeedsRebuild}, nil
}
