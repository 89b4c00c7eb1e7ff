//go:build unix

package main

import (
	"fmt"
	"io"
	"os"
)

// maxSecretFile bounds what is read of a secret file: a password or a
// PEM key and certificate chain are a few KB.
const maxSecretFile = 1 << 20

// readPrivate reads a secret file (--smtp-password-file, --tls-key),
// refusing one that others can read or write: what they could read may
// be copied already, as ssh says of identity files.
func readPrivate(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s is open to others (mode %04o); it holds a secret: chmod 600 it", path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecretFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxSecretFile)
	}
	return b, nil
}
