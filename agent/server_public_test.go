package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/certs"
	"github.com/aws-sso-agent/aws-sso-agent/certs/localca"
	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

type publicTestSource struct{}

func (publicTestSource) Credentials(context.Context, string) (Credentials, error) {
	return Credentials{AccessKeyID: "ASIATEST", SecretAccessKey: "s", SessionToken: "t", Expires: time.Now().Add(time.Hour)}, nil
}

// TestServePublicCertThroughEndpoint wires what Server wires: a public
// certificate loaded with public.Public, the Supervisor choosing
// certificates for the real endpoint, the name in the endpoint's allowed
// hosts. A client trusting only the "public" root fetches credentials
// from https://FQDN:PORT/; after DNS turns non-loopback it no longer can,
// status says why, and new sessions no longer carry the name.
func TestServePublicCertThroughEndpoint(t *testing.T) {
	const fqdn = "example.test"
	// A stand-in for a public CA, trusted by the test client only.
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test public root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	rootDER, _ := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	root, _ := x509.ParseCertificate(rootDER)
	publicRoots := x509.NewCertPool()
	publicRoots.AddCert(root)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2),
		Subject: pkix.Name{CommonName: fqdn}, DNSNames: []string{fqdn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
		root, leafKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(leafKey)

	st := store.NewMemory()
	pub := &public.Public{Store: st, Dir: filepath.Join(t.TempDir(), "public"), ExtraRoots: publicRoots}
	if err := pub.SetFQDN(fqdn); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Import(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})); err != nil {
		t.Fatal(err)
	}

	ca, err := localca.LoadOrCreate(st, filepath.Join(t.TempDir(), "ca"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rot, err := localca.NewLeafRotator(ca, localca.RotatorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var dnsMu sync.Mutex
	var dnsErr error
	checkDNS := func(context.Context, string) error { dnsMu.Lock(); defer dnsMu.Unlock(); return dnsErr }
	tokens := NewTokens()
	token, _ := NewToken()
	tokens.Add(token, Grant{})
	sessions := NewSessions(tokens, ca.RootPEM(), nil)
	sup, err := certs.NewSupervisor(certs.SupervisorConfig{
		Public: pub, Local: rot.GetCertificate, CheckDNS: checkDNS, OnChange: sessions.SetFQDN,
	})
	if err != nil {
		t.Fatal(err)
	}
	endpoint, err := NewEndpoint(EndpointConfig{
		Source: publicTestSource{}, Tokens: tokens, Sessions: sessions,
		TLSConfig:   localca.ServerTLSConfig(sup.GetCertificate),
		HostAllowed: sup.HostAllowed,
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go endpoint.Serve(l)
	t.Cleanup(func() { endpoint.Close() })
	port := l.Addr().(*net.TCPAddr).Port
	if err := sup.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}

	get := func(url string, roots *x509.CertPool) (int, string, error) {
		tr := &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots},
			// The name resolves to loopback, as the DNS check says.
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, l.Addr().String())
			},
		}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", token)
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	publicURL := "https://" + fqdn + ":" + strconv.Itoa(port) + "/"
	if code, body, err := get(publicURL, publicRoots); err != nil || code != 200 || !strings.Contains(body, "ASIATEST") {
		t.Fatalf("GET %s: %d %s %v, want 200 with credentials", publicURL, code, body, err)
	}
	localURL := "https://127.0.0.1:" + strconv.Itoa(port) + "/"
	if code, _, err := get(localURL, ca.Pool()); err != nil || code != 200 {
		t.Fatalf("GET %s: %d %v, want 200 with the local CA", localURL, code, err)
	}
	as := AgentStatus{Addr: l.Addr().String()}
	fillPublicStatus(&as, sup.Status())
	if as.PublicURL != publicURL || as.PublicFQDN != fqdn || as.PublicDNSCheck != "ok" || !as.PublicCertExpires.Equal(sup.Status().NotAfter) || as.PublicCertExpires.IsZero() {
		t.Errorf("status = %+v, want the public URL, name, expiry and DNS ok", as)
	}
	if _, g, _ := sessions.Open("host", nil); g.FQDN != fqdn {
		t.Errorf("session grant fqdn %q, want %q", g.FQDN, fqdn)
	}

	// DNS now answers a non-loopback address: the name is no longer served.
	dnsMu.Lock()
	bad := netip.MustParseAddr("203.0.113.9")
	dnsErr = &public.DNSError{FQDN: fqdn, Addrs: []netip.Addr{bad}, NotLoopback: []netip.Addr{bad}}
	dnsMu.Unlock()
	sup.Reload(context.Background())
	if _, _, err := get(publicURL, publicRoots); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("GET %s after DNS turned bad: %v, want a certificate error", publicURL, err)
	}
	if code, _, err := get(localURL, ca.Pool()); err != nil || code != 200 {
		t.Errorf("GET %s after DNS turned bad: %d %v, want 200", localURL, code, err)
	}
	// Nor is it an allowed Host any more, even over plain HTTP.
	req, _ := http.NewRequest("GET", "http://"+l.Addr().String()+"/", nil)
	req.Host = fqdn
	req.Header.Set("Authorization", token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Errorf("Host %s after DNS turned bad: %v %v, want 403", fqdn, resp, err)
	} else {
		resp.Body.Close()
	}
	as = AgentStatus{Addr: l.Addr().String()}
	fillPublicStatus(&as, sup.Status())
	if as.PublicURL != "" || !strings.Contains(as.PublicNotServed, "203.0.113.9") || !strings.Contains(as.PublicDNSCheck, "203.0.113.9") {
		t.Errorf("status = %+v, want no public URL and the reason", as)
	}
	if _, g, _ := sessions.Open("host", nil); g.FQDN != "" {
		t.Errorf("session grant fqdn %q after DNS turned bad, want none", g.FQDN)
	}
}

func TestPublicServingStatus(t *testing.T) {
	// Filling from a supervisor that has never loaded leaves status alone.
	ca, err := localca.LoadOrCreate(store.NewMemory(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rot, err := localca.NewLeafRotator(ca, localca.RotatorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	sessions := NewSessions(NewTokens(), ca.RootPEM(), nil)
	ps, err := certs.NewSupervisor(certs.SupervisorConfig{
		Public: &public.Public{Store: store.NewMemory(), Dir: t.TempDir()}, Local: rot.GetCertificate, OnChange: sessions.SetFQDN,
	})
	if err != nil {
		t.Fatal(err)
	}
	st := AgentStatus{Addr: "127.0.0.1:4144"}
	fillPublicStatus(&st, ps.Status())
	if st.PublicFQDN != "" || st.PublicURL != "" || !st.PublicCertExpires.Equal(time.Time{}) {
		t.Errorf("no public name: status %+v, want no public fields", st)
	}
}
