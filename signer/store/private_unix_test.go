//go:build unix

package store_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

func TestSQLiteFileIsPrivate(t *testing.T) {
	path := t.TempDir() + "/signer.db"
	db, err := store.Open(context.Background(), "sqlite:"+path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.AddAccount(context.Background(), "alice", "a@example.com", "h")
	db.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if st, err := os.Stat(p); err == nil && st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", p, st.Mode().Perm())
		}
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Open(context.Background(), "sqlite:"+path, store.Options{}); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("opening a 0644 database: %v; want it refused", err)
	}
}
