package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/signertest"
	"github.com/aws-sso-agent/aws-sso-agent/signer/protocol"
	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

// TestServeZoneBudgetFlag: --budget-zone sets the global weekly budget
// (raised to match a rate-limit override, or past it with a Public Suffix
// List entry); once it is spent, an order for any hostname gets a 429
// with Retry-After and the CA is not asked.
func TestServeZoneBudgetFlag(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "signer.db")
	admin(t, db, "correct horse battery staple\n", strings.Fields("account add alice --email alice@example.com")...)
	admin(t, db, "", strings.Fields("hostname add alice alice-box")...)
	admin(t, db, "", strings.Fields("hostname add alice alice-vm")...)
	key := strings.TrimSpace(admin(t, db, "", strings.Fields("key create alice --hostname alice-box --hostname alice-vm")...))
	certFile, keyFile, pool := selfSigned(t, dir)
	ca := signertest.NewCA(t)
	stderr := &syncBuffer{}
	c := &cli{stdin: strings.NewReader(""), stdout: &syncBuffer{}, stderr: stderr, getenv: func(string) string { return "" },
		parts: func(ctx context.Context, o serveOptions, d *store.DB, log *slog.Logger) (serveParts, error) {
			return serveParts{Issuer: ca}, nil
		}}
	serve := []string{"serve", "--zone", "signer.test", "--db", db, "--listen", "127.0.0.1:0", "--dns-listen", "127.0.0.1:0",
		"--acme-directory", "https://acme.invalid/dir", "--tls-cert", certFile, "--tls-key", keyFile}

	for _, bad := range []string{"--budget-zone=0", "--budget-hostname=-1"} {
		var errb bytes.Buffer
		c0 := &cli{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &errb, getenv: func(string) string { return "" }, parts: c.parts}
		// A serve that accepted the flag would run until this timeout.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		code := c0.run(ctx, append(serve, bad))
		cancel()
		if code != 2 || !strings.Contains(errb.String(), "at least 1") {
			t.Errorf("serve %s: exit %d\n%s; want a usage error", bad, code, errb.String())
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- c.run(ctx, append(serve, "--budget-zone", "1")) }()
	addr := waitFor(t, stderr, regexp.MustCompile(`"api":"([^"]+)"`), done)
	defer func() { cancel(); <-done }()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	sign := func(fqdn string) (*http.Response, protocol.Error) {
		body, _ := json.Marshal(protocol.SignRequest{CSR: string(signertest.CSR(t, fqdn))})
		req, _ := http.NewRequest("POST", "https://"+addr+protocol.PathCertificates, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e protocol.ErrorResponse
		json.NewDecoder(resp.Body).Decode(&e)
		return resp, e.Error
	}
	if resp, e := sign("alice-box.signer.test"); resp.StatusCode != 201 {
		t.Fatalf("first order: %d %+v", resp.StatusCode, e)
	}
	resp, e := sign("alice-vm.signer.test")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || e.Code != protocol.CodeRateLimited {
		t.Errorf("an order past --budget-zone 1: %d, Retry-After %q, %+v; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), e)
	}
	if issued, _ := ca.Counts(); issued != 1 {
		t.Errorf("the CA issued %d, want 1", issued)
	}
}
