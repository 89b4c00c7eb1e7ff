package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

// sessionCookie is the session's cookie. The __Host- prefix makes the
// browser refuse it unless it is Secure, from this very host (no
// Domain) and for Path=/, so a sibling hostname under the zone cannot
// set or overwrite it.
const sessionCookie = "__Host-signer-session"

// newToken is 256 random bits for a session or a mail's link, and the
// hash the store keeps of it.
func newToken() (token string, hash []byte, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, tokenHash(token), nil
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// validToken reports whether token has newToken's form, so nothing else
// reaches a query.
func validToken(token string) bool {
	if len(token) != base64.RawURLEncoding.EncodedLen(32) {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(token)
	return err == nil
}

type userKey struct{}

func userOf(r *http.Request) *store.Account {
	a, _ := r.Context().Value(userKey{}).(*store.Account)
	return a
}

// session returns the account of r's session cookie, if it has a live
// one.
func (s *Server) session(r *http.Request) (*store.Account, []byte) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || !validToken(c.Value) {
		return nil, nil
	}
	h := tokenHash(c.Value)
	a, err := s.cfg.Store.SessionAccount(r.Context(), h)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.cfg.Log.Error("web: session", "err", err)
		}
		return nil, nil
	}
	return &a, h
}

type sessionHashKey struct{}

// authed runs h for a logged-in user and sends anyone else to the login
// page.
func (s *Server) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, hash := s.session(r)
		if a == nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		ctx := context.WithValue(r.Context(), userKey{}, a)
		ctx = context.WithValue(ctx, sessionHashKey{}, hash)
		h(w, r.WithContext(ctx))
	}
}

func sessionHashOf(r *http.Request) []byte {
	h, _ := r.Context().Value(sessionHashKey{}).([]byte)
	return h
}

// startSession makes a new session for a, ending the one r came with:
// a session id a visitor had before logging in is never the one after
// (session fixation).
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, a store.Account) error {
	if c, err := r.Cookie(sessionCookie); err == nil && validToken(c.Value) {
		if err := s.cfg.Store.DeleteSession(r.Context(), tokenHash(c.Value)); err != nil {
			return err
		}
	}
	token, hash, err := newToken()
	if err != nil {
		return err
	}
	if err := s.cfg.Store.CreateSession(r.Context(), a.ID, hash, sessionTTL); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: token, Path: "/",
		MaxAge:   int(sessionTTL.Seconds()),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode,
	})
	return nil
}

func clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
}
