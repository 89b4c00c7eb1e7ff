package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// maxPassphraseFile bounds what PassphraseFromFile reads; a passphrase file
// is a line, and a big file is a mistake (a key, a log) we should not load.
const maxPassphraseFile = 64 << 10

// PassphraseFromFile reads the passphrase for a File store from path, for
// unattended use. One trailing newline ("\n" or "\r\n", as editors and echo
// add) is removed; other whitespace is part of the passphrase. It refuses
// an empty passphrase and, on Unix, a file other users can read or that
// another user owns (errors.Is ErrInsecure).
func PassphraseFromFile(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("store: passphrase file: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("store: passphrase file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("store: passphrase file %s is not a regular file", path)
	}
	if err := checkPrivate(path, fi); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(fh, maxPassphraseFile+1))
	if err != nil {
		return nil, fmt.Errorf("store: passphrase file: %w", err)
	}
	if len(b) > maxPassphraseFile {
		return nil, fmt.Errorf("store: passphrase file %s is larger than %d bytes", path, maxPassphraseFile)
	}
	if bytes.HasSuffix(b, []byte("\r\n")) {
		b = b[:len(b)-2]
	} else if bytes.HasSuffix(b, []byte("\n")) {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return nil, errors.New("store: passphrase file " + path + " holds an empty passphrase")
	}
	return b, nil
}
