package certs_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"

	"github.com/aws-sso-agent/aws-sso-agent/certs"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// mapStore is the smallest store.Store: enough for an example. The agent
// uses the OS keyring or the encrypted file store instead.
type mapStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *mapStore) Get(key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return nil, store.ErrNotFound
	}
	return v, nil
}

func (s *mapStore) Set(key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = value
	return nil
}

func (s *mapStore) Delete(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; !ok {
		return store.ErrNotFound
	}
	delete(s.m, key)
	return nil
}

// Serve HTTPS with a rotating leaf from the local CA, and reach it with a
// client that trusts only the CA's root.
func Example() {
	dir, err := os.MkdirTemp("", "certs-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	st := &mapStore{m: map[string][]byte{}}
	ca, err := certs.LoadOrCreateCA(st, dir, nil) // first run: creates the CA
	if err != nil {
		log.Fatal(err)
	}
	rotator, err := certs.NewLeafRotator(ca, certs.RotatorConfig{})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go rotator.Run(ctx)

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello over", tls.VersionName(r.TLS.Version))
	}))
	srv.TLS = certs.ServerTLSConfig(rotator.GetCertificate)
	srv.StartTLS()
	defer srv.Close()

	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"},
	}}
	resp, err := client.Get(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(string(body))

	leaf := rotator.Current().Leaf
	fmt.Println("leaf names:", leaf.DNSNames, leaf.IPAddresses)
	// Seven days ahead, plus the hour NotBefore is backdated for clock skew.
	fmt.Println("lifetime:", leaf.NotAfter.Sub(leaf.NotBefore))
	// Output:
	// hello over TLS 1.3
	// leaf names: [localhost] [127.0.0.1 ::1]
	// lifetime: 169h0m0s
}
