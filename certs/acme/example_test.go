package acme_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/aws-sso-agent/aws-sso-agent/certs/acme"
	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// A certificate for a name under a zone on a BIND or Knot server that
// takes TSIG-signed updates, installed for the agent to serve.
func ExampleObtain() {
	ctx := context.Background()
	st := store.NewKeyring("aws-sso-agent")
	secret, err := os.ReadFile("/etc/aws-sso-agent/tsig.secret") // never argv
	if err != nil {
		log.Fatal(err)
	}
	dns, err := acme.NewRFC2136Provider(acme.RFC2136Config{
		Nameserver: "ns1.example.com:53",
		TSIGKey:    "acme-update.",
		TSIGSecret: string(secret),
	})
	if err != nil {
		log.Fatal(err)
	}
	pc, err := acme.Obtain(ctx, acme.Config{
		Directory: acme.LetsEncryptStagingDirectory, // try the setup on staging first
		FQDN:      "agent.example.com",
		DNS:       dns,
		Store:     st,
	})
	if err != nil {
		log.Fatal(err)
	}
	pub := &public.Public{Store: st, Dir: "/home/me/.config/aws-sso-agent/public"}
	if err := pub.Install(pc); err != nil {
		log.Fatal(err)
	}
	fmt.Println("valid until", pc.NotAfter())
}

// The running agent renews what `certs acme` set up, and serves each new
// certificate at once.
func ExampleRenewer() {
	ctx := context.Background()
	pub := &public.Public{Store: store.NewKeyring("aws-sso-agent"), Dir: "/home/me/.config/aws-sso-agent/public"}
	r, err := acme.LoadRenewer(ctx, pub, nil, func(pc *public.Cert) {
		fmt.Println("renewed, valid until", pc.NotAfter())
	})
	if err != nil {
		log.Fatal(err) // os.ErrNotExist: not from `certs acme`, nothing to renew
	}
	go r.Run(ctx)
	// In tls.Config.GetCertificate, for the public name:
	_ = r.TLSCertificate()
	// For `certs status`:
	s := r.Status()
	fmt.Println("renews from", s.RenewAt, "last error:", s.LastError)
}
