package issuer

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// memLeases is Leases in memory.
type memLeases struct {
	mu     sync.Mutex
	holder map[string]string
}

func (l *memLeases) AcquireLease(_ context.Context, name, holder string, _ time.Duration) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h, ok := l.holder[name]; ok && h != holder {
		return false, nil
	}
	l.holder[name] = holder
	return true, nil
}

func (l *memLeases) ReleaseLease(_ context.Context, name, holder string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.holder[name] == holder {
		delete(l.holder, name)
	}
	return nil
}

// TestServiceCert gets the API's own certificate from Pebble, serves it
// over TLS to a client trusting Pebble's root, and has a second instance
// sharing the store pick it up instead of ordering another.
func TestServiceCert(t *testing.T) {
	env := newTestEnv(t)
	is, err := New(env.config())
	if err != nil {
		t.Fatal(err)
	}
	leases := &memLeases{holder: map[string]string{}}
	// While another instance holds the lease and nothing is stored, there
	// is no certificate to serve: Ensure says so.
	leases.holder[serviceCertLease] = "another instance"
	waiting, err := NewServiceCert(is, "api."+testZone, leases, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := waiting.Ensure(context.Background()); !errors.Is(err, ErrPending) {
		t.Errorf("Ensure while another instance orders: %v, want ErrPending", err)
	}
	delete(leases.holder, serviceCertLease)

	sc, err := NewServiceCert(is, "api."+testZone, leases, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.GetCertificate(nil); err == nil {
		t.Error("GetCertificate served something before Ensure")
	}
	if err := sc.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	sets := env.chal.sets

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: sc.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })}
	go srv.Serve(ln)
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(env.pebble.Root(t))
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "api." + testZone},
	}}
	resp, err := client.Get("https://127.0.0.1:" + port + "/")
	if err != nil {
		t.Fatalf("TLS to the API with its own certificate: %v", err)
	}
	resp.Body.Close()

	// A second instance on the same store loads it; it orders nothing.
	sc2, err := NewServiceCert(is, "api."+testZone, leases, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sc2.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	c1, _ := sc.GetCertificate(nil)
	c2, _ := sc2.GetCertificate(nil)
	if !c1.Leaf.Equal(c2.Leaf) || env.chal.sets != sets {
		t.Error("the second instance ordered its own certificate instead of loading the stored one")
	}

	// Two thirds of its lifetime later it is renewed with a new key.
	later := func() time.Time {
		return c1.Leaf.NotAfter.Add(-(c1.Leaf.NotAfter.Sub(c1.Leaf.NotBefore))/3 + time.Minute)
	}
	sc3, err := NewServiceCert(is, "api."+testZone, leases, later)
	if err != nil {
		t.Fatal(err)
	}
	if err := sc3.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	c3, _ := sc3.GetCertificate(nil)
	if c3.Leaf.Equal(c1.Leaf) {
		t.Error("not renewed when a third of the lifetime was left")
	}
	if c3.Leaf.PublicKey.(*ecdsa.PublicKey).Equal(c1.Leaf.PublicKey) {
		t.Error("renewed with the same key")
	}
}
