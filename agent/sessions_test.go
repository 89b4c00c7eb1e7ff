package agent

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// sessionTestEnv is an endpoint plus a control socket serving sessions.
type sessionTestEnv struct {
	*endpointTestEnv
	sessions *Sessions
	client   ControlClient
	tlsConf  *tls.Config // a client pinned to the endpoint's certificate
}

func sessionTestStart(t *testing.T) *sessionTestEnv {
	t.Helper()
	sessions := NewSessions(NewTokens(), []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), nil)
	env := endpointTestStart(t, func(c *EndpointConfig) {
		c.Sessions = sessions
		sessions.tokens = c.Tokens
	})
	path := filepath.Join(t.TempDir(), "run", "control.sock")
	l, err := ListenControl(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &ControlServer{Sessions: sessions, Endpoint: env.e}
	go srv.Serve(l)
	t.Cleanup(func() { l.Close(); sessions.CloseAll() })
	return &sessionTestEnv{
		endpointTestEnv: env,
		sessions:        sessions,
		client:          ControlClient{Path: path},
		tlsConf:         &tls.Config{RootCAs: env.pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13},
	}
}

// streamGet sends one plain HTTP GET through a session stream.
func (env *sessionTestEnv) streamGet(t *testing.T, id, path, token string) (int, string) {
	t.Helper()
	conn, err := env.client.Stream(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return rawGet(t, conn, path, token)
}

func rawGet(t *testing.T, conn net.Conn, path, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://127.0.0.1:41234"+path, nil)
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSessionTokenOnlyOnItsOwnForward(t *testing.T) {
	env := sessionTestStart(t)
	ctx := context.Background()
	a, err := env.client.OpenSession(ctx, "alice@host-a", []string{"dev"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := env.client.OpenSession(ctx, "alice@host-b", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Grant.Token == b.Grant.Token || a.Grant.ID == b.Grant.ID {
		t.Fatal("two sessions share a token or an id")
	}

	tests := []struct {
		name    string
		channel string
		path    string
		token   string
		want    int
	}{
		{"own forward, granted slot", a.Grant.ID, "/slot/dev", a.Grant.Token, 200},
		{"own forward, slot not granted", a.Grant.ID, "/", a.Grant.Token, 403},
		{"other session's forward", b.Grant.ID, "/slot/dev", a.Grant.Token, 401},
		{"local token through a forward", a.Grant.ID, "/slot/dev", env.token, 401},
		{"default-only session", b.Grant.ID, "/", b.Grant.Token, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := env.streamGet(t, tt.channel, tt.path, tt.token)
			if code != tt.want {
				t.Errorf("got %d %s, want %d", code, body, tt.want)
			}
		})
	}
	// A session token on the agent's own TCP port: refused.
	code, _ := tcpGet(t, env.url+"/slot/dev", a.Grant.Token)
	if code != 401 {
		t.Errorf("session token on the local port: got %d, want 401", code)
	}

	var found bool
	for _, s := range env.sessions.List() {
		if s.ID == a.Grant.ID {
			found = true
			if s.Requests != 1 {
				t.Errorf("session a served %d requests, want 1", s.Requests)
			}
		}
	}
	if !found {
		t.Error("session a not listed")
	}
}

func tcpGet(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSessionProof does what aws-sso-remote does: pinned TLS through the
// forward, then the EKM-bound proof, then the token on the same
// connection.
func TestSessionProof(t *testing.T) {
	env := sessionTestStart(t)
	h, err := env.client.OpenSession(context.Background(), "alice@host", []string{""})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	key, _ := base64.RawURLEncoding.DecodeString(h.Grant.ProofKey)

	prove := func(t *testing.T, id string, key []byte) (bool, *tls.Conn) {
		raw, err := env.client.Stream(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		conn := tls.Client(raw, env.tlsConf)
		t.Cleanup(func() { conn.Close() })
		if err := conn.Handshake(); err != nil {
			t.Fatal(err)
		}
		nonce := make([]byte, 32)
		rand.Read(nonce)
		code, body := rawGet(t, conn, wire.ProofPath+"?nonce="+base64.RawURLEncoding.EncodeToString(nonce), "")
		if code != 200 {
			t.Fatalf("proof: %d %s", code, body)
		}
		var p struct{ Session, Proof string }
		json.Unmarshal([]byte(body), &p)
		st := conn.ConnectionState()
		want, err := wire.Proof(&st, key, id, nonce)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := base64.RawURLEncoding.DecodeString(p.Proof)
		return p.Session == id && hmac.Equal(got, want), conn
	}

	ok, conn := prove(t, h.Grant.ID, key)
	if !ok {
		t.Fatal("the genuine agent's proof did not verify")
	}
	if code, body := rawGet(t, conn, "/", h.Grant.Token); code != 200 || !strings.Contains(body, "AccessKeyId") {
		t.Errorf("token after proof, same connection: %d %s", code, body)
	}
	// A helper holding another key (another session's file) rejects it.
	other := make([]byte, 32)
	if ok, _ := prove(t, h.Grant.ID, other); ok {
		t.Error("proof verified under a wrong key")
	}

	// Over plain HTTP, or on the local port, there is no proof.
	if code, _ := env.streamGet(t, h.Grant.ID, wire.ProofPath+"?nonce="+strings.Repeat("A", 43), ""); code != 404 {
		t.Errorf("proof over plain HTTP: got %d, want 404", code)
	}
	if code, _ := tcpGet(t, env.url+wire.ProofPath+"?nonce="+strings.Repeat("A", 43), ""); code != 404 {
		t.Errorf("proof on the local port: got %d, want 404", code)
	}
}

func TestSessionEndsWithItsConnection(t *testing.T) {
	env := sessionTestStart(t)
	h, err := env.client.OpenSession(context.Background(), "alice@host", nil)
	if err != nil {
		t.Fatal(err)
	}
	// A forwarded connection open when the session ends is closed.
	open, err := env.client.Stream(context.Background(), h.Grant.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if code, _ := rawGet(t, open, "/", h.Grant.Token); code != 200 {
		t.Fatalf("before close: %d", code)
	}
	h.Close()
	waitFor(t, func() bool { return len(env.sessions.List()) == 0 })
	open.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := open.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("forwarded connection still open after the session ended: %v", err)
	}
	// A stream for the ended session is closed without an answer.
	late, err := env.client.Stream(context.Background(), h.Grant.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	late.Write([]byte("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
	late.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := late.Read(make([]byte, 64)); err == nil || isTimeout(err) {
		t.Errorf("stream of an ended session answered: %d bytes, %v", n, err)
	}
	if _, ok := env.tokens.Lookup(h.Grant.Token); ok {
		t.Error("token still valid after the session ended")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestSessionRevokeEndsClient(t *testing.T) {
	env := sessionTestStart(t)
	h, err := env.client.OpenSession(context.Background(), "alice@host", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.SetPort(41234); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		l := env.sessions.List()
		return len(l) == 1 && l[0].RemotePort == 41234
	})
	if _, err := env.client.Do(context.Background(), ControlRequest{Op: OpSessionRevoke, Session: &SessionRequest{ID: h.Grant.ID}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.Done():
		if !strings.Contains(h.Err().Error(), "revoked") {
			t.Errorf("client told %v, want revoked", h.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("client not told of the revocation")
	}
	if _, ok := env.tokens.Lookup(h.Grant.Token); ok {
		t.Error("the revoked session's token is still registered")
	}
	// Through the session's own forward, where it was valid: refused.
	late, err := env.client.Stream(context.Background(), h.Grant.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	late.Write([]byte("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + h.Grant.Token + "\r\n\r\n"))
	late.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := late.Read(make([]byte, 64)); err == nil || isTimeout(err) {
		t.Errorf("the revoked session's forward answered: %d bytes, %v", n, err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSessionsRefusedWhileStopping: once the agent is stopping, a new
// session is refused instead of holding the shutdown up.
func TestSessionsRefusedWhileStopping(t *testing.T) {
	env := sessionTestStart(t)
	env.sessions.CloseAll()
	if _, err := env.client.OpenSession(context.Background(), "late@host", nil); err == nil || !strings.Contains(err.Error(), "stopping") {
		t.Errorf("session opened while stopping: %v", err)
	}
	if n := len(env.sessions.List()); n != 0 {
		t.Errorf("%d sessions registered", n)
	}
}
