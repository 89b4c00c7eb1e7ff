package sso

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"

	"github.com/aws-sso-agent/aws-sso-agent/internal/ssofake"
)

// testEnv gives the SDK's config loading a clean environment: this
// machine exports AWS_CA_BUNDLE and friends.
func testEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "AWS_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	t.Setenv("HOME", t.TempDir())
}

// fixture is a fake IAM Identity Center with a config file whose
// [services] section points an sso-session's profile at it.
type fixture struct {
	fake     *ssofake.Server
	config   string
	cacheDir string
}

func newFixture(t *testing.T, cfg ssofake.Config) *fixture {
	t.Helper()
	testEnv(t)
	fake := ssofake.Start(cfg)
	t.Cleanup(fake.Close)
	dir := t.TempDir()
	f := &fixture{fake: fake, config: filepath.Join(dir, "config"), cacheDir: filepath.Join(dir, "cache")}
	text := `[profile dev]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Admin
services = fake

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-west-1
sso_registration_scopes = sso:account:access

[services fake]
sso_oidc =
  endpoint_url = ` + fake.URL + `
sso =
  endpoint_url = ` + fake.URL + `
`
	if err := os.WriteFile(f.config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) client(t *testing.T) *Client {
	t.Helper()
	s, err := LoadSession(f.config, "", "dev")
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(context.Background(), ClientConfig{Session: s, ConfigFile: f.config, CacheDir: f.cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// followBrowser plays the browser: it loads the URL and follows the
// redirects, to the agent's loopback listener in the end.
type followBrowser struct {
	rewrite func(u *url.URL) // changes the authorize URL first, if set
	mu      sync.Mutex
	opened  []string
	pages   []int
}

func (b *followBrowser) Open(u string) error {
	b.mu.Lock()
	b.opened = append(b.opened, u)
	b.mu.Unlock()
	p, err := url.Parse(u)
	if err != nil {
		return err
	}
	if b.rewrite != nil {
		b.rewrite(p)
	}
	go func() {
		resp, err := http.Get(p.String())
		if err == nil {
			resp.Body.Close()
			b.mu.Lock()
			b.pages = append(b.pages, resp.StatusCode)
			b.mu.Unlock()
		}
	}()
	return nil
}

type recordPrompt struct {
	mu        sync.Mutex
	browse    []string
	userCodes []string
	onDevice  func(uri, code string)
}

func (p *recordPrompt) Browse(url string, opened bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.browse = append(p.browse, url)
}

func (p *recordPrompt) Device(uri, code string, opened bool) {
	p.mu.Lock()
	p.userCodes = append(p.userCodes, code)
	p.mu.Unlock()
	if p.onDevice != nil {
		p.onDevice(uri, code)
	}
}

func TestLoginPKCE(t *testing.T) {
	f := newFixture(t, ssofake.Config{})
	c := f.client(t)
	b := &followBrowser{}
	tok, err := c.Login(context.Background(), LoginOptions{Browser: b, Prompt: &recordPrompt{}})
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if !f.fake.OIDC.Valid(tok.AccessToken) {
		t.Errorf("the access token is not one the service issued")
	}
	if tok.RefreshToken == "" {
		t.Errorf("no refresh token: the registration had scopes, so the service issues one")
	}
	u, _ := url.Parse(b.opened[0])
	q := u.Query()
	if got, want := u.Path, "/authorize"; got != want {
		t.Errorf("browser opened path %s, want %s", got, want)
	}
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("state") == "" {
		t.Errorf("authorize query %v: want S256 with a 43-character challenge and a state", q)
	}
	if r := q.Get("redirect_uri"); !strings.HasPrefix(r, "http://127.0.0.1:") || !strings.HasSuffix(r, "/oauth/callback") {
		t.Errorf("redirect_uri %q: want http://127.0.0.1:PORT/oauth/callback", r)
	}
	if got, want := q.Get("scopes"), "sso:account:access"; got != want {
		t.Errorf("scopes %q, want %q", got, want)
	}
	assertCache(t, c.CachePath(), tok)

	// A second login reuses the cached registration.
	if _, err := c.Login(context.Background(), LoginOptions{Browser: &followBrowser{}, Prompt: &recordPrompt{}}); err != nil {
		t.Fatalf("second Login: %v", err)
	}
	if got := f.fake.OIDC.Calls(ssofake.OpRegisterClient); got != 1 {
		t.Errorf("RegisterClient called %d times for two logins, want 1 (cached registration)", got)
	}
}

// assertCache checks the file AWS CLI v2 would write: 0600, the eight
// fields, the token's values.
func assertCache(t *testing.T, path string, want Token) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("cache file mode %04o, want 0600", fi.Mode().Perm())
	}
	got, err := ReadCache(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("cache holds %+v, want %+v", redact(got), redact(want))
	}
}

func redact(t Token) Token {
	for _, s := range []*string{&t.AccessToken, &t.RefreshToken, &t.ClientSecret} {
		if *s != "" {
			*s = "[" + (*s)[:4] + "…]"
		}
	}
	return t
}

func TestLoginPKCEWrongState(t *testing.T) {
	f := newFixture(t, ssofake.Config{})
	c := f.client(t)
	good, err := c.Login(context.Background(), LoginOptions{Browser: &followBrowser{}, Prompt: &recordPrompt{}})
	if err != nil {
		t.Fatal(err)
	}
	b := &followBrowser{rewrite: func(u *url.URL) {
		q := u.Query()
		q.Set("state", "forged-"+q.Get("state"))
		u.RawQuery = q.Encode()
	}}
	_, err = c.Login(context.Background(), LoginOptions{Browser: b, Prompt: &recordPrompt{}})
	if !errors.Is(err, ErrWrongState) {
		t.Fatalf("Login with a forged state: %v, want ErrWrongState", err)
	}
	assertCache(t, c.CachePath(), good)
}

func TestLoginPKCEDenied(t *testing.T) {
	f := newFixture(t, ssofake.Config{OIDC: ssofake.OIDCConfig{DenyAuthorize: true}})
	c := f.client(t)
	_, err := c.Login(context.Background(), LoginOptions{Browser: &followBrowser{}, Prompt: &recordPrompt{}})
	if err == nil || !strings.Contains(err.Error(), "access_denied") {
		t.Fatalf("Login denied in the browser: %v, want an error naming access_denied", err)
	}
	if _, err := os.Stat(c.CachePath()); !os.IsNotExist(err) {
		t.Errorf("a denied login left a cache file: %v", err)
	}
}

func TestLoginDevice(t *testing.T) {
	f := newFixture(t, ssofake.Config{})
	c := f.client(t)
	f.fake.OIDC.SlowDown(1)
	p := &recordPrompt{onDevice: func(uri, code string) {
		// The person approves after the client has polled once.
		go func() {
			for f.fake.OIDC.Calls(ssofake.OpCreateToken) < 1 {
				time.Sleep(10 * time.Millisecond)
			}
			f.fake.OIDC.ApproveDevice(code)
		}()
	}}
	tok, err := c.Login(context.Background(), LoginOptions{DeviceCode: true, Prompt: p})
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if len(p.userCodes) != 1 || len(p.userCodes[0]) != 9 {
		t.Errorf("prompted with user codes %q, want one of 9 characters", p.userCodes)
	}
	if got := f.fake.OIDC.Calls(ssofake.OpCreateToken); got < 2 {
		t.Errorf("CreateToken called %d times: want a slow_down answer then the token", got)
	}
	if tok.RefreshToken == "" {
		t.Error("no refresh token")
	}
	assertCache(t, c.CachePath(), tok)
}

func TestLoginFallsBackToDeviceWithoutBrowser(t *testing.T) {
	f := newFixture(t, ssofake.Config{})
	c := f.client(t)
	p := &recordPrompt{onDevice: func(_, code string) { f.fake.OIDC.ApproveDevice(code) }}
	noBrowser := SystemBrowser{Getenv: func(string) string { return "" }}
	if _, err := c.Login(context.Background(), LoginOptions{Browser: noBrowser, Prompt: p}); err != nil {
		t.Fatalf("Login: %v", err)
	}
	if len(p.userCodes) != 1 || len(p.browse) != 0 {
		t.Errorf("prompts: browse %d, device %d; want the device code only", len(p.browse), len(p.userCodes))
	}
}

func TestLoginDeviceExpires(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := newFixture(t, ssofake.Config{OIDC: ssofake.OIDCConfig{Now: clock}})
	c := f.client(t)
	// Nobody approves, and the fake's clock passes the code's expiry.
	p := &recordPrompt{onDevice: func(string, string) { mu.Lock(); now = now.Add(time.Hour); mu.Unlock() }}
	_, err := c.Login(context.Background(), LoginOptions{DeviceCode: true, Prompt: p})
	if err == nil || !strings.Contains(err.Error(), "device code expired") {
		t.Fatalf("Login: %v, want the device code expired", err)
	}
}

func TestRefreshRotates(t *testing.T) {
	f := newFixture(t, ssofake.Config{})
	c := f.client(t)
	first, err := c.Login(context.Background(), LoginOptions{Browser: &followBrowser{}, Prompt: &recordPrompt{}})
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Refresh(context.Background())
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if second.AccessToken == first.AccessToken || second.RefreshToken == first.RefreshToken {
		t.Errorf("refresh kept the old access or refresh token")
	}
	assertCache(t, c.CachePath(), second)

	// Another SDK refreshes behind our back and rotates the refresh
	// token, as botocore does: our next refresh must use the file's.
	other := ssooidc.New(ssooidc.Options{Region: "eu-west-1", BaseEndpoint: aws.String(f.fake.URL)})
	out, err := other.CreateToken(context.Background(), &ssooidc.CreateTokenInput{
		ClientId: aws.String(second.ClientID), ClientSecret: aws.String(second.ClientSecret),
		GrantType: aws.String("refresh_token"), RefreshToken: aws.String(second.RefreshToken),
	})
	if err != nil {
		t.Fatal(err)
	}
	third := second
	third.AccessToken, third.RefreshToken = *out.AccessToken, *out.RefreshToken
	if err := WriteCache(c.CachePath(), third); err != nil {
		t.Fatal(err)
	}
	fourth, err := c.Refresh(context.Background())
	if err != nil {
		t.Fatalf("Refresh after another client rotated the token: %v", err)
	}
	if !f.fake.OIDC.Valid(fourth.AccessToken) {
		t.Error("refreshed token not valid")
	}
}

func TestRefreshRevoked(t *testing.T) {
	f := newFixture(t, ssofake.Config{})
	c := f.client(t)
	good, err := c.Login(context.Background(), LoginOptions{Browser: &followBrowser{}, Prompt: &recordPrompt{}})
	if err != nil {
		t.Fatal(err)
	}
	f.fake.OIDC.RevokeRefreshTokens()
	_, err = c.Refresh(context.Background())
	var lre *LoginRequiredError
	if !errors.Is(err, ErrLoginRequired) || !errors.As(err, &lre) {
		t.Fatalf("Refresh with a revoked refresh token: %v, want ErrLoginRequired", err)
	}
	if got, want := lre.Hint(), "run: aws-sso-agent login --sso-session corp"; got != want {
		t.Errorf("hint %q, want %q", got, want)
	}
	if strings.Contains(err.Error(), good.RefreshToken) || strings.Contains(err.Error(), good.AccessToken) {
		t.Errorf("error %q quotes a token", err)
	}
	assertCache(t, c.CachePath(), good)
}

func TestRefreshNoLogin(t *testing.T) {
	f := newFixture(t, ssofake.Config{})
	_, err := f.client(t).Refresh(context.Background())
	if !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("Refresh with no cache: %v, want ErrLoginRequired", err)
	}
}

func TestLogout(t *testing.T) {
	f := newFixture(t, ssofake.Config{})
	c := f.client(t)
	tok, err := c.Login(context.Background(), LoginOptions{Browser: &followBrowser{}, Prompt: &recordPrompt{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Logout(context.Background()); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if !f.fake.Portal.LoggedOut(tok.AccessToken) {
		t.Error("the portal was not told")
	}
	if _, err := os.Stat(c.CachePath()); !os.IsNotExist(err) {
		t.Errorf("cache file still there: %v", err)
	}
}

func TestEndpointFromEnvironment(t *testing.T) {
	f := newFixture(t, ssofake.Config{})
	// No profile, so no services section: the variable alone.
	t.Setenv("AWS_ENDPOINT_URL_SSO_OIDC", f.fake.URL)
	s, err := LoadSession(f.config, "corp", "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(context.Background(), ClientConfig{Session: s, ConfigFile: f.config, CacheDir: f.cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(context.Background(), LoginOptions{Browser: &followBrowser{}, Prompt: &recordPrompt{}}); err != nil {
		t.Fatalf("Login through AWS_ENDPOINT_URL_SSO_OIDC: %v", err)
	}
}

func TestDefaultEndpoint(t *testing.T) {
	testEnv(t)
	c, err := NewClient(context.Background(), ClientConfig{
		Session:    Session{Name: "x", StartURL: "https://d-1234567890.awsapps.com/start", Region: "ap-southeast-2"},
		ConfigFile: filepath.Join(t.TempDir(), "none"),
		CacheDir:   t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.oidcBase, "https://oidc.ap-southeast-2.amazonaws.com"; got != want {
		t.Errorf("oidc endpoint %s, want %s", got, want)
	}
}

// TestEndpointErrors: an error answer from each OIDC operation ends the
// login or refresh with an error naming the operation and the service's
// exception, and leaves the cached token as it was. (Errors of 500 are
// retried by the SDK, so a single one is not seen.)
func TestEndpointErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		op        string
		status    int
		errorType string
		device    bool
		refresh   bool
		wantInErr string
		wantLogin bool // the error matches ErrLoginRequired
	}{
		{"register", ssofake.OpRegisterClient, 400, "InvalidClientMetadataException", false, false, "register client", false},
		{"device authorization", ssofake.OpStartDeviceAuthorization, 401, "InvalidClientException", true, false, "start device authorization", false},
		{"code exchange", ssofake.OpCreateToken, 400, "InvalidGrantException", false, false, "exchange the code", false},
		{"device token", ssofake.OpCreateToken, 400, "AccessDeniedException", true, false, "AccessDeniedException", false},
		{"refresh, bad request", ssofake.OpCreateToken, 400, "InvalidRequestException", false, true, "refresh", false},
		{"refresh, refused", ssofake.OpCreateToken, 400, "InvalidGrantException", false, true, "InvalidGrantException", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, ssofake.Config{})
			c := f.client(t)
			good, err := c.Login(context.Background(), LoginOptions{Browser: &followBrowser{}, Prompt: &recordPrompt{}})
			if err != nil {
				t.Fatal(err)
			}
			// A fresh registration, so the register call is made.
			os.Remove(c.registrationPath([]string{grantAuthorizationCode, grantRefreshToken}))
			f.fake.OIDC.Fail(tc.op, tc.status, tc.errorType, "")
			switch {
			case tc.refresh:
				_, err = c.Refresh(context.Background())
			case tc.device:
				p := &recordPrompt{onDevice: func(_, code string) { f.fake.OIDC.ApproveDevice(code) }}
				_, err = c.Login(context.Background(), LoginOptions{DeviceCode: true, Prompt: p})
			default:
				_, err = c.Login(context.Background(), LoginOptions{Browser: &followBrowser{}, Prompt: &recordPrompt{}})
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantInErr) {
				t.Fatalf("error %v, want one naming %q", err, tc.wantInErr)
			}
			if got := errors.Is(err, ErrLoginRequired); got != tc.wantLogin {
				t.Errorf("errors.Is(ErrLoginRequired) = %v, want %v", got, tc.wantLogin)
			}
			assertCache(t, c.CachePath(), good)
		})
	}
}

func TestSessionLoginFlags(t *testing.T) {
	for _, tc := range []struct {
		s    Session
		want string
	}{
		{Session{Name: "corp", Profile: "dev", StartURL: "https://x"}, "--sso-session corp"},
		{Session{Profile: "legacy", StartURL: "https://x"}, "--profile legacy"},
		{Session{StartURL: "https://x"}, ""},
	} {
		if got := tc.s.LoginFlags(); got != tc.want {
			t.Errorf("%v.LoginFlags() = %q, want %q", tc.s, got, tc.want)
		}
	}
}
