package certs

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrKeyFilePermissions is wrapped by ReadKeyFile when the key file is
// readable or writable by other users (Unix), or owned by another user.
var ErrKeyFilePermissions = errors.New("certs: key file is not private")

// ReadKeyFile reads a private key file to hand to (*Public).Import,
// refusing, like ssh, one that other users can read (on Unix: any group or
// other permission bit, or another owner). It reads at most 64 KiB.
func ReadKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("certs: read key file: %w", err)
	}
	defer f.Close()
	// Stat the open file, not the path, so the checked file is the read one.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("certs: read key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("certs: read key file: %s is not a regular file", path)
	}
	if err := checkKeyFile(path, fi); err != nil {
		return nil, err
	}
	const limit = 64 << 10
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("certs: read key file %s: %w", path, err)
	}
	if len(data) > limit {
		return nil, fmt.Errorf("certs: read key file %s: larger than %d bytes", path, limit)
	}
	return data, nil
}
