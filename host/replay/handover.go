package replay

import (
	"context"
	"fmt"
	"strings"

	"github.com/reprise-dev/reprise/abi"
	"github.com/reprise-dev/reprise/host"
	"github.com/reprise-dev/reprise/host/state"
)

// HandoverError says a catalog could not take the state of the catalog in
// force. Nothing changed: the old catalog is still in force.
type HandoverError struct {
	From, To abi.CatalogRef
	Reason   string
}

func (e *HandoverError) Error() string {
	return fmt.Sprintf("catalog %s cannot take over the state of %s: %s", e.To, e.From, e.Reason)
}

// Compatible reports, from the descriptors alone, whether catalog to may
// take over the state of catalog from: the same catalog name (another
// version reads the state as is, if its fields allow), or a declared
// migration. It runs no guest code.
func Compatible(from abi.CatalogRef, to *abi.Descriptor) error {
	if from.Name == to.Name || to.MigratesFromRef(from) {
		return nil
	}
	declared := "it declares no migrations"
	if len(to.MigratesFrom) > 0 {
		var ms []string
		for _, m := range to.MigratesFrom {
			ms = append(ms, m.Catalog+"@"+m.Versions)
		}
		declared = "it migrates only from " + strings.Join(ms, ", ")
	}
	return &HandoverError{From: from, To: to.Ref(), Reason: "it is another catalog and " + declared}
}

// Handover gives the state of from (the reducer in force; nil at the start
// of a log) to to, a reducer of the catalog being activated that has
// applied nothing yet. The state handed over is from's read model, which is
// the canonical export of its guest (the reducer keeps the two in step and
// verifies them whenever it rebuilds a guest). to's guest imports it,
// running the migration to declares from from's catalog version if any,
// and to's read model becomes what the guest then exports.
//
// The result is checked: every entry must belong to a field to declares,
// value fields hold only the empty key, and a hand-over without a
// migration must leave the state exactly as it was. On error to is left
// unusable and must be closed; from is untouched.
//
// migrated reports whether to's import ran a migration.
func Handover(ctx context.Context, from, to *host.Reducer) (migrated bool, err error) {
	desc := to.Descriptor()
	if from == nil {
		return false, nil
	}
	ref := from.Descriptor().Ref()
	if err := Compatible(ref, desc); err != nil {
		return false, err
	}
	migrated = ref != desc.Ref() && desc.MigratesFromRef(ref)
	before := from.State()
	same, err := to.TakeOver(ctx, ref, before)
	if err != nil {
		return false, &HandoverError{From: ref, To: desc.Ref(), Reason: err.Error()}
	}
	if !migrated && !same {
		return false, &HandoverError{From: ref, To: desc.Ref(),
			Reason: fmt.Sprintf("it changed the state (hash %s to %s) without declaring a migration", before.Hash(), to.State().Hash())}
	}
	if problems := checkShape(desc, to.State()); len(problems) > 0 {
		return false, &HandoverError{From: ref, To: desc.Ref(),
			Reason: "the state after the import does not fit its descriptor: " + strings.Join(problems, "; ")}
	}
	return migrated, nil
}

// maxShapeProblems bounds the problems checkShape lists.
const maxShapeProblems = 5

// checkShape lists entries that do not fit the descriptor's fields.
func checkShape(d *abi.Descriptor, st *state.State) []string {
	var problems []string
	omitted := 0
	for _, e := range st.Entries() {
		var p string
		f, ok := d.Field(e.Field)
		switch {
		case !ok:
			p = fmt.Sprintf("field %q is not declared", e.Field)
		case f.Kind == abi.FieldValue && e.Key != "":
			p = fmt.Sprintf("value field %q holds key %q", e.Field, e.Key)
		default:
			continue
		}
		if len(problems) == maxShapeProblems {
			omitted++
			continue
		}
		problems = append(problems, p)
	}
	if omitted > 0 {
		problems = append(problems, fmt.Sprintf("%d more", omitted))
	}
	return problems
}

// NewActivation describes the activation of module (whose reducer to has
// taken the state over from the catalog in force, fromHash and from, or
// nothing at genesis).
func NewActivation(fromHash [32]byte, from *host.Reducer, module *host.Module, to *host.Reducer, migrated bool) Activation {
	a := Activation{
		Catalog: HashHex(module.Hash), Name: module.Descriptor.Name, Version: module.Descriptor.Version,
		Fingerprint: module.Engine().Fingerprint(), Fuel: to.Fuel, Migrated: migrated,
	}
	if from != nil {
		ref := from.Descriptor().Ref()
		a.Replaced, a.ReplacedName, a.ReplacedVersion = HashHex(fromHash), ref.Name, ref.Version
	}
	return a
}
