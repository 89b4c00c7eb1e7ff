package forward

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/sshd"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// fakePrompter answers from fixed values and counts the questions.
type fakePrompter struct {
	mu          sync.Mutex
	passphrases []string // returned in order
	confirm     bool
	asked       map[string]int
}

func (p *fakePrompter) count(what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.asked == nil {
		p.asked = map[string]int{}
	}
	p.asked[what]++
}

func (p *fakePrompter) times(what string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.asked[what]
}

func (p *fakePrompter) ConfirmHostKey(host string, key ssh.PublicKey, fp string) (bool, error) {
	p.count("host")
	return p.confirm, nil
}

func (p *fakePrompter) Passphrase(file string) ([]byte, error) {
	p.count("passphrase")
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.passphrases) == 0 {
		return nil, errors.New("no more passphrases")
	}
	pw := p.passphrases[0]
	p.passphrases = p.passphrases[1:]
	return []byte(pw), nil
}

func (p *fakePrompter) Password(user, host string) (string, error) {
	p.count("password")
	return "", errors.New("no password")
}

func (p *fakePrompter) KeyboardInteractive(user, instr string, q []string, e []bool) ([]string, error) {
	p.count("kbd")
	return nil, errors.New("no answers")
}

// baseConfig is a Config for s that trusts its host key, uses its client
// key file, and asks nobody.
func baseConfig(t *testing.T, s *sshd.Server) *Config {
	t.Helper()
	kh := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, kh, s.KnownHostsLine()+"\n")
	return &Config{
		Host: "127.0.0.1", HostName: "127.0.0.1", Port: s.Port, User: s.User,
		IdentityFiles:         []string{s.ClientKeyFile},
		UserKnownHostsFiles:   []string{kh},
		StrictHostKeyChecking: "yes",
		BatchMode:             true,
		ConnectTimeout:        20 * time.Second,
		ServerAliveCountMax:   3,
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// runRemote runs cmd in a session and returns its trimmed stdout.
func runRemote(t *testing.T, c *ssh.Client, cmd string) string {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	defer sess.Close()
	out, err := sess.Output(cmd)
	if err != nil {
		t.Fatalf("run %q: %v", cmd, err)
	}
	return strings.TrimSpace(string(out))
}

func dialOK(t *testing.T, cfg *Config) *Client {
	t.Helper()
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestDialKeyFile(t *testing.T) {
	s := sshd.Start(t, sshd.Options{})
	cfg := baseConfig(t, s)
	c := dialOK(t, cfg)
	if got := runRemote(t, c.Client, "id -un"); got != s.User {
		t.Errorf("remote user: got %q, want %q", got, s.User)
	}
}

func TestDialAgent(t *testing.T) {
	s := sshd.Start(t, sshd.Options{})
	cfg := baseConfig(t, s)
	cfg.IdentityAgent = sshd.StartAgent(t, s.ClientKeyFile)
	// A key file that is not authorized: auth must come from the agent.
	other := filepath.Join(t.TempDir(), "other")
	sshd.GenerateKey(t, other, "")
	cfg.IdentityFiles = []string{other}
	c := dialOK(t, cfg)
	if got := runRemote(t, c.Client, "id -un"); got != s.User {
		t.Errorf("remote user: got %q, want %q", got, s.User)
	}

	// IdentitiesOnly: the agent's key is not among IdentityFiles, so it
	// must not be offered.
	cfg.IdentitiesOnly = true
	_, err := Dial(context.Background(), cfg)
	var authErr *AuthError
	if !errors.As(err, &authErr) {
		t.Fatalf("Dial with IdentitiesOnly and an unauthorized file: got %v, want *AuthError", err)
	}
}

func TestDialEncryptedKey(t *testing.T) {
	sshd.Require(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "enc")
	// ssh-keygen with few KDF rounds: x/crypto's default 16 bcrypt rounds
	// take seconds per decryption under -race.
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-a", "2", "-N", "correct horse", "-f", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pub := readPublicKey(keyFile)
	os.Remove(keyFile + ".pub") // the public half must come from the OpenSSH key itself
	s := sshd.Start(t, sshd.Options{AuthorizedKeys: []string{strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))}})

	cfg := baseConfig(t, s)
	cfg.IdentityFiles = []string{keyFile}
	cfg.BatchMode = false
	p := &fakePrompter{passphrases: []string{"wrong", "correct horse"}}
	cfg.Prompt = p
	c := dialOK(t, cfg)
	if got := runRemote(t, c.Client, "id -un"); got != s.User {
		t.Errorf("remote user: got %q, want %q", got, s.User)
	}
	if got := p.times("passphrase"); got != 2 {
		t.Errorf("passphrase prompts: got %d, want 2 (one wrong, one right)", got)
	}

	// Batch mode: nobody to ask, so the key is skipped and auth fails.
	cfg.BatchMode = true
	p2 := &fakePrompter{passphrases: []string{"correct horse"}}
	cfg.Prompt = p2
	if c, err := Dial(context.Background(), cfg); err == nil {
		c.Close()
		t.Fatal("Dial in batch mode with only an encrypted key: got success, want auth failure")
	}
	if got := p2.times("passphrase"); got != 0 {
		t.Errorf("passphrase prompts in batch mode: got %d, want 0", got)
	}
}

func TestUnknownHostRefusedInBatchMode(t *testing.T) {
	s := sshd.Start(t, sshd.Options{})
	cfg := baseConfig(t, s)
	writeFile(t, cfg.UserKnownHostsFiles[0], "")
	cfg.StrictHostKeyChecking = "ask"
	p := &fakePrompter{confirm: true}
	cfg.Prompt = p // present but BatchMode forbids asking
	_, err := Dial(context.Background(), cfg)
	var unknown *UnknownHostError
	if !errors.As(err, &unknown) {
		t.Fatalf("Dial: got %v, want *UnknownHostError", err)
	}
	if p.times("host") != 0 {
		t.Errorf("prompted in batch mode")
	}

	// On a terminal the prompter decides: no refuses, yes accepts and records.
	cfg.BatchMode = false
	cfg.Prompt = &fakePrompter{confirm: false}
	if _, err := Dial(context.Background(), cfg); !errors.As(err, &unknown) {
		t.Fatalf("Dial with a refusing prompter: got %v, want *UnknownHostError", err)
	}
	cfg.Prompt = &fakePrompter{confirm: true}
	dialOK(t, cfg)
	b, _ := os.ReadFile(cfg.UserKnownHostsFiles[0])
	if !strings.Contains(string(b), fmt.Sprintf("[127.0.0.1]:%d ssh-ed25519 ", s.Port)) {
		t.Errorf("known_hosts after confirming: got %q, want the host's key", b)
	}
}

func TestAcceptNew(t *testing.T) {
	for _, hashed := range []bool{false, true} {
		t.Run(fmt.Sprintf("hashed=%v", hashed), func(t *testing.T) {
			s := sshd.Start(t, sshd.Options{})
			cfg := baseConfig(t, s)
			kh := filepath.Join(t.TempDir(), "sub", "known_hosts") // directory created on demand
			cfg.UserKnownHostsFiles = []string{kh}
			cfg.StrictHostKeyChecking = "accept-new"
			cfg.HashKnownHosts = hashed
			dialOK(t, cfg).Close()

			b, err := os.ReadFile(kh)
			if err != nil {
				t.Fatalf("known_hosts not written: %v", err)
			}
			line := string(b)
			if got := strings.HasPrefix(line, "|1|"); got != hashed {
				t.Errorf("known_hosts line %q: hashed got %v, want %v", line, got, hashed)
			}
			if !strings.Contains(line, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey)))) {
				t.Errorf("known_hosts line %q lacks the host key", line)
			}
			// Now known: strict checking passes, and nothing is appended.
			cfg.StrictHostKeyChecking = "yes"
			dialOK(t, cfg)
			b2, _ := os.ReadFile(kh)
			if !bytes.Equal(b, b2) {
				t.Errorf("known_hosts changed on second connect: %q -> %q", b, b2)
			}
		})
	}
}

func TestHashedKnownHostsEntry(t *testing.T) {
	s := sshd.Start(t, sshd.Options{})
	cfg := baseConfig(t, s)
	name := xknownhosts.HashHostname(xknownhosts.Normalize(s.Addr))
	writeFile(t, cfg.UserKnownHostsFiles[0], xknownhosts.Line([]string{name}, s.HostKey)+"\n")
	dialOK(t, cfg)
}

func TestChangedHostKeyRefused(t *testing.T) {
	s := sshd.Start(t, sshd.Options{})
	cfg := baseConfig(t, s)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := ssh.NewSignerFromKey(priv)
	kh := cfg.UserKnownHostsFiles[0]
	writeFile(t, kh, "# comment\n"+xknownhosts.Line([]string{xknownhosts.Normalize(s.Addr)}, other.PublicKey())+"\n")
	// Even accept-new and "no" must refuse a changed key.
	for _, strict := range []string{"yes", "accept-new", "no", "ask"} {
		cfg.StrictHostKeyChecking = strict
		_, err := Dial(context.Background(), cfg)
		var changed *HostKeyChangedError
		if !errors.As(err, &changed) {
			t.Fatalf("StrictHostKeyChecking=%s: got %v, want *HostKeyChangedError", strict, err)
		}
		msg := err.Error()
		for _, want := range []string{"REMOTE HOST IDENTIFICATION HAS CHANGED", ssh.FingerprintSHA256(s.HostKey), kh + ":2"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q lacks %q", msg, want)
			}
		}
	}
}

func TestRevokedHostKeyRefused(t *testing.T) {
	s := sshd.Start(t, sshd.Options{})
	cfg := baseConfig(t, s)
	kh := cfg.UserKnownHostsFiles[0]
	writeFile(t, kh, s.KnownHostsLine()+"\n@revoked * "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey)))+"\n")
	_, err := Dial(context.Background(), cfg)
	var revoked *RevokedHostKeyError
	if !errors.As(err, &revoked) {
		t.Fatalf("Dial: got %v, want *RevokedHostKeyError", err)
	}
	if want := kh + ":2"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
}

func TestCertAuthorityHostCert(t *testing.T) {
	sshd.Require(t)
	caFile := filepath.Join(t.TempDir(), "ca")
	caPub := sshd.GenerateKey(t, caFile, "")
	s := sshd.Start(t, sshd.Options{HostCertCA: caFile})
	cfg := baseConfig(t, s)
	// Only the CA is known, under a wildcard: the host's own key is not.
	writeFile(t, cfg.UserKnownHostsFiles[0], "@cert-authority * "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(caPub)))+"\n")
	dialOK(t, cfg)

	// A CA that did not sign the host cert: the host is unknown.
	otherCA := filepath.Join(t.TempDir(), "otherca")
	otherPub := sshd.GenerateKey(t, otherCA, "")
	writeFile(t, cfg.UserKnownHostsFiles[0], "@cert-authority * "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(otherPub)))+"\n")
	_, err := Dial(context.Background(), cfg)
	var unknown *UnknownHostError
	if !errors.As(err, &unknown) {
		t.Fatalf("Dial with a foreign CA: got %v, want *UnknownHostError (the plain key is unknown)", err)
	}

	// The plain key known, the CA not: OpenSSH falls back to the plain key.
	writeFile(t, cfg.UserKnownHostsFiles[0], "@cert-authority * "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(otherPub)))+"\n"+s.KnownHostsLine()+"\n")
	dialOK(t, cfg)

	// No known_hosts at all, accept-new: the plain key is recorded, never
	// the certificate.
	kh := filepath.Join(t.TempDir(), "known_hosts")
	cfg.UserKnownHostsFiles = []string{kh}
	cfg.StrictHostKeyChecking = "accept-new"
	dialOK(t, cfg)
	b, _ := os.ReadFile(kh)
	if want := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey))); !strings.Contains(string(b), want) || strings.Contains(string(b), "cert") {
		t.Errorf("known_hosts after accept-new of a cert host: got %q, want the plain key %q", b, want)
	}
}

func TestProxyJump(t *testing.T) {
	jump := sshd.Start(t, sshd.Options{})
	target := sshd.Start(t, sshd.Options{})
	cfg := baseConfig(t, target)
	jcfg := baseConfig(t, jump)
	// The jump host is only reachable with its own key and known_hosts.
	cfg.Jumps = []*Config{jcfg}
	c := dialOK(t, cfg)
	if got := runRemote(t, c.Client, "echo $SSH_CONNECTION"); got == "" {
		t.Error("empty SSH_CONNECTION on target")
	}
	if !jump.WaitLog("Accepted publickey for "+jump.User, 5*time.Second) {
		t.Errorf("jump host never authenticated us; log:\n%s", jump.Log())
	}
	if !target.WaitLog("Accepted publickey for "+target.User, 5*time.Second) {
		t.Errorf("target never authenticated us; log:\n%s", target.Log())
	}

	// The hop's host key is verified too.
	writeFile(t, jcfg.UserKnownHostsFiles[0], target.KnownHostsLine()+"\n") // wrong key for the jump host
	_, err := Dial(context.Background(), cfg)
	var unknown *UnknownHostError
	if !errors.As(err, &unknown) || !strings.HasPrefix(err.Error(), "forward: jump host 127.0.0.1: host key verification failed") {
		t.Fatalf("Dial with an unverifiable jump host: got %v, want *UnknownHostError for the jump host", err)
	}
}

func TestListenRemotePortZero(t *testing.T) {
	s := sshd.Start(t, sshd.Options{})
	c := dialOK(t, baseConfig(t, s))
	l, err := ListenRemote(c.Client, 0)
	if err != nil {
		t.Fatalf("ListenRemote: %v", err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if port == 0 {
		t.Fatal("ListenRemote(0): got port 0, want the server's choice")
	}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer conn.Close(); io.Copy(conn, conn) }()
		}
	}()
	// The "remote" host is this machine: connect to the forwarded port.
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 10*time.Second)
	if err != nil {
		t.Fatalf("dial forwarded port %d: %v", port, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if string(buf) != "ping" {
		t.Errorf("echo: got %q, want %q", buf, "ping")
	}
}

func TestListenRemoteDenied(t *testing.T) {
	t.Run("port taken", func(t *testing.T) {
		s := sshd.Start(t, sshd.Options{})
		c := dialOK(t, baseConfig(t, s))
		squatter, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer squatter.Close()
		port := squatter.Addr().(*net.TCPAddr).Port
		_, err = ListenRemote(c.Client, port)
		var denied *ForwardDeniedError
		if !errors.As(err, &denied) {
			t.Fatalf("ListenRemote on a taken port: got %v, want *ForwardDeniedError", err)
		}
		if want := fmt.Sprintf("127.0.0.1:%d", port); denied.Addr != want || !strings.Contains(err.Error(), want) {
			t.Errorf("error %q: addr got %q, want %q", err, denied.Addr, want)
		}
		if !strings.Contains(err.Error(), "taken") {
			t.Errorf("error %q does not name the likely cause", err)
		}
	})
	t.Run("forwarding disabled", func(t *testing.T) {
		s := sshd.Start(t, sshd.Options{Config: []string{"AllowTcpForwarding no"}})
		c := dialOK(t, baseConfig(t, s))
		_, err := ListenRemote(c.Client, 0)
		var denied *ForwardDeniedError
		if !errors.As(err, &denied) {
			t.Fatalf("ListenRemote with forwarding off: got %v, want *ForwardDeniedError", err)
		}
		if !strings.Contains(err.Error(), "AllowTcpForwarding") {
			t.Errorf("error %q does not name AllowTcpForwarding", err)
		}
	})
}

func TestKeepaliveDetectsFrozenServer(t *testing.T) {
	s := sshd.Start(t, sshd.Options{})
	cfg := baseConfig(t, s)
	// Wide enough that a loaded CI machine's sshd answers in time.
	cfg.ServerAliveInterval = 500 * time.Millisecond
	cfg.ServerAliveCountMax = 3
	c := dialOK(t, cfg)
	// Alive: keepalives are answered, the connection stays up a while.
	time.Sleep(3 * cfg.ServerAliveInterval * time.Duration(cfg.ServerAliveCountMax))
	if err := c.Err(); err != nil {
		t.Fatalf("healthy connection closed: %v", err)
	}

	s.FreezeSessions(t)
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		var kt *KeepaliveTimeoutError
		if !errors.As(err, &kt) {
			t.Fatalf("Wait after freezing the server: got %v, want *KeepaliveTimeoutError", err)
		}
		if !strings.Contains(err.Error(), "not responding") {
			t.Errorf("error %q lacks OpenSSH's wording", err)
		}
	case <-time.After(30 * time.Second): // a hang guard, far above interval*count
		t.Fatal("keepalive never gave up on a frozen server")
	}
}

func TestConnectTimeoutCoversHandshake(t *testing.T) {
	// A server that accepts and never speaks SSH.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	cfg := &Config{
		Host: "127.0.0.1", HostName: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, User: "nobody",
		StrictHostKeyChecking: "yes", BatchMode: true, ConnectTimeout: 300 * time.Millisecond,
	}
	_, err = Dial(context.Background(), cfg)
	var te *ConnectTimeoutError
	if !errors.As(err, &te) || te.Stage != "handshake" {
		t.Fatalf("Dial to a silent server: got %v, want *ConnectTimeoutError at handshake", err)
	}
}

// TestResolveThenDial goes the way the CLI will: an ssh config with host
// aliases (the target reached through a jump alias), resolved by each
// resolver, then dialed against two real sshd.
func TestResolveThenDial(t *testing.T) {
	jump := sshd.Start(t, sshd.Options{})
	target := sshd.Start(t, sshd.Options{})
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	writeFile(t, kh, jump.KnownHostsLine()+"\n"+target.KnownHostsLine()+"\n")
	conf := filepath.Join(dir, "config")
	writeFile(t, conf, fmt.Sprintf(`Host jumpbox
  HostName 127.0.0.1
  Port %d
  User %s
  IdentityFile %s

Host target
  HostName 127.0.0.1
  Port %d
  User %s
  IdentityFile %s
  ProxyJump jumpbox

Host *
  UserKnownHostsFile %s
  IdentityAgent none
  BatchMode yes
  StrictHostKeyChecking yes
  ServerAliveInterval 10
`, jump.Port, jump.User, jump.ClientKeyFile, target.Port, target.User, target.ClientKeyFile, kh))
	for rname, r := range resolvers(t) {
		t.Run(rname, func(t *testing.T) {
			cfg, err := r.Resolve(context.Background(), "target", Options{ConfigFile: conf})
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			c := dialOK(t, cfg)
			if got := runRemote(t, c.Client, "id -un"); got != target.User {
				t.Errorf("remote user: got %q, want %q", got, target.User)
			}
		})
	}
}

// passwordPrompter answers the password question.
type passwordPrompter struct {
	fakePrompter
	password string
}

func (p *passwordPrompter) Password(user, host string) (string, error) {
	p.count("password")
	return p.password, nil
}

func TestDialPassword(t *testing.T) {
	const pw = "throwaway-Pa55"
	s := sshd.Start(t, sshd.Options{User: "ssotestpw", Password: pw})
	cfg := baseConfig(t, s)
	cfg.IdentityFiles = nil // no key: only the password can work
	cfg.BatchMode = false
	cfg.PasswordAuthentication, cfg.KbdInteractiveAuthentication = true, true
	p := &passwordPrompter{password: pw}
	cfg.Prompt = p
	c := dialOK(t, cfg)
	if got := runRemote(t, c.Client, "id -un"); got != s.User {
		t.Errorf("remote user: got %q, want %q", got, s.User)
	}
	if got := p.times("password"); got != 1 {
		t.Errorf("password prompts: got %d, want 1", got)
	}

	// Batch mode never asks.
	cfg.BatchMode = true
	p2 := &passwordPrompter{password: pw}
	cfg.Prompt = p2
	if c, err := Dial(context.Background(), cfg); err == nil {
		c.Close()
		t.Fatal("Dial in batch mode with only a password: got success, want auth failure")
	}
	if got := p2.times("password"); got != 0 {
		t.Errorf("password prompts in batch mode: got %d, want 0", got)
	}
}

// BenchmarkDial measures connection set-up (TCP, key exchange, host key
// check, public key auth) against a real sshd, to compare with OpenSSH's
// own `ssh -o BatchMode=yes HOST true` on the same machine.
func BenchmarkDial(b *testing.B) {
	s := sshd.Start(b, sshd.Options{})
	kh := filepath.Join(b.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, []byte(s.KnownHostsLine()+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg := &Config{
		Host: "127.0.0.1", HostName: "127.0.0.1", Port: s.Port, User: s.User,
		IdentityFiles: []string{s.ClientKeyFile}, UserKnownHostsFiles: []string{kh},
		StrictHostKeyChecking: "yes", BatchMode: true,
	}
	for b.Loop() {
		c, err := Dial(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

func TestExitStatusAndAgentForwarding(t *testing.T) {
	s := sshd.Start(t, sshd.Options{})
	cfg := baseConfig(t, s)
	sock := sshd.StartAgent(t, s.ClientKeyFile)
	c := dialOK(t, cfg)

	for _, tc := range []struct {
		cmd  string
		want int
	}{
		{"true", 0},
		{"exit 7", 7},
		{"kill -9 $$", ExitStatusConnectionError},
	} {
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if got := ExitStatus(sess.Run(tc.cmd)); got != tc.want {
			t.Errorf("ExitStatus(%q): got %d, want %d", tc.cmd, got, tc.want)
		}
		sess.Close()
		// OpenSSH's own client agrees.
		_, err = s.Run(t, s.ClientKeyFile, tc.cmd)
		var ee *exec.ExitError
		got := 0
		if errors.As(err, &ee) {
			got = ee.ExitCode()
		}
		if got != tc.want {
			t.Errorf("OpenSSH ssh %q exit status: got %d, want %d", tc.cmd, got, tc.want)
		}
	}

	if err := ForwardAgent(c.Client, sock); err != nil {
		t.Fatal(err)
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := agent.RequestAgentForwarding(sess); err != nil {
		t.Fatalf("request agent forwarding: %v", err)
	}
	out, err := sess.CombinedOutput("ssh-add -L")
	if err != nil {
		t.Fatalf("remote ssh-add -L: %v: %s", err, out)
	}
	if want := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.ClientKey.PublicKey()))); !strings.Contains(string(out), want) {
		t.Errorf("remote ssh-add -L: got %q, want the forwarded key %q", out, want)
	}
}

func TestKeepaliveDetectsFrozenJumpHost(t *testing.T) {
	jump := sshd.Start(t, sshd.Options{})
	target := sshd.Start(t, sshd.Options{})
	cfg := baseConfig(t, target) // no keepalives of its own
	jcfg := baseConfig(t, jump)
	jcfg.ServerAliveInterval = 500 * time.Millisecond
	jcfg.ServerAliveCountMax = 3
	cfg.Jumps = []*Config{jcfg}
	c := dialOK(t, cfg)
	jump.FreezeSessions(t)
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		var kt *KeepaliveTimeoutError
		if !errors.As(err, &kt) || kt.Host != jump.Addr {
			t.Fatalf("Wait after freezing the jump host: got %v, want *KeepaliveTimeoutError for %s", err, jump.Addr)
		}
	case <-time.After(30 * time.Second): // a hang guard, far above interval*count
		t.Fatal("keepalive never gave up on a frozen jump host")
	}
}

// TestAgentKeyOrder: with MaxAuthTries 2 and an agent holding unauthorized
// keys first, only OpenSSH's order (agent keys named by IdentityFile
// first) gets in.
func TestAgentKeyOrder(t *testing.T) {
	s := sshd.Start(t, sshd.Options{Config: []string{"MaxAuthTries 2"}})
	dir := t.TempDir()
	var keys []string
	for i := range 3 {
		k := filepath.Join(dir, fmt.Sprintf("noise%d", i))
		sshd.GenerateKey(t, k, "")
		keys = append(keys, k)
	}
	cfg := baseConfig(t, s)
	cfg.IdentityAgent = sshd.StartAgent(t, append(keys, s.ClientKeyFile)...)
	dialOK(t, cfg)

	// Without the IdentityFile hint the agent's order is all there is, and
	// sshd gives up before the right key: the test above is not vacuous.
	cfg.IdentityFiles = nil
	if c, err := Dial(context.Background(), cfg); err == nil {
		c.Close()
		t.Fatal("Dial with MaxAuthTries 2 and the right key third: got success, want too many failures")
	}
}

// TestProxyCommand reaches the target through OpenSSH's own `ssh -W` via
// a jump sshd, the shape of `ProxyCommand aws ssm start-session ...`.
func TestProxyCommand(t *testing.T) {
	jump := sshd.Start(t, sshd.Options{})
	target := sshd.Start(t, sshd.Options{})
	cfg := baseConfig(t, target)
	cfg.ProxyCommand = fmt.Sprintf("ssh -F /dev/null -i %s -p %d -o BatchMode=yes -o StrictHostKeyChecking=no "+
		"-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -W %%h:%%p %s@127.0.0.1", jump.ClientKeyFile, jump.Port, jump.User)
	c := dialOK(t, cfg)
	if got := runRemote(t, c.Client, "id -un"); got != target.User {
		t.Errorf("remote user: got %q, want %q", got, target.User)
	}
	if !jump.WaitLog("Accepted publickey for "+jump.User, 5*time.Second) {
		t.Errorf("the ProxyCommand did not go through the jump host; log:\n%s", jump.Log())
	}

	// The target's host key is still checked through the command.
	writeFile(t, cfg.UserKnownHostsFiles[0], jump.KnownHostsLine()+"\n")
	_, err := Dial(context.Background(), cfg)
	var unknown *UnknownHostError
	if !errors.As(err, &unknown) {
		t.Fatalf("Dial through ProxyCommand to an unknown target: got %v, want *UnknownHostError", err)
	}

	// A failing command: its stderr reaches ProxyStderr, the error says so.
	var stderr bytes.Buffer
	// OpenSSH prefixes "exec ": the failing command must be one process.
	cfg.ProxyCommand = "sh -c 'echo no route to %h >&2; exit 3'"
	cfg.ProxyStderr = &stderr
	_, err = Dial(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "ProxyCommand exited") {
		t.Errorf("Dial with a failing ProxyCommand: got %v, want an error naming the ProxyCommand", err)
	}
	if got := stderr.String(); !strings.Contains(got, "no route to 127.0.0.1") {
		t.Errorf("ProxyCommand stderr: got %q, want the command's message with %%h expanded", got)
	}
}

// TestUserCertificate: a key sshd does not list, certified by a CA it
// trusts, gets in through FILE-cert.pub, as with OpenSSH.
func TestUserCertificate(t *testing.T) {
	sshd.Require(t)
	dir := t.TempDir()
	ca := filepath.Join(dir, "user_ca")
	sshd.GenerateKey(t, ca, "")
	if err := os.Chmod(dir, 0o755); err != nil { // sshd reads the CA as root; the key dir stays private enough for a test
		t.Fatal(err)
	}
	s := sshd.Start(t, sshd.Options{Config: []string{"TrustedUserCAKeys " + ca + ".pub"}})
	key := filepath.Join(dir, "certified")
	sshd.GenerateKey(t, key, "")
	if out, err := exec.Command("ssh-keygen", "-q", "-s", ca, "-I", "test-user", "-n", s.User, "-V", "-5m:+1h", key+".pub").CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -s: %v: %s", err, out)
	}
	cfg := baseConfig(t, s)
	cfg.IdentityFiles = []string{key}
	c := dialOK(t, cfg)
	if got := runRemote(t, c.Client, "id -un"); got != s.User {
		t.Errorf("remote user: got %q, want %q", got, s.User)
	}
	if !s.WaitLog("Accepted certificate ID \"test-user\"", 5*time.Second) {
		t.Errorf("sshd did not log a certificate login:\n%s", s.Log())
	}
}

// TestKnownKeyTypeGone: known_hosts knows only an ECDSA key and the
// server has only ed25519. OpenSSH calls this a possible replacement;
// the error must say so, not just "no common algorithm".
func TestKnownKeyTypeGone(t *testing.T) {
	s := sshd.Start(t, sshd.Options{})
	cfg := baseConfig(t, s)
	ecdsaFile := filepath.Join(t.TempDir(), "ecdsa")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", ecdsaFile).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pub := readPublicKey(ecdsaFile)
	writeFile(t, cfg.UserKnownHostsFiles[0], xknownhosts.Line([]string{xknownhosts.Normalize(s.Addr)}, pub)+"\n")
	_, err := Dial(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "offers none of the host key types known_hosts holds") {
		t.Fatalf("Dial: got %v, want an error naming the known key types", err)
	}
}
