package agent

import (
	"context"
	"errors"

	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// Credentials are one set of temporary AWS credentials as the endpoint
// serves them: the credentials document of package wire, which
// aws-sso-remote reads.
type Credentials = wire.Credentials

// CredentialsSource answers the endpoint: the credentials of a slot, fresh
// enough to serve. The default slot is named "".
type CredentialsSource interface {
	Credentials(ctx context.Context, slot string) (Credentials, error)
}

// ErrNoSlot is returned (wrapped) by a CredentialsSource when nothing is
// loaded in the slot.
var ErrNoSlot = errors.New("no credentials loaded in this slot")

// UnavailableError says why a loaded slot has no credentials fit to serve
// (the refresh failed and the old ones are inside the margin) and what the
// user can do about it.
type UnavailableError struct {
	Slot   string
	Reason string // e.g. "refresh failed: token expired"
	Hint   string // e.g. "run: aws sso login --profile dev"
}

func (e *UnavailableError) Error() string {
	return "slot " + wire.SlotName(e.Slot) + ": " + e.Reason
}
