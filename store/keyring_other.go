//go:build !linux

package store

// defaultBusSocket is unused outside Linux: macOS and Windows keyrings need
// no bus.
func defaultBusSocket() string { return "" }

// available reports nil: the macOS Keychain and Windows Credential Manager
// are always there; their errors come from the calls themselves.
func (k *Keyring) available() error { return nil }

// unavailable recognises no errors outside Linux.
func unavailable(error) *UnavailableError { return nil }
