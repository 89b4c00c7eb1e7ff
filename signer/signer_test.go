package signer_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/signer"
)

func TestCheckLabel(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" means refused
		why      string
	}{
		{"alice", "alice", ""},
		{"Alice-Dev2", "alice-dev2", ""},
		{"a1b", "a1b", ""},
		{"laws", "laws", ""},          // contains "aws", but is not it
		{"my-app", "my-app", ""},      // a reserved word as a part is fine
		{"ab", "", "characters long"}, // too short
		{strings.Repeat("a", 33), "", "characters long"},
		{"-abc", "", "start and end"},
		{"abc-", "", "start and end"},
		{"a_b", "", "letters, digits and hyphens"},
		{"a.b", "", "letters, digits and hyphens"},
		{"ümlaut", "", "letters, digits and hyphens"},
		{"12345", "", "all digits"},
		{"xn--80ak6aa92e", "", "IDNA"},
		{"ab--cd", "", "IDNA"},
		{"www", "", "reserved"},
		{"api", "", "reserved"},
		{"ns-1", "", "reserved"},
		{"loca1host", "", "reserved"},
		{"aws", "", "impersonate"},
		{"amaz0n", "", "impersonate"},
		{"rnicrosoft", "", "impersonate"},
		{"g00gle", "", "impersonate"},
		{"my-aws", "", "impersonate"},
		{"aws-sso", "", "impersonate"},
		{"paypa1-login", "", "impersonate"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := signer.CheckLabel(tc.in)
			if tc.want != "" {
				if err != nil || got != tc.want {
					t.Fatalf("CheckLabel(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
				}
				return
			}
			if err == nil || !errors.Is(err, signer.ErrBadLabel) || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("CheckLabel(%q) = %q, %v; want ErrBadLabel saying %q", tc.in, got, err, tc.why)
			}
		})
	}
}

func TestAccountChecks(t *testing.T) {
	if got, err := signer.CheckUsername("Alice_B.1"); err != nil || got != "alice_b.1" {
		t.Errorf("CheckUsername = %q, %v", got, err)
	}
	for _, bad := range []string{"al", "_alice", "al ice", "alice'--", strings.Repeat("a", 33)} {
		if _, err := signer.CheckUsername(bad); !errors.Is(err, signer.ErrBadAccount) {
			t.Errorf("CheckUsername(%q) = %v, want ErrBadAccount", bad, err)
		}
	}
	if _, err := signer.CheckEmail("a@example.com"); err != nil {
		t.Errorf("CheckEmail: %v", err)
	}
	for _, bad := range []string{"", "alice", "Alice <a@example.com>", "a@example.com\r\nBcc: x@y", strings.Repeat("a", 250) + "@x.io"} {
		if _, err := signer.CheckEmail(bad); !errors.Is(err, signer.ErrBadAccount) {
			t.Errorf("CheckEmail(%q) = %v, want ErrBadAccount", bad, err)
		}
	}
}

func TestAPIKey(t *testing.T) {
	key, hash, err := signer.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, signer.APIKeyPrefix) || len(key) != len(signer.APIKeyPrefix)+43 {
		t.Errorf("key %q: want %s and 43 base64url characters (256 bits)", key, signer.APIKeyPrefix)
	}
	got, err := signer.ParseAPIKey(key)
	if err != nil || string(got) != string(hash) {
		t.Errorf("ParseAPIKey(key) = %x, %v; want the hash NewAPIKey gave, %x", got, err, hash)
	}
	if strings.Contains(string(hash), key[len(signer.APIKeyPrefix):]) {
		t.Error("the hash holds the key")
	}
	other, _, _ := signer.NewAPIKey()
	if other == key {
		t.Error("two keys are equal")
	}
	for _, bad := range []string{"", key[:len(key)-1], "xxx_" + key[4:], key[:len(key)-1] + "!", key + "A"} {
		if _, err := signer.ParseAPIKey(bad); !errors.Is(err, signer.ErrBadAPIKey) {
			t.Errorf("ParseAPIKey(%q) = %v, want ErrBadAPIKey", bad, err)
		}
	}
}

func TestPassword(t *testing.T) {
	h, err := signer.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") || strings.Contains(h, "correct") {
		t.Errorf("hash %q is not an argon2id PHC string", h)
	}
	if ok, err := signer.VerifyPassword(h, "correct horse battery"); !ok || err != nil {
		t.Errorf("VerifyPassword(right) = %v, %v", ok, err)
	}
	if ok, err := signer.VerifyPassword(h, "correct horse battery!"); ok || err != nil {
		t.Errorf("VerifyPassword(wrong) = %v, %v", ok, err)
	}
	if h2, _ := signer.HashPassword("correct horse battery"); h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	if _, err := signer.HashPassword("short"); !errors.Is(err, signer.ErrBadPassword) {
		t.Errorf("short password: %v, want ErrBadPassword", err)
	}
	// A tampered row cannot make a check cost gigabytes.
	greedy := strings.Replace(h, "m=65536", "m=4194304", 1)
	if _, err := signer.VerifyPassword(greedy, "correct horse battery"); err == nil {
		t.Error("VerifyPassword accepted m=4 GiB")
	}
}

const zone = "signer.test"

var (
	keysOnce sync.Once
	p256     *ecdsa.PrivateKey
	rsa2048  *rsa.PrivateKey
)

func testKeys() {
	keysOnce.Do(func() {
		p256, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		rsa2048, _ = rsa.GenerateKey(rand.Reader, 2048)
	})
}

// makeCSR returns a PEM CSR from tmpl signed by key (P-256 if nil).
func makeCSR(t testing.TB, tmpl *x509.CertificateRequest, key crypto.Signer) []byte {
	t.Helper()
	testKeys()
	if key == nil {
		key = p256
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestParseCSR(t *testing.T) {
	testKeys()
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	name := "alice." + zone
	good := &x509.CertificateRequest{DNSNames: []string{name}}
	caExt, _ := asn1.Marshal(struct{ IsCA bool }{true})
	tampered := makeCSR(t, good, nil)
	block, _ := pem.Decode(tampered)
	block.Bytes[len(block.Bytes)-3] ^= 0xff
	tampered = pem.EncodeToMemory(block)

	for _, tc := range []struct {
		name string
		pem  []byte
		why  string // "" means accepted
	}{
		{"p256", makeCSR(t, good, nil), ""},
		{"p384", makeCSR(t, good, p384), ""},
		{"rsa2048", makeCSR(t, good, rsa2048), ""},
		{"common name equal", makeCSR(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}}, nil), ""},
		{"p521", makeCSR(t, good, p521), "P-521"},
		{"rsa1024", makeCSR(t, good, rsa1024), "1024 bits"},
		{"ed25519", makeCSR(t, good, ed), "ed25519"},
		{"two names", makeCSR(t, &x509.CertificateRequest{DNSNames: []string{name, "bob." + zone}}, nil), "2 DNS names"},
		{"no names", makeCSR(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}}, nil), "0 DNS names"},
		{"ip san", makeCSR(t, &x509.CertificateRequest{DNSNames: []string{name}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}, nil), "IP"},
		{"email san", makeCSR(t, &x509.CertificateRequest{DNSNames: []string{name}, EmailAddresses: []string{"a@b.c"}}, nil), "e-mail"},
		{"uri san", makeCSR(t, &x509.CertificateRequest{DNSNames: []string{name}, URIs: []*url.URL{{Scheme: "https", Host: "x"}}}, nil), "URI"},
		{"other common name", makeCSR(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "bob." + zone}, DNSNames: []string{name}}, nil), "common name"},
		{"organization", makeCSR(t, &x509.CertificateRequest{Subject: pkix.Name{Organization: []string{"Evil"}}, DNSNames: []string{name}}, nil), "subject"},
		{"must staple", makeCSR(t, &x509.CertificateRequest{DNSNames: []string{name}, ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 24}, Value: []byte{0x30, 0x03, 0x02, 0x01, 0x05}}}}, nil), "extension 1.3.6.1.5.5.7.1.24"},
		{"ca", makeCSR(t, &x509.CertificateRequest{DNSNames: []string{name}, ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Value: caExt}}}, nil), "CA"},
		{"other zone", makeCSR(t, &x509.CertificateRequest{DNSNames: []string{"alice.example.com"}}, nil), "not a hostname directly under"},
		{"the zone itself", makeCSR(t, &x509.CertificateRequest{DNSNames: []string{zone}}, nil), "not a hostname directly under"},
		{"two labels deep", makeCSR(t, &x509.CertificateRequest{DNSNames: []string{"a.alice." + zone}}, nil), "not a hostname directly under"},
		{"suffix trick", makeCSR(t, &x509.CertificateRequest{DNSNames: []string{"alice.evil" + zone}}, nil), "not a hostname directly under"},
		{"wildcard", makeCSR(t, &x509.CertificateRequest{DNSNames: []string{"*." + zone}}, nil), "wildcard"},
		{"reserved", makeCSR(t, &x509.CertificateRequest{DNSNames: []string{"www." + zone}}, nil), "reserved"},
		{"bad signature", tampered, "signature"},
		{"not pem", []byte("hello"), "no PEM"},
		{"certificate block", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "CERTIFICATE"},
		{"two blocks", append(makeCSR(t, good, nil), makeCSR(t, good, nil)...), "more than one"},
		{"garbage der", []byte("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"), "CSR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			csr, label, err := signer.ParseCSR(tc.pem, zone)
			if tc.why == "" {
				if err != nil || label != "alice" || csr == nil {
					t.Fatalf("ParseCSR = %q, %v; want alice", label, err)
				}
				return
			}
			if err == nil || !errors.Is(err, signer.ErrBadCSR) || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("ParseCSR = %q, %v; want ErrBadCSR saying %q", label, err, tc.why)
			}
		})
	}
}
