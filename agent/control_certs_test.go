package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/internal/testca"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// TestControlCerts: the certs actions change the agent's own store (the
// CSR's key is made there and never sent), each refusal comes back as
// the error of package public it is, and another uid gets nothing.
func TestControlCerts(t *testing.T) {
	const fqdn = "agent.example.test"
	st := store.NewMemory()
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // a key the agent does not hold
	if err != nil {
		t.Fatal(err)
	}
	ca := testca.New(t, "Control Test Root")
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	pub := &public.Public{Store: st, Dir: filepath.Join(t.TempDir(), "public"), ExtraRoots: roots}
	srv := &ControlServer{Certs: pub}
	c := ControlClient{Path: startControl(t, srv)}
	ctx := context.Background()
	do := func(req CertsRequest) (*ControlResponse, error) {
		return c.Do(ctx, ControlRequest{Op: OpCerts, Certs: &req})
	}

	// load before any export: the pending key is missing.
	if _, err := do(CertsRequest{Action: CertsLoad, Chain: string(ca.Sign(t, &other.PublicKey, fqdn))}); !errors.Is(err, public.ErrNoPendingKey) {
		t.Errorf("load before export-csr: %v, want public.ErrNoPendingKey", err)
	}
	if _, err := do(CertsRequest{Action: CertsExportCSR, FQDN: "not a name"}); !errors.Is(err, public.ErrInvalidFQDN) {
		t.Errorf("export-csr of a bad name: %v, want public.ErrInvalidFQDN", err)
	}

	resp, err := do(CertsRequest{Action: CertsExportCSR, FQDN: fqdn})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(resp.Certs.CSR, "PRIVATE KEY") || resp.Certs.Chain != "" {
		t.Fatalf("export-csr answered more than the CSR: %+v", resp.Certs)
	}
	if _, err := st.Get(public.PendingKeyName); err != nil {
		t.Fatalf("the pending key is not in the agent's store: %v", err)
	}
	b, _ := pem.Decode([]byte(resp.Certs.CSR))
	if b == nil {
		t.Fatalf("export-csr answered no PEM: %q", resp.Certs.CSR)
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}

	// A chain for another key is refused with the error it is.
	if _, err := do(CertsRequest{Action: CertsLoad, Chain: string(ca.Sign(t, &other.PublicKey, fqdn))}); !errors.Is(err, public.ErrKeyMismatch) {
		t.Errorf("load of a chain for another key: %v, want public.ErrKeyMismatch", err)
	}
	if _, err := do(CertsRequest{Action: CertsLoad, Chain: "no pem here"}); !errors.Is(err, public.ErrMalformedPEM) {
		t.Errorf("load of no PEM: %v, want public.ErrMalformedPEM", err)
	}

	resp, err = do(CertsRequest{Action: CertsLoad, Chain: string(ca.Sign(t, csr.PublicKey, fqdn))})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Certs.FQDN != fqdn || !strings.HasPrefix(resp.Certs.Chain, "-----BEGIN CERTIFICATE-----") || resp.Status == nil {
		t.Errorf("load answered %+v, status %v", resp.Certs, resp.Status)
	}
	if _, err := st.Get(public.KeyName); err != nil {
		t.Errorf("the loaded key is not in the agent's store: %v", err)
	}

	if _, err := do(CertsRequest{Action: CertsDelete}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(public.KeyName); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after delete the key is still stored: %v", err)
	}

	// Another user is refused before anything happens.
	srv2 := &ControlServer{Certs: pub, PeerUID: func(net.Conn) (int, error) { return os.Getuid() + 1, nil }}
	c2 := ControlClient{Path: startControl(t, srv2)}
	if _, err := c2.Do(ctx, ControlRequest{Op: OpCerts, Certs: &CertsRequest{Action: CertsExportCSR, FQDN: fqdn}}); !errors.Is(err, ErrRefused) {
		t.Errorf("export-csr from another uid: %v, want ErrRefused", err)
	}
	if _, err := st.Get(public.PendingKeyName); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another uid's export-csr made a key: %v", err)
	}

	// A server without a Public refuses as unsupported (the CLI then
	// opens the store itself).
	c3 := ControlClient{Path: startControl(t, &ControlServer{})}
	if _, err := c3.Do(ctx, ControlRequest{Op: OpCerts, Certs: &CertsRequest{Action: CertsDelete}}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("certs on an agent without certificates: %v, want ErrUnsupported", err)
	}
	// Malformed requests never reach the store.
	for _, req := range []*CertsRequest{nil, {Action: "get-key"}, {Action: CertsSave, Chain: "x"}} {
		if _, err := c.Do(ctx, ControlRequest{Op: OpCerts, Certs: req}); !errors.Is(err, ErrBadRequest) {
			t.Errorf("certs %+v: %v, want ErrBadRequest", req, err)
		}
	}
}
