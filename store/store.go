// Package store keeps the agent's secrets: private keys and tokens.
//
// The default backend is the operating system's secure store (macOS
// Keychain, Windows Credential Manager, the Secret Service on Linux) through
// github.com/zalando/go-keyring. Headless machines without a Secret Service
// can choose, explicitly, a file encrypted with a passphrase (age, scrypt).
// There is never a silent plaintext fallback.
//
// Backends: Keyring (NewKeyring), File (OpenFile, with PassphraseFromFile
// for unattended use) and Memory for tests of other packages. All enforce
// MaxValueSize, so code tested against Memory does not fail later on
// Windows.
//
// What it protects against: other local users reading secrets (the OS
// keyring's access control; for File, age encryption with a scrypt-derived
// key, 0600 files in a 0700 directory, refusal of files others can read or
// replace), secrets landing in plaintext on disk, and lost or torn updates
// when two processes write the File store at once (advisory lock, atomic
// rename). It does not protect against code running as the same user.
//
// Errors callers can test with errors.Is: ErrNotFound, ErrTooLarge,
// ErrUnavailable (the OS keyring cannot be used here: no session bus, no
// Secret Service, locked; see *UnavailableError for a hint to show),
// ErrWrongPassphrase, ErrCorrupt and ErrInsecure.
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
