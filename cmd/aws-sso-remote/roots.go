package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// systemRoots returns the root certificates (PEM) that SSL_CERT_FILE
// replaces, and the file they came from: the current $SSL_CERT_FILE if it
// is set and not one of our own bundles (so a corporate bundle stays
// trusted, and running env twice does not nest bundles), else the
// platform's bundle. None found is not an error: the caller warns.
func systemRoots(getenv func(string) string, sessionsDir string) ([]byte, string, error) {
	candidates := rootBundles
	if f := getenv("SSL_CERT_FILE"); f != "" && !ours(f, sessionsDir) {
		candidates = append([]string{f}, candidates...)
	}
	for _, f := range candidates {
		b, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		return b, f, nil
	}
	return nil, "", nil
}

// ours reports whether f lies in the sessions directory.
func ours(f, sessionsDir string) bool {
	if sessionsDir == "" {
		return false
	}
	rel, err := filepath.Rel(sessionsDir, f)
	return err == nil && !strings.HasPrefix(rel, "..")
}
