package sso

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/aws-sdk-go-v2/service/sso"
	"github.com/aws/aws-sdk-go-v2/service/sso/types"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
)

// Session is an [sso-session] section of the AWS config as aws-sdk-go-v2
// reads it, with the SDK config its clients are made from: that config
// carries the endpoint settings the SDKs honour (AWS_ENDPOINT_URL_SSO,
// AWS_ENDPOINT_URL_SSO_OIDC), so the agent talks to the portal the user's
// other tools talk to.
type Session struct {
	Name     string
	StartURL string
	Region   string
	Config   aws.Config
}

// ErrNoSession is returned (wrapped) when the config has no such
// [sso-session] section.
var ErrNoSession = errors.New("no such sso-session")

// ErrNotLoggedIn is returned (wrapped) when the session has no usable
// access token in the AWS CLI v2 cache: never logged in, or the token
// expired and could not be refreshed.
var ErrNotLoggedIn = errors.New("not logged in")

// LoadSession reads the named sso-session from configFile (empty means
// AWS_CONFIG_FILE, else ~/.aws/config).
//
// The SDK resolves an [sso-session] only through a profile that names it,
// so a one-line profile that does is written to a file of its own and
// read together with the user's config; the SDK merges the sections of
// all its config files, and the session comes from the user's config
// unchanged.
func LoadSession(ctx context.Context, name, configFile string) (Session, error) {
	if !iniValue(name) {
		return Session{}, fmt.Errorf("sso: sso-session name %q: must be printable, without brackets", name)
	}
	if configFile == "" {
		configFile = os.Getenv("AWS_CONFIG_FILE")
	}
	if configFile == "" {
		configFile = config.DefaultSharedConfigFilename()
	}
	var b [8]byte
	rand.Read(b[:])
	profile := "aws-sso-agent-session-" + hex.EncodeToString(b[:])
	dir, err := os.MkdirTemp("", "aws-sso-agent-session-")
	if err != nil {
		return Session{}, fmt.Errorf("sso: load sso-session %s: %w", name, err)
	}
	defer os.RemoveAll(dir)
	synthetic := filepath.Join(dir, "config")
	if err := os.WriteFile(synthetic, []byte("[profile "+profile+"]\nsso_session = "+name+"\n"), 0o600); err != nil {
		return Session{}, fmt.Errorf("sso: load sso-session %s: %w", name, err)
	}
	files := []string{configFile, synthetic}
	sc, err := config.LoadSharedConfigProfile(ctx, profile, func(o *config.LoadSharedConfigOptions) {
		o.ConfigFiles = files
		o.CredentialsFiles = []string{}
	})
	if err != nil {
		if strings.Contains(err.Error(), "SSO session section") {
			return Session{}, fmt.Errorf("sso: %w %s in %s", ErrNoSession, name, configFile)
		}
		return Session{}, fmt.Errorf("sso: load sso-session %s: %w", name, err)
	}
	if sc.SSOSession == nil || sc.SSOSession.SSOStartURL == "" || sc.SSOSession.SSORegion == "" {
		return Session{}, fmt.Errorf("sso: sso-session %s in %s needs sso_start_url and sso_region", name, configFile)
	}
	// Explicit (anonymous) credentials keep the SDK from resolving any
	// for the profile: the portal's calls are authorized by the access
	// token, not signed.
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithSharedConfigProfile(profile),
		config.WithSharedConfigFiles(files),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithRegion(sc.SSOSession.SSORegion),
		config.WithCredentialsProvider(aws.AnonymousCredentials{}),
	)
	if err != nil {
		return Session{}, fmt.Errorf("sso: load sso-session %s: %w", name, err)
	}
	return Session{Name: name, StartURL: sc.SSOSession.SSOStartURL, Region: sc.SSOSession.SSORegion, Config: cfg}, nil
}

// AccessToken returns the session's access token from the AWS CLI v2
// cache (~/.aws/sso/cache/<sha1 of the session name>.json), read by the
// SDK's own token provider: when the token has expired it refreshes it
// with the cached refresh token and rewrites the file, as every SDK does.
func (s Session) AccessToken(ctx context.Context) (string, time.Time, error) {
	path, err := ssocreds.StandardCachedTokenFilepath(s.Name)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sso: sso-session %s: %w", s.Name, err)
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return "", time.Time{}, fmt.Errorf("sso: sso-session %s: %w: no cached token at %s", s.Name, ErrNotLoggedIn, path)
	}
	tp := ssocreds.NewSSOTokenProvider(ssooidc.NewFromConfig(s.Config), path)
	tok, err := tp.RetrieveBearerToken(ctx)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sso: sso-session %s: %w: %w", s.Name, ErrNotLoggedIn, err)
	}
	return tok.Value, tok.Expires, nil
}

// Portal returns a client of the session's access portal. It retries
// network errors and server faults as the SDK does, but not throttling:
// Discoverer retries that with its own, longer backoff, and a client that
// retried too would multiply the calls of a throttled burst. The SDK's
// retry quota is off for the same reason: a burst of throttled calls
// would drain it and fail calls that never were throttled.
func (s Session) Portal() *sso.Client {
	return sso.NewFromConfig(s.Config, func(o *sso.Options) {
		o.Region = s.Region
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.RateLimiter = ratelimit.None
			so.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(notThrottling)}, so.Retryables...)
		})
	})
}

func notThrottling(err error) aws.Ternary {
	var throttled *types.TooManyRequestsException
	if errors.As(err, &throttled) {
		return aws.FalseTernary
	}
	return aws.UnknownTernary
}

// iniValue reports whether v can stand as a section name in the shared
// config file without changing its structure.
func iniValue(v string) bool {
	if v == "" || len(v) > 256 || strings.TrimSpace(v) != v {
		return false
	}
	for _, r := range v {
		if !unicode.IsPrint(r) || strings.ContainsRune("[]#;=", r) {
			return false
		}
	}
	return true
}

// SessionNames lists the [sso-session NAME] sections of configFile (empty
// means AWS_CONFIG_FILE, else ~/.aws/config), in file order. It reads
// section headers only.
func SessionNames(configFile string) []string {
	if configFile == "" {
		configFile = os.Getenv("AWS_CONFIG_FILE")
	}
	if configFile == "" {
		configFile = config.DefaultSharedConfigFilename()
	}
	data, err := os.ReadFile(configFile)
	if err != nil {
		return nil
	}
	var names []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "[") {
			continue
		}
		end := strings.IndexByte(line, ']')
		if end < 0 {
			continue
		}
		kind, name, ok := strings.Cut(strings.TrimSpace(line[1:end]), " ")
		if name = strings.TrimSpace(name); ok && kind == "sso-session" && iniValue(name) {
			names = append(names, name)
		}
	}
	return names
}
