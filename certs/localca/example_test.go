package localca_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/aws-sso-agent/aws-sso-agent/certs/localca"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// Serve HTTPS with a rotating leaf from the local CA, and reach it with a
// client that trusts only the CA's root.
func Example() {
	dir, err := os.MkdirTemp("", "certs-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// The agent passes the OS keyring or the encrypted file store here.
	st := store.NewMemory()
	ca, err := localca.LoadOrCreate(st, dir, nil) // first run: creates the CA
	if err != nil {
		log.Fatal(err)
	}
	rotator, err := localca.NewLeafRotator(ca, localca.RotatorConfig{})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go rotator.Run(ctx)

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello over", tls.VersionName(r.TLS.Version))
	}))
	srv.TLS = localca.ServerTLSConfig(rotator.GetCertificate)
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
