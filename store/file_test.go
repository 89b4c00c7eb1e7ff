package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
)

// testWorkFactor keeps scrypt cheap in tests; production uses age's default.
const testWorkFactor = 4

var testPass = []byte("test passphrase")

func openTestFile(t *testing.T, path string, pass []byte) *File {
	t.Helper()
	f, err := OpenFile(path, pass, WithScryptWorkFactor(testWorkFactor))
	if err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	return f
}

func TestFileConformance(t *testing.T) {
	testConformance(t, openTestFile(t, filepath.Join(t.TempDir(), "store", "secrets.age"), testPass), "")
}

func TestFileCreatesPrivateFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix modes do not apply on Windows")
	}
	dir := filepath.Join(t.TempDir(), "config", "aws-sso-agent")
	path := filepath.Join(dir, "secrets.age")
	f := openTestFile(t, path, testPass)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenFile created %s (err %v); want it created by the first Set", path, err)
	}
	secret := "super-secret-value-1234"
	if err := f.Set("intermediate-key", []byte(secret)); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700 | os.ModeDir} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: got mode %v, want %v", p, fi.Mode(), want)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte("age-encryption.org/v1\n-> scrypt ")) {
		t.Errorf("file does not start as an age scrypt file: %q", trunc(raw))
	}
	for _, plain := range []string{secret, "intermediate-key"} {
		if bytes.Contains(raw, []byte(plain)) {
			t.Errorf("file holds %q in plaintext", plain)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestFileDefaultWorkFactor(t *testing.T) {
	// Without the option the file must carry age's default work factor
	// (18), not a weakened one.
	if raceEnabled {
		t.Skip("scrypt at age's default work factor takes ~20s under the race detector; run go test without -race")
	}
	path := filepath.Join(t.TempDir(), "secrets.age")
	f, err := OpenFile(path, testPass)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Set("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	fields := strings.Fields(lines[1]) // "-> scrypt SALT LOGN"
	if len(fields) != 4 || fields[1] != "scrypt" || fields[3] != "18" {
		t.Fatalf("stanza: got %q, want \"-> scrypt SALT 18\"", lines[1])
	}
}

func TestFileWrongPassphrase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.age")
	// Opened before the file exists, so OpenFile cannot check the passphrase.
	early := openTestFile(t, path, []byte("wrong"))
	f := openTestFile(t, path, testPass)
	if err := f.Set("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenFile(path, []byte("wrong"), WithScryptWorkFactor(testWorkFactor))
	if !errors.Is(err, ErrWrongPassphrase) || err.Error() != "store: wrong passphrase for "+path {
		t.Fatalf("OpenFile: got error %v, want \"store: wrong passphrase for %s\"", err, path)
	}
	ops := map[string]func() error{
		"get":    func() error { _, err := early.Get("k"); return err },
		"set":    func() error { return early.Set("k", []byte("overwritten")) },
		"delete": func() error { return early.Delete("k") },
	}
	for name, op := range ops {
		if err := op(); !errors.Is(err, ErrWrongPassphrase) {
			t.Errorf("%s: got error %v, want ErrWrongPassphrase", name, err)
		}
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("the file changed after operations with a wrong passphrase")
	}
}

func TestFileRefusesInsecurePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix modes do not apply on Windows")
	}
	tests := []struct {
		name     string
		fileMode os.FileMode
		dirMode  os.FileMode
		want     string
	}{
		{"group readable", 0o640, 0o700, "mode 0640"},
		{"world readable", 0o604, 0o700, "mode 0604"},
		{"group writable", 0o620, 0o700, "mode 0620"},
		{"dir world writable", 0o600, 0o777, "directory"},
		{"dir group writable", 0o600, 0o770, "directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "d")
			path := filepath.Join(dir, "secrets.age")
			if err := openTestFile(t, path, testPass).Set("k", []byte("v")); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(path)
			if err := os.Chmod(path, tc.fileMode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tc.dirMode); err != nil {
				t.Fatal(err)
			}
			var err error
			if tc.fileMode != 0o600 {
				_, err = OpenFile(path, testPass, WithScryptWorkFactor(testWorkFactor))
			} else {
				f := openTestFile(t, path, testPass) // reading is fine
				err = f.Set("k", []byte("changed"))  // writing into an open directory is not
			}
			if !errors.Is(err, ErrInsecure) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want ErrInsecure mentioning %q", err, tc.want)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Fatal("the file changed")
			}
		})
	}
}

func TestFileCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.age")
	if err := openTestFile(t, path, testPass).Set("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var otherRecipient bytes.Buffer
	id, _ := age.GenerateX25519Identity()
	w, _ := age.Encrypt(&otherRecipient, id.Recipient())
	w.Write([]byte(`{"version":1,"secrets":{}}`))
	w.Close()
	flipped := bytes.Clone(good)
	flipped[len(flipped)-5] ^= 1

	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"truncated payload", good[:len(good)-10]},
		{"truncated header", good[:30]},
		{"flipped payload bit", flipped},
		{"garbage", []byte("not an age file\n")},
		{"plaintext json", []byte(`{"version":1,"secrets":{"k":"dg=="}}`)},
		{"age to a key, not a passphrase", otherRecipient.Bytes()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "secrets.age")
			if err := os.WriteFile(p, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := OpenFile(p, testPass, WithScryptWorkFactor(testWorkFactor))
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), p) {
				t.Fatalf("OpenFile: got error %v, want ErrCorrupt naming the file", err)
			}
			// A File opened before the damage must not overwrite it either.
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			f := openTestFile(t, p, testPass)
			if err := os.WriteFile(p, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := f.Set("k2", []byte("v2")); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Set: got error %v, want ErrCorrupt", err)
			}
			if after, _ := os.ReadFile(p); !bytes.Equal(after, tc.data) {
				t.Fatal("Set overwrote the corrupt file")
			}
		})
	}
}

func TestFileSeesOtherWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.age")
	a := openTestFile(t, path, testPass)
	b := openTestFile(t, path, testPass)
	for _, v := range []string{"1", "2", "3"} {
		if err := a.Set("k", []byte(v)); err != nil {
			t.Fatal(err)
		}
		got, err := b.Get("k")
		if err != nil || string(got) != v {
			t.Fatalf("b.Get after a.Set(%q): got %q, %v", v, got, err)
		}
	}
	if err := b.Delete("k"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get("k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a.Get after b.Delete: got %v, want ErrNotFound", err)
	}
}

func TestFileConcurrentWriters(t *testing.T) {
	// Two File values (two caches, two lock file descriptors) on one path,
	// as two agents would have. Without the lock one's write would replace
	// the other's.
	path := filepath.Join(t.TempDir(), "secrets.age")
	const n = 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for w := range 2 {
		f := openTestFile(t, path, testPass)
		wg.Go(func() {
			for i := range n {
				k := fmt.Sprintf("w%d-%d", w, i)
				if err := f.Set(k, []byte(k)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	checkKeys(t, path, []string{"w0-", "w1-"}, n)
}

func TestFileConcurrentProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.age")
	const n = 15
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for _, prefix := range []string{"p0-", "p1-"} {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), helperEnv+"=file-writer", "STORE_TEST_FILE="+path,
			"STORE_TEST_N="+strconv.Itoa(n), "STORE_TEST_PREFIX="+prefix)
		out := new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("writer %d: %v\n%s", i, err, outs[i])
		}
	}
	checkKeys(t, path, []string{"p0-", "p1-"}, n)
}

func checkKeys(t *testing.T, path string, prefixes []string, n int) {
	t.Helper()
	f := openTestFile(t, path, testPass)
	for _, p := range prefixes {
		for i := range n {
			k := p + strconv.Itoa(i)
			if got, err := f.Get(k); err != nil || string(got) != k {
				t.Errorf("Get(%q): got %q, %v; an update was lost", k, got, err)
			}
		}
	}
}

func TestOpenFileOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.age")
	tests := []struct {
		name string
		pass []byte
		opts []FileOption
	}{
		{"empty passphrase", nil, nil},
		{"work factor 0 after option", testPass, []FileOption{WithScryptWorkFactor(-1)}},
		{"work factor 31", testPass, []FileOption{WithScryptWorkFactor(31)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := OpenFile(path, tc.pass, tc.opts...); err == nil {
				t.Fatal("got nil error, want one")
			}
		})
	}
}

func FuzzDecodePayload(f *testing.F) {
	fuzztest.Start(f)
	for _, m := range []map[string][]byte{nil, {"k": []byte("v")}, {"a": {}, "b": allBytes()}} {
		b, err := encodePayload(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"secrets":{"":"AA=="}}`))
	f.Add([]byte(`{"version":2,"secrets":{}}`))
	f.Add([]byte(`{"version":1,"secrets":{"k":null}} {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodePayload(data)
		if err != nil {
			return
		}
		for k, v := range m {
			if k == "" || v == nil {
				t.Fatalf("decoded key %q value %v; want no empty keys or nil values", k, v)
			}
		}
		b, err := encodePayload(m)
		if err != nil {
			t.Fatalf("encode after decode: %v", err)
		}
		m2, err := decodePayload(b)
		if err != nil {
			t.Fatalf("decode after encode: %v", err)
		}
		if len(m2) != len(m) {
			t.Fatalf("round trip: got %d keys, want %d", len(m2), len(m))
		}
		for k, v := range m {
			if !bytes.Equal(m2[k], v) {
				t.Fatalf("round trip of %q: got %q, want %q", k, m2[k], v)
			}
		}
	})
}

func BenchmarkFileGetCached(b *testing.B) {
	f, err := OpenFile(filepath.Join(b.TempDir(), "secrets.age"), testPass)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Set("k", []byte("v")); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := f.Get("k"); err != nil {
			b.Fatal(err)
		}
	}
}
