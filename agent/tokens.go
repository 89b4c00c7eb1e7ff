package agent

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"slices"
	"sync"
)

// tokenBytes is the entropy of a token: 256 bits, so guessing one over the
// network is hopeless whatever the request rate (see the endpoint's rate
// limiter, which exists for log volume and work, not to stop guessing).
const tokenBytes = 32

// NewToken returns a fresh bearer token: 32 random bytes, base64url without
// padding (43 characters, safe in a header, a file and a URL).
func NewToken() (string, error) {
	var b [tokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("agent: generate token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Grant is what a token allows.
type Grant struct {
	// SessionID is the channel the token is valid on: "" for the local
	// token (the local listener), or an SSH session's ID (connections
	// arriving through that session's forward).
	SessionID string
	// Slots lists the slots the token may read; nil means every slot,
	// an empty non-nil slice means none.
	Slots []string
}

// allows reports whether the grant covers slot.
func (g Grant) allows(slot string) bool {
	return g.Slots == nil || slices.Contains(g.Slots, slot)
}

// Tokens is the registry of valid tokens and their grants. It is safe for
// concurrent use; the zero value is an empty registry.
//
// Tokens are kept only as SHA-256 hashes: a lookup hashes the presented
// token, finds the entry by hash and compares the hashes in constant time,
// so neither the map lookup nor the comparison leaks timing about the
// secret itself (an attacker controls the hash's input, not its output).
type Tokens struct {
	mu     sync.RWMutex
	grants map[[sha256.Size]byte]tokenEntry
}

type tokenEntry struct {
	hash  [sha256.Size]byte
	grant Grant
}

// NewTokens returns an empty registry.
func NewTokens() *Tokens { return &Tokens{} }

// Add makes token valid for grant, replacing any grant it had. The grant's
// Slots are copied.
func (t *Tokens) Add(token string, g Grant) {
	if g.Slots != nil {
		g.Slots = slices.Clone(g.Slots)
	}
	h := sha256.Sum256([]byte(token))
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.grants == nil {
		t.grants = make(map[[sha256.Size]byte]tokenEntry)
	}
	t.grants[h] = tokenEntry{hash: h, grant: g}
}

// Revoke makes token invalid. Revoking an unknown token does nothing.
func (t *Tokens) Revoke(token string) {
	h := sha256.Sum256([]byte(token))
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.grants, h)
}

// RevokeSession makes every token of session id invalid. The local token
// (SessionID "") is revoked by RevokeSession("").
func (t *Tokens) RevokeSession(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for h, e := range t.grants {
		if e.grant.SessionID == id {
			delete(t.grants, h)
		}
	}
}

// Lookup returns the grant of token, and whether the token is valid.
func (t *Tokens) Lookup(token string) (Grant, bool) {
	h := tokenHash(token)
	g, ok := t.lookupHash(&h)
	if g.Slots != nil {
		g.Slots = slices.Clone(g.Slots) // the registry's copy stays unchanged
	}
	return g, ok
}

// tokenHash hashes a presented token, on the stack for tokens of usual
// size: the endpoint calls it on every request.
func tokenHash(token string) [sha256.Size]byte {
	var buf [64]byte
	if len(token) <= len(buf) {
		n := copy(buf[:], token)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(token))
}

func (t *Tokens) lookupHash(h *[sha256.Size]byte) (Grant, bool) {
	t.mu.RLock()
	e, ok := t.grants[*h]
	t.mu.RUnlock()
	// The map matched on the hash, which reveals nothing usable about the
	// token; comparing the stored hash again in constant time keeps the
	// guarantee independent of how the runtime compares map keys.
	if !ok || subtle.ConstantTimeCompare(e.hash[:], h[:]) != 1 {
		return Grant{}, false
	}
	return e.grant, true
}

// Len returns the number of valid tokens.
func (t *Tokens) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.grants)
}
