//go:build unix

package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ensurePrivate creates the SQLite file as 0600 if it is missing (SQLite
// gives its -wal and -shm files the same mode), and refuses one that
// others can read: it holds password and key hashes and the service's
// ACME account key.
func ensurePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s is readable by others (mode %04o); it holds the service's secrets: chmod 600 it", path, st.Mode().Perm())
	}
	return nil
}
