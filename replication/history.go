package replication

import (
	"fmt"
	"slices"
	"sort"
)

// EpochStart says that the records of a log from FirstIndex on carry Epoch,
// up to the next entry's FirstIndex.
type EpochStart struct {
	Epoch      uint64
	FirstIndex uint64
}

// History is a log's epoch history: which epoch wrote which index range,
// oldest first. It outlives head truncation (the executor keeps it beside
// the WAL), so the primary can tell whether a replica's last record belongs
// to its own lineage even when that record is no longer retained.
//
// Two records with the same index and epoch are the same record: one primary
// writes each epoch, each epoch's records start right after the committed
// boundary it was promoted with, and a replica stores records only after the
// primary has verified the prefix they extend.
type History []EpochStart

// Validate checks that epochs increase strictly and first indexes never
// decrease (an epoch that wrote nothing shares its first index with the
// next).
func (h History) Validate() error {
	for i, e := range h {
		if e.Epoch == 0 {
			return fmt.Errorf("replication: epoch history entry %d has epoch 0", i)
		}
		if e.FirstIndex == 0 {
			return fmt.Errorf("replication: epoch history entry %d (epoch %d) has first index 0", i, e.Epoch)
		}
		if i > 0 {
			prev := h[i-1]
			if e.Epoch <= prev.Epoch {
				return fmt.Errorf("replication: epoch history entry %d has epoch %d after epoch %d", i, e.Epoch, prev.Epoch)
			}
			if e.FirstIndex < prev.FirstIndex {
				return fmt.Errorf("replication: epoch history entry %d (epoch %d) starts at %d, before epoch %d at %d",
					i, e.Epoch, e.FirstIndex, prev.Epoch, prev.FirstIndex)
			}
		}
	}
	return nil
}

// EpochAt returns the epoch of the record at index, which must not be past
// the log's last index. Index 0 (no record) has epoch 0. It reports false for
// an index below the first entry.
func (h History) EpochAt(index uint64) (uint64, bool) {
	if index == 0 {
		return 0, true
	}
	i := sort.Search(len(h), func(i int) bool { return h[i].FirstIndex > index }) - 1
	if i < 0 {
		return 0, false
	}
	return h[i].Epoch, true
}

// LastEpoch is the epoch of the newest entry, 0 for an empty history.
func (h History) LastEpoch() uint64 {
	if len(h) == 0 {
		return 0
	}
	return h[len(h)-1].Epoch
}

// Truncate returns the history of the log cut after index after: entries that
// start past it are dropped.
func (h History) Truncate(after uint64) History {
	out := make(History, 0, len(h))
	for _, e := range h {
		if e.FirstIndex <= after {
			out = append(out, e)
		}
	}
	return out
}

// Clone returns a copy that shares nothing with h.
func (h History) Clone() History { return slices.Clone(h) }

// commonPrefix says how far a log whose record at index carries epoch is
// proven to agree with the log h describes, whose last index is head.
// exact reports agreement through index itself. Otherwise m < index is the
// next candidate: the end of the newest epoch of h not above epoch (records
// past it cannot be shared), or, when that does not move below index, the
// index before that epoch began. The replica truncates to m and the primary
// checks the record left at m the same way, so every round either agrees or
// moves strictly down, and ends at the latest at 0.
func (h History) commonPrefix(index, epoch, head uint64) (m uint64, exact bool) {
	if index == 0 {
		return 0, true
	}
	if index <= head {
		if e, ok := h.EpochAt(index); ok && e == epoch {
			return index, true
		}
	}
	j := sort.Search(len(h), func(i int) bool { return h[i].Epoch > epoch }) - 1
	if j < 0 {
		return 0, false
	}
	end := head
	if j+1 < len(h) {
		end = h[j+1].FirstIndex - 1
	}
	if m = min(index, head, end); m < index {
		return m, false
	}
	return min(index, h[j].FirstIndex) - 1, false
}
