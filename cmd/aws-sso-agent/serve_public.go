package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/certs/acme"
	"github.com/aws-sso-agent/aws-sso-agent/certs/localca"
	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
)

// publicServing is the agent's public certificate (SPEC 5): which name it
// was started with, and the PublicServer choosing per handshake between
// the public certificate and the local leaf.
type publicServing struct {
	server *public.Server
	pub    *public.Public

	// restart serialises runRenewer and wait; mu guards the fields below
	// it, so status never waits for a renewer to stop.
	restart sync.Mutex
	mu      sync.Mutex
	// renewer renews a certificate from `certs acme`; nil for one loaded
	// by hand (the user renews it) or none. stop ends its Run, which
	// closes done.
	renewer *acme.Renewer
	stop    context.CancelFunc
	done    chan struct{}
	// key is what renewer was made from (renewerKey).
	key string
}

// newPublicServing reads the configured public name and prepares to serve
// its certificate. Nothing is served for the name until the PublicServer
// has loaded the certificate and checked DNS (in its Run). Sessions opened
// while the name is served carry it in their grant.
// checkDNS is the DNS check (nil: public.CheckLoopbackDNS with the
// system's resolver).
func newPublicServing(pub *public.Public, rotator *localca.LeafRotator, sessions *agent.Sessions, log *slog.Logger, checkDNS func(context.Context, string) error) (*publicServing, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name, err := pub.FQDN()
	if err != nil {
		// A damaged name file must not stop the agent: it serves its
		// loopback URLs, and `status` shows why the name is not used.
		log.Warn("cannot read the public name; serving loopback names only", "err", err)
		name = ""
	}
	p := &publicServing{pub: pub}
	if name != "" {
		log.Debug("public name configured", "fqdn", name)
	}
	p.server, err = public.NewServer(public.ServerConfig{
		Public:   pub,
		Dir:      pub.Dir,
		Local:    rotator.GetCertificate,
		Logger:   log,
		CheckDNS: checkDNS,
		OnChange: func(st public.Status) {
			if st.Serving {
				sessions.SetFQDN(st.FQDN)
			} else {
				sessions.SetFQDN("")
			}
		},
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// runRenewer runs the ACME renewer, until ctx is done, when the
// certificate came from `certs acme`. After `certs acme`, `load` or
// `delete` it follows the settings and certificate as they now are: it
// stops the renewer running and starts one for them. When they have not
// changed it keeps the renewer running, with its schedule and its backoff
// after failures (each restart would try again at once, and Let's Encrypt
// allows five failed validations an hour). Each renewed certificate is
// served at once (PublicServer.Renewed), with no restart.
func (p *publicServing) runRenewer(ctx context.Context, log *slog.Logger, checkInterval time.Duration) {
	p.restart.Lock()
	defer p.restart.Unlock()
	key, keyErr := p.renewerKey()
	p.mu.Lock()
	if p.renewer != nil && keyErr == nil && key == p.key {
		p.mu.Unlock()
		return
	}
	stop, done := p.stop, p.done
	p.renewer, p.stop, p.done, p.key = nil, nil, nil, ""
	p.mu.Unlock()
	if stop != nil {
		stop()
		<-done // a renewal under way may take a while to give up
	}
	if keyErr == nil && key == "" {
		return // not from ACME (the user renews it), or no certificate
	}
	var r *acme.Renewer
	err := keyErr
	if err == nil {
		var settings *acme.Settings
		var client *http.Client
		if settings, err = acme.LoadSettings(p.pub.Dir); err == nil {
			if client, err = acme.ExtraRootsClient(); err == nil {
				r, err = settings.Renewer(ctx, p.pub, acme.RenewerConfig{
					ACME:          acme.Config{HTTPClient: client, Logger: log},
					OnRenew:       p.server.Renewed,
					CheckInterval: checkInterval,
				})
			}
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, public.ErrNoCert):
		return // nothing to renew
	default:
		log.Warn("cannot renew the public certificate automatically", "err", err)
		return
	}
	rctx, stop := context.WithCancel(ctx)
	done = make(chan struct{})
	go func() {
		defer close(done)
		r.Run(rctx)
	}()
	p.mu.Lock()
	p.renewer, p.stop, p.done, p.key = r, stop, done, key
	p.mu.Unlock()
}

// renewerKey identifies what a renewer is made from: the ACME settings
// and the installed certificate. "" when there is nothing to renew (no
// settings: not from ACME; or no certificate).
func (p *publicServing) renewerKey() (string, error) {
	settings, err := acme.LoadSettings(p.pub.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	_, chain, err := p.pub.CurrentChain()
	if errors.Is(err, public.ErrNoCert) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	js, err := json.Marshal(settings)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(chain[0].Raw)
	return string(js) + " " + hex.EncodeToString(sum[:]), nil
}

// wait returns once the renewer, if any, has stopped (its context done).
func (p *publicServing) wait() {
	p.restart.Lock()
	defer p.restart.Unlock()
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done != nil {
		<-done
	}
}

// hostAllowed is the endpoint's Host check for names beyond loopback:
// the public name, while its certificate is served (DNS checked).
func (p *publicServing) hostAllowed(name string) bool {
	served := p.server.ServedFQDN()
	return served != "" && strings.EqualFold(strings.TrimSuffix(name, "."), served)
}

// fillStatus adds the public certificate's state to st.
func (p *publicServing) fillStatus(st *agent.AgentStatus, port int) {
	ps := p.server.Status()
	if ps.FQDN == "" {
		return
	}
	st.PublicFQDN = ps.FQDN
	st.PublicCertExpires = ps.NotAfter
	st.PublicDNSChecked = ps.DNSChecked
	switch {
	case ps.DNSChecked.IsZero():
		st.PublicDNSCheck = "not checked yet"
	case ps.DNSError == "":
		st.PublicDNSCheck = "ok"
	default:
		st.PublicDNSCheck = ps.DNSError
	}
	p.mu.Lock()
	r := p.renewer
	p.mu.Unlock()
	if r != nil {
		rs := r.Status()
		st.PublicRenewAt = rs.NextAttempt
		st.PublicRenewError = rs.LastError
	}
	if ps.Serving {
		st.PublicURL = "https://" + ps.FQDN + ":" + strconv.Itoa(port) + "/"
	} else {
		st.PublicNotServed = ps.Reason
	}
}
