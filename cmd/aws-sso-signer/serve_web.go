package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/spf13/pflag"

	"github.com/aws-sso-agent/aws-sso-agent/signer"
	"github.com/aws-sso-agent/aws-sso-agent/signer/api"
	"github.com/aws-sso-agent/aws-sso-agent/signer/protocol"
	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
	"github.com/aws-sso-agent/aws-sso-agent/signer/web"
)

// webFlags are serve's flags for the web pages (signer/web). The pages
// are served, next to the API on the same listener, when --smtp-addr is
// given: sign-up needs mail.
type webFlags struct {
	smtpAddr, smtpFrom, smtpUser, smtpPasswordFile string
	smtpImplicitTLS                                bool
	url, resolver                                  string
	maxHostnames                                   int
}

func addWebFlags(fs *pflag.FlagSet) *webFlags {
	w := &webFlags{}
	fs.StringVar(&w.smtpAddr, "smtp-addr", "", "serve the web pages, sending their mail through this SMTP relay (HOST:PORT)")
	fs.StringVar(&w.smtpFrom, "smtp-from", "", "the mails' sender address (default signer@ZONE)")
	fs.StringVar(&w.smtpUser, "smtp-user", "", "the relay's user name for AUTH PLAIN (over TLS only)")
	fs.StringVar(&w.smtpPasswordFile, "smtp-password-file", "", "a file (0600) holding the relay's password")
	fs.BoolVar(&w.smtpImplicitTLS, "smtp-implicit-tls", false, "connect to the relay with TLS from the start (port 465), not STARTTLS")
	fs.StringVar(&w.url, "web-url", "", "the pages' public https:// URL, for the links in mails (default https://API-NAME)")
	fs.StringVar(&w.resolver, "public-resolver", "", "the DNS resolver (HOST:PORT) the hostnames page asks what the public DNS answers (default the system's)")
	fs.IntVar(&w.maxHostnames, "max-hostnames", signer.MaxHostnamesPerAccount, "hostnames an account may claim on the web pages")
	return w
}

// handler is apiSrv alone, or, with --smtp-addr, apiSrv on its paths and
// the web pages on every other.
func (w *webFlags) handler(apiSrv *api.Server, db *store.DB, iss signer.Issuer, zone, apiName string, log *slog.Logger) (http.Handler, error) {
	if w.smtpAddr == "" {
		return apiSrv, nil
	}
	m := &web.SMTP{Addr: w.smtpAddr, From: w.smtpFrom, Username: w.smtpUser, ImplicitTLS: w.smtpImplicitTLS}
	if m.From == "" {
		m.From = "signer@" + zone
	}
	if w.smtpPasswordFile != "" {
		b, err := readPrivate(w.smtpPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("serve: --smtp-password-file: %w", err)
		}
		m.Password = strings.TrimRight(string(b), "\r\n")
	}
	if (m.Username == "") != (m.Password == "") {
		return nil, usagef("--smtp-user and --smtp-password-file go together")
	}
	base := w.url
	if base == "" {
		base = "https://" + strings.ToLower(strings.TrimSuffix(apiName, "."))
		if apiName == "" {
			base = "https://api." + zone // buildParts' default
		}
	}
	cfg := web.Config{
		Store: db, Zone: zone, BaseURL: base, Mailer: m, Issuer: iss,
		MaxHostnames: w.maxHostnames, ClientIP: apiSrv.ClientIP, Log: log,
	}
	if w.resolver != "" {
		addr := w.resolver
		cfg.Resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}
	}
	pages, err := web.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", apiSrv)
	mux.Handle(protocol.PathUpdate, apiSrv)
	mux.Handle("/", pages)
	return mux, nil
}
