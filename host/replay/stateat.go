package replay

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// StateAt rebuilds the state at index: it starts from the newest valid
// snapshot at or before index (or from genesis while the WAL still holds
// record 1), then applies the records up to index under the catalogs they
// name, verifying each against the WAL as the lead-in of Run does. Like Run
// it pins the records it reads and runs its own reducer, so it can run
// beside a live writer.
//
// The machine returned is positioned at index with its reducer closed: its
// state, catalog and activation stay readable, and the state is the
// caller's. An error wrapping ErrUnavailable means the records needed are
// compacted and no snapshot continues them; a record that does not replay
// as recorded is an error naming it, never a state.
func StateAt(ctx context.Context, src Source, index uint64) (*Machine, error) {
	if src.WAL == nil {
		return nil, errors.New("replay: no WAL")
	}
	if last := src.WAL.LastIndex(); index > last {
		return nil, fmt.Errorf("replay: cannot rebuild the state at index %d: the WAL ends at %d", index, last)
	}
	r := &run{src: src, req: Request{MaxDiff: DefaultMaxDiff}, ref: NewMachine(src.Catalogs)}
	defer func() { r.ref.Close(context.Background()) }()
	_, start, release, err := r.begin(ctx, index+1)
	if err != nil {
		return nil, err
	}
	defer release()
	if err := r.leadInTo(ctx, start, index); err != nil {
		return nil, fmt.Errorf("replay: rebuild the state at index %d: %w", index, err)
	}
	if r.rep.Stopped != "" {
		msg := fmt.Sprintf("replay: cannot rebuild the state at index %d: %s", index, r.rep.Stopped)
		if d := r.rep.First; d != nil {
			msg += fmt.Sprintf(" (%s)", strings.Join(d.Reasons, "; "))
		}
		return nil, errors.New(msg)
	}
	if r.ref.Index() != index {
		return nil, fmt.Errorf("replay: rebuilding the state at index %d stopped at index %d", index, r.ref.Index())
	}
	return r.ref, nil
}
