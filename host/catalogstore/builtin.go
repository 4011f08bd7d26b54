package catalogstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/reprise-dev/reprise/catalogs/builtin"
)

// PutBuiltin stores the embedded module of a built-in catalog (see
// catalogs/builtin), as Put does.
func PutBuiltin(ctx context.Context, s *Store, name string) (Info, bool, error) {
	wasm, ok := builtin.Lookup(name)
	if !ok {
		return Info{}, false, fmt.Errorf("catalogstore: %q is not a built-in catalog (built-ins: %s)", name, strings.Join(builtin.Names(), ", "))
	}
	return s.Put(ctx, wasm)
}
