package api

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/signer"
	"github.com/aws-sso-agent/aws-sso-agent/signer/protocol"
	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

// Config is what a Server needs.
type Config struct {
	// Zone is the DNS zone the hostnames are under ("signer.example").
	Zone   string
	Store  *store.DB
	Issuer signer.Issuer
	// Budget is the issuance budgets; zero means store.DefaultBudget.
	Budget store.Budget
	// Limits are the request rates; zero means DefaultLimits.
	Limits Limits
	// TrustedProxies are the peers whose X-Forwarded-For is believed
	// (its last address not among them is the client). Empty: none.
	TrustedProxies []netip.Prefix
	// IssueTimeout bounds one order; zero means 3 minutes (a DNS-01
	// validation against Let's Encrypt takes seconds; Pebble 0.2 to 7 s).
	IssueTimeout time.Duration
	// RequestTimeout bounds a request's database work; zero means 15 s.
	RequestTimeout time.Duration
	// TXTTTL is how long an acme-dns update's record stays; zero means an
	// hour, past any validation's retries.
	TXTTTL time.Duration
	// Audit gets one JSON line per action; nil discards them.
	Audit *slog.Logger
	// Log gets the service's own errors; nil discards them.
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server serves the API.
type Server struct {
	cfg   Config
	zone  string
	ipLim *limiters
	keyLm *limiters
	mux   *http.ServeMux
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Issuer == nil {
		return nil, errors.New("api: a store and an issuer are required")
	}
	zone := strings.ToLower(strings.TrimSuffix(cfg.Zone, "."))
	if zone == "" {
		return nil, errors.New("api: no zone")
	}
	if cfg.Budget == (store.Budget{}) {
		cfg.Budget = store.DefaultBudget()
	}
	if cfg.Limits == (Limits{}) {
		cfg.Limits = DefaultLimits()
	}
	if cfg.IssueTimeout == 0 {
		cfg.IssueTimeout = 3 * time.Minute
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 15 * time.Second
	}
	if cfg.TXTTTL == 0 {
		cfg.TXTTTL = time.Hour
	}
	discard := slog.New(slog.DiscardHandler)
	if cfg.Audit == nil {
		cfg.Audit = discard
	}
	if cfg.Log == nil {
		cfg.Log = discard
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg:   cfg,
		zone:  zone,
		ipLim: newLimiters(cfg.Limits.PerIP, cfg.Limits.IPBurst),
		keyLm: newLimiters(cfg.Limits.PerKey, cfg.Limits.KeyBurst),
		mux:   http.NewServeMux(),
	}
	s.mux.HandleFunc("POST "+protocol.PathCertificates, s.bearer(s.sign))
	s.mux.HandleFunc("GET "+protocol.PathCertificates, s.bearer(s.list))
	s.mux.HandleFunc("POST "+protocol.PathRevoke, s.bearer(s.revoke))
	s.mux.HandleFunc("POST "+protocol.PathUpdate, s.acmeDNS(s.update))
	return s, nil
}

// ServeHTTP applies the per-IP limit and the headers every answer
// carries, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	// The API is no page to frame (the design's clickjacking note).
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	req := &request{ip: s.clientIP(r), start: s.cfg.Now()}
	if ok, wait := s.ipLim.allow(limitKey(req.ip), req.start); !ok {
		s.refuse(w, r, req, tooMany(wait, "too many requests from %s", req.ip))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, protocol.MaxBodyBytes)
	// Database work is bounded too; an order has its own deadline.
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	r = r.WithContext(ctx)
	_, pattern := s.mux.Handler(r)
	if pattern == "" {
		code, status := protocol.CodeNotFound, http.StatusNotFound
		if r.URL.Path == protocol.PathCertificates || r.URL.Path == protocol.PathRevoke || r.URL.Path == protocol.PathUpdate {
			code, status = protocol.CodeMethodNotAllowed, http.StatusMethodNotAllowed
		}
		s.refuse(w, r, req, &refusal{status: status, code: code, msg: "no such endpoint: " + r.Method + " " + clip(r.URL.Path)})
		return
	}
	s.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestKey{}, req)))
}

// request is what one request's handling learns, for the audit line.
type request struct {
	ip    string
	start time.Time
	who   store.Principal
}

type requestKey struct{}

func reqOf(r *http.Request) *request { return r.Context().Value(requestKey{}).(*request) }

// limitKey is what the per-IP limit counts by: the address, or for IPv6
// its /64, which one host or home usually has whole; counting single
// IPv6 addresses would give each of them 2^64 buckets.
func limitKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Is4() {
		return ip
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// clientIP is the connection's peer, or, behind a trusted proxy, the
// last X-Forwarded-For address that is not one.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if !s.trusted(peer) {
		return peer.Unmap().String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !s.trusted(a) {
			return a.Unmap().String()
		}
	}
	return peer.Unmap().String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// refusal is a 4xx or 5xx answer.
type refusal struct {
	status     int
	code       string
	msg        string
	retryAfter time.Duration
}

func (e *refusal) Error() string { return e.code + ": " + e.msg }

func badRequest(format string, args ...any) *refusal {
	return &refusal{status: http.StatusBadRequest, code: protocol.CodeBadRequest, msg: fmt.Sprintf(format, args...)}
}

func tooMany(wait time.Duration, format string, args ...any) *refusal {
	return &refusal{status: http.StatusTooManyRequests, code: protocol.CodeRateLimited, msg: fmt.Sprintf(format, args...), retryAfter: wait}
}

var errUnauthorized = &refusal{status: http.StatusUnauthorized, code: protocol.CodeUnauthorized,
	msg: "the API key is missing, unknown or revoked, or its account is disabled"}

func (s *Server) refuse(w http.ResponseWriter, r *http.Request, req *request, e *refusal) {
	if e.retryAfter > 0 {
		secs := int64(math.Ceil(e.retryAfter.Seconds()))
		if e.retryAfter > 365*24*time.Hour {
			secs = 365 * 24 * 3600
		}
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(protocol.ErrorResponse{Error: protocol.Error{Code: e.code, Message: e.msg}})
	s.audit(r, req, "refused", slog.String("code", e.code), slog.Int("status", e.status))
}

func (s *Server) reply(w http.ResponseWriter, status int, v any) {
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// audit writes one line: who (account, key), what (the endpoint, the
// outcome and attrs), from where.
func (s *Server) audit(r *http.Request, req *request, outcome string, attrs ...slog.Attr) {
	base := []slog.Attr{
		slog.String("action", r.Method+" "+clip(r.URL.Path)),
		slog.String("outcome", outcome),
		slog.String("ip", req.ip),
	}
	if req.who.KeyID != 0 {
		base = append(base, slog.String("account", req.who.Username), slog.Int64("key_id", req.who.KeyID))
	}
	base = append(base, slog.Duration("took", s.cfg.Now().Sub(req.start)))
	s.cfg.Audit.LogAttrs(context.Background(), slog.LevelInfo, "audit", append(base, attrs...)...)
}

// internal logs err for the operator and gives the client nothing of it.
func (s *Server) internal(what string, err error) *refusal {
	s.cfg.Log.Error("api: "+what, "err", err)
	return &refusal{status: http.StatusInternalServerError, code: protocol.CodeInternal, msg: what + " failed; nothing was issued or changed"}
}

// bearer authenticates "Authorization: Bearer KEY" and applies the
// per-key limit.
func (s *Server) bearer(next func(http.ResponseWriter, *http.Request) *refusal) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req := reqOf(r)
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if e := s.authenticate(r, req, key, ok); e != nil {
			s.refuse(w, r, req, e)
			return
		}
		if e := next(w, r); e != nil {
			s.refuse(w, r, req, e)
		}
	}
}

// acmeDNS authenticates acme-dns's X-Api-User and X-Api-Key: the key,
// and the user name of its account.
func (s *Server) acmeDNS(next func(http.ResponseWriter, *http.Request) *refusal) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req := reqOf(r)
		key := r.Header.Get(protocol.HeaderAPIKey)
		e := s.authenticate(r, req, key, key != "")
		if e == nil && req.who.Username != r.Header.Get(protocol.HeaderAPIUser) {
			req.who = store.Principal{}
			e = errUnauthorized
		}
		if e == nil {
			e = next(w, r)
		}
		if e != nil {
			s.refuse(w, r, req, e)
		}
	}
}

func (s *Server) authenticate(r *http.Request, req *request, key string, present bool) *refusal {
	if !present {
		return errUnauthorized
	}
	hash, err := signer.ParseAPIKey(strings.TrimSpace(key))
	if err != nil {
		return errUnauthorized
	}
	p, err := s.cfg.Store.Authenticate(r.Context(), hash, req.ip)
	if errors.Is(err, store.ErrUnauthorized) {
		return errUnauthorized
	}
	if err != nil {
		return s.internal("authentication", err)
	}
	req.who = p
	if ok, wait := s.keyLm.allow(strconv.FormatInt(p.KeyID, 10), s.cfg.Now()); !ok {
		return tooMany(wait, "too many requests with this API key")
	}
	return nil
}

// decode reads one JSON object into v, strictly: unknown fields and
// trailing data are refused.
func decode(r *http.Request, v any) *refusal {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &refusal{status: http.StatusRequestEntityTooLarge, code: protocol.CodeTooLarge,
				msg: fmt.Sprintf("the body is larger than %d bytes", protocol.MaxBodyBytes)}
		}
		return badRequest("the body is not the JSON object this endpoint takes: %s", clip(err.Error()))
	}
	if _, err := dec.Token(); err != io.EOF {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &refusal{status: http.StatusRequestEntityTooLarge, code: protocol.CodeTooLarge,
				msg: fmt.Sprintf("the body is larger than %d bytes", protocol.MaxBodyBytes)}
		}
		return badRequest("the body holds more than one JSON value")
	}
	return nil
}

func (s *Server) fqdn(label string) string { return label + "." + s.zone }

func (s *Server) sign(w http.ResponseWriter, r *http.Request) *refusal {
	req := reqOf(r)
	var body protocol.SignRequest
	if e := decode(r, &body); e != nil {
		return e
	}
	csr, label, err := signer.ParseCSR([]byte(body.CSR), s.zone)
	if err != nil {
		return &refusal{status: http.StatusBadRequest, code: protocol.CodeBadCSR, msg: clip(err.Error())}
	}
	if !req.who.May(label) {
		return &refusal{status: http.StatusForbidden, code: protocol.CodeForbidden, msg: "this API key may not sign for " + s.fqdn(label)}
	}
	id, err := s.cfg.Store.BeginIssuance(r.Context(), label, req.who.AccountID, s.cfg.Budget)
	var budget *store.BudgetError
	switch {
	case errors.As(err, &budget):
		return tooMany(budget.RetryAfter, "the %s issuance budget for %s is spent (Let's Encrypt's limits)", budget.Scope, s.fqdn(label))
	case errors.Is(err, store.ErrInProgress):
		return &refusal{status: http.StatusConflict, code: protocol.CodeConflict, msg: "a certificate for " + s.fqdn(label) + " is being issued; try again in a minute"}
	case err != nil:
		return s.internal("reserving the issuance", err)
	}
	// The order outlives a client that hangs up: the CA's work is done
	// and counted either way, and the certificate is listed afterwards.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), s.cfg.IssueTimeout)
	defer cancel()
	chainPEM, err := s.cfg.Issuer.Issue(ctx, csr)
	var leaf *x509.Certificate
	if err == nil {
		leaf, err = checkChain(chainPEM, csr)
	}
	if err != nil {
		validation := errors.Is(err, signer.ErrValidationFailed)
		if ferr := s.cfg.Store.FailIssuance(ctx, id, validation); ferr != nil {
			s.cfg.Log.Error("api: record failed issuance", "err", ferr)
		}
		s.cfg.Log.Warn("api: issue", "hostname", s.fqdn(label), "err", err)
		var rl *signer.RateLimitError
		if errors.As(err, &rl) {
			wait := rl.RetryAfter
			if wait <= 0 {
				wait = time.Hour
			}
			return tooMany(wait, "the CA's rate limit was reached for %s", s.fqdn(label))
		}
		return &refusal{status: http.StatusBadGateway, code: protocol.CodeIssuerFailed, msg: "the CA did not issue a certificate for " + s.fqdn(label) + "; try again later"}
	}
	c, err := s.cfg.Store.CompleteIssuance(ctx, id, store.Certificate{
		AccountID: req.who.AccountID, Label: label, Serial: serialHex(leaf),
		NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter, ChainPEM: string(chainPEM),
	})
	if err != nil {
		return s.internal("recording the certificate", err)
	}
	out := s.wire(c)
	out.Chain = c.ChainPEM
	s.reply(w, http.StatusCreated, out)
	s.audit(r, req, "issued", slog.String("hostname", s.fqdn(label)), slog.String("serial", c.Serial))
	return nil
}

// checkChain makes sure the issuer's answer is a certificate for the
// CSR's key and name, so a confused CA or issuer never hands one user
// another's certificate.
func checkChain(chainPEM []byte, csr *x509.CertificateRequest) (*x509.Certificate, error) {
	block, _ := pem.Decode(chainPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("api: the issuer returned no PEM certificate")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("api: the issuer's certificate: %w", err)
	}
	if pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(csr.PublicKey) {
		return nil, errors.New("api: the issuer's certificate is for another key")
	}
	if err := leaf.VerifyHostname(csr.DNSNames[0]); err != nil || len(leaf.DNSNames) != 1 {
		return nil, errors.New("api: the issuer's certificate is for other names")
	}
	return leaf, nil
}

func serialHex(c *x509.Certificate) string { return fmt.Sprintf("%x", c.SerialNumber) }

func (s *Server) wire(c store.Certificate) protocol.Certificate {
	return protocol.Certificate{
		Serial: c.Serial, Hostname: s.fqdn(c.Label),
		NotBefore: c.NotBefore, NotAfter: c.NotAfter, IssuedAt: c.IssuedAt, RevokedAt: c.RevokedAt,
	}
}

// listLimit bounds a listing: 4 certificates per hostname per week.
const listLimit = 100

func (s *Server) list(w http.ResponseWriter, r *http.Request) *refusal {
	req := reqOf(r)
	certs, err := s.cfg.Store.Certificates(r.Context(), req.who.Labels, listLimit)
	if err != nil {
		return s.internal("listing certificates", err)
	}
	out := protocol.CertificateList{Certificates: make([]protocol.Certificate, 0, len(certs))}
	for _, c := range certs {
		if c.AccountID == req.who.AccountID {
			out.Certificates = append(out.Certificates, s.wire(c))
		}
	}
	s.reply(w, http.StatusOK, out)
	s.audit(r, req, "listed", slog.Int("certificates", len(out.Certificates)))
	return nil
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) *refusal {
	req := reqOf(r)
	var body protocol.RevokeRequest
	if e := decode(r, &body); e != nil {
		return e
	}
	serial := strings.ToLower(body.Serial)
	if serial == "" || len(serial) > 40 || strings.Trim(serial, "0123456789abcdef") != "" {
		return badRequest("serial must be the certificate's serial number in hexadecimal")
	}
	notFound := &refusal{status: http.StatusNotFound, code: protocol.CodeNotFound, msg: "no certificate " + serial + " for this API key"}
	c, err := s.cfg.Store.CertificateBySerial(r.Context(), serial)
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return s.internal("finding the certificate", err)
	}
	// Another account's certificate is "not found": a key learns nothing
	// of certificates it does not own.
	if c.AccountID != req.who.AccountID || !req.who.May(c.Label) {
		return notFound
	}
	if c.RevokedAt == nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), s.cfg.IssueTimeout)
		defer cancel()
		if err := s.cfg.Store.RevokeCertificate(ctx, s.cfg.Issuer, c); errors.Is(err, store.ErrCADidNotRevoke) {
			s.cfg.Log.Warn("api: revoke", "serial", serial, "err", err)
			return &refusal{status: http.StatusBadGateway, code: protocol.CodeIssuerFailed, msg: "the CA did not revoke " + serial + "; try again later"}
		} else if err != nil {
			return s.internal("revoking the certificate", err)
		}
		if c, err = s.cfg.Store.CertificateBySerial(ctx, serial); err != nil {
			return s.internal("reading the certificate", err)
		}
	}
	s.reply(w, http.StatusOK, s.wire(c))
	s.audit(r, req, "revoked", slog.String("hostname", s.fqdn(c.Label)), slog.String("serial", serial))
	return nil
}

// update is acme-dns's POST /update: it publishes the DNS-01 value at
// _acme-challenge.LABEL.ZONE for an ACME client of the user's own, and
// spends one unit of the issuance budgets for the order it serves.
func (s *Server) update(w http.ResponseWriter, r *http.Request) *refusal {
	req := reqOf(r)
	var body protocol.UpdateRequest
	if e := decode(r, &body); e != nil {
		return e
	}
	name := strings.ToLower(strings.TrimSuffix(body.Subdomain, "."))
	name = strings.TrimPrefix(name, "_acme-challenge.")
	name = strings.TrimSuffix(name, "."+s.zone)
	label, err := signer.CheckLabel(name)
	if err != nil {
		return badRequest("subdomain must be one of your hostnames, as LABEL or LABEL.%s", s.zone)
	}
	if !req.who.May(label) {
		return &refusal{status: http.StatusForbidden, code: protocol.CodeForbidden, msg: "this API key may not publish records for " + s.fqdn(label)}
	}
	if !isDNS01Value(body.TXT) {
		return badRequest("txt must be a DNS-01 value: 43 characters of unpadded base64url")
	}
	err = s.cfg.Store.ReserveExternal(r.Context(), label, req.who.AccountID, s.cfg.Budget)
	var budget *store.BudgetError
	switch {
	case errors.As(err, &budget):
		return tooMany(budget.RetryAfter, "the %s issuance budget for %s is spent (Let's Encrypt's limits)", budget.Scope, s.fqdn(label))
	case err != nil:
		return s.internal("reserving the issuance", err)
	}
	if err := s.cfg.Store.SetTXT(r.Context(), "_acme-challenge."+s.fqdn(label)+".", body.TXT, s.cfg.TXTTTL); err != nil {
		return s.internal("publishing the record", err)
	}
	s.reply(w, http.StatusOK, protocol.UpdateResponse{TXT: body.TXT})
	s.audit(r, req, "published", slog.String("hostname", s.fqdn(label)))
	return nil
}

// isDNS01Value: a DNS-01 record is the unpadded base64url of a SHA-256
// (RFC 8555 8.4), 43 characters.
func isDNS01Value(v string) bool {
	if len(v) != 43 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// clip bounds what of an untrusted string is echoed.
func clip(s string) string {
	const max = 200
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
