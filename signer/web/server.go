package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/aws-sso-agent/aws-sso-agent/signer"
	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

// Resolver is what the hostnames page asks what the public DNS answers
// for a name; *net.Resolver is one.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// Config is what the web interface needs. Store, Zone, BaseURL, Mailer
// and Issuer are required.
type Config struct {
	Store *store.DB
	// Zone is the service's zone ("signer.example"): hostnames are
	// LABEL.ZONE.
	Zone string
	// BaseURL is the public https:// URL of these pages, for the links in
	// mails.
	BaseURL string
	// APIURL is the URL the agent's `certs api-key --service` takes;
	// BaseURL if empty (the API and the pages share a listener).
	APIURL string
	Mailer Mailer
	// Issuer revokes certificates.
	Issuer signer.Issuer
	// Resolver answers the hostnames page's lookups; nil means
	// net.DefaultResolver (the machine's, which is the public DNS).
	Resolver Resolver
	// MaxHostnames is each account's cap; signer.MaxHostnamesPerAccount
	// if 0.
	MaxHostnames int
	// Login and LoginPerAddress bound failed logins per user name and
	// per client address (an IPv6 address counts by its /64);
	// DefaultLoginLimits and DefaultAddressLimits if zero.
	Login, LoginPerAddress store.LoginLimits
	// ClientIP says who sent r, for the per-address limits and the log;
	// nil means r.RemoteAddr (no proxy in front).
	ClientIP func(r *http.Request) string
	// Log gets one line per action; nil discards.
	Log *slog.Logger
	// Now is the clock; nil means time.Now. The store has its own.
	Now func() time.Time
}

// Defaults for Config's zero values.
const (
	sessionTTL   = 12 * time.Hour
	verifyTTL    = 24 * time.Hour
	resetTTL     = time.Hour
	maxFormBytes = 16 << 10
	// hashSlots bounds the argon2id hashes computed at once: each takes
	// 64 MiB, so a login flood costs time, not memory.
	hashSlots = 4
)

var (
	// DefaultLoginLimits lock a user name for 15 minutes after 5 failed
	// logins within 15 minutes (OWASP's authentication cheat sheet).
	DefaultLoginLimits = store.LoginLimits{Failures: 5, Window: 15 * time.Minute, Lockout: 15 * time.Minute}
	// DefaultAddressLimits lock a client address for 15 minutes after 30
	// failed logins within 15 minutes, whatever the names.
	DefaultAddressLimits = store.LoginLimits{Failures: 30, Window: 15 * time.Minute, Lockout: 15 * time.Minute}
	// signupLimits bound sign-ups and reset mails per client address and
	// per account, so the service mails nobody in bulk.
	signupLimits = store.LoginLimits{Failures: 5, Window: time.Hour, Lockout: time.Hour}
)

// Server serves the pages. It is an http.Handler.
type Server struct {
	cfg       Config
	handler   http.Handler
	pages     map[string]*template.Template
	dummyHash string
	hashing   chan struct{}
	passkeys  *webauthn.WebAuthn
	// verifications counts argon2id verifications, so a test can see that
	// an unknown user costs one as a wrong password does.
	verifications atomic.Int64
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New checks cfg and makes the server.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("web: no store")
	case cfg.Zone == "":
		return nil, errors.New("web: no zone")
	case cfg.Mailer == nil:
		return nil, errors.New("web: no mailer")
	case cfg.Issuer == nil:
		return nil, errors.New("web: no issuer")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("web: base url %q is not an https:// URL", cfg.BaseURL)
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	cfg.Zone = strings.TrimSuffix(strings.ToLower(cfg.Zone), ".")
	if cfg.APIURL == "" {
		cfg.APIURL = cfg.BaseURL
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.MaxHostnames == 0 {
		cfg.MaxHostnames = signer.MaxHostnamesPerAccount
	}
	if cfg.Login == (store.LoginLimits{}) {
		cfg.Login = DefaultLoginLimits
	}
	if cfg.LoginPerAddress == (store.LoginLimits{}) {
		cfg.LoginPerAddress = DefaultAddressLimits
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, hashing: make(chan struct{}, hashSlots)}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	// The dummy is hashed with the same parameters as every password, so
	// checking a password against it costs what checking a real one does.
	if s.dummyHash, err = signer.HashPassword("not a password of anyone's"); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	// The passkeys belong to the pages' host name, and are used only
	// from the pages' origin. WebAuthn has them for domain names only:
	// pages at an IP address offer none. A passkey replaces the
	// password, so it must prove who holds it (a PIN, a fingerprint),
	// not only that it is present: user verification is required, not
	// the library's "preferred", which accepts a security key found on
	// a desk.
	if _, err := netip.ParseAddr(u.Hostname()); err != nil {
		if s.passkeys, err = webauthn.New(&webauthn.Config{RPID: u.Hostname(), RPDisplayName: cfg.Zone,
			RPOrigins:              []string{u.Scheme + "://" + u.Host},
			AuthenticatorSelection: protocol.AuthenticatorSelection{UserVerification: protocol.VerificationRequired}}); err != nil {
			return nil, fmt.Errorf("web: passkeys: %w", err)
		}
	}
	s.handler = s.routes()
	return s, nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /signup", s.signupForm)
	mux.HandleFunc("POST /signup", s.signup)
	mux.HandleFunc("GET /verify", s.verify)
	mux.HandleFunc("GET /login", s.loginForm)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("GET /reset", s.resetForm)
	mux.HandleFunc("POST /reset", s.resetRequest)
	mux.HandleFunc("GET /reset/confirm", s.resetConfirmForm)
	mux.HandleFunc("POST /reset/confirm", s.resetConfirm)
	mux.HandleFunc("GET /hostnames", s.authed(s.hostnames))
	mux.HandleFunc("POST /hostnames/claim", s.authed(s.claim))
	mux.HandleFunc("POST /hostnames/release", s.authed(s.release))
	mux.HandleFunc("GET /keys", s.authed(s.keys))
	mux.HandleFunc("POST /keys/create", s.authed(s.createKey))
	mux.HandleFunc("POST /keys/revoke", s.authed(s.revokeKey))
	mux.HandleFunc("GET /certificates", s.authed(s.certificates))
	mux.HandleFunc("POST /certificates/revoke", s.authed(s.revokeCertificate))
	mux.HandleFunc("GET /account", s.authed(s.account))
	mux.HandleFunc("POST /account/password", s.authed(s.changePassword))
	mux.HandleFunc("POST /account/delete", s.authed(s.deleteAccount))
	mux.HandleFunc("POST /passkeys/register/begin", s.withPasskeys(s.authed(s.passkeyRegisterBegin)))
	mux.HandleFunc("POST /passkeys/register/finish", s.withPasskeys(s.authed(s.passkeyRegisterFinish)))
	mux.HandleFunc("POST /passkeys/delete", s.withPasskeys(s.authed(s.passkeyDelete)))
	mux.HandleFunc("POST /passkeys/login/begin", s.withPasskeys(s.passkeyLoginBegin))
	mux.HandleFunc("POST /passkeys/login/finish", s.withPasskeys(s.passkeyLoginFinish))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusNotFound, "message.html", &page{Title: "Not found", Error: "There is no page at this address."})
	})

	csrf := http.NewCrossOriginProtection()
	// The pages' own origin is trusted by name too, so a proxy in front
	// that rewrites Host does not turn the users' own forms away.
	if u, err := url.Parse(s.cfg.BaseURL); err == nil {
		if err := csrf.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			s.cfg.Log.Warn("web: base url as a trusted origin", "err", err)
		}
	}
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.cfg.Log.Warn("web: cross-origin request refused", "path", r.URL.Path, "origin", r.Header.Get("Origin"), "from", s.clientIP(r))
		s.render(w, r, http.StatusForbidden, "message.html", &page{Title: "Refused",
			Error: "This form was sent from another site, so it was refused. Open this service's own page and send it from there."})
	}))
	return securityHeaders(limitBody(csrf.Handler(mux)))
}

// ServeHTTP serves the pages.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// contentSecurityPolicy allows the service's own stylesheet, images and
// script file (the passkeys', which calls back only to the service) and
// nothing else: no inline script or style, forms only to itself, never
// inside a frame.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		// Two years with subdomains: hstspreload.org's requirement. The
		// subdomains are the users' hostnames, which serve HTTPS only.
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
		next.ServeHTTP(w, r)
	})
}

func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		next.ServeHTTP(w, r)
	})
}

func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

// page is what every template gets.
type page struct {
	Title   string
	User    *store.Account
	Error   string
	Notice  string
	Zone    string
	Section string // the nav entry to mark current
	// Anonymous renders the page as for a visitor who is not logged in.
	Anonymous bool
	// Passkeys says the pages offer passkeys (they are at a domain name).
	Passkeys bool
	Data     any
}

var funcs = template.FuncMap{
	"date": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"datep": func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
}

func (s *Server) parseTemplates() error {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	s.pages = map[string]*template.Template{}
	for _, n := range names {
		base := n[len("templates/"):]
		if base == "layout.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return fmt.Errorf("web: template %s: %w", base, err)
		}
		s.pages[base] = t
	}
	return nil
}

// render writes the page named name. It renders into a buffer first, so
// a template error is a clean 500, never half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	p.Zone = s.cfg.Zone
	p.Passkeys = s.passkeys != nil
	if p.User == nil && !p.Anonymous {
		p.User = userOf(r)
	}
	var b bytes.Buffer
	if err := s.pages[name].Execute(&b, p); err != nil {
		s.cfg.Log.Error("web: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Pages show keys, names and tokens: no cache keeps them.
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// notices are the messages a redirect may ask for, by code, so a link
// cannot make the page say anything else.
var notices = map[string]string{
	"signedup":  "Check your mail: we sent a link to verify your address. It works for 24 hours.",
	"verified":  "Your email address is verified. Log in.",
	"loggedout": "You are logged out.",
	"reset":     "Your password is changed and every session of your account is ended. Log in with the new password.",
	"resetsent": "If that account exists, a mail with a link to set a new password is on its way. The link works for an hour.",
	"claimed":   "The hostname is yours.",
	"released":  "The hostname is released.",
	"revoked":   "The key is revoked.",
	"certrev":   "The certificate is revoked.",
	"password":  "Your password is changed; your other sessions are ended.",
	"deleted":   "Your account is deleted, its certificates revoked.",
	"passkey":   "The passkey is added. Log in with it instead of the password.",
	"passkeyrm": "The passkey is removed.",
}

func (s *Server) redirect(w http.ResponseWriter, r *http.Request, path, notice string) {
	if notice != "" {
		path += "?m=" + notice
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

func noticeOf(r *http.Request) string { return notices[r.URL.Query().Get("m")] }

// clientIP is who sent r; for the per-address limit, an IPv6 address
// counts by its /64, which one host usually has whole.
func (s *Server) clientIP(r *http.Request) string {
	if s.cfg.ClientIP != nil {
		return s.cfg.ClientIP(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func addressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.Unmap().String()
}

func (s *Server) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.cfg.Log.Error("web: "+what, "path", r.URL.Path, "err", err)
	s.render(w, r, http.StatusInternalServerError, "message.html", &page{Title: "Something went wrong",
		Error: "Something went wrong on our side while " + what + ". Try again in a minute."})
}
