package signer

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// APIKeyPrefix starts every API key, so a key pasted where it does not
// belong is recognizable (secret scanners match on it) and a bearer token
// of another kind is refused before any lookup.
const APIKeyPrefix = "sgk_"

// apiKeyLen is an API key's length: the prefix and 32 random bytes
// (256 bits) in unpadded base64url.
var apiKeyLen = len(APIKeyPrefix) + base64.RawURLEncoding.EncodedLen(32)

// ErrBadAPIKey is what ParseAPIKey returns for a string that cannot be
// an API key. It says nothing of the string.
var ErrBadAPIKey = errors.New("signer: not an api key")

// NewAPIKey returns a fresh API key and its hash. The key is shown to its
// owner once; only the hash is stored, so a copy of the database signs
// nothing. A SHA-256 suffices: the key has 256 bits of entropy, so there
// is no dictionary to slow down.
func NewAPIKey() (key string, hash []byte, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("signer: new api key: %w", err)
	}
	key = APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	return key, HashAPIKey(key), nil
}

// ParseAPIKey checks that key has an API key's form and returns its hash,
// the value the store looks it up by.
func ParseAPIKey(key string) ([]byte, error) {
	if len(key) != apiKeyLen || !strings.HasPrefix(key, APIKeyPrefix) {
		return nil, ErrBadAPIKey
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(key[len(APIKeyPrefix):]); err != nil {
		return nil, ErrBadAPIKey
	}
	return HashAPIKey(key), nil
}

// HashAPIKey is the stored form of key.
func HashAPIKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// Password bounds. The upper one keeps a hash request from being a
// memory or time sink; argon2 reads the whole input.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

// ErrBadPassword is what CheckPassword wraps.
var ErrBadPassword = errors.New("signer: password refused")

// CheckPassword enforces the password bounds.
func CheckPassword(pw string) error {
	if len(pw) < MinPasswordLen || len(pw) > MaxPasswordLen {
		return fmt.Errorf("%w: must be %d to %d characters long", ErrBadPassword, MinPasswordLen, MaxPasswordLen)
	}
	return nil
}

// argon2id parameters: RFC 9106 4's second recommended option (t=3,
// 64 MiB) with two lanes, the cores of a small server.
const (
	argonTime    = 3
	argonMemory  = 64 * 1024
	argonThreads = 2
	argonKeyLen  = 32
)

// HashPassword hashes pw with argon2id and a random salt, in the PHC
// string format ("$argon2id$v=19$m=65536,t=3,p=2$SALT$HASH") that other
// implementations read.
func HashPassword(pw string) (string, error) {
	if err := CheckPassword(pw); err != nil {
		return "", err
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("signer: hash password: %w", err)
	}
	sum := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum)), nil
}

// VerifyPassword reports whether pw matches encoded, a HashPassword
// result. It uses the parameters in encoded, bounded so that a tampered
// row cannot make a login cost gigabytes.
func VerifyPassword(encoded, pw string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errors.New("signer: verify password: not an argon2id hash")
	}
	var version int
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errors.New("signer: verify password: unsupported argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil ||
		m == 0 || m > 1<<20 || t == 0 || t > 16 || p == 0 {
		return false, errors.New("signer: verify password: bad argon2 parameters")
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	sum, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(sum) == 0 || len(sum) > 64 {
		return false, errors.New("signer: verify password: bad argon2 encoding")
	}
	if len(pw) > MaxPasswordLen {
		return false, nil
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(sum)))
	return subtle.ConstantTimeCompare(got, sum) == 1, nil
}
