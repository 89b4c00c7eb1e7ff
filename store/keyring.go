package store

import (
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/zalando/go-keyring"
)

// Keyring is a Store backed by the operating system's secure store through
// github.com/zalando/go-keyring: the macOS Keychain, Windows Credential
// Manager, or a Secret Service (gnome-keyring, KeePassXC) on the D-Bus
// session bus on Linux.
//
// Each secret is one item, filed under the Keyring's service name and the
// key as the account ("username") name. go-keyring stores strings, so values
// are base64-encoded; see MaxValueSize for the resulting limit.
//
// On Linux, when the session bus or the Secret Service is missing or the
// keyring is locked, methods return an *UnavailableError (errors.Is
// ErrUnavailable) saying what is missing and what to do. Without a session
// bus Keyring never lets the D-Bus library autolaunch one with dbus-launch:
// that leaves a stray bus and keyring daemon behind and still fails.
//
// A locked keyring on a desktop makes the Secret Service show an unlock
// prompt; the call waits for the user to answer it.
type Keyring struct {
	service string
	// busSocket is where the D-Bus library looks for a session bus when
	// DBUS_SESSION_BUS_ADDRESS is unset (systemd's /run/user/UID/bus).
	// Tests point it elsewhere. Unused outside Linux.
	busSocket string
}

var _ Store = (*Keyring)(nil)

// NewKeyring returns a Store that files secrets under service, a name that
// tells this program's items apart from others', such as "aws-sso-agent".
// It does not contact the keyring: errors come from the first call.
func NewKeyring(service string) *Keyring {
	return &Keyring{service: service, busSocket: defaultBusSocket()}
}

// Get implements Store.
func (k *Keyring) Get(key string) ([]byte, error) {
	if err := k.check(key); err != nil {
		return nil, err
	}
	s, err := keyring.Get(k.service, key)
	if err != nil {
		return nil, k.wrap("get", key, err)
	}
	v, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		// Not written by us: another program used our service name.
		return nil, fmt.Errorf("store: keyring: get %q: stored item is not base64 (written by another program?)", key)
	}
	return v, nil
}

// Set implements Store.
func (k *Keyring) Set(key string, value []byte) error {
	if err := k.check(key); err != nil {
		return err
	}
	if err := checkValue(key, value); err != nil {
		return err
	}
	if err := keyring.Set(k.service, key, base64.StdEncoding.EncodeToString(value)); err != nil {
		return k.wrap("set", key, err)
	}
	return nil
}

// Delete implements Store.
func (k *Keyring) Delete(key string) error {
	if err := k.check(key); err != nil {
		return err
	}
	if err := keyring.Delete(k.service, key); err != nil {
		return k.wrap("delete", key, err)
	}
	return nil
}

func (k *Keyring) check(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return k.available()
}

// wrap turns go-keyring's errors into ours. Error strings carry the key and
// the library's message, never a value.
func (k *Keyring) wrap(op, key string, err error) error {
	switch {
	case errors.Is(err, keyring.ErrNotFound):
		return fmt.Errorf("store: keyring: %s %q: %w", op, key, ErrNotFound)
	case errors.Is(err, keyring.ErrSetDataTooBig):
		return fmt.Errorf("store: keyring: %s %q: the keyring refused the item as too large: %w", op, key, ErrTooLarge)
	}
	if u := unavailable(err); u != nil {
		return u
	}
	return fmt.Errorf("store: keyring: %s %q: %w", op, key, err)
}
