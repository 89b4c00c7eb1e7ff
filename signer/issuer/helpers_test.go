package issuer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/acmetest"
	"github.com/aws-sso-agent/aws-sso-agent/signer"
	signerdns "github.com/aws-sso-agent/aws-sso-agent/signer/dns"
)

const testZone = "signer.test"

var errNotFound = errors.New("not found")

// memState is State in memory.
type memState struct {
	mu    sync.Mutex
	blobs map[string][]byte
}

func (m *memState) Blob(_ context.Context, name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[name]
	if !ok {
		return nil, errNotFound
	}
	return slices.Clone(b), nil
}

func (m *memState) PutBlob(_ context.Context, name string, v []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.blobs == nil {
		m.blobs = map[string][]byte{}
	}
	m.blobs[name] = slices.Clone(v)
	return nil
}

// zoneChallenges is signer.Challenges writing straight into a served zone,
// as the store and the DNS server's Follow do together.
type zoneChallenges struct {
	mu    sync.Mutex
	zone  *signerdns.Zone
	txt   map[string][]string
	sets  int
	clear int
}

func (c *zoneChallenges) SetTXT(_ context.Context, fqdn, value string, _ time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sets++
	c.txt[fqdn] = append(c.txt[fqdn], value)
	return c.zone.Update(signer.Zone{Hostnames: []string{"alice", "api"}, TXT: c.txt})
}

func (c *zoneChallenges) ClearTXT(_ context.Context, fqdn, value string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clear++
	c.txt[fqdn] = slices.DeleteFunc(c.txt[fqdn], func(v string) bool { return v == value })
	if len(c.txt[fqdn]) == 0 {
		delete(c.txt, fqdn)
	}
	return c.zone.Update(signer.Zone{Hostnames: []string{"alice", "api"}, TXT: c.txt})
}

func (c *zoneChallenges) records() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.txt)
}

// startZone serves a zone for testZone on loopback and returns it with its
// address.
func startZone(t *testing.T) (*signerdns.Zone, string) {
	t.Helper()
	z, err := signerdns.New(signerdns.Config{
		Zone:        testZone,
		Nameservers: []string{"ns." + testZone},
		Hosts:       map[string][]netip.Addr{"ns." + testZone: {netip.MustParseAddr("127.0.0.1")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := z.Update(signer.Zone{Hostnames: []string{"alice", "api"}}); err != nil {
		t.Fatal(err)
	}
	pc, ln, err := signerdns.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- z.Serve(ctx, pc, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return z, pc.LocalAddr().String()
}

type testEnv struct {
	pebble *acmetest.Pebble
	zone   *signerdns.Zone
	dns    string
	chal   *zoneChallenges
	state  *memState
}

// newTestEnv runs Pebble validating against the signer's own DNS server.
func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	z, addr := startZone(t)
	p := acmetest.StartPebble(t, addr)
	return &testEnv{pebble: p, zone: z, dns: addr, chal: &zoneChallenges{zone: z, txt: map[string][]string{}}, state: &memState{}}
}

func (e *testEnv) config() Config {
	return Config{
		Directory:   e.pebble.Directory,
		HTTPClient:  e.pebble.Client,
		State:       e.state,
		NotFound:    errNotFound,
		Challenges:  e.chal,
		Nameservers: []string{e.dns},
		Timeout:     time.Minute,
	}
}

func newCSR(t *testing.T, names ...string) (*x509.CertificateRequest, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: names}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return csr, key
}
