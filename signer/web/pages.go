package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/signer"
	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

// lookupTimeout bounds each public DNS lookup of the hostnames page.
const lookupTimeout = 3 * time.Second

type hostnameView struct {
	Label, FQDN string
	CreatedAt   time.Time
	Answers     []string
	LookupError string
	Loopback    bool // the public DNS answers 127.0.0.1 or ::1, as it should
}

type hostnamesData struct {
	Hostnames []hostnameView
	Max       int
	Label     string
	APIURL    string
}

func (s *Server) fqdn(label string) string { return label + "." + s.cfg.Zone }

func (s *Server) hostnames(w http.ResponseWriter, r *http.Request) {
	s.renderHostnames(w, r, http.StatusOK, "", "")
}

func (s *Server) renderHostnames(w http.ResponseWriter, r *http.Request, status int, errMsg, label string) {
	a := userOf(r)
	hs, err := s.cfg.Store.Hostnames(r.Context(), a.Username)
	if err != nil {
		s.internal(w, r, "listing your hostnames", err)
		return
	}
	views := make([]hostnameView, len(hs))
	var wg sync.WaitGroup
	for i, h := range hs {
		views[i] = hostnameView{Label: h.Label, FQDN: s.fqdn(h.Label), CreatedAt: h.CreatedAt}
		wg.Add(1)
		go func(v *hostnameView) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), lookupTimeout)
			defer cancel()
			addrs, err := s.cfg.Resolver.LookupHost(ctx, v.FQDN)
			if err != nil {
				v.LookupError = "no answer (" + lookupErrorText(err) + ")"
				return
			}
			sort.Strings(addrs)
			v.Answers = addrs
			for _, a := range addrs {
				if a == "127.0.0.1" || a == "::1" {
					v.Loopback = true
				}
			}
		}(&views[i])
	}
	wg.Wait()
	notice := ""
	if status == http.StatusOK {
		notice = noticeOf(r)
	}
	s.render(w, r, status, "hostnames.html", &page{Title: "Hostnames", Section: "hostnames", Error: errMsg, Notice: notice,
		Data: hostnamesData{Hostnames: views, Max: s.cfg.MaxHostnames, Label: label, APIURL: s.cfg.APIURL}})
}

func lookupErrorText(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "no such host"):
		return "the name does not exist yet"
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "timeout"):
		return "the lookup timed out"
	}
	return "the lookup failed"
}

func (s *Server) claim(w http.ResponseWriter, r *http.Request) {
	a := userOf(r)
	submitted := r.PostFormValue("label")
	label, err := signer.CheckLabel(strings.TrimSuffix(strings.TrimSpace(submitted), "."+s.cfg.Zone))
	if err != nil {
		s.renderHostnames(w, r, http.StatusBadRequest, labelRefusal(err), submitted)
		return
	}
	_, err = s.cfg.Store.AddHostname(r.Context(), a.Username, label, s.cfg.MaxHostnames)
	switch {
	case errors.Is(err, store.ErrQuarantined):
		until, qerr := s.cfg.Store.QuarantinedUntil(r.Context(), label)
		if qerr != nil {
			s.internal(w, r, "claiming the hostname", qerr)
			return
		}
		s.renderHostnames(w, r, http.StatusConflict, fmt.Sprintf("%s is held until %s: its previous owner released it, and certificates they got for it may still be in use.",
			s.fqdn(label), until.Format("2006-01-02")), submitted)
	case errors.Is(err, store.ErrExists):
		s.renderHostnames(w, r, http.StatusConflict, s.fqdn(label)+" is taken. Choose another name.", submitted)
	case errors.Is(err, store.ErrCap):
		s.renderHostnames(w, r, http.StatusConflict, fmt.Sprintf("An account has at most %d hostnames. Release one first.", s.cfg.MaxHostnames), submitted)
	case err != nil:
		s.internal(w, r, "claiming the hostname", err)
	default:
		s.cfg.Log.Info("web: hostname claimed", "user", a.Username, "hostname", s.fqdn(label), "from", s.clientIP(r))
		s.redirect(w, r, "/hostnames", "claimed")
	}
}

// labelRefusal turns CheckLabel's error into a sentence for the page.
func labelRefusal(err error) string {
	msg := strings.TrimPrefix(err.Error(), signer.ErrBadLabel.Error()+": ")
	return "That name cannot be registered: " + msg + "."
}

// owned returns label if it is one of r's user's hostnames.
func (s *Server) owned(r *http.Request, label string) (string, bool, error) {
	l, err := signer.CheckLabel(label)
	if err != nil {
		return "", false, nil
	}
	h, err := s.cfg.Store.Hostname(r.Context(), l)
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return l, h.Username == userOf(r).Username, nil
}

// release frees a hostname. The store keeps it from other accounts for
// store.Quarantine, while a certificate its owner got for it may still
// be valid.
func (s *Server) release(w http.ResponseWriter, r *http.Request) {
	a := userOf(r)
	label, ok, err := s.owned(r, r.PostFormValue("label"))
	if err != nil {
		s.internal(w, r, "releasing the hostname", err)
		return
	}
	if !ok {
		s.renderHostnames(w, r, http.StatusNotFound, "You have no such hostname.", "")
		return
	}
	// The name's live certificates are revoked first, as aws-sso-signer
	// hostname release does: once released, the name is no longer its
	// owner's to revoke for.
	certs, err := s.cfg.Store.AccountCertificates(r.Context(), a.ID, maxCertificates)
	if err != nil {
		s.internal(w, r, "releasing the hostname", err)
		return
	}
	revoked, failed, err := s.revokeLive(r.Context(), certs, label)
	if err != nil {
		s.cfg.Log.Warn("web: release hostname: revoke", "user", a.Username, "serial", failed.Serial, "err", err)
		s.renderHostnames(w, r, http.StatusBadGateway, "The CA did not revoke certificate "+failed.Serial+", so the hostname is not released. Try again in a few minutes.", "")
		return
	}
	if err := s.cfg.Store.ReleaseHostname(r.Context(), label); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.internal(w, r, "releasing the hostname", err)
		return
	}
	s.cfg.Log.Info("web: hostname released", "user", a.Username, "hostname", s.fqdn(label), "certificates revoked", revoked, "from", s.clientIP(r))
	s.redirect(w, r, "/hostnames", "released")
}

type keysData struct {
	Keys      []store.Key
	Hostnames []store.Hostname
	// NewKey is the key just created, shown this once.
	NewKey  string
	Command string
	Zone    string
}

func (s *Server) keys(w http.ResponseWriter, r *http.Request) {
	s.renderKeys(w, r, http.StatusOK, "", "")
}

func (s *Server) renderKeys(w http.ResponseWriter, r *http.Request, status int, errMsg, newKey string) {
	a := userOf(r)
	keys, err := s.cfg.Store.Keys(r.Context(), a.Username)
	if err != nil {
		s.internal(w, r, "listing your keys", err)
		return
	}
	hs, err := s.cfg.Store.Hostnames(r.Context(), a.Username)
	if err != nil {
		s.internal(w, r, "listing your keys", err)
		return
	}
	// Newest first: the one just made is at the top.
	sort.Slice(keys, func(i, j int) bool { return keys[i].ID > keys[j].ID })
	notice := ""
	if status == http.StatusOK && newKey == "" {
		notice = noticeOf(r)
	}
	s.render(w, r, status, "keys.html", &page{Title: "API keys", Section: "keys", Error: errMsg, Notice: notice,
		Data: keysData{Keys: keys, Hostnames: hs, NewKey: newKey, Zone: s.cfg.Zone,
			Command: "aws-sso-agent certs api-key --service " + s.cfg.APIURL}})
}

// createKey shows the new key in its answer to the POST, never in a URL
// or a redirect, and only this once: the store keeps its hash.
func (s *Server) createKey(w http.ResponseWriter, r *http.Request) {
	a := userOf(r)
	if err := r.ParseForm(); err != nil {
		s.renderKeys(w, r, http.StatusBadRequest, "The form could not be read.", "")
		return
	}
	var labels []string
	for _, l := range r.PostForm["hostname"] {
		label, ok, err := s.owned(r, l)
		if err != nil {
			s.internal(w, r, "creating the key", err)
			return
		}
		if !ok {
			s.renderKeys(w, r, http.StatusBadRequest, "A key can be scoped only to hostnames of yours.", "")
			return
		}
		labels = append(labels, label)
	}
	if len(labels) == 0 {
		s.renderKeys(w, r, http.StatusBadRequest, "Choose at least one hostname the key may sign for.", "")
		return
	}
	key, hash, err := signer.NewAPIKey()
	if err != nil {
		s.internal(w, r, "creating the key", err)
		return
	}
	k, err := s.cfg.Store.CreateKey(r.Context(), a.Username, labels, hash)
	if err != nil {
		s.internal(w, r, "creating the key", err)
		return
	}
	s.cfg.Log.Info("web: key created", "user", a.Username, "key", k.ID, "hostnames", strings.Join(k.Labels, ","), "from", s.clientIP(r))
	s.renderKeys(w, r, http.StatusOK, "", key)
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) {
	a := userOf(r)
	id, err := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.renderKeys(w, r, http.StatusBadRequest, "You have no such key.", "")
		return
	}
	keys, err := s.cfg.Store.Keys(r.Context(), a.Username)
	if err != nil {
		s.internal(w, r, "revoking the key", err)
		return
	}
	mine := false
	for _, k := range keys {
		mine = mine || k.ID == id
	}
	if !mine {
		s.renderKeys(w, r, http.StatusNotFound, "You have no such key.", "")
		return
	}
	if err := s.cfg.Store.RevokeKey(r.Context(), id); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.internal(w, r, "revoking the key", err)
		return
	}
	s.cfg.Log.Info("web: key revoked", "user", a.Username, "key", id, "from", s.clientIP(r))
	s.redirect(w, r, "/keys", "revoked")
}

// maxCertificates is how many certificates the pages list, and revoke
// at an account's deletion: far more than the per-hostname issuance caps
// let an account have in a certificate's lifetime.
const maxCertificates = 1000

type certView struct {
	FQDN, Serial                  string
	NotBefore, NotAfter, IssuedAt time.Time
	RevokedAt                     *time.Time
	Expired                       bool
	DaysLeft                      int
}

func (s *Server) certificates(w http.ResponseWriter, r *http.Request) {
	s.renderCertificates(w, r, http.StatusOK, "")
}

func (s *Server) renderCertificates(w http.ResponseWriter, r *http.Request, status int, errMsg string) {
	a := userOf(r)
	certs, err := s.cfg.Store.AccountCertificates(r.Context(), a.ID, maxCertificates)
	if err != nil {
		s.internal(w, r, "listing your certificates", err)
		return
	}
	now := s.cfg.Now()
	views := make([]certView, len(certs))
	for i, c := range certs {
		views[i] = certView{FQDN: s.fqdn(c.Label), Serial: c.Serial, NotBefore: c.NotBefore, NotAfter: c.NotAfter,
			IssuedAt: c.IssuedAt, RevokedAt: c.RevokedAt, Expired: !now.Before(c.NotAfter), DaysLeft: int(c.NotAfter.Sub(now).Hours() / 24)}
	}
	notice := ""
	if status == http.StatusOK {
		notice = noticeOf(r)
	}
	s.render(w, r, status, "certificates.html", &page{Title: "Certificates", Section: "certificates", Error: errMsg, Notice: notice, Data: views})
}

func (s *Server) revokeCertificate(w http.ResponseWriter, r *http.Request) {
	a := userOf(r)
	serial := strings.ToLower(r.PostFormValue("serial"))
	if serial == "" || len(serial) > 40 || strings.Trim(serial, "0123456789abcdef") != "" {
		s.renderCertificates(w, r, http.StatusBadRequest, "You have no such certificate.")
		return
	}
	c, err := s.cfg.Store.CertificateBySerial(r.Context(), serial)
	if errors.Is(err, store.ErrNotFound) || err == nil && c.AccountID != a.ID {
		s.renderCertificates(w, r, http.StatusNotFound, "You have no such certificate.")
		return
	}
	if err != nil {
		s.internal(w, r, "revoking the certificate", err)
		return
	}
	if c.RevokedAt == nil {
		if err := s.revoke(r.Context(), c); err != nil {
			s.cfg.Log.Warn("web: revoke certificate", "serial", serial, "err", err)
			s.renderCertificates(w, r, http.StatusBadGateway, "The CA did not revoke the certificate. Try again in a few minutes.")
			return
		}
	}
	s.cfg.Log.Info("web: certificate revoked", "user", a.Username, "serial", serial, "from", s.clientIP(r))
	s.redirect(w, r, "/certificates", "certrev")
}

// revokeLive revokes each of certs (only label's, unless label is empty)
// that has neither expired nor been revoked. It stops at the first the
// CA does not revoke and returns it, so the caller gives nothing up.
func (s *Server) revokeLive(ctx context.Context, certs []store.Certificate, label string) (revoked int, failed store.Certificate, err error) {
	now := s.cfg.Now()
	for _, c := range certs {
		if label != "" && c.Label != label || c.RevokedAt != nil || !now.Before(c.NotAfter) {
			continue
		}
		if err := s.revoke(ctx, c); err != nil {
			return revoked, c, err
		}
		revoked++
	}
	return revoked, store.Certificate{}, nil
}

// revoke has the CA revoke c and records it, detached from the request
// so that a revocation the CA made is recorded.
func (s *Server) revoke(ctx context.Context, c store.Certificate) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	return s.cfg.Store.RevokeCertificate(ctx, s.cfg.Issuer, c)
}

func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	s.renderAccount(w, r, http.StatusOK, "")
}

type accountData struct {
	HoldDays int
	Passkeys []passkeyView
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, status int, errMsg string) {
	notice := ""
	if status == http.StatusOK {
		notice = noticeOf(r)
	}
	keys, err := s.cfg.Store.Passkeys(r.Context(), userOf(r).ID)
	if err != nil {
		s.internal(w, r, "listing your passkeys", err)
		return
	}
	s.render(w, r, status, "account.html", &page{Title: "Account", Section: "account", Error: errMsg, Notice: notice,
		Data: accountData{HoldDays: int(store.Quarantine.Hours() / 24), Passkeys: passkeyViews(keys)}})
}

// deleteAccount revokes the account's live certificates and deletes it;
// the store keeps its hostnames from everyone for store.Quarantine, the
// longest lifetime of a certificate for them. If a revocation fails,
// nothing is deleted: an account is never gone while a certificate it
// could revoke is not.
func (s *Server) deleteAccount(w http.ResponseWriter, r *http.Request) {
	a := userOf(r)
	ctx := r.Context()
	refusal := "To delete the account, type its user name and its password."
	if r.PostFormValue("confirm") != a.Username {
		s.renderAccount(w, r, http.StatusUnauthorized, refusal)
		return
	}
	ok, until, err := s.passwordAgain(ctx, a, r.PostFormValue("password"))
	switch {
	case err != nil:
		s.internal(w, r, "deleting your account", err)
		return
	case !until.IsZero():
		s.renderAccount(w, r, http.StatusTooManyRequests, tooManyWrongPasswords(until))
		return
	case !ok:
		s.renderAccount(w, r, http.StatusUnauthorized, refusal)
		return
	}
	certs, err := s.cfg.Store.AccountCertificates(ctx, a.ID, maxCertificates)
	if err != nil {
		s.internal(w, r, "deleting your account", err)
		return
	}
	revoked, failed, err := s.revokeLive(ctx, certs, "")
	if err != nil {
		s.cfg.Log.Warn("web: delete account: revoke", "user", a.Username, "serial", failed.Serial, "err", err)
		s.renderAccount(w, r, http.StatusBadGateway, "The CA did not revoke certificate "+failed.Serial+", so the account is not deleted. Try again in a few minutes.")
		return
	}
	if err := s.cfg.Store.DeleteAccount(ctx, a.Username); err != nil {
		s.internal(w, r, "deleting your account", err)
		return
	}
	s.cfg.Log.Info("web: account deleted", "user", a.Username, "certificates revoked", revoked, "from", s.clientIP(r))
	clearSession(w)
	s.render(w, r, http.StatusOK, "message.html", &page{Title: "Account deleted", Anonymous: true, Notice: notices["deleted"]})
}
