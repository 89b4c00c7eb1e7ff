package signer_test

import (
	"crypto/x509"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
	"github.com/aws-sso-agent/aws-sso-agent/signer"
)

// FuzzParseCSR feeds arbitrary bytes to the API's CSR check: it returns
// an error or a CSR that meets every rule, never panics, and never
// accepts a name outside the zone or more than one name.
func FuzzParseCSR(f *testing.F) {
	fuzztest.Start(f)
	name := "alice." + zone
	f.Add(makeCSR(f, &x509.CertificateRequest{DNSNames: []string{name}}, nil))
	f.Add(makeCSR(f, &x509.CertificateRequest{DNSNames: []string{name, "bob." + zone}}, nil))
	f.Add(makeCSR(f, &x509.CertificateRequest{DNSNames: []string{"xn--80ak6aa92e." + zone}}, nil))
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		csr, label, err := signer.ParseCSR(data, zone)
		if err != nil {
			if csr != nil || label != "" {
				t.Fatalf("refused, yet returned %q", label)
			}
			return
		}
		if len(csr.DNSNames) != 1 || csr.DNSNames[0] != label+"."+zone || len(csr.IPAddresses)+len(csr.EmailAddresses)+len(csr.URIs) != 0 {
			t.Fatalf("accepted names %v %v %v %v for label %q", csr.DNSNames, csr.IPAddresses, csr.EmailAddresses, csr.URIs, label)
		}
		if _, err := signer.CheckLabel(label); err != nil {
			t.Fatalf("accepted label %q that CheckLabel refuses: %v", label, err)
		}
		if err := csr.CheckSignature(); err != nil {
			t.Fatalf("accepted a CSR whose signature fails: %v", err)
		}
	})
}

// FuzzCheckLabel: an accepted label is lowercase LDH within the bounds,
// accepting is idempotent, and a refusal's message stays bounded.
func FuzzCheckLabel(f *testing.F) {
	fuzztest.Start(f)
	for _, s := range []string{"alice", "ALICE", "a-b-c", "xn--abc", "amaz0n", "-a", "ümlaut", strings.Repeat("x", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := signer.CheckLabel(s)
		if err != nil {
			if len(err.Error()) > 300 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
			return
		}
		if got != strings.ToLower(s) || len(got) < signer.MinLabelLen || len(got) > signer.MaxLabelLen ||
			strings.Trim(got, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" || got[0] == '-' || got[len(got)-1] == '-' {
			t.Fatalf("accepted %q as %q", s, got)
		}
		if again, err := signer.CheckLabel(got); err != nil || again != got {
			t.Fatalf("CheckLabel(%q) = %q, %v; not idempotent", got, again, err)
		}
	})
}
