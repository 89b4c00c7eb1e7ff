package localca

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestReadRoot(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := ReadRoot(dir); !errors.Is(err, ErrNoCA) {
		t.Errorf("ReadRoot of an empty directory = %v, want ErrNoCA", err)
	}
	ca, _, dir := newTestCA(t)
	root, pemBytes, err := ReadRoot(dir)
	if err != nil || !root.Equal(ca.Root()) || string(pemBytes) != string(ca.RootPEM()) {
		t.Errorf("ReadRoot = %v, %v; want the CA's root and its PEM", root, err)
	}
	inter, err := ReadIntermediate(dir)
	if err != nil || !inter.Equal(ca.Intermediate()) {
		t.Errorf("ReadIntermediate = %v, %v; want the CA's intermediate", inter, err)
	}
	writeFile(t, filepath.Join(dir, RootCertFile), []byte("not PEM"))
	if _, _, err := ReadRoot(dir); err == nil || errors.Is(err, ErrNoCA) {
		t.Errorf("ReadRoot of a damaged root = %v, want a parse error", err)
	}
	if got := DefaultDir("/config"); got != filepath.Join("/config", "ca") {
		t.Errorf("DefaultDir = %q", got)
	}
}
