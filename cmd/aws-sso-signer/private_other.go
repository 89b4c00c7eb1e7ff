//go:build !unix

package main

import "os"

// readPrivate reads a secret file. On Windows the file inherits its
// directory's ACL, which the operator sets.
func readPrivate(path string) ([]byte, error) { return os.ReadFile(path) }
