package guest

import (
	"errors"
	"fmt"

	"github.com/reprise-dev/reprise/abi"
)

// The rejection codes a catalog may choose. Their client-visible texts are
// fixed by abi (Code.Message).
const (
	GuardRejected      = abi.GuardRejected
	UnknownTransition  = abi.UnknownTransition
	QuarantineBlocked  = abi.QuarantineBlocked
	InvalidPhase       = abi.InvalidPhase
	PreconditionFailed = abi.PreconditionFailed
	InvalidInputs      = abi.InvalidInputs
)

// Rejection is an error that rejects a transition with a chosen code.
type Rejection struct {
	Code   abi.Code
	Detail string
}

func (r *Rejection) Error() string {
	if r.Detail == "" {
		return r.Code.Message()
	}
	return r.Code.Message() + ": " + r.Detail
}

// Reject returns an error that rejects the transition with code.
func Reject(code abi.Code, detail string) error { return &Rejection{Code: code, Detail: detail} }

// Rejectf is Reject with a formatted detail.
func Rejectf(code abi.Code, format string, args ...any) error {
	return &Rejection{Code: code, Detail: fmt.Sprintf(format, args...)}
}

func asRejection(err error, def abi.Code) *Rejection {
	var r *Rejection
	if errors.As(err, &r) {
		return r
	}
	return &Rejection{Code: def, Detail: err.Error()}
}
