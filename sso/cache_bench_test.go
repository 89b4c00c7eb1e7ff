package sso

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkReadCache is what the keeper and every slot refresh pay to
// read the token cache with its owner, mode and shape checks; the
// baseline is a bare read and decode of the same file, as the SDKs do.
func BenchmarkReadCache(b *testing.B) {
	path := filepath.Join(b.TempDir(), "c.json")
	if err := os.WriteFile(path, []byte(cliCache), 0o600); err != nil {
		b.Fatal(err)
	}
	b.Run("baseline", func(b *testing.B) {
		for b.Loop() {
			data, err := os.ReadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReadCache", func(b *testing.B) {
		for b.Loop() {
			if _, err := ReadCache(path); err != nil {
				b.Fatal(err)
			}
		}
	})
}
