package store

import (
	"errors"
	"fmt"
)

// MaxValueSize is the largest secret, in bytes, any backend accepts.
//
// Windows Credential Manager holds at most 2560 bytes per item
// (CRED_MAX_CREDENTIAL_BLOB_SIZE, 5*512). The keyring backend stores values
// base64-encoded, which turns 3 bytes into 4, so 2560 encoded bytes hold
// 1920 raw ones. The file and memory backends enforce the same limit so that
// code tested against them does not fail later on Windows.
const MaxValueSize = 1920

// ErrTooLarge is returned by Set for a value longer than MaxValueSize.
var ErrTooLarge = errors.New("store: secret too large")

// ErrUnavailable is matched (errors.Is) by errors that mean the backend
// cannot be used on this machine as it is set up now: no D-Bus session bus,
// no Secret Service, a locked keyring. Retrying will not help; the user has
// to start a Secret Service or choose another backend (--store file).
// Such errors are *UnavailableError values.
var ErrUnavailable = errors.New("store: secure store unavailable")

// UnavailableError says what the operating system's secure store is missing
// and what to do about it. It matches ErrUnavailable.
type UnavailableError struct {
	// Reason says what is missing, for example "no D-Bus session bus".
	Reason string
	// HintText says what to do next, in words for a person. Error
	// includes it; a CLI printing a separate hint line can use Reason and
	// Hint instead.
	HintText string
	// Err is the keyring library's own error, if there was one.
	Err error
}

func (e *UnavailableError) Error() string {
	s := "store: keyring unavailable: " + e.Reason
	if e.Err != nil {
		s += " (" + e.Err.Error() + ")"
	}
	if e.HintText != "" {
		s += "; " + e.HintText
	}
	return s
}

// Hint says what the user can do about it: start a Secret Service,
// unlock the keyring, or choose another backend.
func (e *UnavailableError) Hint() string { return e.HintText }

// Is reports whether target is ErrUnavailable.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Unwrap returns the keyring library's error.
func (e *UnavailableError) Unwrap() error { return e.Err }

// checkKey refuses the empty key: every backend needs a name to file a
// secret under, and an empty one is always a caller's bug.
func checkKey(key string) error {
	if key == "" {
		return errors.New("store: empty key")
	}
	return nil
}

func checkValue(key string, value []byte) error {
	if len(value) > MaxValueSize {
		return fmt.Errorf("store: set %q: value is %d bytes, more than the %d bytes (2560 base64-encoded) Windows Credential Manager holds: %w",
			key, len(value), MaxValueSize, ErrTooLarge)
	}
	return nil
}
