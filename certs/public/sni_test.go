package public

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/certs/localca"
)

const sniTestFQDN = "agent.example.test"

// sniTestRoot is a stand-in for a public CA: a root that signs "public"
// certificates, trusted only by the tests' clients.
type sniTestRoot struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newSNITestRoot(t *testing.T) *sniTestRoot {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "test public root"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &sniTestRoot{cert: cert, key: key, pool: pool}
}

// issue returns a public certificate for name, valid for life.
func (r *sniTestRoot) issue(t *testing.T, name string, life time.Duration) *Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(life),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{name},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, r.cert, key.Public(), r.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &Cert{FQDN: name, Chain: []*x509.Certificate{cert}, Key: key}
}

// sniPublic is a Source the test sets.
type sniPublic struct {
	mu   sync.Mutex
	fqdn string
	cert *Cert
	err  error
}

func (f *sniPublic) FQDN() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fqdn, nil
}

func (f *sniPublic) Current() (*Cert, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	if f.cert == nil {
		return nil, ErrNoCert
	}
	return f.cert, nil
}

func (f *sniPublic) set(c *Cert) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cert = c
}

// sniDNS is an injected DNS check whose answer the test sets.
type sniDNS struct {
	mu    sync.Mutex
	err   error
	calls int
}

func (d *sniDNS) check(_ context.Context, fqdn string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	return d.err
}

func (d *sniDNS) set(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.err = err
}

type sniFixture struct {
	ca     *localca.CA
	root   *sniTestRoot
	public *sniPublic
	dns    *sniDNS
	srv    *Server
	addr   string
	status chan Status
}

// newSNIFixture serves HTTPS on loopback with a Server choosing the
// certificate, the public name configured with a fresh certificate and
// DNS answering loopback.
func newSNIFixture(t *testing.T) *sniFixture {
	t.Helper()
	ca, _, _ := newTestCA(t)
	rot, err := localca.NewLeafRotator(ca, localca.RotatorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	f := &sniFixture{ca: ca, root: newSNITestRoot(t), dns: &sniDNS{}, status: make(chan Status, 100)}
	f.public = &sniPublic{fqdn: sniTestFQDN, cert: f.root.issue(t, sniTestFQDN, 24*time.Hour)}
	f.srv, err = NewServer(ServerConfig{
		Public:   f.public,
		Local:    rot.GetCertificate,
		CheckDNS: f.dns.check,
		OnChange: func(st Status) { f.status <- st },
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = l.Addr().String()
	hs := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		TLSConfig: localca.ServerTLSConfig(f.srv.GetCertificate),
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	go hs.ServeTLS(l, "", "")
	t.Cleanup(func() { hs.Close() })
	return f
}

// handshake connects with serverName as SNI ("" or an IP address: none)
// and returns the leaf the server presented.
func (f *sniFixture) handshake(t *testing.T, serverName string) *x509.Certificate {
	t.Helper()
	c, err := tls.Dial("tcp", f.addr, &tls.Config{ServerName: serverName, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake for %q: %v", serverName, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}

func TestPublicServerSNI(t *testing.T) {
	f := newSNIFixture(t)
	// Before the first Reload only the leaf is served.
	if got := f.handshake(t, sniTestFQDN); got.Subject.CommonName != "localhost" {
		t.Fatalf("before Reload, %s got %q, want the local leaf", sniTestFQDN, got.Subject.CommonName)
	}
	if err := f.srv.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := f.srv.Status(); !st.Serving || st.FQDN != sniTestFQDN || st.DNSError != "" || st.DNSChecked.IsZero() {
		t.Fatalf("status = %+v, want serving %s with a passed DNS check", st, sniTestFQDN)
	}
	if got := f.srv.ServedFQDN(); got != sniTestFQDN {
		t.Errorf("ServedFQDN = %q, want %q", got, sniTestFQDN)
	}
	for _, tc := range []struct {
		sni        string
		wantPublic bool
	}{
		{sniTestFQDN, true},
		{"AGENT.Example.Test", true},
		{sniTestFQDN + ".", true},
		{"127.0.0.1", false}, // Go, like every client, sends no SNI for an IP
		{"", false},
		{"localhost", false},
		{"other.example.test", false},
		{"x." + sniTestFQDN, false},
	} {
		got := f.handshake(t, tc.sni)
		isPublic := got.Equal(f.public.cert.Chain[0])
		if isPublic != tc.wantPublic {
			t.Errorf("SNI %q: got %q (public %v), want public %v", tc.sni, got.Subject.CommonName, isPublic, tc.wantPublic)
		}
	}

	// A verifying client gets what it needs for each name.
	get := func(url, serverName string, roots *x509.CertPool) error {
		tr := &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: serverName},
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "tcp", f.addr)
			},
		}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	if err := get("https://"+sniTestFQDN+"/", "", f.root.pool); err != nil {
		t.Errorf("public client for %s: %v", sniTestFQDN, err)
	}
	if err := get("https://127.0.0.1/", "", f.ca.Pool()); err != nil {
		t.Errorf("local client for 127.0.0.1: %v", err)
	}
}

func TestPublicServerDNSFailureStopsServing(t *testing.T) {
	f := newSNIFixture(t)
	ctx := context.Background()
	if err := f.srv.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if !f.srv.Status().Serving {
		t.Fatalf("status = %+v, want serving", f.srv.Status())
	}

	// A lookup that gets no answer (offline) says nothing about
	// poisoning: the name stays served, the error is shown.
	f.dns.set(&DNSError{FQDN: sniTestFQDN, Err: errors.New("no route to resolver")})
	if err := f.srv.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if st := f.srv.Status(); !st.Serving || st.DNSError == "" {
		t.Errorf("after a lookup failure: status = %+v, want still serving, the error shown", st)
	}

	// An answer with a non-loopback address stops it at once.
	f.dns.set(&DNSError{FQDN: sniTestFQDN})
	if err := f.srv.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	st := f.srv.Status()
	if st.Serving || !strings.Contains(st.Reason, "DNS check failed") || st.DNSError == "" {
		t.Fatalf("after a non-loopback answer: status = %+v, want not serving, saying DNS", st)
	}
	if got := f.srv.ServedFQDN(); got != "" {
		t.Errorf("ServedFQDN = %q, want none", got)
	}
	if got := f.handshake(t, sniTestFQDN); got.Equal(f.public.cert.Chain[0]) {
		t.Error("after the DNS failure, the public certificate is still served")
	}
	if !waitStatus(f.status, func(s Status) bool { return !s.Serving && s.FQDN == sniTestFQDN }) {
		t.Error("OnChange did not report the stop")
	}

	// A later answer of loopback only brings it back.
	f.dns.set(nil)
	if err := f.srv.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.handshake(t, sniTestFQDN); !got.Equal(f.public.cert.Chain[0]) {
		t.Error("after DNS recovered, the public certificate is not served")
	}

	// The first check failing means never serving.
	g := newSNIFixture(t)
	g.dns.set(&DNSError{FQDN: sniTestFQDN, Err: errors.New("timeout")})
	g.srv.Reload(ctx)
	if st := g.srv.Status(); st.Serving {
		t.Errorf("first check without an answer: status = %+v, want not serving", st)
	}
}

func TestPublicServerNotServed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T, f *sniFixture)
		reason string
	}{
		{"no name", func(t *testing.T, f *sniFixture) { f.public.fqdn = ""; f.public.cert = nil }, ""},
		{"no certificate", func(t *testing.T, f *sniFixture) { f.public.cert = nil }, "no public certificate"},
		{"other name", func(t *testing.T, f *sniFixture) { f.public.cert = f.root.issue(t, "other.example.test", time.Hour) }, "not " + sniTestFQDN},
		{"expired", func(t *testing.T, f *sniFixture) { f.public.cert = f.root.issue(t, sniTestFQDN, -time.Minute) }, "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSNIFixture(t)
			tc.setup(t, f)
			f.srv.Reload(context.Background())
			st := f.srv.Status()
			if st.Serving || !strings.Contains(st.Reason, tc.reason) {
				t.Errorf("status = %+v, want not serving, reason containing %q", st, tc.reason)
			}
			if got := f.handshake(t, sniTestFQDN); got.Subject.CommonName != "localhost" {
				t.Errorf("got %q, want the local leaf", got.Subject.CommonName)
			}
		})
	}
}

// TestPublicServerRenewal swaps the certificate under a connected client:
// the client's keep-alive connection goes on working, and new connections
// get the new certificate.
func TestPublicServerRenewal(t *testing.T) {
	f := newSNIFixture(t)
	if err := f.srv.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: f.root.pool},
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", f.addr)
		},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	get := func() (reused bool, leaf *x509.Certificate) {
		t.Helper()
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
			reused = i.Reused
			leaf = i.Conn.(*tls.Conn).ConnectionState().PeerCertificates[0]
		}}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", "https://"+sniTestFQDN+"/", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return reused, leaf
	}
	old := f.public.cert
	if _, leaf := get(); !leaf.Equal(old.Chain[0]) {
		t.Fatal("first request did not get the public certificate")
	}

	renewed := f.root.issue(t, sniTestFQDN, 48*time.Hour)
	f.public.set(renewed)
	f.srv.Renewed(renewed)
	if st := f.srv.Status(); !st.Serving || !st.NotAfter.Equal(renewed.NotAfter()) {
		t.Errorf("after Renewed: status = %+v, want the new expiry %v", st, renewed.NotAfter())
	}
	if reused, leaf := get(); !reused || !leaf.Equal(old.Chain[0]) {
		t.Errorf("connected client after renewal: reused %v, same old leaf %v; want its connection kept", reused, leaf.Equal(old.Chain[0]))
	}
	tr.CloseIdleConnections()
	if _, leaf := get(); !leaf.Equal(renewed.Chain[0]) {
		t.Error("a new connection after renewal did not get the new certificate")
	}
}

// TestPublicServerRunPicksUpNewFiles checks that Run notices a certificate
// loaded while the agent runs (the files change) without Renewed.
func TestPublicServerRunPicksUpNewFiles(t *testing.T) {
	ca, _, _ := newTestCA(t)
	rot, err := localca.NewLeafRotator(ca, localca.RotatorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	root := newSNITestRoot(t)
	dir := t.TempDir()
	pub := &sniPublic{fqdn: sniTestFQDN}
	dns := &sniDNS{}
	changes := make(chan Status, 100)
	srv, err := NewServer(ServerConfig{
		Public: pub, Dir: dir, Local: rot.GetCertificate, CheckDNS: dns.check,
		Interval: 5 * time.Millisecond,
		OnChange: func(st Status) { changes <- st },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Reload(context.Background())
	if srv.Status().Serving {
		t.Fatal("serving without a certificate")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	// The certificate appears in the source, but the files have not
	// changed: not read.
	pub.set(root.issue(t, sniTestFQDN, time.Hour))
	time.Sleep(50 * time.Millisecond)
	if srv.Status().Serving {
		t.Fatal("Run read the certificate although no file changed")
	}
	if err := os.WriteFile(filepath.Join(dir, "chain.pem"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !waitStatus(changes, func(s Status) bool { return s.Serving }) {
		t.Fatal("Run did not pick up the new certificate")
	}
}

func waitStatus(ch <-chan Status, ok func(Status) bool) bool {
	deadline := time.After(10 * time.Second)
	for {
		select {
		case st := <-ch:
			if ok(st) {
				return true
			}
		case <-deadline:
			return false
		}
	}
}
