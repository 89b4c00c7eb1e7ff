package store

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/scrypt"
)

// WithPreparedWrites has the File derive the scrypt keys of its next
// writes ahead of time, in the background, a few seconds after it is
// opened and after each write (spareDelay). A long-lived process that
// writes now and then (the agent, when a certs command asks it to keep a
// new key) then answers a write in milliseconds instead of the second or
// more that scrypt takes at age's default work factor. The file is exactly what age writes: a
// single scrypt stanza with a fresh random salt each time, so age -d
// still opens it with the passphrase.
//
// Each derived key wraps one file key only, as age's own recipient does
// (its zero nonce is safe only so). scrypt takes 256 MiB at the default
// work factor; after each derivation the memory goes back to the
// operating system at once, so an idle agent does not keep it. A process
// that opens the store for one write gains nothing: leave it off there.
func WithPreparedWrites() FileOption {
	return func(f *File) { f.spare = &spareWrap{} }
}

// ageScryptWorkFactor is age's default work factor for passphrases
// (filippo.io/age scrypt.go: NewScryptRecipient, "1s on a modern
// machine"), used when WithScryptWorkFactor is not given.
const ageScryptWorkFactor = 18

// scryptLabel and scryptSaltSize are age's (scrypt.go): the key is
// scrypt(passphrase, label || salt, N=2^logN, r=8, p=1).
const (
	scryptLabel    = "age-encryption.org/v1/scrypt"
	scryptSaltSize = 16
)

// scryptKey is a key derived with scrypt from the passphrase and a fresh
// salt, for one wrap of a file key.
type scryptKey struct {
	salt []byte
	logN int
	key  []byte
}

func deriveScryptKey(passphrase string, logN int) (*scryptKey, error) {
	salt := make([]byte, scryptSaltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	key, err := scrypt.Key([]byte(passphrase), append([]byte(scryptLabel), salt...), 1<<logN, 8, 1, chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("store: scrypt: %w", err)
	}
	return &scryptKey{salt: salt, logN: logN, key: key}, nil
}

// preparedRecipient is age's ScryptRecipient with its key derived
// already. It wraps one file key, once.
type preparedRecipient struct {
	k    *scryptKey
	used bool
}

var errWrapTwice = errors.New("store: a prepared scrypt key wraps one file key only")

// Wrap does what age's ScryptRecipient.Wrap does after its scrypt call.
func (r *preparedRecipient) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	if r.used {
		return nil, errWrapTwice
	}
	r.used = true
	aead, err := chacha20poly1305.New(r.k.key)
	if err != nil {
		return nil, err
	}
	// age's fixed nonce: the key is fresh for this wrap (see age's
	// aeadEncrypt).
	body := aead.Seal(nil, make([]byte, chacha20poly1305.NonceSize), fileKey, nil)
	return []*age.Stanza{{
		Type: "scrypt",
		Args: []string{base64.RawStdEncoding.EncodeToString(r.k.salt), strconv.Itoa(r.k.logN)},
		Body: body,
	}}, nil
}

// WrapWithLabels gives a random label, as age's ScryptRecipient does, so
// that age refuses to mix it with any other recipient.
func (r *preparedRecipient) WrapWithLabels(fileKey []byte) ([]*age.Stanza, []string, error) {
	s, err := r.Wrap(fileKey)
	if err != nil {
		return nil, nil, err
	}
	random := make([]byte, 16)
	if _, err := rand.Read(random); err != nil {
		return nil, nil, err
	}
	return s, []string{hex.EncodeToString(random)}, nil
}

// spareWraps and spareDelay: a File with WithPreparedWrites keeps two
// keys ready, enough for any one certs command (load writes the new key
// and deletes the pending one), and makes them spareDelay after it was
// opened or last written: a burst of writes (an agent's first start
// makes its CA) ends before scrypt's 256 MiB are taken again, so they are
// never held while the process settles, and a fresh agent's idle memory
// stays small.
const (
	spareWraps = 2
	spareDelay = 5 * time.Second
)

// spareWrap holds the keys prepared for the next writes, and the
// preparation under way.
type spareWrap struct {
	mu       sync.Mutex
	ready    []*scryptKey
	inflight chan struct{} // closed when the derivation under way ends
	timer    *time.Timer
}

// take returns a prepared key, waiting for a derivation under way rather
// than running a second at once; nil when none is ready or coming.
func (s *spareWrap) take() *scryptKey {
	for {
		s.mu.Lock()
		if n := len(s.ready); n > 0 {
			k := s.ready[n-1]
			s.ready = s.ready[:n-1]
			s.mu.Unlock()
			return k
		}
		ch := s.inflight
		s.mu.Unlock()
		if ch == nil {
			return nil
		}
		<-ch
	}
}

// prepare has the keys made anew spareDelay from now, putting off a
// preparation scheduled earlier.
func (s *spareWrap) prepare(passphrase string, logN int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timer = time.AfterFunc(spareDelay, func() { s.fill(passphrase, logN) })
}

// fill derives keys, one at a time, until spareWraps are ready.
func (s *spareWrap) fill(passphrase string, logN int) {
	for {
		s.mu.Lock()
		if len(s.ready) >= spareWraps || s.inflight != nil {
			s.mu.Unlock()
			return
		}
		ch := make(chan struct{})
		s.inflight = ch
		s.mu.Unlock()

		k, err := deriveScryptKey(passphrase, logN)
		// scrypt's buffer (128 * r * N bytes: 256 MiB at logN 18) is
		// garbage now; without this a long-lived process would carry it
		// until the runtime's scavenger returns it, minutes later.
		debug.FreeOSMemory()
		s.mu.Lock()
		if err == nil {
			s.ready = append(s.ready, k)
		}
		s.inflight = nil
		close(ch)
		s.mu.Unlock()
		if err != nil {
			// The next write derives its key itself and reports why.
			return
		}
	}
}

// writeLogN is the work factor the File writes with.
func (f *File) writeLogN() int {
	if f.workFactor != 0 {
		return f.workFactor
	}
	return ageScryptWorkFactor
}

// preparedRecipient returns the recipient of the next write for a File
// with WithPreparedWrites, and starts preparing the one after.
func (f *File) preparedRecipient() (age.Recipient, error) {
	defer f.spare.prepare(f.passphrase, f.writeLogN())
	k := f.spare.take()
	if k == nil {
		var err error
		if k, err = deriveScryptKey(f.passphrase, f.writeLogN()); err != nil {
			return nil, err
		}
	}
	return &preparedRecipient{k: k}, nil
}
