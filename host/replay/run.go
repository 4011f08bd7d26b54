package replay

import (
	"context"
	"errors"
	"fmt"

	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/snapshot"
	"github.com/reprise-dev/reprise/wal"
)

// Source is what a replay reads: the WAL, the snapshots that can serve as
// its starting point, and the catalogs its records name.
type Source struct {
	WAL       *wal.Log
	Snapshots *snapshot.Store // nil: replays start from genesis only
	Catalogs  Catalogs
}

// Request says what to replay.
type Request struct {
	// From is the first record compared. 0 means as early as the data
	// allows: genesis when the WAL still holds record 1, else the oldest
	// valid snapshot. The replay starts from the latest state it can
	// rebuild at or before From-1 (genesis or a snapshot) and applies the
	// records in between first.
	From uint64
	// To is the last record compared; 0 means the WAL's last record when
	// the replay starts.
	To uint64
	// Force, when set, runs every record of the range under Catalog instead
	// of the catalog each record names; the state at From-1 is handed over
	// to it (migrated if it declares a migration).
	Force   bool
	Catalog [32]byte
	// MaxDiff bounds the entries listed in a state diff; default 20.
	MaxDiff int
	// Progress, if set, is called after each record with the number of
	// records applied and the number to apply (lead-in included).
	Progress func(done, total uint64)
}

// DefaultMaxDiff is the number of entries a state diff lists by default.
const DefaultMaxDiff = 20

// errHalt stops a WAL Range once the replay cannot go on.
var errHalt = errors.New("replay halted")

// ErrUnavailable is wrapped by the errors of a replay that cannot rebuild
// the state it has to start from: the WAL records after it are compacted
// and no valid snapshot at or before it continues the WAL.
var ErrUnavailable = errors.New("state no longer reconstructible")

// unavailableError says which state cannot be rebuilt and why; it is an
// ErrUnavailable.
type unavailableError struct{ msg string }

func unavailable(msg string) error               { return &unavailableError{msg: msg} }
func (e *unavailableError) Error() string        { return e.msg }
func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

// Run replays a range of the WAL and reports how it compares with what the
// WAL recorded. It pins the records it reads against compaction, uses its
// own reducers, and reads the WAL only through Range, so it can run beside
// a live writer. An error means the replay could not be run (a catalog not
// available, a record naming another catalog than the one in force, a
// corrupt record); a difference from the WAL is a finding, in the report.
func Run(ctx context.Context, src Source, req Request) (Report, error) {
	if src.WAL == nil {
		return Report{}, errors.New("replay: no WAL")
	}
	if req.MaxDiff <= 0 {
		req.MaxDiff = DefaultMaxDiff
	}
	to := req.To
	if last := src.WAL.LastIndex(); to == 0 || to > last {
		to = last
	}
	if req.From > to && req.From != 0 {
		return Report{}, fmt.Errorf("replay: range %d..%d is empty (the WAL ends at %d)", req.From, req.To, src.WAL.LastIndex())
	}
	r := &run{src: src, req: req, ref: NewMachine(src.Catalogs)}
	r.ref.Explain = true
	defer func() { r.ref.Close(context.Background()) }()
	r.rep.StateCompared = true
	from, start, release, err := r.begin(ctx, req.From)
	if err != nil {
		return Report{}, err
	}
	defer release()
	r.rep.From, r.rep.To = from, to
	r.total = to + 1 - start
	if to+1 < start {
		r.total = 0
	}

	// Lead-in: reach the state at from-1 under the records' own catalogs.
	if err := r.leadInTo(ctx, start, from-1); err != nil {
		return Report{}, err
	}
	if r.rep.Stopped == "" {
		if req.Force {
			r.rep.Forced = HashHex(req.Catalog)
			cand, migrated, err := r.ref.Fork(ctx, req.Catalog)
			if err != nil {
				return Report{}, fmt.Errorf("replay: catalog %s cannot start at index %d: %w", HashHex(req.Catalog), from-1, err)
			}
			r.cand = cand
			defer func() { cand.Close(context.Background()) }()
			if r.ref.Module() != nil {
				r.shapeKnown = true
				if migrated {
					r.notComparable(r.ref.Module())
				}
			}
		}
		err := src.WAL.Range(from, to, func(rec wal.Record) error { return r.step(ctx, &rec) })
		if err != nil && !errors.Is(err, errHalt) {
			return Report{}, err
		}
	}
	final := r.ref
	if r.cand != nil {
		final = r.cand
	}
	r.rep.FinalStateHash = final.State().Hash().String()
	r.rep.FinalCatalog = catalogRef(final.Module())
	return r.rep, nil
}

// begin chooses the state a replay whose first compared record is from (0:
// as early as the data allows) starts at, pins the WAL records after it
// against compaction and positions r.ref there. It returns the first record
// to compare, the first record after the base, and the pin's release,
// which the caller must call once it no longer reads the WAL.
func (r *run) begin(ctx context.Context, from uint64) (first, start uint64, release func(), err error) {
	var base *Base
	// A compaction may remove the records after the base chosen between
	// choosing it and pinning them: choose again.
	for attempt := 0; ; attempt++ {
		b, f, err := chooseBase(r.src, from)
		if err != nil {
			return 0, 0, nil, err
		}
		pinFrom := f
		if b != nil {
			pinFrom = b.Index + 1
		}
		rel, err := r.src.WAL.Pin(max(pinFrom, 1))
		if errors.Is(err, wal.ErrCompacted) && attempt < 3 {
			continue
		}
		if err != nil {
			return 0, 0, nil, fmt.Errorf("replay: pin the WAL from %d: %w", pinFrom, err)
		}
		base, release, first = b, rel, f
		break
	}
	r.rep.Base, start = "genesis", 1
	if base != nil {
		if err := r.ref.Start(ctx, *base); err != nil {
			release()
			return 0, 0, nil, fmt.Errorf("replay: %w", err)
		}
		r.rep.Base, r.rep.BaseIndex = "snapshot", base.Index
		start = base.Index + 1
		if base.Act != nil {
			r.drift(base.Act, 0, r.ref.Module())
		}
	}
	return first, start, release, nil
}

// leadInTo applies the records start..to to r.ref under their own
// catalogs, verifying each. A record that does not replay as recorded
// stops it with r.rep.Stopped set, not with an error.
func (r *run) leadInTo(ctx context.Context, start, to uint64) error {
	err := r.src.WAL.Range(start, to, func(rec wal.Record) error { return r.leadIn(ctx, &rec) })
	if err != nil && !errors.Is(err, errHalt) {
		return err
	}
	return nil
}

// chooseBase picks the state a replay from `from` starts at: nil for
// genesis, or a snapshot; and the first record to compare.
func chooseBase(src Source, from uint64) (*Base, uint64, error) {
	first := src.WAL.FirstIndex()
	genesisOK := first <= 1
	if from == 0 && genesisOK {
		return nil, 1, nil
	}
	if from == 1 {
		if !genesisOK {
			return nil, 0, unavailable(fmt.Sprintf("replay: cannot start at genesis: the WAL starts at index %d (records before it are compacted into snapshots)", first))
		}
		return nil, 1, nil
	}
	if src.Snapshots != nil {
		infos, err := src.Snapshots.List()
		if err != nil && !errors.Is(err, snapshot.ErrNoSnapshot) {
			return nil, 0, fmt.Errorf("replay: list snapshots: %w", err)
		}
		// infos are newest first. For from == 0 take the oldest usable,
		// otherwise the newest at or before from-1.
		order := infos
		if from == 0 {
			order = make([]snapshot.Info, len(infos))
			for i, in := range infos {
				order[len(infos)-1-i] = in
			}
		}
		for _, in := range order {
			if !in.Valid || in.Index+1 < first || (from != 0 && in.Index > from-1) {
				continue
			}
			rd, err := src.Snapshots.OpenAt(in.Index)
			if err != nil {
				continue // damaged: an older one may do
			}
			b, _, err := ReadBase(rd)
			rd.Close()
			if err != nil {
				continue
			}
			f := from
			if f == 0 {
				f = b.Index + 1
			}
			return &b, f, nil
		}
	}
	if genesisOK {
		if from == 0 {
			from = 1
		}
		return nil, from, nil
	}
	if from == 0 {
		return nil, 0, unavailable(fmt.Sprintf("replay: the WAL starts at index %d and no valid snapshot continues it", first))
	}
	return nil, 0, unavailable(fmt.Sprintf("replay: cannot rebuild the state at index %d: the WAL starts at %d and no valid snapshot at or before %d continues it", from-1, first, from-1))
}

type run struct {
	src       Source
	req       Request
	ref, cand *Machine
	rep       Report
	done      uint64
	total     uint64
	// stateGone is set once a state difference was counted: later ones
	// follow from it.
	stateGone bool
	// counted is the last record counted as divergent.
	counted uint64
	// shapeKnown is set once it is known whether the forced catalog holds
	// the state in the shape of the records' catalog.
	shapeKnown bool
}

// notComparable records that the forced catalog keeps the state in another
// shape than ref, the records' catalog: states cannot be compared.
func (r *run) notComparable(ref *host.Module) {
	r.rep.StateCompared = false
	r.rep.StateNote = fmt.Sprintf("catalog %s declares a migration from %s, the catalog the records were written under, and holds the state in another shape; results are compared, states are not",
		catalogRef(r.cand.Module()), catalogRef(ref))
}

func (r *run) progress() {
	r.done++
	if r.req.Progress != nil {
		r.req.Progress(r.done, r.total)
	}
}

func (r *run) drift(a *Activation, index uint64, m *host.Module) {
	if m == nil {
		return
	}
	if diff := a.Fingerprint.Diff(m.Engine().Fingerprint()); len(diff) > 0 {
		r.rep.Drift = append(r.rep.Drift, Drift{Index: index, Catalog: CatalogRef{Hash: a.Catalog, Name: a.Name, Version: a.Version},
			Recorded: a.Fingerprint, Replaying: m.Engine().Fingerprint(), Diff: diff})
	}
}

func (r *run) leadIn(ctx context.Context, rec *wal.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	st, err := r.ref.Apply(ctx, rec)
	if err != nil {
		return err
	}
	r.rep.LeadIn++
	r.progress()
	if st.Diverged() {
		r.diverged(rec, &st, r.ref, nil, false)
		r.rep.Stopped = fmt.Sprintf("record %d, before the range, does not replay as recorded, so the state at the start of the range cannot be rebuilt", rec.Index)
		return errHalt
	}
	return nil
}

func (r *run) step(ctx context.Context, rec *wal.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ref, err := r.ref.Apply(ctx, rec)
	if err != nil {
		return err
	}
	r.rep.Replayed++
	r.progress()
	if rec.Kind == wal.KindActivation {
		r.rep.Activations++
		if a, err := DecodeActivation(rec); err == nil && len(ref.Drift) > 0 {
			r.rep.Drift = append(r.rep.Drift, Drift{Index: rec.Index, Catalog: CatalogRef{Hash: a.Catalog, Name: a.Name, Version: a.Version},
				Recorded: a.Fingerprint, Replaying: ref.Engine, Diff: ref.Drift})
		}
	}
	if r.cand != nil && !r.shapeKnown && r.ref.Module() != nil {
		// The range starts at genesis: the first catalog the records put in
		// force says whether the candidate keeps its shape.
		r.shapeKnown = true
		refDesc, candDesc := &r.ref.Module().Descriptor, &r.cand.Module().Descriptor
		if refDesc.Ref() != candDesc.Ref() && candDesc.MigratesFromRef(refDesc.Ref()) {
			r.notComparable(r.ref.Module())
		}
	}
	if r.cand == nil {
		if ref.Diverged() {
			r.diverged(rec, &ref, r.ref, nil, false)
		}
		if ref.Halted {
			r.rep.Stopped = fmt.Sprintf("activation record %d could not be replayed, so no catalog is in force for the records after it", rec.Index)
			return errHalt
		}
		return nil
	}
	// Forced: the reference must reproduce the WAL for the comparison to
	// mean anything.
	if ref.Diverged() {
		r.diverged(rec, &ref, r.ref, nil, true)
		if ref.Halted {
			r.rep.Stopped = fmt.Sprintf("activation record %d could not be replayed by the reference", rec.Index)
			return errHalt
		}
	}
	cand, err := r.cand.Apply(ctx, rec)
	if err != nil {
		return err
	}
	if cand.Skipped {
		return nil
	}
	if !r.rep.StateCompared && cand.StateDiffers {
		cand.StateDiffers = false
		cand.Differences = dropStateDifference(cand.Differences)
	}
	if cand.Diverged() {
		r.diverged(rec, &cand, r.cand, r.ref, false)
	}
	return nil
}

func dropStateDifference(ds []string) []string {
	out := ds[:0]
	for _, d := range ds {
		if d != "state hash differs" {
			out = append(out, d)
		}
	}
	return out
}

// diverged counts a divergent step and describes it if it is the first.
// ref, when set, is the reference machine the diverging machine m is
// compared with.
func (r *run) diverged(rec *wal.Record, st *Step, m, ref *Machine, reference bool) {
	onlyState := st.StateDiffers && len(st.Differences) == 1
	if onlyState && r.stateGone {
		return
	}
	if st.StateDiffers {
		r.stateGone = true
	}
	if r.counted != rec.Index {
		r.rep.Divergent++
		r.counted = rec.Index
	}
	if r.rep.First != nil {
		return
	}
	d := newDivergence(rec, st, m.Module())
	d.Reference = reference
	switch {
	case ref != nil && r.rep.StateCompared:
		d.DiffOf = "state after the record, reference (the record's own catalog) → candidate"
		d.StateDiff, d.DiffOmitted = diffStates(ref.State(), m.State(), r.req.MaxDiff)
	case len(st.Delta) > 0:
		d.DiffOf = "entries the replay of this record changed, before → after (the WAL holds the recorded state only as its hash)"
		if ref != nil {
			d.DiffOf = "entries the candidate changed at this record, before → after"
		}
		d.StateDiff, d.DiffOmitted = diffDelta(st.Previous, st.Delta, r.req.MaxDiff)
	}
	r.rep.First = d
}
