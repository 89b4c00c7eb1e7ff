package public

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"time"
)

// ExpiryWarning is how long before its expiry a public certificate is
// reported as expiring soon. Let's Encrypt certificates live 90 days and
// ACME clients renew with 30 days left, so one with less than 14 has
// missed renewals, and a hand-loaded one needs a person now.
const ExpiryWarning = 14 * 24 * time.Hour

// Report is the public name and its certificate as Dir shows them, for
// `certs status`.
type Report struct {
	// FQDN is the public name; "" if none is set.
	FQDN string
	// FQDNErr is why the public name could not be read; the rest of the
	// report is empty then.
	FQDNErr error
	// PendingCSR is a CSR still waiting for its chain; nil if none.
	PendingCSR *x509.CertificateRequest
	// Chain is the installed chain, leaf first; nil if there is none or it
	// is unusable (ChainErr says which).
	Chain []*x509.Certificate
	// ChainErr wraps ErrNoCert when no certificate is installed, or says
	// why the installed one is unusable.
	ChainErr error
	// Expired and ExpiresSoon (within ExpiryWarning) describe the leaf of
	// Chain.
	Expired, ExpiresSoon bool
	// DNSErr is CheckLoopbackDNS's verdict on FQDN; nil if it passed.
	DNSErr error
	// NotServed says why the certificate would not be served ("no
	// certificate", "certificate unusable", "certificate expired", "DNS
	// check failed"); empty if nothing stands in the way.
	NotServed []string
}

// reportDNSTimeout bounds the DNS check of Report, as publicDNSTimeout
// bounds the running agent's.
const reportDNSTimeout = 10 * time.Second

// Report reads the public name, any pending CSR and the installed chain
// from Dir (the secure store is not touched, so nothing asks for a
// passphrase), and, when a name is set, checks its DNS with r (nil:
// net.DefaultResolver). now is the clock the expiry is judged by.
func (p *Public) Report(ctx context.Context, r *net.Resolver, now time.Time) Report {
	var rep Report
	rep.FQDN, rep.FQDNErr = p.FQDN()
	if rep.FQDNErr != nil {
		rep.FQDN = ""
		return rep
	}
	if csr, err := p.PendingCSR(); err == nil {
		rep.PendingCSR = csr
	}
	if rep.FQDN == "" {
		return rep
	}
	_, chain, err := p.CurrentChain()
	switch {
	case errors.Is(err, ErrNoCert):
		rep.ChainErr = err
		rep.NotServed = append(rep.NotServed, "no certificate")
	case err != nil:
		rep.ChainErr = err
		rep.NotServed = append(rep.NotServed, "certificate unusable")
	default:
		rep.Chain = chain
		switch left := chain[0].NotAfter.Sub(now); {
		case left <= 0:
			rep.Expired = true
			rep.NotServed = append(rep.NotServed, "certificate expired")
		case left < ExpiryWarning:
			rep.ExpiresSoon = true
		}
	}
	ctx, cancel := context.WithTimeout(ctx, reportDNSTimeout)
	defer cancel()
	if rep.DNSErr = CheckLoopbackDNS(ctx, r, rep.FQDN); rep.DNSErr != nil {
		rep.NotServed = append(rep.NotServed, "DNS check failed")
	}
	return rep
}
