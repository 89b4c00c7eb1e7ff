package wire

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// SystemRoots returns the root certificates (PEM) that a bundle handed to
// SSL_CERT_FILE must keep, and the file they came from: the current
// $SSL_CERT_FILE if it is set and not one of our own bundles (so a
// corporate bundle stays trusted, and writing a bundle twice does not nest
// bundles), else the platform's bundle (rootBundles). ours is the
// directory, or the file, holding our own bundles; "" means none. getenv
// nil means os.Getenv. None found is not an error: the caller decides
// whether to warn; it then gets no PEM and from "".
func SystemRoots(getenv func(string) string, ours string) (pem []byte, from string, err error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	candidates := rootBundles
	if f := getenv("SSL_CERT_FILE"); f != "" && !inside(f, ours) {
		candidates = append([]string{f}, candidates...)
	}
	for _, f := range candidates {
		b, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("wire: read system roots: %w", err)
		}
		return b, f, nil
	}
	return nil, "", nil
}

// inside reports whether f is ours or lies in it.
func inside(f, ours string) bool {
	if ours == "" {
		return false
	}
	rel, err := filepath.Rel(ours, f)
	return err == nil && !strings.HasPrefix(rel, "..")
}
