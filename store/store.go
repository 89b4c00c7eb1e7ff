// Package store keeps the agent's secrets: private keys and tokens.
//
// The default backend is the operating system's secure store (macOS
// Keychain, Windows Credential Manager, the Secret Service on Linux) through
// github.com/zalando/go-keyring. Headless machines without a Secret Service
// can choose, explicitly, a file encrypted with a passphrase (age, scrypt).
// There is never a silent plaintext fallback.
package store

import "errors"

// ErrNotFound is returned by Get and Delete when no secret is stored under
// the key.
var ErrNotFound = errors.New("store: secret not found")

// Store holds small secrets (at most about 2 KB each: Windows Credential
// Manager refuses items above 2560 bytes) under short keys.
type Store interface {
	// Get returns the secret stored under key, or an error wrapping
	// ErrNotFound.
	Get(key string) ([]byte, error)
	// Set stores value under key, replacing any previous value.
	Set(key string, value []byte) error
	// Delete removes the secret under key, or returns an error wrapping
	// ErrNotFound.
	Delete(key string) error
}
