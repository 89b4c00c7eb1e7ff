package public

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/certs/localca"
	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
)

// FuzzParseChainPEM feeds arbitrary bytes to the parser of chains users
// load: it must return an error or certificates, never panic, never more
// than maxChainLen, and never quote a private key it was handed.
func FuzzParseChainPEM(f *testing.F) {
	fuzztest.Start(f)
	pki := newTestPKI(f)
	k := mustKey(f)
	chain := pki.chainPEM(f, k.Public(), testFQDN)
	f.Add(chain)
	f.Add(chain[:len(chain)/2])
	f.Add(append([]byte("subject=CN = x\nissuer=CN = y\n"), chain...))
	f.Add(append(bytes.Clone(chain), keyPEM(f, k)...))
	f.Add(bytes.Repeat(certPEM(pki.root), maxChainLen+1))
	f.Add([]byte(""))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"a": "b"}, Bytes: pki.root.Raw}))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x82, 0xff, 0xff}}))
	// The agent's own CA: a name-constrained intermediate and its root.
	ca, err := localca.LoadOrCreate(newMemStore(), f.TempDir(), time.Now)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(append(certPEM(ca.Intermediate()), ca.RootPEM()...))

	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseChainPEM(data)
		if err != nil {
			if strings.Contains(err.Error(), "BEGIN") || strings.Contains(err.Error(), "MII") {
				t.Fatalf("error quotes the input: %v", err)
			}
			return
		}
		if len(certs) == 0 || len(certs) > maxChainLen {
			t.Fatalf("accepted %d certificates", len(certs))
		}
		for _, c := range certs {
			if c == nil || len(c.Raw) == 0 {
				t.Fatal("accepted an empty certificate")
			}
		}
	})
}

// FuzzParseCSR feeds arbitrary bytes to the CSR parser (the pending CSR
// file, and the signing service's input later): it must never panic, and
// anything it accepts asks for exactly one valid public name.
func FuzzParseCSR(f *testing.F) {
	fuzztest.Start(f)
	k := mustKey(f)
	good, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: testFQDN}, DNSNames: []string{testFQDN},
	}, k)
	if err != nil {
		f.Fatal(err)
	}
	twoNames, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		DNSNames: []string{testFQDN, "localhost"},
	}, k)
	wildcard, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		DNSNames: []string{"*.example.com"},
	}, k)
	for _, der := range [][]byte{good, twoNames, wildcard} {
		p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
		f.Add(p)
		f.Add(p[:len(p)/2])
	}
	tampered := bytes.Clone(good)
	tampered[len(tampered)-5] ^= 0xff
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered}))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "NEW CERTIFICATE REQUEST", Bytes: good}))
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		csr, err := ParseCSRPEM(data)
		if err != nil {
			return
		}
		if err := csr.CheckSignature(); err != nil {
			t.Fatalf("accepted a CSR whose signature fails: %v", err)
		}
		if len(csr.DNSNames) != 1 {
			t.Fatalf("accepted %d DNS names", len(csr.DNSNames))
		}
		if n, err := ValidateFQDN(csr.DNSNames[0]); err != nil || n != csr.DNSNames[0] {
			t.Fatalf("accepted name %q (%v)", csr.DNSNames[0], err)
		}
	})
}

// FuzzParsePrivateKeyPEM feeds arbitrary bytes to the key file parser of
// certs save: no panic, and no error message quoting the input.
func FuzzParsePrivateKeyPEM(f *testing.F) {
	fuzztest.Start(f)
	k := mustKey(f)
	p := keyPEM(f, k)
	f.Add(p)
	f.Add(p[:len(p)/2])
	der, _ := x509.MarshalECPrivateKey(k)
	f.Add(append([]byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})...))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{1}}))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := ParsePrivateKeyPEM(data)
		if err != nil {
			if strings.Contains(err.Error(), "BEGIN") || strings.Contains(err.Error(), "MI") {
				t.Fatalf("error quotes the input: %v", err)
			}
			return
		}
		if _, err := checkKey(key); err != nil {
			t.Fatalf("accepted an unsupported key: %v", err)
		}
	})
}

// FuzzValidateFQDN checks that whatever ValidateFQDN accepts is canonical
// and stable, and never an IP address or localhost.
func FuzzValidateFQDN(f *testing.F) {
	fuzztest.Start(f)
	for _, s := range []string{testFQDN, "A.B.", "127.0.0.1", "::1", "localhost", "*.x.y", "a..b", "xn--e.x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ValidateFQDN(s)
		if err != nil {
			return
		}
		if again, err := ValidateFQDN(n); err != nil || again != n {
			t.Fatalf("ValidateFQDN(%q) = %q, but that gives %q, %v", s, n, again, err)
		}
		if n == "localhost" || strings.HasSuffix(n, ".localhost") || strings.ContainsAny(n, "*:[]") {
			t.Fatalf("accepted %q", n)
		}
	})
}
