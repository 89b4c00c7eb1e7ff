package remote_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fakeagent"
	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
	"github.com/aws-sso-agent/aws-sso-agent/remote"
	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// testCreds are what the fake agent serves.
var testCreds = fakeagent.TestCredentials

// env is one session file and the server on its port.
type env struct {
	sess   *wire.Session
	server *fakeagent.Server
}

// newEnv starts a server configured by mod (the genuine agent unless mod
// changes it) and writes a session for its port.
func newEnv(t testing.TB, mod func(cfg *fakeagent.Config, fs *fakeagent.Session)) env {
	t.Helper()
	ca := testCA(t)
	fs := fakeagent.NewSession(t, ca, 0)
	cfg := fs.Config(t, ca, map[string]wire.Credentials{"": testCreds})
	if mod != nil {
		mod(&cfg, &fs)
	}
	srv := fakeagent.Start(t, cfg)
	fs.Port = srv.Port
	root := filepath.Join(t.TempDir(), ".aws-sso-agent")
	dir := fs.Write(t, root)
	s, err := remote.LoadSession(dir)
	if err != nil {
		t.Fatal(err)
	}
	return env{sess: s, server: srv}
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestFetch(t *testing.T) {
	e := newEnv(t, nil)
	got, err := remote.Fetch(ctx(t), e.sess, "")
	if err != nil {
		t.Fatal(err)
	}
	if got != testCreds {
		t.Fatalf("got %+v, want %+v", got, testCreds)
	}
	reqs := e.server.Requests()
	if len(reqs) != 2 || !strings.HasPrefix(reqs[0].Path, wire.ProofPath+"?nonce=") || reqs[0].HasAuth {
		t.Fatalf("got requests %+v, want the proof without Authorization, then the credentials", reqs)
	}
	if reqs[1].Path != "/" || reqs[1].Authorization != e.sess.Token {
		t.Fatalf("got second request %q with a token %v, want / with the session token", reqs[1].Path, reqs[1].HasAuth)
	}
}

func TestProveThenManyRequestsOnOneConnection(t *testing.T) {
	e := newEnv(t, func(cfg *fakeagent.Config, _ *fakeagent.Session) {
		cfg.Creds["dev"] = testCreds
	})
	c, err := remote.Prove(ctx(t), e.sess)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v := c.ConnectionState().Version; v != tls.VersionTLS13 {
		t.Errorf("got TLS version %x, want 1.3", v)
	}
	for _, slot := range []string{"", "dev", ""} {
		if _, err := c.Credentials(ctx(t), slot); err != nil {
			t.Fatalf("slot %q: %v", slot, err)
		}
	}
}

// TestSquatters (docs/threat-model.md): whatever holds the port instead of
// the session's agent is refused with its own exit code, and never sees
// the token.
func TestSquatters(t *testing.T) {
	other := fakeagent.NewCA(t)
	tests := []struct {
		name string
		mod  func(cfg *fakeagent.Config, fs *fakeagent.Session)
		code int
		want string
	}{
		{"plain HTTP", func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.PlainHTTP = true }, remote.ExitNotGenuine, "does not speak TLS"},
		{"self-signed for 127.0.0.1", func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.Cert = fakeagent.SelfSigned(t) }, remote.ExitCertificate, "not issued by this session's agent"},
		{"another CA, right names", func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.Cert = other.Leaf(t) }, remote.ExitCertificate, "not issued by this session's agent"},
		{"right CA, another proof key", func(cfg *fakeagent.Config, _ *fakeagent.Session) {
			cfg.ProofKey = fakeagent.Secret(t, 32)
		}, remote.ExitProof, "wrong proof"},
		{"right CA, another session", func(cfg *fakeagent.Config, _ *fakeagent.Session) {
			cfg.SessionID = fakeagent.NewSessionID()
		}, remote.ExitProof, "another session"},
		{"right CA, claims this session, proves another", func(cfg *fakeagent.Config, fs *fakeagent.Session) {
			// The session id is inside the MAC: claiming it is not enough.
			cfg.SessionID, cfg.ClaimSession = fakeagent.NewSessionID(), fs.ID
		}, remote.ExitProof, "wrong proof"},
		{"TLS 1.2 only", func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.MaxVersion = tls.VersionTLS12 }, remote.ExitNotGenuine, "TLS 1.3 handshake"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.mod)
			_, err := remote.Fetch(ctx(t), e.sess, "")
			if got := remote.ExitCode(err); got != tt.code {
				t.Fatalf("got exit code %d (%v), want %d", got, err, tt.code)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to say %q", err, tt.want)
			}
			if remote.HintOf(err) == "" {
				t.Errorf("error %v has no hint", err)
			}
			if e.server.SawToken(e.sess.Token) {
				t.Fatalf("the squatter saw the token (requests %+v)", e.server.Requests())
			}
			if strings.Contains(err.Error(), e.sess.Token) {
				t.Fatal("the error shows the token")
			}
		})
	}
}

func TestNothingListening(t *testing.T) {
	e := newEnv(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.sess.Port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	_, err = remote.Fetch(ctx(t), e.sess, "")
	if got := remote.ExitCode(err); got != remote.ExitNotGenuine || !strings.Contains(err.Error(), "nothing is listening") {
		t.Fatalf("got exit %d (%v), want %d, nothing is listening", got, err, remote.ExitNotGenuine)
	}
}

func TestSilentListenerTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	e := newEnv(t, nil)
	e.sess.Port = ln.Addr().(*net.TCPAddr).Port
	c, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = remote.Fetch(c, e.sess, "")
	if remote.ExitCode(err) != remote.ExitNotGenuine || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a not-genuine deadline error", err)
	}
}

func TestRefusals(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(cfg *fakeagent.Config, fs *fakeagent.Session)
		slot   string
		status int
		code   string
	}{
		{"revoked", func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.Token = fakeagent.Secret(t, 32) }, "", 401, "invalid_token"},
		{"slot not granted by the agent", func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.Grant = []string{""} }, "dev", 403, "slot_not_granted"},
		{"nothing loaded", nil, "dev", 404, "no_credentials"},
		{"slot not in the session file", nil, "prod", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.mod)
			_, err := remote.Fetch(ctx(t), e.sess, tt.slot)
			var re *remote.Error
			if !errors.As(err, &re) || re.Kind != remote.KindRefused {
				t.Fatalf("got %v, want a KindRefused error", err)
			}
			if re.Status != tt.status || re.Code != tt.code {
				t.Errorf("got status %d code %q, want %d %q", re.Status, re.Code, tt.status, tt.code)
			}
			if remote.ExitCode(err) != remote.ExitRefused || re.Hint == "" {
				t.Errorf("got exit %d hint %q, want %d and a hint", remote.ExitCode(err), re.Hint, remote.ExitRefused)
			}
		})
	}
}

func TestRevokedAfterProof(t *testing.T) {
	e := newEnv(t, nil)
	c, err := remote.Prove(ctx(t), e.sess)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e.server.Revoke()
	_, err = c.Credentials(ctx(t), "")
	if remote.ExitCode(err) != remote.ExitRefused {
		t.Fatalf("got %v, want exit %d", err, remote.ExitRefused)
	}
}

func TestWriteFiles(t *testing.T) {
	e := newEnv(t, nil)
	p, err := remote.WriteTokenFile(e.sess)
	if err != nil {
		t.Fatal(err)
	}
	checkPrivateFile(t, p, e.sess.Token)
	// Twice: the second write replaces the first atomically.
	if p, err = remote.WriteTokenFile(e.sess); err != nil {
		t.Fatal(err)
	}
	checkPrivateFile(t, p, e.sess.Token)
	p, err = remote.WriteCAFile(e.sess)
	if err != nil {
		t.Fatal(err)
	}
	checkPrivateFile(t, p, string(e.sess.CAPEM))
	p, err = remote.WriteCABundle(e.sess, []byte("SYSTEM ROOTS\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	if !strings.HasPrefix(string(data), "SYSTEM ROOTS\n#") || !strings.HasSuffix(string(data), string(e.sess.CAPEM)) {
		t.Errorf("got bundle %q, want the system roots then the CA", data)
	}
	ents, _ := os.ReadDir(e.sess.Dir)
	for _, ent := range ents {
		if strings.HasPrefix(ent.Name(), ".") {
			t.Errorf("temporary file %s left behind", ent.Name())
		}
	}
}

func checkPrivateFile(t *testing.T, p, want string) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: got mode %04o, want 0600", p, fi.Mode().Perm())
	}
	data, _ := os.ReadFile(p)
	if string(data) != want {
		t.Errorf("%s: got %d bytes, want exactly %d (no trailing newline)", p, len(data), len(want))
	}
}

func FuzzProofResponse(f *testing.F) {
	fuzztest.Start(f)
	id := "00112233445566778899aabbccddeeff"
	want := make([]byte, 32)
	good := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 99\r\n\r\n" +
		`{"session":"` + id + `","proof":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`
	f.Add([]byte(good))
	f.Add([]byte("HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 35\r\n\r\n{\"code\":\"x\",\"message\":\"\\u001b[2J\"}"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n5\r\n{\"a\":\r\n0\r\n\r\n"))
	f.Add([]byte("HTTP/1.0 200 OK\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := remote.ReadProofResponse(bufio.NewReader(strings.NewReader(string(data))), id, 1, want)
		if err == nil {
			// Accepted: it must have carried exactly the expected proof.
			if !strings.Contains(string(data), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") {
				t.Fatalf("accepted a response without the proof: %q", data)
			}
			return
		}
		if remote.KindOf(err) != remote.KindProof {
			t.Fatalf("got kind %v, want proof failure: %v", remote.KindOf(err), err)
		}
		for _, r := range err.Error() {
			if r < 0x20 && r != '\t' {
				t.Fatalf("error holds control character %q: %q", r, err)
			}
		}
	})
}
