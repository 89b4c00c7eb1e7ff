package agent

import (
	"context"
	"errors"
	"time"
)

// Credentials are one set of temporary AWS credentials as the endpoint
// serves them.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Expires is zero for credentials that do not expire (static keys).
	Expires   time.Time
	AccountID string
	RoleARN   string
}

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
	Hint   string // e.g. "run: aws sso login --profile dev, then reload"
}

func (e *UnavailableError) Error() string {
	name := e.Slot
	if name == "" {
		name = "default"
	}
	return "slot " + name + ": " + e.Reason
}
