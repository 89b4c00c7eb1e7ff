package public

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

// maxChainFile bounds ReadChainFile: chains are a few KB; the limit keeps a
// wrong path (a device, a huge file) from eating memory.
const maxChainFile = 64 << 10

// ReadChainFile reads a certificate chain (or root certificate) file the
// user names, for LoadChain or Import. It reads at most 64 KiB; an error
// opening the file is returned as it is.
func ReadChainFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxChainFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxChainFile {
		return nil, fmt.Errorf("%s: larger than %d bytes; not a certificate chain", path, maxChainFile)
	}
	return data, nil
}

// WriteCSRFile writes csr (from ExportCSR) to path for the user to hand to
// a CA: 0644, since a CSR is public, and replaced atomically, so a
// half-written CSR is never sent.
func WriteCSRFile(path string, csr []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(csr)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
