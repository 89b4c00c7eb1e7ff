package store

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

func openPreparedFile(t testing.TB, path string, opts ...FileOption) *File {
	t.Helper()
	f, err := OpenFile(path, testPass, append([]FileOption{WithScryptWorkFactor(testWorkFactor), WithPreparedWrites()}, opts...)...)
	if err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	return f
}

func TestFilePreparedConformance(t *testing.T) {
	testConformance(t, openPreparedFile(t, filepath.Join(t.TempDir(), "store", "secrets.age")), "")
}

// TestFilePreparedIsAgeFormat: a file written with a key prepared ahead is
// what age writes: age's own scrypt identity opens it, and every write
// has a salt of its own.
func TestFilePreparedIsAgeFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.age")
	f := openPreparedFile(t, path)
	salts := map[string]bool{}
	for i, v := range []string{"one", "two", "three"} {
		if err := f.Set("k", []byte(v)); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		fields := strings.Fields(strings.Split(string(raw), "\n")[1]) // "-> scrypt SALT LOGN"
		if len(fields) != 4 || fields[1] != "scrypt" || fields[3] != "4" {
			t.Fatalf("write %d: stanza %q, want -> scrypt SALT 4", i, fields)
		}
		if salts[fields[2]] {
			t.Fatalf("write %d reused salt %s", i, fields[2])
		}
		salts[fields[2]] = true

		id, _ := age.NewScryptIdentity(string(testPass))
		r, err := age.Decrypt(bytes.NewReader(raw), id)
		if err != nil {
			t.Fatalf("write %d: age cannot open it: %v", i, err)
		}
		plain, _ := io.ReadAll(r)
		m, err := decodePayload(plain)
		if err != nil || string(m["k"]) != v {
			t.Fatalf("write %d: age read %q (%v), want k=%s", i, plain, err, v)
		}
	}
	// And another File, without the option, reads it as ever.
	g := openTestFile(t, path, testPass)
	if v, err := g.Get("k"); err != nil || string(v) != "three" {
		t.Errorf("plain File reads %q, %v", v, err)
	}
}

func TestPreparedRecipientWrapsOnce(t *testing.T) {
	k, err := deriveScryptKey(string(testPass), testWorkFactor)
	if err != nil {
		t.Fatal(err)
	}
	r := &preparedRecipient{k: k}
	if _, err := r.Wrap(make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wrap(make([]byte, 16)); err != errWrapTwice {
		t.Errorf("second wrap with one key: %v, want errWrapTwice", err)
	}
}

// waitPrepared makes the keys of f's next writes now, as the File does
// spareDelay after a write: what an agent between two certs commands has.
func waitPrepared(f *File) {
	f.spare.fill(f.passphrase, f.writeLogN())
}

// BenchmarkFileSetDefaultWorkFactor: a write to the file store at age's
// default work factor, deriving its scrypt key then (as a CLI command
// does), against a write finding its key prepared (WithPreparedWrites, as
// the agent has it when a certs command arrives). A prepared write does
// no scrypt, so its cost does not depend on the work factor: its keys
// are made at a low one, outside the timer, or the benchmark would spend
// minutes preparing them.
func BenchmarkFileSetDefaultWorkFactor(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts []FileOption
	}{{"scrypt-at-write", nil}, {"prepared", []FileOption{WithPreparedWrites(), WithScryptWorkFactor(10)}}} {
		b.Run(tc.name, func(b *testing.B) {
			f, err := OpenFile(filepath.Join(b.TempDir(), "secrets.age"), testPass, tc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if f.spare != nil {
					b.StopTimer()
					waitPrepared(f)
					b.StartTimer()
				}
				if err := f.Set("k", []byte("v")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFilePreparedKeysAreUsed: writes take the keys made ahead, and the
// file they write opens with the passphrase.
func TestFilePreparedKeysAreUsed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.age")
	f := openPreparedFile(t, path)
	waitPrepared(f)
	ready := func() int { f.spare.mu.Lock(); defer f.spare.mu.Unlock(); return len(f.spare.ready) }
	if got := ready(); got != spareWraps {
		t.Fatalf("%d keys ready, want %d", got, spareWraps)
	}
	for i := spareWraps - 1; i >= 0; i-- {
		if err := f.Set("k", []byte("v")); err != nil {
			t.Fatal(err)
		}
		if got := ready(); got != i {
			t.Fatalf("after a write %d keys ready, want %d", got, i)
		}
	}
	if v, err := openTestFile(t, path, testPass).Get("k"); err != nil || string(v) != "v" {
		t.Errorf("reading back: %q, %v", v, err)
	}
}
