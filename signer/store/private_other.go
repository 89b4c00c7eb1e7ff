//go:build !unix

package store

// ensurePrivate: on Windows the file inherits its directory's ACL, which
// the operator sets.
func ensurePrivate(path string) error { return nil }
