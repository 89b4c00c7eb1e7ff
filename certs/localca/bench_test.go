package localca

import (
	"testing"
	"time"
)

// BenchmarkIssueLeaf measures a rotation's cost (key generation and one
// signature), which GetCertificate pays inline for an overdue leaf.
func BenchmarkIssueLeaf(b *testing.B) {
	ca, err := LoadOrCreate(newMemStore(), b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for b.Loop() {
		if _, err := ca.IssueLeaf(now, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetCertificate measures the per-handshake cost when no
// rotation is due.
func BenchmarkGetCertificate(b *testing.B) {
	ca, err := LoadOrCreate(newMemStore(), b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	r, err := NewLeafRotator(ca, RotatorConfig{})
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.GetCertificate(nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
