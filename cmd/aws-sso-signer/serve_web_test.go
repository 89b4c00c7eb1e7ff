package main

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/signertest"
	"github.com/aws-sso-agent/aws-sso-agent/internal/smtpsink"
	"github.com/aws-sso-agent/aws-sso-agent/signer/protocol"
	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

// TestServeWeb: with --smtp-addr, serve answers the API on its paths and
// the web pages on every other, and a sign-up's mail goes to the relay.
func TestServeWeb(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "signer.db")
	certFile, keyFile, pool := selfSigned(t, dir)
	sink := smtpsink.Start(t)
	ca := signertest.NewCA(t)
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	c := &cli{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr, getenv: func(string) string { return "" },
		parts: func(ctx context.Context, o serveOptions, d *store.DB, log *slog.Logger) (serveParts, error) {
			return serveParts{Issuer: ca, Run: func(ctx context.Context) error { <-ctx.Done(); return nil }}, nil
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- c.run(ctx, []string{"serve", "--zone", "signer.test", "--db", db, "--listen", "127.0.0.1:0", "--dns-listen", "127.0.0.1:0",
			"--acme-directory", "https://acme.invalid/dir", "--tls-cert", certFile, "--tls-key", keyFile,
			"--smtp-addr", sink.Addr, "--web-url", "https://signer.example:8443", "--max-hostnames", "1"})
	}()
	addr := waitFor(t, stderr, regexp.MustCompile(`"api":"([^"]+)"`), done)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, err := client.Get("https://" + addr + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("/login: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Security-Policy"))
	}
	resp, err = client.Get("https://" + addr + protocol.PathCertificates)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("the API behind the pages: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, err = client.PostForm("https://"+addr+"/signup", url.Values{"username": {"alice"}, "email": {"alice@example.com"}, "password": {"correct horse battery staple"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign up: %d", resp.StatusCode)
	}
	m := sink.Next(t, 30*time.Second)
	if m.From != "signer@signer.test" || !strings.Contains(m.Body, "https://signer.example:8443/verify?token=") {
		t.Errorf("the mail: from %q\n%s", m.From, m.Body)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, stderr.String())
	}
}

func TestServeWebFlags(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir)
	openPassword := filepath.Join(dir, "smtp-password")
	if err := os.WriteFile(openPassword, []byte("hunter2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--smtp-addr", "127.0.0.1:25", "--smtp-user", "signer"}, "--smtp-user and --smtp-password-file go together"},
		{[]string{"--smtp-addr", "127.0.0.1:25", "--web-url", "http://signer.example"}, "not an https:// URL"},
		{[]string{"--smtp-addr", "127.0.0.1:25", "--smtp-password-file", filepath.Join(dir, "missing")}, "--smtp-password-file"},
		{[]string{"--smtp-addr", "127.0.0.1:25", "--smtp-user", "signer", "--smtp-password-file", openPassword}, "open to others (mode 0644)"},
		{[]string{"--tls-key", openPassword}, "open to others (mode 0644)"},
	} {
		ca := signertest.NewCA(t)
		stderr := &syncBuffer{}
		c := &cli{stdin: strings.NewReader(""), stdout: &syncBuffer{}, stderr: stderr, getenv: func(string) string { return "" },
			parts: func(ctx context.Context, o serveOptions, d *store.DB, log *slog.Logger) (serveParts, error) {
				return serveParts{Issuer: ca}, nil
			}}
		args := append([]string{"serve", "--zone", "signer.test", "--db", "sqlite:" + filepath.Join(t.TempDir(), "s.db"), "--listen", "127.0.0.1:0",
			"--dns-listen", "127.0.0.1:0", "--acme-directory", "https://acme.invalid/dir", "--tls-cert", certFile, "--tls-key", keyFile}, tc.args...)
		// A check that regressed would leave serve running: bound it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		code := c.run(ctx, args)
		cancel()
		if code == 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, want an error saying %q\n%s", tc.args, code, tc.want, stderr.String())
		}
	}
}
