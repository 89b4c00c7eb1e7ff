package store

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// allBytes is a value holding every byte value, including NUL and bytes
// that are not UTF-8, which a string-based keyring could mangle.
func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// testConformance checks the Store contract. Every backend runs it. Keys
// carry prefix so that runs against a shared keyring do not collide.
func testConformance(t *testing.T, s Store, prefix string) {
	key := func(name string) string { return prefix + name }

	t.Run("get missing", func(t *testing.T) {
		_, err := s.Get(key("missing"))
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get(missing): got error %v, want ErrNotFound", err)
		}
	})
	t.Run("delete missing", func(t *testing.T) {
		err := s.Delete(key("missing"))
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("Delete(missing): got error %v, want ErrNotFound", err)
		}
	})

	values := []struct {
		name  string
		value []byte
	}{
		{"text", []byte("hello")},
		{"empty", []byte{}},
		{"all bytes", allBytes()},
		{"nul and newlines", []byte("a\x00b\n\r\nc\x00")},
		{"invalid utf8", []byte{0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1}},
		{"max size", bytes.Repeat([]byte{0xa5, 0x00, 0x5a}, MaxValueSize/3)},
	}
	for _, tc := range values {
		t.Run("set get "+tc.name, func(t *testing.T) {
			k := key("v-" + strings.ReplaceAll(tc.name, " ", "-"))
			if err := s.Set(k, tc.value); err != nil {
				t.Fatalf("Set: %v", err)
			}
			got, err := s.Get(k)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !bytes.Equal(got, tc.value) {
				t.Fatalf("Get: got %d bytes %q, want %d bytes %q", len(got), trunc(got), len(tc.value), trunc(tc.value))
			}
			if err := s.Delete(k); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, err := s.Get(k); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get after Delete: got error %v, want ErrNotFound", err)
			}
		})
	}

	t.Run("overwrite", func(t *testing.T) {
		k := key("overwrite")
		for _, v := range []string{"first", "second, longer value", "3"} {
			if err := s.Set(k, []byte(v)); err != nil {
				t.Fatalf("Set(%q): %v", v, err)
			}
			got, err := s.Get(k)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if string(got) != v {
				t.Fatalf("Get after Set(%q): got %q", v, got)
			}
		}
		if err := s.Delete(k); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	})

	t.Run("keys are independent", func(t *testing.T) {
		a, b := key("ind-a"), key("ind-b/slot:prod é")
		if err := s.Set(a, []byte("A")); err != nil {
			t.Fatal(err)
		}
		if err := s.Set(b, []byte("B")); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(a); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(b)
		if err != nil || string(got) != "B" {
			t.Fatalf("Get(b) after Delete(a): got %q, %v, want \"B\", nil", got, err)
		}
		if err := s.Delete(b); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("values are copied", func(t *testing.T) {
		k := key("copy")
		v := []byte("original")
		if err := s.Set(k, v); err != nil {
			t.Fatal(err)
		}
		copy(v, "XXXXXXXX")
		got, err := s.Get(k)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "original" {
			t.Fatalf("Get after changing Set's slice: got %q, want \"original\"", got)
		}
		copy(got, "YYYYYYYY")
		if got, _ := s.Get(k); string(got) != "original" {
			t.Fatalf("Get after changing Get's slice: got %q, want \"original\"", got)
		}
		if err := s.Delete(k); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("too large", func(t *testing.T) {
		k := key("large")
		if err := s.Set(k, []byte("small")); err != nil {
			t.Fatal(err)
		}
		err := s.Set(k, make([]byte, MaxValueSize+1))
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Set(%d bytes): got error %v, want ErrTooLarge", MaxValueSize+1, err)
		}
		if got, err := s.Get(k); err != nil || string(got) != "small" {
			t.Fatalf("Get after refused Set: got %q, %v, want \"small\", nil", got, err)
		}
		if err := s.Delete(k); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("empty key", func(t *testing.T) {
		if err := s.Set("", []byte("x")); err == nil {
			t.Error("Set(\"\"): got nil error, want one")
		}
		if _, err := s.Get(""); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("Get(\"\"): got error %v, want a non-ErrNotFound error", err)
		}
		if err := s.Delete(""); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("Delete(\"\"): got error %v, want a non-ErrNotFound error", err)
		}
	})
}

func trunc(b []byte) []byte {
	if len(b) > 16 {
		return b[:16]
	}
	return b
}

func TestMemoryConformance(t *testing.T) {
	testConformance(t, NewMemory(), "")
}

func TestMemoryZeroValue(t *testing.T) {
	var m Memory
	if err := m.Set("k", []byte("v")); err != nil {
		t.Fatalf("Set on zero Memory: %v", err)
	}
	if got, err := m.Get("k"); err != nil || string(got) != "v" {
		t.Fatalf("Get: got %q, %v, want \"v\", nil", got, err)
	}
}
