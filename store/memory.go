package store

import (
	"fmt"
	"sync"
)

// Memory is a Store that keeps secrets in memory only, for tests of the
// packages that use a Store. It enforces the same key and size rules as the
// real backends. The zero value is ready to use and safe for concurrent use.
type Memory struct {
	mu sync.Mutex
	m  map[string][]byte
}

// NewMemory returns an empty Memory store.
func NewMemory() *Memory { return &Memory{} }

var _ Store = (*Memory)(nil)

// Get implements Store. It returns a copy the caller may keep.
func (s *Memory) Get(key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return nil, fmt.Errorf("store: get %q: %w", key, ErrNotFound)
	}
	return append([]byte{}, v...), nil
}

// Set implements Store. It keeps a copy of value.
func (s *Memory) Set(key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkValue(key, value); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string][]byte)
	}
	s.m[key] = append([]byte{}, value...)
	return nil
}

// Delete implements Store.
func (s *Memory) Delete(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; !ok {
		return fmt.Errorf("store: delete %q: %w", key, ErrNotFound)
	}
	delete(s.m, key)
	return nil
}
