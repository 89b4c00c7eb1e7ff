package api_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nrdcg/goacmedns"

	"github.com/aws-sso-agent/aws-sso-agent/signer"
	"github.com/aws-sso-agent/aws-sso-agent/signer/api"
	"github.com/aws-sso-agent/aws-sso-agent/signer/protocol"
	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

func TestSignListRevoke(t *testing.T) {
	f := newFixture(t, nil)
	resp, body := f.sign(f.aliceKey, "alice."+zone)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("sign: %d %s", resp.StatusCode, body)
	}
	var c protocol.Certificate
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(c.Chain))
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil || c.Hostname != "alice."+zone || c.Serial != fmt.Sprintf("%x", leaf.SerialNumber) || !c.NotAfter.Equal(leaf.NotAfter.UTC()) {
		t.Fatalf("certificate %+v does not describe its chain (%v)", c, err)
	}

	resp, body = f.do("GET", protocol.PathCertificates, f.aliceKey, nil)
	var list protocol.CertificateList
	if err := json.Unmarshal(body, &list); err != nil || resp.StatusCode != 200 || len(list.Certificates) != 1 ||
		list.Certificates[0].Serial != c.Serial || list.Certificates[0].Chain != "" {
		t.Fatalf("list: %d %s; want alice's one certificate, without its chain", resp.StatusCode, body)
	}
	resp, body = f.do("GET", protocol.PathCertificates, f.bobKey, nil)
	if err := json.Unmarshal(body, &list); err != nil || resp.StatusCode != 200 || len(list.Certificates) != 0 {
		t.Fatalf("bob's list: %d %s; want none of alice's", resp.StatusCode, body)
	}

	resp, body = f.do("POST", protocol.PathRevoke, f.bobKey, protocol.RevokeRequest{Serial: c.Serial})
	wantError(t, resp, body, http.StatusNotFound, protocol.CodeNotFound)
	resp, body = f.do("POST", protocol.PathRevoke, f.aliceKey, protocol.RevokeRequest{Serial: strings.ToUpper(c.Serial)})
	if err := json.Unmarshal(body, &c); err != nil || resp.StatusCode != 200 || c.RevokedAt == nil {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	if _, revoked := f.ca.Counts(); revoked != 1 || string(f.ca.Revoked()[0]) != string(leaf.Raw) {
		t.Errorf("the CA revoked %d certificates, want alice's one", revoked)
	}
	// Revoking again changes nothing and asks the CA nothing.
	resp, _ = f.do("POST", protocol.PathRevoke, f.aliceKey, protocol.RevokeRequest{Serial: c.Serial})
	if _, revoked := f.ca.Counts(); resp.StatusCode != 200 || revoked != 1 {
		t.Errorf("second revoke: %d, CA revocations %d; want 200 and still 1", resp.StatusCode, revoked)
	}

	audit := f.audit.String()
	for _, want := range []string{`"outcome":"issued"`, `"account":"alice"`, `"ip":"127.0.0.1"`, `"outcome":"revoked"`, `"action":"POST /v1/certificates"`} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %s:\n%s", want, audit)
		}
	}
	for _, secret := range []string{f.aliceKey, f.bobKey, f.aliceKey[len(signer.APIKeyPrefix):]} {
		if strings.Contains(audit, secret) {
			t.Errorf("audit log holds an API key")
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(audit), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("audit line is not JSON: %s", line)
		}
	}
}

// TestBadInput: every bad request gets a JSON 4xx, and nothing is
// issued, stored or published.
func TestBadInput(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	disabled, hash, _ := signer.NewAPIKey()
	f.db.AddAccount(ctx, "carol", "c@example.com", "h")
	f.db.AddHostname(ctx, "carol", "carol", 5)
	f.db.CreateKey(ctx, "carol", []string{"carol"}, hash)
	f.db.SetAccountDisabled(ctx, "carol", true)
	revoked, rhash, _ := signer.NewAPIKey()
	k, _ := f.db.CreateKey(ctx, "alice", []string{"alice"}, rhash)
	f.db.RevokeKey(ctx, k.ID)
	sqli := []string{`x'; DROP TABLE accounts; --`, `" OR 1=1 --`, `alice' OR '1'='1`, `'); DELETE FROM api_keys; --`}

	type row struct {
		name         string
		method, path string
		key          string
		body         any
		headers      []string
		status       int
		code         string
	}
	sign := func(name string, csr []byte) any { return protocol.SignRequest{CSR: string(csr)} }
	rows := []row{
		{"another account's name", "POST", protocol.PathCertificates, f.aliceKey, sign("", csrFor(t, "bob."+zone, nil)), nil, 403, protocol.CodeForbidden},
		{"extra SAN", "POST", protocol.PathCertificates, f.aliceKey, sign("", csrFor(t, "alice."+zone+",alice2."+zone, nil)), nil, 400, protocol.CodeBadCSR},
		{"IP SAN", "POST", protocol.PathCertificates, f.aliceKey, sign("", csrWithIP(t)), nil, 400, protocol.CodeBadCSR},
		{"weak key", "POST", protocol.PathCertificates, f.aliceKey, sign("", csrFor(t, "alice."+zone, weak)), nil, 400, protocol.CodeBadCSR},
		{"malformed PEM", "POST", protocol.PathCertificates, f.aliceKey, protocol.SignRequest{CSR: "-----BEGIN CERTIFICATE REQUEST-----\nnot base64!\n-----END CERTIFICATE REQUEST-----\n"}, nil, 400, protocol.CodeBadCSR},
		{"1 MB body", "POST", protocol.PathCertificates, f.aliceKey, `{"csr":"` + strings.Repeat("A", 1<<20) + `"}`, nil, 413, protocol.CodeTooLarge},
		{"1 MB whitespace after the object", "POST", protocol.PathCertificates, f.aliceKey, `{"csr":"x"}` + strings.Repeat(" ", 1<<20), nil, 413, protocol.CodeTooLarge},
		{"not JSON", "POST", protocol.PathCertificates, f.aliceKey, `csr=...`, nil, 400, protocol.CodeBadRequest},
		{"unknown field", "POST", protocol.PathCertificates, f.aliceKey, `{"csr":"x","names":["bob.signer.test"]}`, nil, 400, protocol.CodeBadRequest},
		{"two objects", "POST", protocol.PathCertificates, f.aliceKey, `{"csr":"x"}{"csr":"y"}`, nil, 400, protocol.CodeBadRequest},
		{"no key", "POST", protocol.PathCertificates, "", sign("", csrFor(t, "alice."+zone, nil)), nil, 401, protocol.CodeUnauthorized},
		{"revoked key", "POST", protocol.PathCertificates, revoked, sign("", csrFor(t, "alice."+zone, nil)), nil, 401, protocol.CodeUnauthorized},
		{"disabled account's key", "POST", protocol.PathCertificates, disabled, sign("", csrFor(t, "carol."+zone, nil)), nil, 401, protocol.CodeUnauthorized},
		{"disabled account's key lists", "GET", protocol.PathCertificates, disabled, nil, nil, 401, protocol.CodeUnauthorized},
		{"malformed key", "GET", protocol.PathCertificates, "sgk_short", nil, nil, 401, protocol.CodeUnauthorized},
		{"basic auth", "GET", protocol.PathCertificates, "", nil, []string{"Authorization", "Basic YWxpY2U6eA=="}, 401, protocol.CodeUnauthorized},
		{"revoke bad serial", "POST", protocol.PathRevoke, f.aliceKey, protocol.RevokeRequest{Serial: "xyz"}, nil, 400, protocol.CodeBadRequest},
		{"revoke unknown serial", "POST", protocol.PathRevoke, f.aliceKey, protocol.RevokeRequest{Serial: "abcdef"}, nil, 404, protocol.CodeNotFound},
		{"update another's label", "POST", protocol.PathUpdate, "", protocol.UpdateRequest{Subdomain: "bob", TXT: strings.Repeat("a", 43)}, []string{protocol.HeaderAPIUser, "alice", protocol.HeaderAPIKey, f.aliceKey}, 403, protocol.CodeForbidden},
		{"update with the wrong user", "POST", protocol.PathUpdate, "", protocol.UpdateRequest{Subdomain: "bob", TXT: strings.Repeat("a", 43)}, []string{protocol.HeaderAPIUser, "alice", protocol.HeaderAPIKey, f.bobKey}, 401, protocol.CodeUnauthorized},
		{"update without a key", "POST", protocol.PathUpdate, "", protocol.UpdateRequest{Subdomain: "alice", TXT: strings.Repeat("a", 43)}, []string{protocol.HeaderAPIUser, "alice"}, 401, protocol.CodeUnauthorized},
		{"update a bad value", "POST", protocol.PathUpdate, "", protocol.UpdateRequest{Subdomain: "alice", TXT: "short\"; rm -rf"}, []string{protocol.HeaderAPIUser, "alice", protocol.HeaderAPIKey, f.aliceKey}, 400, protocol.CodeBadRequest},
		{"update a nested name", "POST", protocol.PathUpdate, "", protocol.UpdateRequest{Subdomain: "x.alice", TXT: strings.Repeat("a", 43)}, []string{protocol.HeaderAPIUser, "alice", protocol.HeaderAPIKey, f.aliceKey}, 400, protocol.CodeBadRequest},
		{"wrong method", "DELETE", protocol.PathCertificates, f.aliceKey, nil, nil, 405, protocol.CodeMethodNotAllowed},
		{"unknown path", "GET", "/v1/../etc/passwd", f.aliceKey, nil, nil, 404, protocol.CodeNotFound},
		{"unknown version", "GET", "/v2/certificates", f.aliceKey, nil, nil, 404, protocol.CodeNotFound},
	}
	for _, s := range sqli {
		rows = append(rows,
			row{"sql in csr " + s, "POST", protocol.PathCertificates, f.aliceKey, protocol.SignRequest{CSR: s}, nil, 400, protocol.CodeBadCSR},
			row{"sql in the csr's name " + s, "POST", protocol.PathCertificates, f.aliceKey, sign("", csrFor(t, s+"."+zone, nil)), nil, 400, protocol.CodeBadCSR},
			row{"sql in key " + s, "GET", protocol.PathCertificates, s, nil, nil, 401, protocol.CodeUnauthorized},
			row{"sql in serial " + s, "POST", protocol.PathRevoke, f.aliceKey, protocol.RevokeRequest{Serial: s}, nil, 400, protocol.CodeBadRequest},
			row{"sql in subdomain " + s, "POST", protocol.PathUpdate, "", protocol.UpdateRequest{Subdomain: s, TXT: strings.Repeat("a", 43)}, []string{protocol.HeaderAPIUser, "alice", protocol.HeaderAPIKey, f.aliceKey}, 400, protocol.CodeBadRequest},
			row{"sql in txt " + s, "POST", protocol.PathUpdate, "", protocol.UpdateRequest{Subdomain: "alice", TXT: s}, []string{protocol.HeaderAPIUser, "alice", protocol.HeaderAPIKey, f.aliceKey}, 400, protocol.CodeBadRequest},
			row{"sql in user " + s, "POST", protocol.PathUpdate, "", protocol.UpdateRequest{Subdomain: "alice", TXT: strings.Repeat("a", 43)}, []string{protocol.HeaderAPIUser, s, protocol.HeaderAPIKey, f.aliceKey}, 401, protocol.CodeUnauthorized},
		)
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			resp, body := f.do(r.method, r.path, r.key, r.body, r.headers...)
			e := wantError(t, resp, body, r.status, r.code)
			if e.Message == "" {
				t.Error("a refusal without a message")
			}
		})
	}
	if issued, revoked := f.ca.Counts(); issued != 0 || revoked != 0 {
		t.Errorf("the CA issued %d and revoked %d; want nothing", issued, revoked)
	}
	certs, _ := f.db.Certificates(ctx, []string{"alice", "alice2", "bob", "carol"}, 100)
	z, _ := f.db.LoadZone(ctx)
	if len(certs) != 0 || len(z.TXT) != 0 {
		t.Errorf("stored %d certificates and TXT %v; want nothing", len(certs), z.TXT)
	}
	if accounts, err := f.db.Accounts(ctx); err != nil || len(accounts) != 3 {
		t.Errorf("accounts after the injections: %d, %v; want 3", len(accounts), err)
	}
	// The budgets are whole: alice can still order her full share.
	for i := 0; i < store.DefaultBudget().PerHostname; i++ {
		if resp, body := f.sign(f.aliceKey, "alice."+zone); resp.StatusCode != 201 {
			t.Fatalf("order %d after the bad input: %d %s", i, resp.StatusCode, body)
		}
	}
}

func TestBudgetsAndLimits(t *testing.T) {
	t.Run("per hostname", func(t *testing.T) {
		f := newFixture(t, func(c *api.Config) {
			c.Budget = store.Budget{PerHostname: 1, Global: 10, Window: 7 * 24 * time.Hour, MaxFailures: 3, FailureWindow: time.Hour, Pending: time.Minute}
		})
		if resp, body := f.sign(f.aliceKey, "alice."+zone); resp.StatusCode != 201 {
			t.Fatalf("first: %d %s", resp.StatusCode, body)
		}
		resp, body := f.sign(f.aliceKey, "alice."+zone)
		wantError(t, resp, body, 429, protocol.CodeRateLimited)
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 6*24*3600 || ra > 7*24*3600 {
			t.Errorf("Retry-After %q; want about a week", resp.Header.Get("Retry-After"))
		}
		if resp, body := f.sign(f.aliceKey, "alice2."+zone); resp.StatusCode != 201 {
			t.Errorf("another hostname: %d %s", resp.StatusCode, body)
		}
	})
	t.Run("failed validations", func(t *testing.T) {
		f := newFixture(t, func(c *api.Config) {
			c.Budget = store.Budget{PerHostname: 5, Global: 10, Window: 7 * 24 * time.Hour, MaxFailures: 2, FailureWindow: time.Hour, Pending: time.Minute}
		})
		f.ca.Fail(fmt.Errorf("order: %w", signer.ErrValidationFailed))
		for i := 0; i < 2; i++ {
			resp, body := f.sign(f.aliceKey, "alice."+zone)
			wantError(t, resp, body, 502, protocol.CodeIssuerFailed)
		}
		resp, body := f.sign(f.aliceKey, "alice."+zone)
		wantError(t, resp, body, 429, protocol.CodeRateLimited)
		if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); ra < 3000 || ra > 3600 {
			t.Errorf("Retry-After %q; want under an hour", resp.Header.Get("Retry-After"))
		}
	})
	t.Run("the CA's rate limit", func(t *testing.T) {
		f := newFixture(t, nil)
		f.ca.Fail(&signer.RateLimitError{RetryAfter: 90 * time.Second})
		resp, body := f.sign(f.aliceKey, "alice."+zone)
		wantError(t, resp, body, 429, protocol.CodeRateLimited)
		if got := resp.Header.Get("Retry-After"); got != "90" {
			t.Errorf("Retry-After %q, want the CA's 90", got)
		}
	})
	t.Run("a chain for another key", func(t *testing.T) {
		f := newFixture(t, nil)
		f.ca.CertifyWrongKey()
		resp, body := f.sign(f.aliceKey, "alice."+zone)
		wantError(t, resp, body, 502, protocol.CodeIssuerFailed)
		if certs, _ := f.db.Certificates(context.Background(), []string{"alice"}, 10); len(certs) != 0 {
			t.Errorf("stored a certificate for another key")
		}
	})
	t.Run("per key", func(t *testing.T) {
		f := newFixture(t, func(c *api.Config) { c.Limits = api.Limits{PerIP: 1000, IPBurst: 1000, PerKey: 0.001, KeyBurst: 3} })
		for i := 0; i < 3; i++ {
			if resp, _ := f.do("GET", protocol.PathCertificates, f.aliceKey, nil); resp.StatusCode != 200 {
				t.Fatalf("request %d within the burst: %d", i, resp.StatusCode)
			}
		}
		resp, body := f.do("GET", protocol.PathCertificates, f.aliceKey, nil)
		wantError(t, resp, body, 429, protocol.CodeRateLimited)
		if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); ra < 900 {
			t.Errorf("Retry-After %q; want ~1000 s at 0.001/s", resp.Header.Get("Retry-After"))
		}
		if resp, _ := f.do("GET", protocol.PathCertificates, f.bobKey, nil); resp.StatusCode != 200 {
			t.Errorf("bob is limited by alice's use: %d", resp.StatusCode)
		}
	})
	t.Run("per IP, before authentication", func(t *testing.T) {
		f := newFixture(t, func(c *api.Config) { c.Limits = api.Limits{PerIP: 0.001, IPBurst: 2, PerKey: 1000, KeyBurst: 1000} })
		f.do("GET", protocol.PathCertificates, "sgk_guess1", nil)
		f.do("GET", protocol.PathCertificates, "sgk_guess2", nil)
		resp, body := f.do("GET", protocol.PathCertificates, f.aliceKey, nil, "X-Forwarded-For", "203.0.113.9")
		wantError(t, resp, body, 429, protocol.CodeRateLimited)
		if resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	})
	t.Run("X-Forwarded-For only from a trusted proxy", func(t *testing.T) {
		f := newFixture(t, func(c *api.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
		f.do("GET", protocol.PathCertificates, f.aliceKey, nil, "X-Forwarded-For", "198.51.100.7, 127.0.0.2")
		if !strings.Contains(f.audit.String(), `"ip":"198.51.100.7"`) {
			t.Errorf("the trusted proxy's client is not the audited IP:\n%s", f.audit.String())
		}
		g := newFixture(t, nil)
		g.do("GET", protocol.PathCertificates, g.aliceKey, nil, "X-Forwarded-For", "198.51.100.7")
		if strings.Contains(g.audit.String(), "198.51.100.7") {
			t.Errorf("an untrusted X-Forwarded-For was believed:\n%s", g.audit.String())
		}
	})
}

// TestACMEDNSClient drives /update with goacmedns, the acme-dns client
// lego's acme-dns provider uses.
func TestACMEDNSClient(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	client, err := goacmedns.NewClient(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	value := "xRWnzc2nDBpR2t8CeXpSqa1W4hk1fXqzPZEz5fUA7rM"
	account := goacmedns.Account{Username: "alice", Password: f.aliceKey, SubDomain: "alice", FullDomain: "alice." + zone}
	if err := client.UpdateTXTRecord(ctx, account, value); err != nil {
		t.Fatalf("goacmedns update: %v", err)
	}
	z, _ := f.db.LoadZone(ctx)
	if got := z.TXT["_acme-challenge.alice."+zone+"."]; len(got) != 1 || got[0] != value {
		t.Fatalf("zone TXT = %v; want the value at _acme-challenge.alice.%s.", z.TXT, zone)
	}
	account.SubDomain = "bob"
	if err := client.UpdateTXTRecord(ctx, account, value); err == nil {
		t.Fatal("goacmedns updated bob's record with alice's key")
	}
	account.SubDomain, account.Password = "alice", f.bobKey
	if err := client.UpdateTXTRecord(ctx, account, value); err == nil {
		t.Fatal("goacmedns updated alice's record with bob's key")
	}
}
