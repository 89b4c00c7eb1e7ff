//go:build !windows

package forward

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// These run against the in-process server (server_test.go) and an
// in-memory ssh-agent keyring: no root, no OpenSSH. (Unix only: forward
// reaches a Windows agent through a named pipe.)

// serveKeyring serves an ssh-agent holding keys, in that order, on a unix
// socket, and returns the socket's path.
func serveKeyring(t *testing.T, keys ...ed25519.PrivateKey) string {
	t.Helper()
	kr := agent.NewKeyring()
	for _, k := range keys {
		if err := kr.Add(agent.AddedKey{PrivateKey: k}); err != nil {
			t.Fatal(err)
		}
	}
	// Not t.TempDir: a unix socket path must stay under ~100 bytes.
	dir, err := os.MkdirTemp("", "agent")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				agent.ServeAgent(kr, c)
			}()
		}
	}()
	return sock
}

func sameKey(a, b ssh.PublicKey) bool { return bytes.Equal(a.Marshal(), b.Marshal()) }

// keyNames maps each offered key to its name in names, "?" if none.
func keyNames(offered []ssh.PublicKey, names map[string]ssh.PublicKey) []string {
	var out []string
	for _, k := range offered {
		name := "?"
		for n, want := range names {
			if sameKey(k, want) {
				name = n
			}
		}
		out = append(out, name)
	}
	return out
}

// TestAuthMergesAgentAndKeyFiles checks that agent keys and key files are
// offered through one method: x/crypto tries only the first method of
// each kind, so two PublicKeys methods would leave one source unused.
func TestAuthMergesAgentAndKeyFiles(t *testing.T) {
	fileSigner, filePriv := newSigner(t)
	agentSigner, agentPriv := newSigner(t)
	keyFile := writeKeyFile(t, "id_file", filePriv, "")
	sock := serveKeyring(t, agentPriv)
	names := map[string]ssh.PublicKey{"file": fileSigner.PublicKey(), "agent": agentSigner.PublicKey()}

	for _, tc := range []struct {
		name   string
		accept ssh.Signer
	}{
		{"server accepts only the key file's key", fileSigner},
		{"server accepts only the agent's key", agentSigner},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, nil)
			s.authorize(tc.accept.PublicKey())
			cfg := s.config(t)
			cfg.IdentityFiles = []string{keyFile}
			cfg.IdentityAgent = sock
			dialOK(t, cfg)
			if got := s.acceptedKey(t); !sameKey(got, tc.accept.PublicKey()) {
				t.Errorf("authenticated with %v, want %v", keyNames([]ssh.PublicKey{got}, names), keyNames([]ssh.PublicKey{tc.accept.PublicKey()}, names))
			}
		})
	}

	t.Run("server accepts neither", func(t *testing.T) {
		s := startServer(t, nil)
		stranger, _ := newSigner(t)
		s.authorize(stranger.PublicKey())
		cfg := s.config(t)
		cfg.IdentityFiles = []string{keyFile}
		cfg.IdentityAgent = sock
		_, err := Dial(context.Background(), cfg)
		var authErr *AuthError
		if !errors.As(err, &authErr) || authErr.User != "alice" || authErr.Addr != s.addr {
			t.Fatalf("Dial: got %v, want *AuthError for alice at %s", err, s.addr)
		}
		// The agent's other keys first, then the files it lacks
		// (OpenSSH's sshconnect2.c pubkey_prepare).
		if got, want := keyNames(s.offeredKeys(), names), []string{"agent", "file"}; !equalStrings(got, want) {
			t.Errorf("offered %v, want %v", got, want)
		}
	})

	t.Run("agent unreachable", func(t *testing.T) {
		// OpenSSH carries on without the agent.
		s := startServer(t, nil)
		s.authorize(fileSigner.PublicKey())
		cfg := s.config(t)
		cfg.IdentityFiles = []string{keyFile}
		cfg.IdentityAgent = filepath.Join(t.TempDir(), "no-agent")
		dialOK(t, cfg)
	})
}

func TestAuthIdentitiesOnly(t *testing.T) {
	fileSigner, filePriv := newSigner(t)
	agentSigner, agentPriv := newSigner(t)
	keyFile := writeKeyFile(t, "id_file", filePriv, "")
	names := map[string]ssh.PublicKey{"file": fileSigner.PublicKey(), "agent": agentSigner.PublicKey()}

	// The agent's key is not among IdentityFiles: never offered.
	s := startServer(t, nil)
	s.authorize(agentSigner.PublicKey())
	cfg := s.config(t)
	cfg.IdentityFiles = []string{keyFile}
	cfg.IdentityAgent = serveKeyring(t, agentPriv)
	cfg.IdentitiesOnly = true
	_, err := Dial(context.Background(), cfg)
	var authErr *AuthError
	if !errors.As(err, &authErr) {
		t.Fatalf("Dial with IdentitiesOnly: got %v, want *AuthError", err)
	}
	if got, want := keyNames(s.offeredKeys(), names), []string{"file"}; !equalStrings(got, want) {
		t.Errorf("offered %v, want %v", got, want)
	}

	// The agent holds the file's key: its copy is used, offered once.
	s2 := startServer(t, nil)
	s2.authorize(fileSigner.PublicKey())
	cfg = s2.config(t)
	cfg.IdentityFiles = []string{keyFile}
	cfg.IdentityAgent = serveKeyring(t, agentPriv, filePriv)
	cfg.IdentitiesOnly = true
	dialOK(t, cfg)
	if got, want := keyNames(s2.offeredKeys(), names), []string{"file"}; !equalStrings(got, want) {
		t.Errorf("offered %v, want %v", got, want)
	}
}

// TestAuthAgentKeyOrder checks OpenSSH's order: agent keys named by an
// IdentityFile first, whatever the agent's own order. sshd's MaxAuthTries
// (default 6) counts every key offered, so a full agent can lock out the
// right key.
func TestAuthAgentKeyOrder(t *testing.T) {
	noise1, noise1Priv := newSigner(t)
	noise2, noise2Priv := newSigner(t)
	right, rightPriv := newSigner(t)
	names := map[string]ssh.PublicKey{"noise1": noise1.PublicKey(), "noise2": noise2.PublicKey(), "right": right.PublicKey()}
	s := startServer(t, nil)
	stranger, _ := newSigner(t)
	s.authorize(stranger.PublicKey()) // accept nothing: see every key offered
	cfg := s.config(t)
	cfg.IdentityFiles = []string{writeKeyFile(t, "id_right", rightPriv, "")}
	cfg.IdentityAgent = serveKeyring(t, noise1Priv, noise2Priv, rightPriv)
	Dial(context.Background(), cfg)
	if got, want := keyNames(s.offeredKeys(), names), []string{"right", "noise1", "noise2"}; !equalStrings(got, want) {
		t.Errorf("offered %v, want %v", got, want)
	}
}

func TestAuthEncryptedKeyFile(t *testing.T) {
	signer, priv := newSigner(t)
	keyFile := writeKeyFile(t, "id_enc", priv, "correct horse")

	t.Run("asked once the server accepts the key", func(t *testing.T) {
		s := startServer(t, nil)
		s.authorize(signer.PublicKey())
		cfg := s.config(t)
		cfg.IdentityFiles = []string{keyFile}
		cfg.BatchMode = false
		p := &fakePrompter{passphrases: []string{"correct horse"}}
		cfg.Prompt = p
		dialOK(t, cfg)
		if got := p.times("passphrase"); got != 1 {
			t.Errorf("passphrase prompts: got %d, want 1", got)
		}
	})
	t.Run("not asked when the server refuses the key", func(t *testing.T) {
		// The public half is in the clear: the passphrase is asked only
		// for a key the server would take, as OpenSSH does.
		s := startServer(t, nil)
		other, _ := newSigner(t)
		s.authorize(other.PublicKey())
		cfg := s.config(t)
		cfg.IdentityFiles = []string{keyFile}
		cfg.BatchMode = false
		p := &fakePrompter{passphrases: []string{"correct horse"}}
		cfg.Prompt = p
		if _, err := Dial(context.Background(), cfg); err == nil {
			t.Fatal("Dial: got success, want auth failure")
		}
		if got := p.times("passphrase"); got != 0 {
			t.Errorf("passphrase prompts: got %d, want 0", got)
		}
	})
	t.Run("skipped in batch mode", func(t *testing.T) {
		s := startServer(t, nil)
		s.authorize(signer.PublicKey())
		cfg := s.config(t)
		cfg.IdentityFiles = []string{keyFile}
		p := &fakePrompter{passphrases: []string{"correct horse"}}
		cfg.Prompt = p
		_, err := Dial(context.Background(), cfg)
		var authErr *AuthError
		if !errors.As(err, &authErr) {
			t.Fatalf("Dial: got %v, want *AuthError", err)
		}
		if got := p.times("passphrase"); got != 0 {
			t.Errorf("passphrase prompts in batch mode: got %d, want 0", got)
		}
		if len(s.offeredKeys()) != 0 {
			t.Errorf("offered %d keys, want none", len(s.offeredKeys()))
		}
	})
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
