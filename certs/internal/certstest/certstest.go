// Package certstest holds the test helpers that the tests of more than one
// certificate package need: a secure store that can list what it holds,
// random serial numbers and PEM encoding.
package certstest

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"sync"

	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// MemStore is an in-memory store.Store that can list its keys, so tests
// can prove what was (and was not) stored.
type MemStore struct {
	mu sync.Mutex
	m  map[string][]byte
	// GetErr, if set, is returned by every Get (a locked keyring, say).
	GetErr error
}

var _ store.Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{m: map[string][]byte{}} }

// Get returns a copy of the value under key, or an error wrapping
// store.ErrNotFound.
func (s *MemStore) Get(key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.GetErr != nil {
		return nil, s.GetErr
	}
	v, ok := s.m[key]
	if !ok {
		return nil, fmt.Errorf("get %q: %w", key, store.ErrNotFound)
	}
	return slices.Clone(v), nil
}

// Set keeps a copy of value under key.
func (s *MemStore) Set(key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = slices.Clone(value)
	return nil
}

// Delete removes key, or returns an error wrapping store.ErrNotFound.
func (s *MemStore) Delete(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; !ok {
		return fmt.Errorf("delete %q: %w", key, store.ErrNotFound)
	}
	delete(s.m, key)
	return nil
}

// Keys returns the keys held, sorted.
func (s *MemStore) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.m))
}

// Snapshot returns a copy of everything held.
func (s *MemStore) Snapshot() map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.m)
}

// Serial returns a random 128-bit serial number for a test certificate.
func Serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		panic("certstest: crypto/rand failed: " + err.Error())
	}
	return n
}

// CertPEM encodes c as one PEM "CERTIFICATE" block.
func CertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
