package store

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestPassphraseFromFile(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    string // "" = error
	}{
		{"plain", "pw", "pw"},
		{"newline", "pw\n", "pw"},
		{"crlf", "pw\r\n", "pw"},
		{"only one newline stripped", "pw\n\n", "pw\n"},
		{"spaces kept", " p w \n", " p w "},
		{"empty", "", ""},
		{"only newline", "\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pass")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := PassphraseFromFile(path)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %q, %v, want %q, nil", got, err, tc.want)
			}
		})
	}
}

func TestPassphraseFromFileRefuses(t *testing.T) {
	dir := t.TempDir()
	t.Run("missing", func(t *testing.T) {
		if _, err := PassphraseFromFile(filepath.Join(dir, "absent")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("got %v, want ErrNotExist", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		if _, err := PassphraseFromFile(dir); err == nil {
			t.Fatal("got nil error for a directory")
		}
	})
	t.Run("too large", func(t *testing.T) {
		path := filepath.Join(dir, "big")
		if err := os.WriteFile(path, make([]byte, maxPassphraseFile+1), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := PassphraseFromFile(path); err == nil {
			t.Fatal("got nil error for a huge file")
		}
	})
	if runtime.GOOS == "windows" {
		return
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		t.Run(mode.String(), func(t *testing.T) {
			path := filepath.Join(dir, "pass-"+mode.String())
			if err := os.WriteFile(path, []byte("pw\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			if _, err := PassphraseFromFile(path); !errors.Is(err, ErrInsecure) {
				t.Fatalf("got %v, want ErrInsecure", err)
			}
		})
	}
}
