package public

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"maps"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/certs/internal/certstest"
	"github.com/aws-sso-agent/aws-sso-agent/certs/localca"
)

// memStore is the store of the tests: it can list what it holds.
type memStore = certstest.MemStore

func newMemStore() *memStore { return certstest.NewMemStore() }

func randomSerial() *big.Int { return certstest.Serial() }

func certPEM(c *x509.Certificate) []byte { return certstest.CertPEM(c) }

// newTestCA creates a local CA in a fresh directory and store, for the
// leaf a Server falls back to.
func newTestCA(t *testing.T) (*localca.CA, *memStore, string) {
	t.Helper()
	st := newMemStore()
	dir := t.TempDir()
	ca, err := localca.LoadOrCreate(st, dir, time.Now)
	if err != nil {
		t.Fatalf("LoadOrCreate: %v", err)
	}
	return ca, st, dir
}

// testPKI is a stand-in for a public CA: a root and an intermediate that
// sign leaves for whatever key and names a test asks for.
type testPKI struct {
	root, inter       *x509.Certificate
	rootKey, interKey *ecdsa.PrivateKey
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	pki := &testPKI{}
	pki.rootKey = mustKey(t)
	pki.interKey = mustKey(t)
	now := time.Now()
	rootTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "test public root"},
		NotBefore:             now.Add(-48 * time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	pki.root = mustCreate(t, rootTmpl, rootTmpl, pki.rootKey.Public(), pki.rootKey)
	interTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "test public intermediate"},
		NotBefore:             now.Add(-48 * time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	pki.inter = mustCreate(t, interTmpl, pki.root, pki.interKey.Public(), pki.rootKey)
	return pki
}

func (pki *testPKI) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(pki.root)
	return p
}

// leaf signs a server certificate for pub and names, valid from nb to na.
func (pki *testPKI) leaf(t testing.TB, pub crypto.PublicKey, names []string, nb, na time.Time) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    nb,
		NotAfter:     na,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	return mustCreate(t, tmpl, pki.inter, pub, pki.interKey)
}

// chainPEM returns leaf + intermediate in PEM, as a CA hands them out.
func (pki *testPKI) chainPEM(t testing.TB, pub crypto.PublicKey, names ...string) []byte {
	t.Helper()
	now := time.Now()
	leaf := pki.leaf(t, pub, names, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	return append(certPEM(leaf), certPEM(pki.inter)...)
}

// signCSR signs a PEM CSR as a CA would: the CSR's key and names.
func (pki *testPKI) signCSR(t testing.TB, csrPEM []byte) []byte {
	t.Helper()
	csr, err := ParseCSRPEM(csrPEM)
	if err != nil {
		t.Fatalf("ParseCSRPEM: %v", err)
	}
	return pki.chainPEM(t, csr.PublicKey, csr.DNSNames...)
}

func mustKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustCreate(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func keyPEM(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// newTestPublic returns a Public on a fresh store and directory, trusting
// pki's root.
func newTestPublic(t *testing.T, pki *testPKI) (*Public, *memStore) {
	t.Helper()
	st := newMemStore()
	return &Public{Store: st, Dir: filepath.Join(t.TempDir(), "public"), ExtraRoots: pki.pool()}, st
}

// state is everything Public keeps: the store's contents and Dir's files.
type state struct {
	store map[string][]byte
	files map[string][]byte
}

func snapshot(t *testing.T, p *Public, st *memStore) state {
	t.Helper()
	s := state{store: st.Snapshot(), files: map[string][]byte{}}
	entries, err := os.ReadDir(p.Dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(p.Dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		s.files[e.Name()] = b
	}
	return s
}

func assertUnchanged(t *testing.T, before, after state) {
	t.Helper()
	if !maps.EqualFunc(before.store, after.store, bytes.Equal) {
		t.Errorf("store changed: keys before %v, after %v", slicesSorted(before.store), slicesSorted(after.store))
	}
	if !maps.EqualFunc(before.files, after.files, bytes.Equal) {
		t.Errorf("directory changed: files before %v, after %v", slicesSorted(before.files), slicesSorted(after.files))
	}
}

func slicesSorted(m map[string][]byte) []string {
	return slices.Sorted(maps.Keys(m))
}

// fakeDNS is a DNS server on 127.0.0.1 answering every A and AAAA query
// with the addresses given, for CheckLoopbackDNS tests through a real
// net.Resolver (PreferGo, dialing this server).
func fakeDNS(t *testing.T, answers []netip.Addr) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := dnsAnswer(buf[:n], answers); resp != nil {
				_, _ = pc.WriteTo(resp, addr)
			}
		}
	}()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", pc.LocalAddr().String())
		},
	}
}

// dnsAnswer builds the response to a one-question query (RFC 1035 section
// 4.1): the question echoed, then one record per matching address.
func dnsAnswer(q []byte, answers []netip.Addr) []byte {
	if len(q) < 12 {
		return nil
	}
	// Find the end of the question name.
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	if i+5 > len(q) {
		return nil
	}
	qEnd := i + 5
	qtype := binary.BigEndian.Uint16(q[i+1:])
	var rrs [][]byte
	for _, a := range answers {
		var typ uint16
		switch {
		case a.Is4() && qtype == 1:
			typ = 1
		case a.Is6() && qtype == 28:
			typ = 28
		default:
			continue
		}
		ip := a.AsSlice()
		rr := []byte{0xc0, 12} // pointer to the question name
		rr = binary.BigEndian.AppendUint16(rr, typ)
		rr = binary.BigEndian.AppendUint16(rr, 1) // class IN
		rr = binary.BigEndian.AppendUint32(rr, 60)
		rr = binary.BigEndian.AppendUint16(rr, uint16(len(ip)))
		rr = append(rr, ip...)
		rrs = append(rrs, rr)
	}
	resp := append([]byte{}, q[:qEnd]...)
	resp[2] = 0x84 | (q[2] & 0x01) // QR, AA, copy RD
	resp[3] = 0x80                 // RA, rcode 0
	binary.BigEndian.PutUint16(resp[4:], 1)
	binary.BigEndian.PutUint16(resp[6:], uint16(len(rrs)))
	binary.BigEndian.PutUint16(resp[8:], 0)
	binary.BigEndian.PutUint16(resp[10:], 0)
	for _, rr := range rrs {
		resp = append(resp, rr...)
	}
	return resp
}
