package sso

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sso"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	"github.com/aws/smithy-go"
)

// Grant types of the OIDC service's CreateToken (RFC 6749, RFC 8628).
const (
	grantAuthorizationCode = "authorization_code"
	grantRefreshToken      = "refresh_token"
	grantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
)

// registrationMargin is how long before its expiry a cached registration
// is replaced: botocore's SSOTokenFetcher._EXPIRY_WINDOW, 15 minutes, so
// that a login started now still ends within it.
const registrationMargin = 15 * time.Minute

// ErrLoginRequired is matched (errors.Is) by every error that only a new
// interactive login can fix: no cached login, no refresh token, an
// expired registration, a refresh token the service refused.
var ErrLoginRequired = errors.New("login required")

// LoginRequiredError says why a session needs a new interactive login.
type LoginRequiredError struct {
	Session string // Session.String()
	Reason  string
	// loginFlags name the session to the login command (Hint).
	loginFlags string
}

func (e *LoginRequiredError) Error() string {
	return "sso: " + e.Session + ": login required: " + e.Reason
}

// Is reports whether target is ErrLoginRequired.
func (e *LoginRequiredError) Is(target error) bool { return target == ErrLoginRequired }

// Hint is what the person runs.
func (e *LoginRequiredError) Hint() string { return "run: aws-sso-agent login " + e.loginFlags }

// ClientConfig configures a Client.
type ClientConfig struct {
	Session Session
	// ConfigFile is the shared config file ("" = AWS_CONFIG_FILE, else
	// ~/.aws/config): its [services] sections can name endpoints.
	ConfigFile string
	// CacheDir is where tokens and registrations are cached; "" means
	// CacheDir().
	CacheDir string
	// HTTPClient makes the calls; nil means the SDK's.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Client logs in to one session and keeps its cached token fresh.
type Client struct {
	session  Session
	cacheDir string
	now      func() time.Time
	oidc     *ssooidc.Client
	portal   *sso.Client
	// oidcBase is the OIDC service's URL, for the browser's /authorize.
	oidcBase string
}

// NewClient makes the session's OIDC and portal clients. Endpoints are
// resolved by aws-sdk-go-v2 from the session's region and the
// configuration as every SDK reads it: AWS_ENDPOINT_URL_SSO_OIDC and
// AWS_ENDPOINT_URL_SSO, AWS_ENDPOINT_URL, and the services section of the
// profile the session came through (or of AWS_PROFILE).
func NewClient(ctx context.Context, cfg ClientConfig) (*Client, error) {
	s := cfg.Session
	if s.StartURL == "" || s.Region == "" {
		return nil, fmt.Errorf("sso: %s: a start url and a region are needed", s)
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(s.Region),
		config.WithSharedConfigFiles([]string{ConfigFile(cfg.ConfigFile)}),
		// The OIDC and portal calls are not signed; no credentials
		// are looked for.
		config.WithCredentialsProvider(aws.AnonymousCredentials{}),
	}
	if s.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(s.Profile))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(cfg.HTTPClient))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("sso: %s: load config: %w", s, err)
	}
	c := &Client{
		session:  s,
		cacheDir: cfg.CacheDir,
		now:      cfg.Now,
		oidc:     ssooidc.NewFromConfig(awsCfg),
		portal:   sso.NewFromConfig(awsCfg),
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.cacheDir == "" {
		if c.cacheDir, err = CacheDir(); err != nil {
			return nil, err
		}
	}
	if base := c.oidc.Options().BaseEndpoint; base != nil {
		c.oidcBase = *base
	} else {
		ep, err := ssooidc.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, ssooidc.EndpointParameters{Region: aws.String(s.Region)})
		if err != nil {
			return nil, fmt.Errorf("sso: %s: oidc endpoint: %w", s, err)
		}
		c.oidcBase = ep.URI.String()
	}
	c.oidcBase = strings.TrimRight(c.oidcBase, "/")
	return c, nil
}

// Session is the client's session.
func (c *Client) Session() Session { return c.session }

// CachePath is the session's token cache file.
func (c *Client) CachePath() string { return CachePath(c.cacheDir, c.session.CacheKey()) }

// Cached reads the session's cached token.
func (c *Client) Cached() (Token, error) { return ReadCache(c.CachePath()) }

// registration is a registered OIDC client, cached in a file of its own
// beside the tokens (as the AWS CLI caches its own), named by what it was
// registered for.
type registration struct {
	ClientID     string   `json:"clientId"`
	ClientSecret string   `json:"clientSecret"`
	ExpiresAt    string   `json:"expiresAt"`
	Scopes       []string `json:"scopes,omitempty"`
	GrantTypes   []string `json:"grantTypes,omitempty"`
}

func (r registration) expires() time.Time {
	t, _ := parseCacheTime(r.ExpiresAt)
	return t
}

// registrationPath names the cache file of a registration, as botocore's
// _registration_cache_key does: a SHA-1 of what makes registrations
// different, with our tool's name so the AWS CLI's own stay its own.
func (c *Client) registrationPath(grantTypes []string) string {
	key, _ := json.Marshal(map[string]any{
		"tool":         "aws-sso-agent",
		"startUrl":     c.session.StartURL,
		"region":       c.session.Region,
		"scopes":       c.session.Scopes,
		"session_name": c.session.Name,
		"grantTypes":   grantTypes,
	})
	sum := sha1.Sum(key)
	return filepath.Join(c.cacheDir, hex.EncodeToString(sum[:])+".json")
}

// register returns a registration for the grant types (nil: the device
// code grant as the AWS CLI registers it), the cached one while it has
// more than registrationMargin left.
func (c *Client) register(ctx context.Context, grantTypes []string, redirectURI string) (registration, error) {
	path := c.registrationPath(grantTypes)
	if data, err := readPrivateFile(path, maxCacheFile); err == nil {
		var r registration
		if json.Unmarshal(data, &r) == nil && r.ClientID != "" && r.ClientSecret != "" &&
			r.expires().Sub(c.now()) > registrationMargin &&
			slices.Equal(r.Scopes, c.session.Scopes) && slices.Equal(r.GrantTypes, grantTypes) {
			return r, nil
		}
	}
	in := &ssooidc.RegisterClientInput{
		ClientName: aws.String(c.clientName()),
		ClientType: aws.String("public"),
		Scopes:     c.session.Scopes,
		GrantTypes: grantTypes,
	}
	if redirectURI != "" {
		in.RedirectUris = []string{redirectURI}
		in.IssuerUrl = aws.String(c.session.StartURL)
	}
	out, err := c.oidc.RegisterClient(ctx, in)
	if err != nil {
		return registration{}, fmt.Errorf("sso: %s: register client: %w", c.session, err)
	}
	if out.ClientId == nil || out.ClientSecret == nil {
		return registration{}, fmt.Errorf("sso: %s: register client: the answer has no client id or secret", c.session)
	}
	r := registration{
		ClientID:     *out.ClientId,
		ClientSecret: *out.ClientSecret,
		ExpiresAt:    time.Unix(out.ClientSecretExpiresAt, 0).UTC().Format(CacheTimeFormat),
		Scopes:       c.session.Scopes,
		GrantTypes:   grantTypes,
	}
	// A registration that cannot be cached still serves this login;
	// the next login registers again.
	if data, err := json.Marshal(r); err == nil {
		_ = writeFileAtomic(path, data)
	}
	return r, nil
}

// clientName is what the service shows administrators, as botocore names
// its clients ("botocore-client-NAME").
func (c *Client) clientName() string {
	if c.session.Name != "" {
		return "aws-sso-agent-" + c.session.Name
	}
	return fmt.Sprintf("aws-sso-agent-%d", c.now().Unix())
}

// saveLogin writes the token a login or refresh produced.
func (c *Client) saveLogin(r registration, out *ssooidc.CreateTokenOutput, asked time.Time, oldRefresh string) (Token, error) {
	if out.AccessToken == nil || *out.AccessToken == "" {
		return Token{}, fmt.Errorf("sso: %s: the token answer has no access token", c.session)
	}
	if out.ExpiresIn <= 0 {
		return Token{}, fmt.Errorf("sso: %s: the token answer has no lifetime", c.session)
	}
	t := Token{
		StartURL:    c.session.StartURL,
		Region:      c.session.Region,
		AccessToken: *out.AccessToken,
		// Measured from when the call was made: the token cannot
		// have been issued earlier.
		ExpiresAt:             asked.Add(time.Duration(out.ExpiresIn) * time.Second).UTC().Truncate(time.Second),
		ClientID:              r.ClientID,
		ClientSecret:          r.ClientSecret,
		RegistrationExpiresAt: r.expires(),
		RefreshToken:          oldRefresh,
	}
	if out.RefreshToken != nil && *out.RefreshToken != "" {
		t.RefreshToken = *out.RefreshToken
	}
	if err := WriteCache(c.CachePath(), t); err != nil {
		return Token{}, err
	}
	return t, nil
}

// Refresh trades the cached refresh token for a new access token and
// writes it to the cache. It re-reads the cache first: botocore and
// aws-sdk-go-v2 refresh the same file and rotate the refresh token, so a
// copy held in memory would be stale. When the service refuses the
// refresh token and the file changed meanwhile (someone else refreshed
// first), the file's token is returned. Errors only a new login fixes
// match ErrLoginRequired; the cache file is never changed by a failure.
func (c *Client) Refresh(ctx context.Context) (Token, error) {
	t, err := c.Cached()
	if errors.Is(err, ErrNoCache) {
		return Token{}, c.loginRequired("nobody has logged in on this machine")
	}
	if err != nil {
		return Token{}, err
	}
	now := c.now()
	switch {
	case t.RefreshToken == "":
		return Token{}, c.loginRequired("the cached login has no refresh token (log in with this agent to get one)")
	case t.ClientID == "" || t.ClientSecret == "":
		return Token{}, c.loginRequired("the cached login has no client registration")
	case !t.RegistrationExpiresAt.IsZero() && !t.RegistrationExpiresAt.After(now):
		return Token{}, c.loginRequired("the client registration expired at " + t.RegistrationExpiresAt.Format(time.RFC3339))
	}
	out, err := c.oidc.CreateToken(ctx, &ssooidc.CreateTokenInput{
		ClientId:     aws.String(t.ClientID),
		ClientSecret: aws.String(t.ClientSecret),
		GrantType:    aws.String(grantRefreshToken),
		RefreshToken: aws.String(t.RefreshToken),
	})
	if err != nil {
		if !refusedGrant(err) {
			return Token{}, fmt.Errorf("sso: %s: refresh: %w", c.session, err)
		}
		if now2, err2 := c.Cached(); err2 == nil && now2.RefreshToken != t.RefreshToken && now2.ExpiresAt.After(c.now()) {
			return now2, nil
		}
		return Token{}, c.loginRequired("the service refused the refresh token (" + apiErrorCode(err) + ")")
	}
	r := registration{ClientID: t.ClientID, ClientSecret: t.ClientSecret}
	if !t.RegistrationExpiresAt.IsZero() {
		r.ExpiresAt = t.RegistrationExpiresAt.Format(CacheTimeFormat)
	}
	return c.saveLogin(r, out, now, t.RefreshToken)
}

func (c *Client) loginRequired(reason string) error {
	return &LoginRequiredError{Session: c.session.String(), Reason: reason, loginFlags: c.session.LoginFlags()}
}

// refusedGrant reports whether the service said the refresh token or the
// client can no longer be used.
func refusedGrant(err error) bool {
	switch apiErrorCode(err) {
	case "InvalidGrantException", "ExpiredTokenException", "InvalidClientException",
		"UnauthorizedClientException", "AccessDeniedException":
		return true
	}
	return false
}

func apiErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// Logout ends the session at the portal and removes its cached token.
// A token the portal no longer accepts is removed all the same.
func (c *Client) Logout(ctx context.Context) error {
	t, err := c.Cached()
	if errors.Is(err, ErrNoCache) {
		return nil
	}
	var cfe *CacheFileError
	if err != nil && !errors.As(err, &cfe) {
		return err
	}
	if err == nil && t.ExpiresAt.After(c.now()) {
		_, err := c.portal.Logout(ctx, &sso.LogoutInput{AccessToken: aws.String(t.AccessToken)})
		if err != nil && apiErrorCode(err) != "UnauthorizedException" {
			return fmt.Errorf("sso: %s: log out at the portal: %w", c.session, err)
		}
	}
	if err := os.Remove(c.CachePath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("sso: %s: remove cached token: %w", c.session, err)
	}
	return nil
}
