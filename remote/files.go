package remote

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// WriteTokenFile writes the session's token to its TokenFile: 0600,
// without a trailing newline (every SDK rejects a token file that ends in
// one, docs/sdk-compatibility.md), atomically. It returns the file's path.
func WriteTokenFile(s *wire.Session) (string, error) {
	return s.TokenFile(), writePrivateFile(s.TokenFile(), []byte(s.Token))
}

// WriteCAFile writes the pinned CA alone to CAFile (for
// NODE_EXTRA_CA_CERTS, which adds to Node's roots) and returns its path.
func WriteCAFile(s *wire.Session) (string, error) {
	return s.CAFile(), writePrivateFile(s.CAFile(), s.CAPEM)
}

// WriteCABundle writes systemRoots (PEM) followed by the pinned CA to
// CABundleFile (for SSL_CERT_FILE, which replaces the system roots in Go
// and OpenSSL) and returns its path.
func WriteCABundle(s *wire.Session, systemRoots []byte) (string, error) {
	var b bytes.Buffer
	b.Write(bytes.TrimRight(systemRoots, "\n"))
	if b.Len() > 0 {
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "# aws-sso-agent CA of session %s (%s)\n", s.ID, s.CAFingerprint())
	b.Write(s.CAPEM)
	return s.CABundleFile(), writePrivateFile(s.CABundleFile(), b.Bytes())
}

// writePrivateFile writes data to path with mode 0600 through a temporary
// file and a rename, so a reader never sees half a file. There is no fsync:
// a file lost in a crash is written again by the next `env`.
func writePrivateFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("remote: write %s: %w", path, err)
	}
	tmp := f.Name()
	err = f.Chmod(0o600) // CreateTemp's mode already; explicit for clarity
	if err == nil {
		_, err = f.Write(data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("remote: write %s: %w", path, err)
	}
	return nil
}
