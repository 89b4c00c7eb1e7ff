package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/signertest"
	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

// revokeFixture is a database with accounts, hostnames and certificates
// issued by a test CA, and a cli whose revoker is that CA.
type revokeFixture struct {
	db     *store.DB
	url    string
	ca     *signertest.CA
	dirs   []string // the --acme-directory each revoker was built for
	audit  string
	serial map[string]string // label -> serial of its certificate
}

func newRevokeFixture(t *testing.T) *revokeFixture {
	t.Helper()
	dir := t.TempDir()
	f := &revokeFixture{url: "sqlite:" + filepath.Join(dir, "signer.db"), ca: signertest.NewCA(t),
		audit: filepath.Join(dir, "audit.log"), serial: map[string]string{}}
	admin(t, f.url, "correct horse battery staple\n", strings.Fields("account add alice --email alice@example.com")...)
	admin(t, f.url, "correct horse battery staple\n", strings.Fields("account add bob --email bob@example.com")...)
	for _, h := range [][2]string{{"alice", "alice-box"}, {"alice", "alice-vm"}, {"alice", "alice-old"}, {"bob", "bob-box"}} {
		admin(t, f.url, "", "hostname", "add", h[0], h[1])
	}
	db, err := store.Open(context.Background(), f.url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f.db = db
	for _, h := range [][2]string{{"alice", "alice-box"}, {"alice", "alice-vm"}, {"bob", "bob-box"}} {
		f.issue(t, h[0], h[1])
	}
	return f
}

// issue records a certificate for label from the test CA, as the API
// does after an order.
func (f *revokeFixture) issue(t *testing.T, user, label string) {
	t.Helper()
	ctx := context.Background()
	block, _ := pem.Decode(signertest.CSR(t, label+".signer.test"))
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := f.ca.Issue(ctx, csr)
	if err != nil {
		t.Fatal(err)
	}
	leafBlock, _ := pem.Decode(chain)
	leaf, err := x509.ParseCertificate(leafBlock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.db.Account(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	id, err := f.db.BeginIssuance(ctx, label, a.ID, store.DefaultBudget())
	if err != nil {
		t.Fatal(err)
	}
	serial := leaf.SerialNumber.Text(16)
	if _, err := f.db.CompleteIssuance(ctx, id, store.Certificate{AccountID: a.ID, Label: label, Serial: serial,
		NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter, ChainPEM: string(chain)}); err != nil {
		t.Fatal(err)
	}
	f.serial[label] = serial
}

// run runs one admin command with the fixture's revoker and returns its
// exit code, stdout and stderr.
func (f *revokeFixture) run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" },
		revoker: func(_ context.Context, directory, _ string, _ *store.DB) (revoker, error) {
			f.dirs = append(f.dirs, directory)
			return f.ca, nil
		}}
	code := c.run(context.Background(), append(args, "--db", f.url, "--audit-log", f.audit))
	return code, out.String(), errb.String()
}

// revokedSerials are the serials the CA revoked, sorted.
func (f *revokeFixture) revokedSerials(t *testing.T) []string {
	t.Helper()
	var got []string
	for _, der := range f.ca.Revoked() {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c.SerialNumber.Text(16))
	}
	slices.Sort(got)
	return got
}

func (f *revokeFixture) revokedInStore(t *testing.T, label string) bool {
	t.Helper()
	c, err := f.db.CertificateBySerial(context.Background(), f.serial[label])
	if err != nil {
		t.Fatal(err)
	}
	return c.RevokedAt != nil
}

func (f *revokeFixture) registered(label string) bool {
	_, err := f.db.Hostname(context.Background(), label)
	return err == nil
}

// TestReleaseRevokesCertificates: a hostname given up is quarantined
// because its certificates stay valid; release and account delete revoke
// them at the CA first, and give nothing up when they cannot.
func TestReleaseRevokesCertificates(t *testing.T) {
	t.Run("release without a CA refuses", func(t *testing.T) {
		f := newRevokeFixture(t)
		code, _, stderr := f.run("hostname", "release", "alice-box")
		if code != 1 || !strings.Contains(stderr, "still valid") || !strings.Contains(stderr, "hint: give the service's --acme-directory") {
			t.Errorf("exit %d, stderr %q; want a refusal naming --acme-directory", code, stderr)
		}
		if !f.registered("alice-box") {
			t.Error("the hostname was released with a valid certificate and no revocation")
		}
		if n := len(f.ca.Revoked()); n != 0 {
			t.Errorf("revoked %d certificates, want 0", n)
		}
	})
	t.Run("release revokes the hostname's certificates", func(t *testing.T) {
		f := newRevokeFixture(t)
		code, stdout, stderr := f.run("hostname", "release", "alice-box", "--acme-directory", "https://ca.example/dir")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if got, want := f.revokedSerials(t), []string{f.serial["alice-box"]}; !slices.Equal(got, want) {
			t.Errorf("revoked %v, want %v (only the released hostname's)", got, want)
		}
		if !slices.Equal(f.dirs, []string{"https://ca.example/dir"}) {
			t.Errorf("revoker built for %v, want the --acme-directory", f.dirs)
		}
		if !f.revokedInStore(t, "alice-box") || f.revokedInStore(t, "alice-vm") {
			t.Error("the store does not record exactly the released hostname's certificate as revoked")
		}
		if f.registered("alice-box") || !f.registered("alice-vm") {
			t.Error("want alice-box released and alice-vm kept")
		}
		if !strings.Contains(stdout, "certificate "+f.serial["alice-box"]+" of alice-box revoked") || !strings.Contains(stdout, "hostname alice-box released") {
			t.Errorf("stdout %q", stdout)
		}
		audit, _ := os.ReadFile(f.audit)
		if !strings.Contains(string(audit), `"action":"certificate revoke"`) || !strings.Contains(string(audit), f.serial["alice-box"]) {
			t.Errorf("audit log has no line for the revocation:\n%s", audit)
		}
		// A second certificate-less release of another name needs no CA.
		f.db.SetCertificateRevoked(context.Background(), f.serial["alice-vm"])
		if code, _, stderr := f.run("hostname", "release", "alice-vm"); code != 0 {
			t.Errorf("releasing a hostname without valid certificates: exit %d\n%s", code, stderr)
		}
	})
	t.Run("account delete revokes every hostname's certificates", func(t *testing.T) {
		f := newRevokeFixture(t)
		f.issue(t, "alice", "alice-vm") // a second one for alice-vm
		second := f.serial["alice-vm"]
		// A hostname alice gave up keeping its certificate: deleting the
		// account revokes that one too.
		f.issue(t, "alice", "alice-old")
		// One already revoked is not revoked again.
		f.db.SetCertificateRevoked(context.Background(), second)
		if code, _, stderr := f.run("hostname", "release", "alice-old", "--keep-certificates"); code != 0 {
			t.Fatalf("release alice-old: exit %d\n%s", code, stderr)
		}
		want := []string{f.serial["alice-box"], f.serial["alice-old"]}
		all, _ := f.db.Certificates(context.Background(), []string{"alice-vm"}, 10)
		for _, c := range all {
			if c.Serial != second {
				want = append(want, c.Serial)
			}
		}
		slices.Sort(want)
		if len(want) != 3 {
			t.Fatalf("fixture: want 3 valid certificates of alice, have %v", want)
		}
		code, _, stderr := f.run("account", "delete", "alice", "--acme-directory", "https://ca.example/dir")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if got := f.revokedSerials(t); !slices.Equal(got, want) {
			t.Errorf("revoked %v, want %v (alice's valid ones, not bob's, not the revoked one)", got, want)
		}
		if _, err := f.db.Account(context.Background(), "alice"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the account is still there: %v", err)
		}
		if !f.registered("bob-box") || f.revokedInStore(t, "bob-box") {
			t.Error("bob's hostname or certificate was touched")
		}
	})
	t.Run("account delete without a CA refuses", func(t *testing.T) {
		f := newRevokeFixture(t)
		if code, _, _ := f.run("account", "delete", "alice"); code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		if _, err := f.db.Account(context.Background(), "alice"); err != nil {
			t.Errorf("the account was deleted with valid certificates and no revocation: %v", err)
		}
	})
	t.Run("--keep-certificates gives up without revoking", func(t *testing.T) {
		f := newRevokeFixture(t)
		code, _, stderr := f.run("hostname", "release", "alice-box", "--keep-certificates")
		if code != 0 || !strings.Contains(stderr, "1 certificates stay valid") {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if f.registered("alice-box") || len(f.ca.Revoked()) != 0 {
			t.Error("want the hostname released and nothing revoked")
		}
	})
}
