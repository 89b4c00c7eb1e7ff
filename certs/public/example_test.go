package public_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// The CSR workflow: ExportCSR keeps a new key in the secure store and hands
// out only the CSR; a CA signs it; LoadChain accepts the chain only if it
// is for that key and name, valid now, and verifies (against the system
// roots, plus ExtraRoots for a private CA).
func ExamplePublic_ExportCSR() {
	dir, err := os.MkdirTemp("", "public")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	p := &public.Public{Store: store.NewMemory(), Dir: filepath.Join(dir, "public")}
	csrPEM, err := p.ExportCSR("agent.example.com")
	if err != nil {
		log.Fatal(err)
	}
	csr, err := public.ParseCSRPEM(csrPEM)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("CSR for", csr.DNSNames[0])

	// Send csrPEM to a CA, then: p.LoadChain(chainPEM).
	_, err = p.LoadChain([]byte("not a chain"))
	fmt.Println(err)
	// Output:
	// CSR for agent.example.com
	// certs: malformed PEM: no PEM certificate found
}

func ExampleValidateFQDN() {
	for _, name := range []string{"Agent.Example.com.", "localhost", "*.example.com"} {
		fqdn, err := public.ValidateFQDN(name)
		fmt.Printf("%q %v\n", fqdn, err)
	}
	// Output:
	// "agent.example.com" <nil>
	// "" certs: invalid public name "localhost": localhost is the local CA's name; a public name is one under a DNS zone you control
	// "" certs: invalid public name "*.example.com": a wildcard cannot be served; use the one name the endpoint is reached at
}
