package forward

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// These run against the in-process server (server_test.go): no root, no
// OpenSSH.

func TestHostKeyKnown(t *testing.T) {
	s := startServer(t, nil)
	t.Run("plain entry", func(t *testing.T) {
		dialOK(t, s.config(t))
	})
	t.Run("among other hosts and comments", func(t *testing.T) {
		cfg := s.config(t)
		other, _ := newSigner(t)
		writeFile(t, cfg.UserKnownHostsFiles[0], "# mine\nexample.com "+authorizedLine(other.PublicKey())+"\n"+s.knownHostsLine()+"\n")
		dialOK(t, cfg)
	})
	t.Run("global file", func(t *testing.T) {
		cfg := s.config(t)
		cfg.GlobalKnownHostsFiles = cfg.UserKnownHostsFiles
		cfg.UserKnownHostsFiles = []string{filepath.Join(t.TempDir(), "missing")} // skipped, as OpenSSH does
		dialOK(t, cfg)
	})
	t.Run("HostKeyAlias", func(t *testing.T) {
		cfg := s.config(t)
		cfg.HostKeyAlias = "build-box"
		writeFile(t, cfg.UserKnownHostsFiles[0], xknownhosts.Line([]string{xknownhosts.Normalize("build-box:" + itoa(s.port))}, s.hostPublicKey())+"\n")
		dialOK(t, cfg)
	})
	t.Run("hashed entry", func(t *testing.T) {
		cfg := s.config(t)
		name := xknownhosts.HashHostname(xknownhosts.Normalize(s.addr))
		writeFile(t, cfg.UserKnownHostsFiles[0], xknownhosts.Line([]string{name}, s.hostPublicKey())+"\n")
		dialOK(t, cfg)
	})
	t.Run("unparsable line skipped", func(t *testing.T) {
		cfg := s.config(t)
		writeFile(t, cfg.UserKnownHostsFiles[0], "example.com ssh-future AAAA garbage\n"+s.knownHostsLine()+"\n")
		dialOK(t, cfg)
	})
}

func TestHostKeyChanged(t *testing.T) {
	s := startServer(t, nil)
	other, _ := newSigner(t)
	for _, tc := range []struct {
		name string
		line string
	}{
		{"plain entry", xknownhosts.Line([]string{xknownhosts.Normalize(s.addr)}, other.PublicKey())},
		{"hashed entry", xknownhosts.Line([]string{xknownhosts.HashHostname(xknownhosts.Normalize(s.addr))}, other.PublicKey())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := s.config(t)
			kh := cfg.UserKnownHostsFiles[0]
			writeFile(t, kh, "# comment\n"+tc.line+"\n")
			// Even accept-new and "no" refuse a changed key, with or
			// without someone to ask (OpenSSH: "REMOTE HOST
			// IDENTIFICATION HAS CHANGED", never a prompt).
			for _, strict := range []string{"yes", "accept-new", "no", "ask"} {
				for _, batch := range []bool{true, false} {
					cfg.StrictHostKeyChecking, cfg.BatchMode = strict, batch
					p := &fakePrompter{confirm: true}
					cfg.Prompt = p
					_, err := Dial(context.Background(), cfg)
					var changed *HostKeyChangedError
					if !errors.As(err, &changed) {
						t.Fatalf("StrictHostKeyChecking=%s BatchMode=%v: got %v, want *HostKeyChangedError", strict, batch, err)
					}
					if p.times("host") != 0 {
						t.Errorf("StrictHostKeyChecking=%s: asked about a changed key", strict)
					}
					if len(changed.Known) != 1 || changed.Known[0].String() != kh+":2" || !bytes.Equal(changed.Known[0].Key.Marshal(), other.PublicKey().Marshal()) {
						t.Errorf("Known: got %v, want the entry at %s:2", changed.Known, kh)
					}
					msg := err.Error()
					for _, want := range []string{"REMOTE HOST IDENTIFICATION HAS CHANGED", ssh.FingerprintSHA256(s.hostPublicKey()), kh + ":2", "ssh-keygen -R '[127.0.0.1]:" + itoa(s.port) + "'"} {
						if !strings.Contains(msg, want) {
							t.Errorf("error %q lacks %q", msg, want)
						}
					}
				}
			}
			b, _ := os.ReadFile(kh)
			if strings.Contains(string(b), authorizedLine(s.hostPublicKey())) {
				t.Errorf("known_hosts recorded the changed key: %q", b)
			}
		})
	}
}

func TestHostKeyRevoked(t *testing.T) {
	s := startServer(t, nil)
	for _, strict := range []string{"yes", "accept-new", "no"} {
		t.Run(strict, func(t *testing.T) {
			cfg := s.config(t)
			cfg.StrictHostKeyChecking = strict
			kh := cfg.UserKnownHostsFiles[0]
			// Known and revoked: revoked wins.
			writeFile(t, kh, s.knownHostsLine()+"\n@revoked * "+authorizedLine(s.hostPublicKey())+"\n")
			_, err := Dial(context.Background(), cfg)
			var revoked *RevokedHostKeyError
			if !errors.As(err, &revoked) {
				t.Fatalf("Dial: got %v, want *RevokedHostKeyError", err)
			}
			if want := kh + ":2"; revoked.Revoked.String() != want || !strings.Contains(err.Error(), want) {
				t.Errorf("error %q: revoked at %s, want %s", err, revoked.Revoked, want)
			}
		})
	}
	t.Run("revoked host certificate key", func(t *testing.T) {
		// A certificate whose key is revoked is refused, not retried as a
		// plain key.
		ca, _ := newSigner(t)
		key, _ := newSigner(t)
		cs := startServer(t, hostCert(t, ca, key, []string{"127.0.0.1"}, time.Now().Add(time.Hour)), key)
		cfg := cs.config(t)
		writeFile(t, cfg.UserKnownHostsFiles[0], "@cert-authority * "+authorizedLine(ca.PublicKey())+"\n@revoked * "+authorizedLine(key.PublicKey())+"\n"+cs.knownHostsLine()+"\n")
		_, err := Dial(context.Background(), cfg)
		var revoked *RevokedHostKeyError
		if !errors.As(err, &revoked) {
			t.Fatalf("Dial: got %v, want *RevokedHostKeyError", err)
		}
	})
}

func TestHostKeyCertAuthority(t *testing.T) {
	ca, _ := newSigner(t)
	key, _ := newSigner(t)
	s := startServer(t, hostCert(t, ca, key, []string{"127.0.0.1", "build-box"}, time.Now().Add(time.Hour)), key)
	otherCA, _ := newSigner(t)

	// Only the CA is known, under patterns that name the host with a
	// wildcard: the host's own key is not. ("?" is left out: on a port
	// other than 22 skeema/knownhosts widens "*" patterns only.)
	for _, pattern := range []string{"*", "127.0.0.*", "*.0.0.1", "example.com,127.*"} {
		t.Run("pattern "+pattern, func(t *testing.T) {
			cfg := s.config(t)
			writeFile(t, cfg.UserKnownHostsFiles[0], "@cert-authority "+pattern+" "+authorizedLine(ca.PublicKey())+"\n")
			dialOK(t, cfg)
		})
	}
	t.Run("exact host and port", func(t *testing.T) {
		cfg := s.config(t)
		writeFile(t, cfg.UserKnownHostsFiles[0], "@cert-authority [127.0.0.1]:"+itoa(s.port)+" "+authorizedLine(ca.PublicKey())+"\n")
		dialOK(t, cfg)
	})
	t.Run("HostKeyAlias is the principal", func(t *testing.T) {
		cfg := s.config(t)
		cfg.HostKeyAlias = "build-box"
		writeFile(t, cfg.UserKnownHostsFiles[0], "@cert-authority build-* "+authorizedLine(ca.PublicKey())+"\n")
		dialOK(t, cfg)
	})

	// A CA for other hosts, or another CA: the host is unknown, and the
	// plain key inside the certificate decides (OpenSSH's fallback).
	for name, line := range map[string]string{
		"pattern for other hosts": "@cert-authority 10.* " + authorizedLine(ca.PublicKey()),
		"another CA":              "@cert-authority * " + authorizedLine(otherCA.PublicKey()),
	} {
		t.Run(name, func(t *testing.T) {
			cfg := s.config(t)
			writeFile(t, cfg.UserKnownHostsFiles[0], line+"\n")
			_, err := Dial(context.Background(), cfg)
			var unknown *UnknownHostError
			if !errors.As(err, &unknown) {
				t.Fatalf("Dial: got %v, want *UnknownHostError (the plain key is unknown)", err)
			}
			writeFile(t, cfg.UserKnownHostsFiles[0], line+"\n"+s.knownHostsLine()+"\n")
			dialOK(t, cfg)
		})
	}

	// A certificate the CA signed but that does not vouch for this host
	// (other principals, expired) falls back to the plain key too.
	for name, signer := range map[string]ssh.Signer{
		"other principals": hostCert(t, ca, key, []string{"elsewhere"}, time.Now().Add(time.Hour)),
		"expired":          hostCert(t, ca, key, []string{"127.0.0.1"}, time.Now().Add(-time.Minute)),
	} {
		t.Run(name, func(t *testing.T) {
			bad := startServer(t, signer, key)
			cfg := bad.config(t)
			writeFile(t, cfg.UserKnownHostsFiles[0], "@cert-authority * "+authorizedLine(ca.PublicKey())+"\n")
			_, err := Dial(context.Background(), cfg)
			var unknown *UnknownHostError
			if !errors.As(err, &unknown) {
				t.Fatalf("Dial: got %v, want *UnknownHostError", err)
			}
			writeFile(t, cfg.UserKnownHostsFiles[0], "@cert-authority * "+authorizedLine(ca.PublicKey())+"\n"+bad.knownHostsLine()+"\n")
			dialOK(t, cfg)
		})
	}

	t.Run("accept-new records the plain key", func(t *testing.T) {
		cfg := s.config(t)
		kh := filepath.Join(t.TempDir(), "known_hosts")
		cfg.UserKnownHostsFiles = []string{kh}
		cfg.StrictHostKeyChecking = "accept-new"
		dialOK(t, cfg)
		b, _ := os.ReadFile(kh)
		if want := authorizedLine(key.PublicKey()); !strings.Contains(string(b), want) || strings.Contains(string(b), "cert") {
			t.Errorf("known_hosts after accept-new of a certificate host: got %q, want the plain key %q", b, want)
		}
	})
}

func TestHostKeyUnknown(t *testing.T) {
	s := startServer(t, nil)
	empty := func(t *testing.T) *Config {
		cfg := s.config(t)
		writeFile(t, cfg.UserKnownHostsFiles[0], "")
		return cfg
	}
	// Refused without asking.
	for _, tc := range []struct {
		name   string
		strict string
		batch  bool
		prompt bool
		reason string
	}{
		{"batch mode", "ask", true, true, "BatchMode=yes"},
		{"no terminal", "ask", false, false, "not a terminal"},
		{"StrictHostKeyChecking=yes", "yes", false, true, "StrictHostKeyChecking=yes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := empty(t)
			cfg.StrictHostKeyChecking, cfg.BatchMode = tc.strict, tc.batch
			p := &fakePrompter{confirm: true}
			if tc.prompt {
				cfg.Prompt = p
			}
			_, err := Dial(context.Background(), cfg)
			var unknown *UnknownHostError
			if !errors.As(err, &unknown) {
				t.Fatalf("Dial: got %v, want *UnknownHostError", err)
			}
			if !strings.Contains(unknown.Reason, tc.reason) {
				t.Errorf("reason %q, want it to say %q", unknown.Reason, tc.reason)
			}
			if p.times("host") != 0 {
				t.Error("asked about the host")
			}
			if b, _ := os.ReadFile(cfg.UserKnownHostsFiles[0]); len(b) != 0 {
				t.Errorf("known_hosts written: %q", b)
			}
		})
	}

	t.Run("asked on a terminal", func(t *testing.T) {
		cfg := empty(t)
		cfg.StrictHostKeyChecking, cfg.BatchMode = "ask", false
		var asked struct {
			host, fp string
			key      ssh.PublicKey
		}
		no := &recordingPrompter{answer: false, record: func(host string, key ssh.PublicKey, fp string) { asked.host, asked.key, asked.fp = host, key, fp }}
		cfg.Prompt = no
		_, err := Dial(context.Background(), cfg)
		var unknown *UnknownHostError
		if !errors.As(err, &unknown) || unknown.Reason != "not confirmed" {
			t.Fatalf("Dial, answered no: got %v, want *UnknownHostError (not confirmed)", err)
		}
		if asked.host != "127.0.0.1:"+itoa(s.port) || asked.fp != ssh.FingerprintSHA256(s.hostPublicKey()) || !bytes.Equal(asked.key.Marshal(), s.hostPublicKey().Marshal()) {
			t.Errorf("asked about %q %s, want 127.0.0.1:%d %s", asked.host, asked.fp, s.port, ssh.FingerprintSHA256(s.hostPublicKey()))
		}
		if b, _ := os.ReadFile(cfg.UserKnownHostsFiles[0]); len(b) != 0 {
			t.Errorf("known_hosts written after no: %q", b)
		}

		yes := &fakePrompter{confirm: true}
		cfg.Prompt = yes
		dialOK(t, cfg)
		b, _ := os.ReadFile(cfg.UserKnownHostsFiles[0])
		if want := "[127.0.0.1]:" + itoa(s.port) + " " + authorizedLine(s.hostPublicKey()) + "\n"; string(b) != want {
			t.Errorf("known_hosts after yes: got %q, want %q", b, want)
		}
		// Known now: not asked again.
		dialOK(t, cfg)
		if got := yes.times("host"); got != 1 {
			t.Errorf("asked %d times, want 1", got)
		}
	})

	t.Run("prompter fails", func(t *testing.T) {
		cfg := empty(t)
		cfg.StrictHostKeyChecking, cfg.BatchMode = "ask", false
		cfg.Prompt = &recordingPrompter{err: errors.New("read /dev/tty: input/output error")}
		_, err := Dial(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), "input/output error") {
			t.Fatalf("Dial: got %v, want the prompter's error", err)
		}
	})
}

func TestHostKeyAcceptNew(t *testing.T) {
	s := startServer(t, nil)
	for _, strict := range []string{"accept-new", "no"} {
		for _, hashed := range []bool{false, true} {
			t.Run(strict+"/hashed="+map[bool]string{false: "no", true: "yes"}[hashed], func(t *testing.T) {
				cfg := s.config(t)
				kh := filepath.Join(t.TempDir(), "sub", "known_hosts") // directory created on demand
				cfg.UserKnownHostsFiles = []string{kh}
				cfg.StrictHostKeyChecking = strict
				cfg.HashKnownHosts = hashed
				p := &fakePrompter{confirm: false}
				cfg.Prompt, cfg.BatchMode = p, false
				dialOK(t, cfg).Close()
				if p.times("host") != 0 {
					t.Errorf("%s asked about the host", strict)
				}
				b, err := os.ReadFile(kh)
				if err != nil {
					t.Fatalf("known_hosts not written: %v", err)
				}
				line := string(b)
				if got := strings.HasPrefix(line, "|1|"); got != hashed {
					t.Errorf("known_hosts line %q: hashed got %v, want %v", line, got, hashed)
				}
				if !strings.HasSuffix(line, " "+authorizedLine(s.hostPublicKey())+"\n") {
					t.Errorf("known_hosts line %q lacks the host key", line)
				}
				if st, _ := os.Stat(kh); st.Mode().Perm() != 0o600 {
					t.Errorf("known_hosts mode %v, want 0600", st.Mode().Perm())
				}
				// Now known: strict checking passes, and nothing is appended.
				cfg.StrictHostKeyChecking = "yes"
				dialOK(t, cfg)
				if b2, _ := os.ReadFile(kh); !bytes.Equal(b, b2) {
					t.Errorf("known_hosts changed on second connect: %q -> %q", b, b2)
				}
			})
		}
	}
	t.Run("appends after a last line without newline", func(t *testing.T) {
		cfg := s.config(t)
		kh := cfg.UserKnownHostsFiles[0]
		other, _ := newSigner(t)
		writeFile(t, kh, "example.com "+authorizedLine(other.PublicKey()))
		cfg.StrictHostKeyChecking = "accept-new"
		dialOK(t, cfg)
		b, _ := os.ReadFile(kh)
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[1], "[127.0.0.1]:") {
			t.Errorf("known_hosts: got %q, want the old line and ours on its own line", b)
		}
	})
	t.Run("no UserKnownHostsFile", func(t *testing.T) {
		cfg := s.config(t)
		cfg.UserKnownHostsFiles = nil
		cfg.StrictHostKeyChecking = "accept-new"
		_, err := Dial(context.Background(), cfg)
		var unknown *UnknownHostError
		if !errors.As(err, &unknown) {
			t.Fatalf("Dial: got %v, want *UnknownHostError", err)
		}
	})
}

// TestHostKeyAlgorithmsFollowKnownHosts checks that the client offers the
// key types known_hosts holds: a host known by its ECDSA key connects even
// though it also has an ed25519 key x/crypto would prefer
// (golang/go#29286), and a host that lost the known type is named as such.
func TestHostKeyAlgorithmsFollowKnownHosts(t *testing.T) {
	ed, _ := newSigner(t)
	ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ssh.NewSignerFromKey(ecPriv)
	if err != nil {
		t.Fatal(err)
	}
	both := startServer(t, ed, ec)
	cfg := both.config(t)
	writeFile(t, cfg.UserKnownHostsFiles[0], xknownhosts.Line([]string{xknownhosts.Normalize(both.addr)}, ec.PublicKey())+"\n")
	dialOK(t, cfg)

	edOnly := startServer(t, ed)
	cfg = edOnly.config(t)
	writeFile(t, cfg.UserKnownHostsFiles[0], xknownhosts.Line([]string{xknownhosts.Normalize(edOnly.addr)}, ec.PublicKey())+"\n")
	_, err = Dial(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "offers none of the host key types known_hosts holds for it (ecdsa-sha2-nistp256)") {
		t.Fatalf("Dial: got %v, want the replaced-keys error", err)
	}
	// Quoted: zsh would glob an unquoted [127.0.0.1]:PORT.
	if want := "(ssh-keygen -R '" + xknownhosts.Normalize(edOnly.addr) + "')"; !strings.Contains(err.Error(), want) {
		t.Errorf("Dial: got %v, want %s", err, want)
	}
}

// recordingPrompter answers ConfirmHostKey with answer (or err) and
// records the question.
type recordingPrompter struct {
	fakePrompter
	answer bool
	err    error
	record func(host string, key ssh.PublicKey, fp string)
}

func (p *recordingPrompter) ConfirmHostKey(host string, key ssh.PublicKey, fp string) (bool, error) {
	if p.record != nil {
		p.record(host, key, fp)
	}
	return p.answer, p.err
}

func itoa(n int) string { return strconv.Itoa(n) }
