package sso

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
)

// DefaultLoginTimeout bounds a login: the AWS CLI gives the person ten
// minutes, the lifetime of a device code (StartDeviceAuthorization's
// expiresIn is 600).
const DefaultLoginTimeout = 10 * time.Minute

// redirectPath is the loopback redirect's path, and the port-less
// redirect URI the AWS CLI v2 registers (RFC 8252 7.3: the service
// accepts any port on the loopback address).
const (
	redirectPath       = "/oauth/callback"
	registeredRedirect = "http://127.0.0.1" + redirectPath
)

// Prompter tells the person what to do during a login. A CLI prints; the
// agent logs. Neither ever receives a token.
type Prompter interface {
	// Browse says to open url to approve the login; opened says whether
	// a browser was started with it.
	Browse(url string, opened bool)
	// Device says to open verificationURI and enter userCode there
	// (the current device page no longer shows the code itself).
	Device(verificationURI, userCode string, opened bool)
}

// LoginOptions say how to log in.
type LoginOptions struct {
	// DeviceCode uses the device code grant instead of the default, the
	// authorization code grant with PKCE.
	DeviceCode bool
	// Browser opens URLs; nil only prints them (--no-browser). When the
	// browser cannot be opened (ErrNoBrowser), the login falls back to
	// the device code grant, which works from another machine.
	Browser Browser
	Prompt  Prompter
	// Timeout bounds the whole login; zero means DefaultLoginTimeout.
	Timeout time.Duration
}

// Login logs in interactively and writes the session's token cache. Only
// a successful login touches the cache file.
func (c *Client) Login(ctx context.Context, o LoginOptions) (Token, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultLoginTimeout
	}
	if o.Prompt == nil {
		return Token{}, errors.New("sso: login: nobody to tell what to do (no Prompter)")
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if o.DeviceCode {
		return c.loginDevice(ctx, o)
	}
	t, err := c.loginPKCE(ctx, o)
	if errors.Is(err, ErrNoBrowser) {
		return c.loginDevice(ctx, LoginOptions{Prompt: o.Prompt})
	}
	return t, err
}

// pkceVerifier makes a code verifier of 64 characters of the unreserved
// set (RFC 7636 4.1 allows 43 to 128; 64 is the AWS CLI's length).
func pkceVerifier() (string, error) {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
	// Bytes of 198 and above are dropped, so every character is as
	// likely (198 = 3*66).
	const limit = 3 * len(chars)
	out := make([]byte, 0, 64)
	var b [96]byte
	for len(out) < 64 {
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		for _, x := range b {
			if int(x) < limit && len(out) < 64 {
				out = append(out, chars[int(x)%len(chars)])
			}
		}
	}
	return string(out), nil
}

// PKCEChallenge is the S256 code challenge of a verifier (RFC 7636 4.2).
func PKCEChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func randomState() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// redirectResult is what the loopback listener received.
type redirectResult struct {
	code string
	err  error
}

func (c *Client) loginPKCE(ctx context.Context, o LoginOptions) (Token, error) {
	// 127.0.0.1, not localhost: the registered redirect names the
	// address, and localhost may resolve to ::1 first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Token{}, fmt.Errorf("sso: %s: listen for the browser's redirect: %w", c.session, err)
	}
	defer ln.Close()
	redirectURI := fmt.Sprintf("http://127.0.0.1:%d%s", ln.Addr().(*net.TCPAddr).Port, redirectPath)

	r, err := c.register(ctx, []string{grantAuthorizationCode, grantRefreshToken}, registeredRedirect)
	if err != nil {
		return Token{}, err
	}
	verifier, err := pkceVerifier()
	if err != nil {
		return Token{}, err
	}
	state, err := randomState()
	if err != nil {
		return Token{}, err
	}
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {r.ClientID},
		"redirect_uri":          {redirectURI},
		"state":                 {state},
		"code_challenge_method": {"S256"},
		"scopes":                {strings.Join(c.session.Scopes, " ")},
		"code_challenge":        {PKCEChallenge(verifier)},
	}
	authorize := c.oidcBase + "/authorize?" + q.Encode()

	results := make(chan redirectResult, 1)
	srv := &http.Server{
		Handler:           redirectHandler(state, results),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go srv.Serve(ln)
	defer srv.Close()

	opened := false
	if o.Browser != nil {
		if err := o.Browser.Open(authorize); err != nil {
			if errors.Is(err, ErrNoBrowser) {
				return Token{}, err
			}
		} else {
			opened = true
		}
	}
	o.Prompt.Browse(authorize, opened)

	var res redirectResult
	select {
	case res = <-results:
	case <-ctx.Done():
		return Token{}, fmt.Errorf("sso: %s: login: no redirect from the browser: %w", c.session, ctx.Err())
	}
	if res.err != nil {
		return Token{}, fmt.Errorf("sso: %s: login: %w", c.session, res.err)
	}
	asked := c.now()
	out, err := c.oidc.CreateToken(ctx, &ssooidc.CreateTokenInput{
		ClientId:     aws.String(r.ClientID),
		ClientSecret: aws.String(r.ClientSecret),
		GrantType:    aws.String(grantAuthorizationCode),
		Code:         aws.String(res.code),
		CodeVerifier: aws.String(verifier),
		RedirectUri:  aws.String(redirectURI),
	})
	if err != nil {
		return Token{}, fmt.Errorf("sso: %s: login: exchange the code: %w", c.session, err)
	}
	return c.saveLogin(r, out, asked, "")
}

// ErrWrongState is the redirect of another login (a stale tab) or a
// forged one: its state is not the one this login sent.
var ErrWrongState = errors.New("the browser's redirect carried the wrong state (a stale or forged login page); nothing was saved")

// redirectHandler takes the one redirect of a login: the first request to
// redirectPath ends the login, with a code only if its state matches.
func redirectHandler(state string, results chan<- redirectResult) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+redirectPath, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var res redirectResult
		switch {
		case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1:
			res.err = ErrWrongState
		case q.Get("error") != "":
			res.err = fmt.Errorf("the service refused the login: %s", printable(q.Get("error"), 64))
		case q.Get("code") == "":
			res.err = errors.New("the browser's redirect carried no code")
		default:
			res.code = q.Get("code")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		msg := "You are logged in. You can close this window."
		if res.err != nil {
			w.WriteHeader(http.StatusBadRequest)
			msg = "The login failed: " + res.err.Error()
		}
		fmt.Fprintf(w, "<!doctype html><title>aws-sso-agent</title><p>%s</p>\n", html.EscapeString(msg))
		select {
		case results <- res:
		default: // a second redirect: the login is already decided
		}
	})
	return mux
}

// printable keeps at most n printable ASCII characters of s, for text
// from the network that ends up in an error message.
func printable(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= n {
			break
		}
		if r >= ' ' && r <= '~' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// loginDevice logs in with the device code grant (RFC 8628), as the AWS
// CLI does: start, tell the person, poll at the interval the service
// says, five seconds slower after each slow_down.
func (c *Client) loginDevice(ctx context.Context, o LoginOptions) (Token, error) {
	r, err := c.register(ctx, nil, "")
	if err != nil {
		return Token{}, err
	}
	da, err := c.oidc.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{
		ClientId:     aws.String(r.ClientID),
		ClientSecret: aws.String(r.ClientSecret),
		StartUrl:     aws.String(c.session.StartURL),
	})
	if err != nil {
		return Token{}, fmt.Errorf("sso: %s: start device authorization: %w", c.session, err)
	}
	if da.DeviceCode == nil || da.UserCode == nil || da.VerificationUri == nil {
		return Token{}, fmt.Errorf("sso: %s: start device authorization: the answer lacks the device code, user code or url", c.session)
	}
	if da.ExpiresIn > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(da.ExpiresIn)*time.Second)
		defer cancel()
	}
	opened := false
	if o.Browser != nil && da.VerificationUriComplete != nil {
		opened = o.Browser.Open(*da.VerificationUriComplete) == nil
	}
	o.Prompt.Device(*da.VerificationUri, *da.UserCode, opened)

	interval := time.Duration(da.Interval) * time.Second
	if interval <= 0 {
		interval = 5 * time.Second // RFC 8628 3.2's default
	}
	for {
		asked := c.now()
		out, err := c.oidc.CreateToken(ctx, &ssooidc.CreateTokenInput{
			ClientId:     aws.String(r.ClientID),
			ClientSecret: aws.String(r.ClientSecret),
			GrantType:    aws.String(grantDeviceCode),
			DeviceCode:   da.DeviceCode,
		})
		if err == nil {
			return c.saveLogin(r, out, asked, "")
		}
		switch apiErrorCode(err) {
		case "AuthorizationPendingException":
		case "SlowDownException":
			interval += 5 * time.Second // RFC 8628 3.5
		case "ExpiredTokenException":
			return Token{}, fmt.Errorf("sso: %s: login: the device code expired before it was approved; log in again", c.session)
		default:
			if ctx.Err() != nil {
				return Token{}, fmt.Errorf("sso: %s: login: the device code was not approved in time: %w", c.session, ctx.Err())
			}
			return Token{}, fmt.Errorf("sso: %s: login: %w", c.session, err)
		}
		t := time.NewTimer(interval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return Token{}, fmt.Errorf("sso: %s: login: the device code was not approved in time: %w", c.session, ctx.Err())
		}
	}
}
