package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"filippo.io/age"
)

// Errors of the file backend. Returned errors wrap them and name the file.
var (
	// ErrWrongPassphrase means the passphrase does not decrypt the file.
	ErrWrongPassphrase = errors.New("store: wrong passphrase")
	// ErrCorrupt means the file is not a store this package wrote: not
	// age-encrypted with a passphrase, truncated, or altered. Such a file is
	// never overwritten.
	ErrCorrupt = errors.New("store: corrupt file")
	// ErrInsecure means a file or directory other users could read or
	// replace, or one owned by another user. Like ssh with a private key,
	// the store refuses to use it rather than trust it.
	ErrInsecure = errors.New("store: insecure permissions")
)

// maxFileSize bounds what is read: MaxValueSize times a few hundred keys
// is far below it; anything larger is not ours.
const maxFileSize = 16 << 20

// File is a Store kept in one file encrypted with a passphrase (age's scrypt
// recipient), for machines without a usable OS keyring. The whole store is
// one file holding every key, so a reader of the directory learns neither
// the keys nor their number, only the total size.
//
// The file is 0600; its directory is created 0700, and an existing one
// others can write to is refused (they could swap the file). Updates are atomic (a temporary file
// in the same directory, fsync, rename) and serialised across processes by
// an advisory lock on PATH.lock, so two agents never lose each other's
// writes and a crash leaves the old or the new store, never half of one.
// A file the passphrase does not open, or that fails age's authentication,
// is reported and left untouched. There is no plaintext fallback.
//
// On Unix, files and directories other users can read or write are refused.
// On Windows, access is left to the ACLs of the user's profile directory.
//
// A File caches the decrypted store in memory, keyed by a hash of the file's
// contents, so that repeated reads cost one file read rather than a scrypt
// derivation (about a second at age's default work factor).
type File struct {
	path       string
	passphrase string
	workFactor int
	// spare, with WithPreparedWrites, is the scrypt key made ahead for
	// the next write (file_prepared.go); nil derives it at each write.
	spare *spareWrap

	mu     sync.Mutex // guards the cache and serialises updates in process
	cached bool
	sum    [sha256.Size]byte
	m      map[string][]byte
}

var _ Store = (*File)(nil)

// FileOption configures OpenFile.
type FileOption func(*File)

// WithScryptWorkFactor sets the scrypt work factor (log2 of N, 1 to 30) for
// writing the file. The default is age's own (18 in age v1.3, about a second
// on a laptop); tests use small values. Reading accepts any factor up to
// age's limit or this one, whichever is larger.
func WithScryptWorkFactor(logN int) FileOption {
	return func(f *File) { f.workFactor = logN }
}

// OpenFile returns a File store at path, encrypted with passphrase. If the
// file exists, OpenFile checks its permissions and that the passphrase opens
// it. If it does not, the file (and its directory, 0700) is created by the
// first Set.
func OpenFile(path string, passphrase []byte, opts ...FileOption) (*File, error) {
	if len(passphrase) == 0 {
		return nil, errors.New("store: empty passphrase")
	}
	f := &File{path: path, passphrase: string(passphrase)}
	for _, o := range opts {
		o(f)
	}
	if f.workFactor != 0 && (f.workFactor < 1 || f.workFactor > 30) {
		return nil, fmt.Errorf("store: scrypt work factor %d out of range 1 to 30", f.workFactor)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.load(); err != nil {
		return nil, err
	}
	if f.spare != nil {
		f.spare.prepare(f.passphrase, f.writeLogN())
	}
	return f, nil
}

// Get implements Store.
func (f *File) Get(key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.load()
	if err != nil {
		return nil, err
	}
	v, ok := m[key]
	if !ok {
		return nil, fmt.Errorf("store: get %q from %s: %w", key, f.path, ErrNotFound)
	}
	return bytes.Clone(v), nil
}

// Set implements Store.
func (f *File) Set(key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkValue(key, value); err != nil {
		return err
	}
	value = bytes.Clone(value)
	if value == nil {
		value = []byte{}
	}
	return f.update(func(m map[string][]byte) error {
		m[key] = value
		return nil
	})
}

// Delete implements Store.
func (f *File) Delete(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return f.update(func(m map[string][]byte) error {
		if _, ok := m[key]; !ok {
			return fmt.Errorf("store: delete %q from %s: %w", key, f.path, ErrNotFound)
		}
		delete(m, key)
		return nil
	})
}

// update runs a read-modify-write of the whole store under the file lock.
func (f *File) update(change func(map[string][]byte) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()

	dir := filepath.Dir(f.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("store: create directory: %w", err)
	}
	if err := checkDir(dir); err != nil {
		return err
	}
	unlock, err := lockFile(f.path + ".lock")
	if err != nil {
		return fmt.Errorf("store: lock %s: %w", f.path, err)
	}
	defer unlock()

	m, err := f.load()
	if err != nil {
		return err
	}
	m = maps.Clone(m) // the cache stays as the file is until the write succeeds
	if m == nil {
		m = make(map[string][]byte)
	}
	if err := change(m); err != nil {
		return err
	}
	payload, err := encodePayload(m)
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", f.path, err)
	}
	ciphertext, err := f.encrypt(payload)
	if err != nil {
		return fmt.Errorf("store: encrypt %s: %w", f.path, err)
	}
	if err := writeAtomic(f.path, ciphertext); err != nil {
		return err
	}
	f.cached, f.sum, f.m = true, sha256.Sum256(ciphertext), m
	return nil
}

// load returns the store as the file holds it now: empty if there is no
// file, from the cache if the file has not changed since it was decrypted.
// The caller holds f.mu and must not modify the map.
func (f *File) load() (map[string][]byte, error) {
	ciphertext, err := readPrivate(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(ciphertext)
	if f.cached && sum == f.sum {
		return f.m, nil
	}
	m, err := f.decrypt(ciphertext)
	if err != nil {
		return nil, err
	}
	f.cached, f.sum, f.m = true, sum, m
	return m, nil
}

// readPrivate reads a file only this user can read.
func readPrivate(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := checkPrivate(path, fi); err != nil {
		return nil, err
	}
	if fi.Size() > maxFileSize {
		return nil, fmt.Errorf("%w %s (left untouched; restore it from a backup or remove it to start over): %d bytes is too large",
			ErrCorrupt, path, fi.Size())
	}
	b, err := io.ReadAll(io.LimitReader(fh, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("store: read %s: %w", path, err)
	}
	return b, nil
}

func (f *File) encrypt(payload []byte) ([]byte, error) {
	r, err := f.recipient()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(payload); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// recipient is what the next write encrypts to: the passphrase, through
// age's scrypt recipient or a key prepared ahead (WithPreparedWrites).
func (f *File) recipient() (age.Recipient, error) {
	if f.spare != nil {
		return f.preparedRecipient()
	}
	r, err := age.NewScryptRecipient(f.passphrase)
	if err != nil {
		return nil, err
	}
	if f.workFactor != 0 {
		r.SetWorkFactor(f.workFactor)
	}
	return r, nil
}

func (f *File) decrypt(ciphertext []byte) (map[string][]byte, error) {
	corrupt := func(err error) error {
		return fmt.Errorf("%w %s (left untouched; restore it from a backup or remove it to start over): %v",
			ErrCorrupt, f.path, err)
	}
	id, err := age.NewScryptIdentity(f.passphrase)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if f.workFactor > 22 { // 22 is age's default maximum
		id.SetMaxWorkFactor(f.workFactor)
	}
	r, err := age.Decrypt(bytes.NewReader(ciphertext), id)
	if err != nil {
		// age wraps ErrIncorrectIdentity both for a wrong passphrase and
		// for a file not encrypted to a passphrase at all.
		if errors.Is(err, age.ErrIncorrectIdentity) && strings.Contains(err.Error(), "incorrect passphrase") {
			return nil, fmt.Errorf("%w for %s", ErrWrongPassphrase, f.path)
		}
		return nil, corrupt(err)
	}
	payload, err := io.ReadAll(r) // age authenticates every chunk and the end
	if err != nil {
		return nil, corrupt(err)
	}
	m, err := decodePayload(payload)
	if err != nil {
		return nil, corrupt(err)
	}
	return m, nil
}

// payloadVersion is the version of the format inside the encryption.
const payloadVersion = 1

// payload is the decrypted content of the file. encoding/json writes the
// values as base64.
type payload struct {
	Version int               `json:"version"`
	Secrets map[string][]byte `json:"secrets"`
}

func encodePayload(m map[string][]byte) ([]byte, error) {
	if m == nil {
		m = map[string][]byte{}
	}
	return json.Marshal(payload{Version: payloadVersion, Secrets: m})
}

// decodePayload parses a decrypted store. The input has passed age's
// authentication, so it was written by someone who knew the passphrase,
// but it is still parsed strictly: an unknown version or field, trailing
// data or an empty key is an error.
func decodePayload(b []byte) (map[string][]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p payload
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("decode payload: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("decode payload: trailing data")
	}
	if p.Version != payloadVersion {
		return nil, fmt.Errorf("decode payload: unsupported version %d", p.Version)
	}
	m := make(map[string][]byte, len(p.Secrets))
	for k, v := range p.Secrets {
		if k == "" {
			return nil, errors.New("decode payload: empty key")
		}
		if v == nil {
			v = []byte{}
		}
		m[k] = v
	}
	return m, nil
}

// writeAtomic replaces path with data so that readers and a crash see the
// old or the new file, never a mix: a temporary file in the same directory,
// fsync, rename, fsync of the directory.
func writeAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*") // mode 0600
	if err != nil {
		return fmt.Errorf("store: write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("store: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("store: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("store: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("store: write %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("store: write %s: sync directory: %w", path, err)
	}
	return nil
}
