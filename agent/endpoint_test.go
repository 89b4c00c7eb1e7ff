package agent

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// endpointTestSource is a CredentialsSource serving fixed answers.
type endpointTestSource struct {
	mu    sync.Mutex
	creds map[string]Credentials
	errs  map[string]error
}

func (s *endpointTestSource) Credentials(_ context.Context, slot string) (Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err, ok := s.errs[slot]; ok {
		return Credentials{}, err
	}
	c, ok := s.creds[slot]
	if !ok {
		return Credentials{}, fmt.Errorf("slot %q: %w", slot, ErrNoSlot)
	}
	return c, nil
}

var endpointTestNow = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

func endpointTestCreds(slot string) Credentials {
	return Credentials{
		AccessKeyID:     "ASIA" + strings.ToUpper(strings.ReplaceAll(slot, "/", "_")) + "EXAMPLE",
		SecretAccessKey: "secret-" + slot,
		SessionToken:    "session-token-" + slot,
		Expires:         endpointTestNow.Add(time.Hour),
		AccountID:       "123456789012",
		RoleARN:         "arn:aws:iam::123456789012:role/" + slot,
	}
}

func endpointTestSourceWith(slots ...string) *endpointTestSource {
	s := &endpointTestSource{creds: map[string]Credentials{}, errs: map[string]error{}}
	for _, n := range slots {
		s.creds[n] = endpointTestCreds(n)
	}
	return s
}

// endpointTestCert returns a server certificate for localhost, 127.0.0.1
// and ::1, self-signed, and a pool trusting it. rsaBits 0 means ECDSA P-256.
func endpointTestCert(t testing.TB, rsaBits int) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	cert, err := endpointNewCert(rsaBits)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	return cert, pool
}

// endpointNewCert is endpointTestCert for callers without a testing.TB.
func endpointNewCert(rsaBits int) (tls.Certificate, error) {
	var key crypto.Signer
	var err error
	if rsaBits > 0 {
		key, err = rsa.GenerateKey(rand.Reader, rsaBits)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "aws-sso-agent endpoint test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

type endpointTestEnv struct {
	e      *Endpoint
	tokens *Tokens
	source *endpointTestSource
	token  string // the local token, all slots
	url    string // http://127.0.0.1:PORT
	addr   string
	pool   *x509.CertPool
}

func endpointTestStart(t *testing.T, mutate func(*EndpointConfig)) *endpointTestEnv {
	t.Helper()
	cert, pool := endpointTestCert(t, 0)
	env := &endpointTestEnv{tokens: NewTokens(), source: endpointTestSourceWith("", "dev", "a/b"), pool: pool}
	tok, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	env.token = tok
	env.tokens.Add(tok, Grant{})
	cfg := EndpointConfig{
		Source:    env.source,
		Tokens:    env.tokens,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Logger:    slog.New(slog.NewTextHandler(&endpointTestLog{t: t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:       func() time.Time { return endpointTestNow },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	env.e, err = NewEndpoint(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env.addr = l.Addr().String()
	env.url = "http://" + env.addr
	done := make(chan error, 1)
	go func() { done <- env.e.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := env.e.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	})
	return env
}

// endpointTestLog collects log lines (t.Log would panic on lines written
// after the test ends).
type endpointTestLog struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
}

func (l *endpointTestLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(p))
	return len(p), nil
}

type endpointTestError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// endpointTestCheckError checks that resp is a JSON error with code.
func endpointTestCheckError(t *testing.T, resp *http.Response, status int, code string) {
	t.Helper()
	defer resp.Body.Close()
	if resp.StatusCode != status {
		t.Errorf("status: got %d, want %d", resp.StatusCode, status)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type: got %q, want application/json", got)
	}
	var e endpointTestError
	dec := json.NewDecoder(resp.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body is not {code,message} JSON: %v", err)
	}
	if e.Code != code {
		t.Errorf("code: got %q, want %q (message %q)", e.Code, code, e.Message)
	}
	if e.Message == "" {
		t.Errorf("empty message for code %q", e.Code)
	}
}

// endpointTestGet fetches credentials and checks them.
func endpointTestGet(t *testing.T, c *http.Client, url, token, slot string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: status %d, body %s", url, resp.StatusCode, body)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type: got %q, want application/json", got)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", got)
	}
	var got map[string]string
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	want := endpointTestCreds(slot)
	wantMap := map[string]string{
		"AccessKeyId":     want.AccessKeyID,
		"SecretAccessKey": want.SecretAccessKey,
		"Token":           want.SessionToken,
		"Expiration":      want.Expires.UTC().Format(time.RFC3339),
		"AccountId":       want.AccountID,
		"RoleArn":         want.RoleARN,
	}
	if fmt.Sprint(got) != fmt.Sprint(wantMap) {
		t.Errorf("body: got %v, want %v", got, wantMap)
	}
	if !strings.HasSuffix(got["Expiration"], "Z") {
		t.Errorf("Expiration %q does not end in Z", got["Expiration"])
	}
}

func TestEndpointServesCredentials(t *testing.T) {
	env := endpointTestStart(t, nil)
	c := &http.Client{}
	endpointTestGet(t, c, env.url+"/", env.token, "")
	endpointTestGet(t, c, env.url+"/", "Bearer "+env.token, "")
	endpointTestGet(t, c, env.url+"/", "bearer "+env.token, "")
	endpointTestGet(t, c, env.url+"/slot/dev", env.token, "dev")
	endpointTestGet(t, c, env.url+"/slot/a%2Fb", env.token, "a/b")
	endpointTestGet(t, c, "http://localhost:"+strings.Split(env.addr, ":")[1]+"/", env.token, "")

	// HEAD: headers only.
	req, _ := http.NewRequest("HEAD", env.url+"/", nil)
	req.Header.Set("Authorization", env.token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("HEAD: got %d, want 200", resp.StatusCode)
	}
}

func TestEndpointRefusesBadRequests(t *testing.T) {
	env := endpointTestStart(t, func(c *EndpointConfig) {
		c.FailureRate = rate.Inf // rate limiting has its own test
	})
	sessionToken, _ := NewToken()
	env.tokens.Add(sessionToken, Grant{SessionID: "s1"})
	narrow, _ := NewToken()
	env.tokens.Add(narrow, Grant{Slots: []string{"dev"}})
	revoked, _ := NewToken()
	env.tokens.Add(revoked, Grant{})
	env.tokens.Revoke(revoked)
	env.source.errs["broken"] = &UnavailableError{Slot: "broken", Reason: "refresh failed: token expired", Hint: "run: aws sso login --profile dev, then reload"}
	env.source.errs["boom"] = errors.New("internal detail")
	env.source.creds["old"] = Credentials{AccessKeyID: "A", SecretAccessKey: "S", Expires: endpointTestNow.Add(-time.Minute)}

	tests := []struct {
		name   string
		method string
		path   string
		auth   string // "-" for none
		hdr    map[string]string
		host   string
		body   string
		status int
		code   string
	}{
		{name: "no token", path: "/", auth: "-", status: 401, code: "missing_token"},
		{name: "empty token", path: "/", auth: "", status: 401, code: "missing_token"},
		{name: "wrong token", path: "/", auth: "nope", status: 401, code: "invalid_token"},
		{name: "bearer only", path: "/", auth: "Bearer ", status: 401, code: "missing_token"},
		{name: "bearer double space", path: "/", auth: "Bearer  TOKEN", status: 401, code: "token_whitespace"},
		{name: "revoked token", path: "/", auth: revoked, status: 401, code: "invalid_token"},
		{name: "session token on local channel", path: "/", auth: sessionToken, status: 401, code: "invalid_token"},
		{name: "slot outside grant", path: "/", auth: narrow, status: 403, code: "slot_not_granted"},
		{name: "10 KB path", path: "/slot/" + strings.Repeat("a", 10<<10), status: 414, code: "uri_too_long"},
		{name: "100 KB header", path: "/", hdr: map[string]string{"X-Big": strings.Repeat("b", 100<<10)}, status: 431, code: "headers_too_large"},
		{name: "evil origin", path: "/", hdr: map[string]string{"Origin": "https://evil.example"}, status: 403, code: "origin_forbidden"},
		{name: "null origin", path: "/", hdr: map[string]string{"Origin": "null"}, status: 403, code: "origin_forbidden"},
		{name: "evil host", path: "/", host: "attacker.example:4144", status: 403, code: "host_forbidden"},
		{name: "evil host no port", path: "/", host: "attacker.example", status: 403, code: "host_forbidden"},
		{name: "rebinding host 127.0.0.1.nip.io", path: "/", host: "127.0.0.1.nip.io:80", status: 403, code: "host_forbidden"},
		{name: "public IP host", path: "/", host: "169.254.169.254", status: 403, code: "host_forbidden"},
		{name: "POST", method: "POST", path: "/", status: 405, code: "method_not_allowed"},
		{name: "GET with a body", path: "/", body: "x=1", status: 413, code: "body_not_allowed"},
		{name: "HEAD unknown path", method: "HEAD", path: "/nope", status: 404},
		{name: "PUT", method: "PUT", path: "/slot/dev", status: 405, code: "method_not_allowed"},
		{name: "unknown path", path: "/latest/meta-data/", status: 404, code: "not_found"},
		{name: "empty slot", path: "/slot/", status: 404, code: "not_found"},
		{name: "extra segment", path: "/slot/a/b", status: 404, code: "not_found"},
		{name: "trailing slash", path: "/slot/dev/", status: 404, code: "not_found"},
		{name: "query", path: "/?x=1", status: 404, code: "not_found"},
		{name: "escaped control", path: "/slot/a%0Ab", status: 404, code: "not_found"},
		{name: "slot not loaded", path: "/slot/nothing", status: 404, code: "no_credentials"},
		{name: "slot unavailable", path: "/slot/broken", status: 503, code: "credentials_unavailable"},
		{name: "source error", path: "/slot/boom", status: 500, code: "source_error"},
		{name: "expired credentials", path: "/slot/old", status: 503, code: "credentials_expired"},
	}
	c := &http.Client{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req, err := http.NewRequest(method, env.url+tt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			switch tt.auth {
			case "-":
			case "":
				if tt.code != "missing_token" {
					req.Header.Set("Authorization", env.token)
				} else {
					req.Header["Authorization"] = []string{""}
				}
			default:
				req.Header.Set("Authorization", tt.auth)
			}
			for k, v := range tt.hdr {
				req.Header.Set(k, v)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if method == "HEAD" {
				// No body to parse: the status and content type still say it.
				resp.Body.Close()
				if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != "application/json" {
					t.Errorf("HEAD: got %d %q, want %d application/json", resp.StatusCode, resp.Header.Get("Content-Type"), tt.status)
				}
			} else {
				endpointTestCheckError(t, resp, tt.status, tt.code)
			}
			// The endpoint still serves a good request afterwards.
			endpointTestGet(t, c, env.url+"/slot/dev", env.token, "dev")
		})
	}
}

func TestEndpointUnavailableMessage(t *testing.T) {
	env := endpointTestStart(t, nil)
	env.source.errs["dev"] = &UnavailableError{Slot: "dev", Reason: "refresh failed: token expired", Hint: "run: aws sso login --profile dev, then reload"}
	req, _ := http.NewRequest("GET", env.url+"/slot/dev", nil)
	req.Header.Set("Authorization", env.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e endpointTestError
	json.NewDecoder(resp.Body).Decode(&e)
	for _, want := range []string{"refresh failed: token expired", "aws sso login --profile dev"} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("message %q does not contain %q", e.Message, want)
		}
	}

	// Other source errors stay in the agent's log: they may say more than
	// a client should learn.
	env.source.errs["dev"] = errors.New("sts: secret detail")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(b), "secret detail") {
		t.Errorf("source error leaked to the client: %s", b)
	}
}

// TestEndpointHandlerOnly covers inputs a real client cannot send, driving
// the handler directly.
func TestEndpointHandlerOnly(t *testing.T) {
	env := endpointTestStart(t, func(c *EndpointConfig) { c.FailureRate = rate.Inf })
	tests := []struct {
		name   string
		auth   string
		status int
		code   string
	}{
		{"token with trailing newline", env.token + "\n", 401, "token_whitespace"},
		{"token with trailing CRLF", env.token + "\r\n", 401, "token_whitespace"},
		{"token with leading space", " " + env.token, 401, "token_whitespace"},
		{"bearer token with newline", "Bearer " + env.token + "\n", 401, "token_whitespace"},
		{"good token", env.token, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "http://127.0.0.1:4144/", nil)
			req.Header["Authorization"] = []string{tt.auth}
			rec := httptest.NewRecorder()
			env.e.ServeHTTP(rec, req)
			if tt.status == 200 {
				if rec.Code != 200 {
					t.Fatalf("got %d, want 200: %s", rec.Code, rec.Body)
				}
				return
			}
			endpointTestCheckError(t, rec.Result(), tt.status, tt.code)
			if strings.Contains(rec.Body.String(), env.token) {
				t.Errorf("error body echoes the token")
			}
		})
	}
}

func TestEndpointSessionChannel(t *testing.T) {
	env := endpointTestStart(t, nil)
	sessionToken, _ := NewToken()
	env.tokens.Add(sessionToken, Grant{SessionID: "s1", Slots: []string{"dev"}})
	otherToken, _ := NewToken()
	env.tokens.Add(otherToken, Grant{SessionID: "s2"})

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go env.e.ServeChannel(l, "s1")
	url := "http://" + l.Addr().String()
	c := &http.Client{}

	endpointTestGet(t, c, url+"/slot/dev", sessionToken, "dev")
	for _, tt := range []struct {
		name, url, token, code string
		status                 int
	}{
		{"local token on session channel", url + "/slot/dev", env.token, "invalid_token", 401},
		{"other session's token", url + "/slot/dev", otherToken, "invalid_token", 401},
		{"session token on local channel", env.url + "/slot/dev", sessionToken, "invalid_token", 401},
		{"slot outside grant", url + "/", sessionToken, "slot_not_granted", 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", tt.url, nil)
			req.Header.Set("Authorization", tt.token)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			endpointTestCheckError(t, resp, tt.status, tt.code)
		})
	}

	// The session ends: its token dies, the local token lives.
	env.tokens.RevokeSession("s1")
	req, _ := http.NewRequest("GET", url+"/slot/dev", nil)
	req.Header.Set("Authorization", sessionToken)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	endpointTestCheckError(t, resp, 401, "invalid_token")
	endpointTestGet(t, c, env.url+"/slot/dev", env.token, "dev")
}

func TestEndpointRateLimit(t *testing.T) {
	env := endpointTestStart(t, func(c *EndpointConfig) {
		c.FailureRate = rate.Every(time.Hour)
		c.FailureBurst = 3
	})
	c := &http.Client{}
	bad := func() *http.Response {
		req, _ := http.NewRequest("GET", env.url+"/", nil)
		req.Header.Set("Authorization", "guess")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for i := 0; i < 3; i++ {
		endpointTestCheckError(t, bad(), 401, "invalid_token")
	}
	for i := 0; i < 5; i++ {
		resp := bad()
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After")
		}
		endpointTestCheckError(t, resp, 429, "rate_limited")
		// A valid token is served in the middle of the flood.
		endpointTestGet(t, c, env.url+"/", env.token, "")
	}
	// A valid token's own failure is reported as itself, not as 429.
	req, _ := http.NewRequest("GET", env.url+"/slot/nothing", nil)
	req.Header.Set("Authorization", env.token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	endpointTestCheckError(t, resp, 404, "no_credentials")
}

// endpointFakeListener hands out one prepared connection.
type endpointFakeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *endpointFakeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *endpointFakeListener) Close() error { l.once.Do(func() { close(l.done) }); return nil }
func (l *endpointFakeListener) Addr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 4144}
}

// endpointAddrConn is a pipe end with a chosen remote address.
type endpointAddrConn struct {
	net.Conn
	remote net.Addr
}

func (c *endpointAddrConn) RemoteAddr() net.Addr { return c.remote }

func TestEndpointPlainHTTPFromNetworkRefused(t *testing.T) {
	for _, tt := range []struct {
		name    string
		remote  net.Addr
		channel string
		status  int
	}{
		{"non-loopback peer", &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 5555}, "", 403},
		{"IPv6 non-loopback peer", &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 5555}, "", 403},
		{"loopback peer", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}, "", 200},
		{"session channel", &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 5555}, "s1", 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := endpointTestStart(t, nil)
			token := env.token
			if tt.channel != "" {
				token, _ = NewToken()
				env.tokens.Add(token, Grant{SessionID: tt.channel})
			}
			fl := &endpointFakeListener{conns: make(chan net.Conn, 1), done: make(chan struct{})}
			if tt.channel != "" {
				go env.e.ServeChannel(fl, tt.channel)
			} else {
				go env.e.Serve(fl)
			}
			server, client := net.Pipe()
			fl.conns <- &endpointAddrConn{Conn: server, remote: tt.remote}
			client.SetDeadline(time.Now().Add(10 * time.Second))
			go fmt.Fprintf(client, "GET / HTTP/1.1\r\nHost: 127.0.0.1:4144\r\nAuthorization: %s\r\n\r\n", token)
			resp, err := http.ReadResponse(bufio.NewReader(client), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.status == 200 {
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("got %d, want 200", resp.StatusCode)
				}
			} else {
				endpointTestCheckError(t, resp, tt.status, "tls_required")
			}
			client.Close()
		})
	}
}

func TestEndpointTLSAndPlainOnOnePort(t *testing.T) {
	env := endpointTestStart(t, nil)
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: env.pool}}}
	port := strings.Split(env.addr, ":")[1]
	for _, u := range []string{"https://127.0.0.1:" + port, "https://localhost:" + port} {
		endpointTestGet(t, tlsClient, u+"/slot/dev", env.token, "dev")
	}
	endpointTestGet(t, &http.Client{}, env.url+"/slot/dev", env.token, "dev")

	// TLS 1.1 is refused (docs/threat-model.md).
	conn, err := tls.Dial("tcp", env.addr, &tls.Config{RootCAs: env.pool, MaxVersion: tls.VersionTLS11, ServerName: "localhost"})
	if err == nil {
		conn.Close()
		t.Errorf("TLS 1.1 handshake succeeded")
	}
	// A client that does not trust the certificate fails its handshake.
	if _, err := (&http.Client{}).Get("https://" + env.addr + "/"); err == nil {
		t.Errorf("untrusted TLS request succeeded")
	}
	endpointTestGet(t, tlsClient, "https://"+env.addr+"/", env.token, "")
}

func TestEndpointNoTLSConfigClosesTLS(t *testing.T) {
	env := endpointTestStart(t, func(c *EndpointConfig) { c.TLSConfig = nil })
	_, err := tls.Dial("tcp", env.addr, &tls.Config{InsecureSkipVerify: true})
	if err == nil {
		t.Fatal("TLS handshake succeeded without a TLS config")
	}
	endpointTestGet(t, &http.Client{}, env.url+"/", env.token, "")
}

func TestEndpointLogsNoSecrets(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	env := endpointTestStart(t, func(c *EndpointConfig) {
		c.Logger = slog.New(slog.NewJSONHandler(endpointTestWriter(func(p []byte) {
			mu.Lock()
			buf.Write(p)
			mu.Unlock()
		}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	c := &http.Client{}
	endpointTestGet(t, c, env.url+"/slot/dev", env.token, "dev")
	req, _ := http.NewRequest("GET", env.url+"/", nil)
	req.Header.Set("Authorization", env.token+"x")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	mu.Lock()
	out := buf.String()
	mu.Unlock()
	creds := endpointTestCreds("dev")
	for _, secret := range []string{env.token, creds.SecretAccessKey, creds.SessionToken} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds a secret: %s", out)
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d log lines, want 2: %s", len(lines), out)
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"slot", "client", "status", "code", "latency"} {
		if _, ok := first[k]; !ok {
			t.Errorf("log line lacks %q: %s", k, lines[0])
		}
	}
	if first["slot"] != "dev" || first["status"] != float64(200) {
		t.Errorf("log line: got %s", lines[0])
	}
}

type endpointTestWriter func([]byte)

func (w endpointTestWriter) Write(p []byte) (int, error) { w(p); return len(p), nil }

func TestEndpointShutdownWaitsForRequests(t *testing.T) {
	block := make(chan struct{})
	started := make(chan struct{})
	src := &endpointBlockingSource{started: started, block: block}
	tokens := NewTokens()
	tok, _ := NewToken()
	tokens.Add(tok, Grant{})
	e, err := NewEndpoint(EndpointConfig{Source: src, Tokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- e.Serve(l) }()
	got := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+l.Addr().String()+"/", nil)
		req.Header.Set("Authorization", tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- 0
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	<-started
	shut := make(chan error, 1)
	go func() { shut <- e.Shutdown(context.Background()) }()
	select {
	case <-shut:
		t.Fatal("Shutdown returned with a request in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(block)
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if s := <-got; s != 200 {
		t.Errorf("in-flight request: got %d, want 200", s)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve: got %v, want ErrServerClosed", err)
	}
	if _, err := net.Dial("tcp", l.Addr().String()); err == nil {
		t.Errorf("listener still accepts after Shutdown")
	}
}

type endpointBlockingSource struct {
	started chan struct{}
	block   chan struct{}
	once    sync.Once
}

func (s *endpointBlockingSource) Credentials(context.Context, string) (Credentials, error) {
	s.once.Do(func() { close(s.started) })
	<-s.block
	return Credentials{AccessKeyID: "A", SecretAccessKey: "S", SessionToken: "T"}, nil
}

func TestEndpointHostAllowed(t *testing.T) {
	e, err := NewEndpoint(EndpointConfig{Source: endpointTestSourceWith(""), Tokens: NewTokens(), AllowedHosts: []string{"Agent.Example.COM."}})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST:4144": true, "localhost.:1": true,
		"127.0.0.1": true, "127.0.0.1:4144": true, "127.8.9.10:1": true,
		"[::1]": true, "[::1]:4144": true, "[::ffff:127.0.0.1]:1": true,
		"agent.example.com:443": true, "agent.example.com.": true,
		"": false, "::1": false, "[::1%lo]:1": false, "localhost:": false, "localhost:x": false,
		"localhost:123456": false, "evil.localhost": false, "localhost.evil.example": false,
		"0.0.0.0": false, "10.0.0.1": false, "[127.0.0.1]": false, "[::1]x": false,
		"attacker.example:4144": false, "example.com": false, "[::2]:1": false,
	} {
		if got := e.hostAllowed(host); got != want {
			t.Errorf("hostAllowed(%q): got %v, want %v", host, got, want)
		}
	}
}

func TestEndpointCredentialsJSON(t *testing.T) {
	c := Credentials{
		AccessKeyID: "AKID", SecretAccessKey: "s\"\\<>&\u2028\x01\n", SessionToken: "tok\xff",
		Expires: time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("X", 3600)),
	}
	b := endpointAppendCredentials(nil, &c)
	var got map[string]string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	want := map[string]string{
		"AccessKeyId": "AKID", "SecretAccessKey": c.SecretAccessKey, "Token": "tok\uFFFD",
		"Expiration": "2026-01-02T02:04:05Z",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// Static keys: no Expiration.
	b = endpointAppendCredentials(nil, &Credentials{AccessKeyID: "A", SecretAccessKey: "S"})
	if strings.Contains(string(b), "Expiration") || strings.Contains(string(b), "AccountId") {
		t.Errorf("zero fields not omitted: %s", b)
	}
}

func TestNewEndpointValidates(t *testing.T) {
	if _, err := NewEndpoint(EndpointConfig{Tokens: NewTokens()}); err == nil {
		t.Error("no Source: got nil error")
	}
	if _, err := NewEndpoint(EndpointConfig{Source: endpointTestSourceWith()}); err == nil {
		t.Error("no Tokens: got nil error")
	}
	e, _ := NewEndpoint(EndpointConfig{Source: endpointTestSourceWith(), Tokens: NewTokens()})
	if err := e.ServeChannel(&endpointFakeListener{done: make(chan struct{})}, ""); err == nil {
		t.Error("ServeChannel with empty session: got nil error")
	}
}

func TestEndpointRoute(t *testing.T) {
	for _, tt := range []struct {
		path, raw string
		slot      string
		ok        bool
	}{
		{"/", "", "", true},
		{"/slot/dev", "", "dev", true},
		{"/slot/a/b", "/slot/a%2Fb", "a/b", true},
		{"/slot/a b", "/slot/a%20b", "a b", true},
		{"/slot/é", "", "é", true},
		{"/slot/a/b", "", "", false},
		{"/slot/", "", "", false},
		{"/slot", "", "", false},
		{"", "", "", false},
		{"//", "", "", false},
		{"/slot//dev", "", "", false},
		{"/Slot/dev", "", "", false},
		{"/slot/a\x00", "/slot/a%00", "", false},
		{"/slot/a%zz", "", "a%zz", true}, // a literal percent sign
		{"/slot/\xff", "/slot/%FF", "", false},
	} {
		u := &url.URL{Path: tt.path, RawPath: tt.raw}
		slot, ok := endpointRoute(u)
		if slot != tt.slot || ok != tt.ok {
			t.Errorf("endpointRoute(%q, raw %q): got %q %v, want %q %v", tt.path, tt.raw, slot, ok, tt.slot, tt.ok)
		}
	}
}

// TestEndpointPlainHTTPFromNetworkRefusedTCP repeats the refusal over real
// TCP when this machine has a non-loopback address to connect from.
func TestEndpointPlainHTTPFromNetworkRefusedTCP(t *testing.T) {
	var ip net.IP
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			ip = n.IP
			break
		}
	}
	if ip == nil {
		t.Skip("no non-loopback IPv4 address on this machine to connect from")
	}
	env := endpointTestStart(t, nil)
	l, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		t.Skipf("cannot listen on %v: %v", ip, err)
	}
	go env.e.Serve(l)
	req, _ := http.NewRequest("GET", "http://"+l.Addr().String()+"/", nil)
	req.Host = "127.0.0.1"
	req.Header.Set("Authorization", env.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	endpointTestCheckError(t, resp, 403, "tls_required")

	// TLS from the same peer is served (the Host must still be loopback).
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: env.pool, ServerName: "localhost"}}}
	req, _ = http.NewRequest("GET", "https://"+l.Addr().String()+"/", nil)
	req.Host = "localhost"
	req.Header.Set("Authorization", env.token)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("TLS from a network peer: got %d, want 200", resp.StatusCode)
	}
}

func TestEndpointBodyCache(t *testing.T) {
	var c endpointBodies
	a := endpointTestCreds("dev")
	b1 := c.get("dev", &a)
	same := a
	same.Expires = a.Expires.In(time.FixedZone("X", 3600)) // same instant
	if b2 := c.get("dev", &same); b2 != b1 {
		t.Error("same credentials re-encoded")
	}
	changed := a
	changed.SessionToken = "new"
	b3 := c.get("dev", &changed)
	if b3 == b1 || !strings.Contains(string(b3.json), `"Token":"new"`) {
		t.Errorf("changed credentials served from cache: %s", b3.json)
	}
	if string(b1.json) == string(b3.json) {
		t.Error("old body modified")
	}
	if got, want := b3.length[0], fmt.Sprint(len(b3.json)); got != want {
		t.Errorf("Content-Length: got %s, want %s", got, want)
	}
	for i := range 2 * endpointMaxBodies {
		c.get(fmt.Sprint(i), &a)
	}
	if n := len(*c.m.Load()); n > endpointMaxBodies {
		t.Errorf("cache holds %d slots, want at most %d", n, endpointMaxBodies)
	}
}

// TestEndpointShutdownClosesSilentConnections: a connection that never
// sends a byte does not hold Shutdown or linger after it.
func TestEndpointShutdownClosesSilentConnections(t *testing.T) {
	e, err := NewEndpoint(EndpointConfig{Source: endpointTestSourceWith(""), Tokens: NewTokens()})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- e.Serve(l) }()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(50 * time.Millisecond) // let the endpoint accept it
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	<-served
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("silent connection still open after Shutdown: read returned %v", err)
	}
}

// TestEndpointHostAllowedHook: names beyond loopback are asked of the
// HostAllowed hook per request, so a public name can come and go.
func TestEndpointHostAllowedHook(t *testing.T) {
	var served atomic.Value
	served.Store("agent.example.com")
	env := endpointTestStart(t, func(c *EndpointConfig) {
		c.HostAllowed = func(name string) bool { return name == served.Load().(string) }
	})
	get := func(host string) int {
		req := httptest.NewRequest("GET", "http://"+host+"/slot/dev", nil)
		req.Header.Set("Authorization", env.token)
		rec := httptest.NewRecorder()
		env.e.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := get("Agent.Example.com.:4144"); code != 200 {
		t.Errorf("served name: got %d, want 200", code)
	}
	if code := get("other.example.com:4144"); code != 403 {
		t.Errorf("another name: got %d, want 403", code)
	}
	served.Store("")
	if code := get("agent.example.com:4144"); code != 403 {
		t.Errorf("name no longer served: got %d, want 403", code)
	}
	if code := get("127.0.0.1:4144"); code != 200 {
		t.Errorf("loopback: got %d, want 200", code)
	}
}

func TestStaticKeysExpiration(t *testing.T) {
	for _, now := range []time.Time{
		time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 3, 8, 59, 59, 999, time.UTC),
		time.Date(2026, 12, 3, 9, 30, 0, 0, time.FixedZone("X", 5400)),
	} {
		got := staticKeysExpiration(now)
		if d := got.Sub(now); d <= time.Hour || d > 2*time.Hour {
			t.Errorf("staticKeysExpiration(%v) = %v, %v ahead; want more than 1h, at most 2h", now, got, d)
		}
		if again := staticKeysExpiration(now.Add(-time.Minute)); now.UTC().Minute() > 0 && !again.Equal(got) {
			t.Errorf("staticKeysExpiration changes within the hour: %v, %v", again, got)
		}
	}
}
