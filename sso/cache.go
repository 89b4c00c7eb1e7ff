package sso

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// CacheTimeFormat is how the AWS CLI writes the cache's times
// (botocore's _sso_json_dumps: "%Y-%m-%dT%H:%M:%SZ", always UTC).
const CacheTimeFormat = "2006-01-02T15:04:05Z"

// maxCacheFile bounds what ReadCache reads: a real cache file is under a
// few kilobytes (two tokens and a client secret).
const maxCacheFile = 64 << 10

// ErrNoCache is returned (wrapped) by ReadCache when there is no cache
// file: nobody has logged in to the session on this machine.
var ErrNoCache = errors.New("no cached login")

// Token is one session's entry of the AWS CLI v2 token cache. Its JSON is
// exactly the eight fields the AWS CLI v2 writes, in its order; botocore
// rewrites the file with the same eight.
type Token struct {
	StartURL    string
	Region      string
	AccessToken string
	ExpiresAt   time.Time
	// ClientID, ClientSecret and RegistrationExpiresAt are the client
	// registration the token was issued to; a refresh needs them.
	ClientID              string
	ClientSecret          string
	RegistrationExpiresAt time.Time
	// RefreshToken is empty for a registration without scopes (legacy
	// 8-hour tokens); the SDKs rotate it on every refresh.
	RefreshToken string
}

// cacheJSON is Token on disk. Field order is the AWS CLI's.
type cacheJSON struct {
	StartURL              string `json:"startUrl"`
	Region                string `json:"region"`
	AccessToken           string `json:"accessToken"`
	ExpiresAt             string `json:"expiresAt"`
	ClientID              string `json:"clientId,omitempty"`
	ClientSecret          string `json:"clientSecret,omitempty"`
	RegistrationExpiresAt string `json:"registrationExpiresAt,omitempty"`
	RefreshToken          string `json:"refreshToken,omitempty"`
}

// CachePath is the cache file of a session: the hex SHA-1 of the
// sso-session name, or of the start URL for a legacy profile without one
// (aws-sdk-go-v2 ssocreds.StandardCachedTokenFilepath, botocore
// SSOTokenLoader._generate_cache_key), in dir (CacheDir()).
func CachePath(dir, key string) string {
	sum := sha1.Sum([]byte(key))
	return filepath.Join(dir, hex.EncodeToString(sum[:])+".json")
}

// CacheDir is ~/.aws/sso/cache, where every SDK looks. The SDKs take no
// variable to move it; tests move HOME.
func CacheDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("sso: cache directory: %w", err)
	}
	return filepath.Join(home, ".aws", "sso", "cache"), nil
}

// ParseCache parses a cache file's contents. It needs accessToken and an
// expiresAt; the other fields may be missing, as in a token that a
// legacy device login left without a registration.
func ParseCache(data []byte) (Token, error) {
	var j cacheJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&j); err != nil {
		return Token{}, fmt.Errorf("not the json of a token: %w", cacheJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Token{}, errors.New("not the json of a token: data after the object")
	}
	if j.AccessToken == "" {
		return Token{}, errors.New("no accessToken")
	}
	t := Token{
		StartURL:     j.StartURL,
		Region:       j.Region,
		AccessToken:  j.AccessToken,
		ClientID:     j.ClientID,
		ClientSecret: j.ClientSecret,
		RefreshToken: j.RefreshToken,
	}
	var err error
	if t.ExpiresAt, err = parseCacheTime(j.ExpiresAt); err != nil {
		return Token{}, fmt.Errorf("expiresAt: %w", err)
	}
	if j.RegistrationExpiresAt != "" {
		if t.RegistrationExpiresAt, err = parseCacheTime(j.RegistrationExpiresAt); err != nil {
			return Token{}, fmt.Errorf("registrationExpiresAt: %w", err)
		}
	}
	return t, nil
}

// cacheJSONError keeps the position of a syntax error and drops the
// decoder's quote of the offending value, which may be part of a token.
func cacheJSONError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("syntax error at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("field %s has the wrong type", te.Field)
	}
	return errors.New("malformed")
}

// parseCacheTime reads a cache time. The AWS CLI writes CacheTimeFormat;
// aws-sdk-go-v2 writes RFC 3339 with fractional seconds or an offset.
func parseCacheTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, errors.New("missing")
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, errors.New("not an RFC 3339 time")
	}
	return t.UTC(), nil
}

// MarshalCache is the file's contents for t.
func MarshalCache(t Token) ([]byte, error) {
	j := cacheJSON{
		StartURL:     t.StartURL,
		Region:       t.Region,
		AccessToken:  t.AccessToken,
		ExpiresAt:    t.ExpiresAt.UTC().Format(CacheTimeFormat),
		ClientID:     t.ClientID,
		ClientSecret: t.ClientSecret,
		RefreshToken: t.RefreshToken,
	}
	if !t.RegistrationExpiresAt.IsZero() {
		j.RegistrationExpiresAt = t.RegistrationExpiresAt.UTC().Format(CacheTimeFormat)
	}
	return json.Marshal(j)
}

// ReadCache reads and parses a cache file. A missing file is ErrNoCache;
// a file that other users can read or that another user owns is refused
// (*CacheFileError), as is one that does not parse.
func ReadCache(path string) (Token, error) {
	data, err := readPrivateFile(path, maxCacheFile)
	if errors.Is(err, fs.ErrNotExist) {
		return Token{}, fmt.Errorf("sso: read %s: %w", path, ErrNoCache)
	}
	if err != nil {
		return Token{}, &CacheFileError{Path: path, Err: err}
	}
	t, err := ParseCache(data)
	if err != nil {
		return Token{}, &CacheFileError{Path: path, Err: err}
	}
	return t, nil
}

// readPrivateFile reads a cache file of at most limit bytes that is ours
// alone (checkPrivateFile). Errors of the file system are *fs.PathError;
// the others say what is wrong with the file.
func readPrivateFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkPrivateFile(fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}

// CacheFileError is a cache file that exists but cannot be used. The file
// is left as it is: only a successful login replaces it.
type CacheFileError struct {
	Path string
	Err  error
}

func (e *CacheFileError) Error() string { return "sso: cache file " + e.Path + ": " + e.Err.Error() }
func (e *CacheFileError) Unwrap() error { return e.Err }

// WriteCache writes t to path as the AWS CLI does, but atomically: a
// temporary file of mode 0600 in the same directory (made 0700 if
// missing), synced, then renamed over the old file, so that a reader
// (an SDK refreshing at the same moment) sees the old token or the new
// one, never half of one.
func WriteCache(path string, t Token) error {
	data, err := MarshalCache(t)
	if err != nil {
		return fmt.Errorf("sso: write %s: %w", path, err)
	}
	return writeFileAtomic(path, data)
}

func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("sso: write %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("sso: write %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("sso: write %s: %w", path, err)
	}
	// CreateTemp makes the file 0600 and a umask only removes bits; the
	// Chmod says so here rather than leave it to CreateTemp's docs.
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("sso: write %s: %w", path, err)
	}
	return nil
}
