package acme_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/certs/acme"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

func TestTSIGSecretFileMustBePrivate(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o600, true}, {0o644, false}, {0o640, false}} {
		f := filepath.Join(dir, fmt.Sprintf("secret-%o", tt.mode))
		os.WriteFile(f, []byte("c2VjcmV0\n"), tt.mode)
		os.Chmod(f, tt.mode)
		b, err := acme.TSIGSecret(f, store.NewMemory())
		if tt.ok && (err != nil || string(b) != "c2VjcmV0") {
			t.Errorf("mode %o: got %q, %v", tt.mode, b, err)
		}
		if !tt.ok && !errors.Is(err, store.ErrInsecure) {
			t.Errorf("mode %o: got %v, want a refusal of a file others can read", tt.mode, err)
		}
	}
}
