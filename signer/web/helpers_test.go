package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/smtpsink"
	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

const testZone = "signer.test"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// revoker is the Issuer of these tests: it issues nothing and records
// what it was asked to revoke.
type revoker struct {
	mu      sync.Mutex
	revoked []string // serials in hex
	fail    bool
}

func (r *revoker) Issue(context.Context, *x509.CertificateRequest) ([]byte, error) {
	return nil, fmt.Errorf("revoker: issues nothing")
}

func (r *revoker) Revoke(_ context.Context, der []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return fmt.Errorf("revoker: the ca is down")
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	r.revoked = append(r.revoked, fmt.Sprintf("%x", c.SerialNumber))
	return nil
}

func (r *revoker) serials() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.revoked...)
}

// fixedResolver answers every name with 127.0.0.1, as the zone's DNS
// server does for a registered one.
type fixedResolver struct{}

func (fixedResolver) LookupHost(_ context.Context, host string) ([]string, error) {
	if strings.HasSuffix(host, "."+testZone) {
		return []string{"127.0.0.1", "::1"}, nil
	}
	return nil, fmt.Errorf("lookup %s: no such host", host)
}

type harness struct {
	t   testing.TB
	clk *clock
	db  *store.DB
	web *Server
	srv *httptest.Server
	// base is the pages' URL: https://example.com:PORT, a name the test
	// server's certificate holds (passkeys need a domain name), which
	// the harness's clients reach at the server.
	base   string
	sink   *smtpsink.Sink
	issuer *revoker
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{t: t, clk: &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}, issuer: &revoker{}, sink: smtpsink.Start(t)}
	var err error
	h.db, err = store.Open(context.Background(), "sqlite:"+t.TempDir()+"/signer.db", store.Options{Now: h.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.db.Close() })
	h.srv = httptest.NewUnstartedServer(nil)
	h.srv.StartTLS()
	t.Cleanup(h.srv.Close)
	h.base = "https://example.com:" + mustURL(t, h.srv.URL).Port()
	h.web, err = New(Config{
		Store: h.db, Zone: testZone, BaseURL: h.base,
		Mailer:   &SMTP{Addr: h.sink.Addr, From: "signer@" + testZone},
		Issuer:   h.issuer,
		Resolver: fixedResolver{},
		Now:      h.clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.srv.Config.Handler = h.web
	return h
}

// client is a browser-like client of the harness: it keeps cookies and
// does not follow redirects, so each answer is seen.
func (h *harness) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := *h.srv.Client() // a copy: the server's client is one shared value
	tr := c.Transport.(*http.Transport).Clone()
	addr := h.srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	c.Transport = tr
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (h *harness) do(c *http.Client, method, path string, form url.Values, header ...string) answer {
	h.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, h.base+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1] // what a proxy in front may send
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (h *harness) get(c *http.Client, path string) answer { return h.do(c, "GET", path, nil) }

func (h *harness) post(c *http.Client, path string, kv ...string) answer {
	form := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Add(kv[i], kv[i+1])
	}
	return h.do(c, "POST", path, form)
}

var linkRE = regexp.MustCompile(`https://\S+token=[A-Za-z0-9_-]+`)

// mailedLink is the link in the next mail to to.
func (h *harness) mailedLink(to string) string {
	h.t.Helper()
	m := h.sink.Next(h.t, 10*time.Second)
	if len(m.To) != 1 || m.To[0] != to {
		h.t.Fatalf("mail to %v, want %s", m.To, to)
	}
	link := linkRE.FindString(m.Body)
	if link == "" {
		h.t.Fatalf("no link in mail:\n%s", m.Body)
	}
	return strings.TrimPrefix(link, h.base)
}

const testPassword = "correct horse battery staple"

// user signs up name, follows the verification link and logs in.
func (h *harness) user(name string) *http.Client {
	h.t.Helper()
	c := h.client()
	if a := h.post(c, "/signup", "username", name, "email", name+"@example.com", "password", testPassword); a.status != http.StatusSeeOther {
		h.t.Fatalf("sign up %s: %d\n%s", name, a.status, a.body)
	}
	if a := h.get(c, h.mailedLink(name+"@example.com")); a.status != http.StatusSeeOther {
		h.t.Fatalf("verify %s: %d\n%s", name, a.status, a.body)
	}
	if a := h.post(c, "/login", "username", name, "password", testPassword); a.status != http.StatusSeeOther {
		h.t.Fatalf("log in %s: %d\n%s", name, a.status, a.body)
	}
	return c
}

// issue records a certificate for label as if the API had issued it.
func (h *harness) issue(username, label string, lifetime time.Duration) store.Certificate {
	h.t.Helper()
	ctx := context.Background()
	a, err := h.db.Account(ctx, username)
	if err != nil {
		h.t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	now := h.clk.Now()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: label + "." + testZone},
		DNSNames: []string{label + "." + testZone}, NotBefore: now, NotAfter: now.Add(lifetime)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		h.t.Fatal(err)
	}
	id, err := h.db.BeginIssuance(ctx, label, a.ID, store.DefaultBudget())
	if err != nil {
		h.t.Fatal(err)
	}
	c, err := h.db.CompleteIssuance(ctx, id, store.Certificate{AccountID: a.ID, Label: label, Serial: fmt.Sprintf("%x", serial),
		NotBefore: tmpl.NotBefore, NotAfter: tmpl.NotAfter, ChainPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))})
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
