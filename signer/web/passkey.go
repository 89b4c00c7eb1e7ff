package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

// Passkeys (WebAuthn) log a user in instead of the password. The
// browser's side is static/passkey.js; its ceremonies are two JSON
// requests each: begin returns the options and a state token, finish
// sends the authenticator's answer with that token. The token names a
// challenge kept in the store (any instance may get the finish) and
// spent by its first use, so an answer sent again finds none.
//
// A login's user handle names the account; the library then requires
// the credential to be one of that account's, so a passkey of one
// account cannot log into another.

// passkeyTTL bounds a ceremony: the library's default timeout for the
// browser's prompt is 5 minutes.
const passkeyTTL = 5 * time.Minute

// maxPasskeys bounds each account's credentials.
const maxPasskeys = 10

// withPasskeys runs h if the pages offer passkeys.
func (s *Server) withPasskeys(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.passkeys == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "This service offers no passkeys."})
			return
		}
		h(w, r)
	}
}

// passkeyUser is an account as the WebAuthn library sees it.
type passkeyUser struct {
	account store.Account
	handle  []byte
	creds   []webauthn.Credential
}

func (u *passkeyUser) WebAuthnID() []byte                         { return u.handle }
func (u *passkeyUser) WebAuthnName() string                       { return u.account.Username }
func (u *passkeyUser) WebAuthnDisplayName() string                { return u.account.Username }
func (u *passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// passkeyUserOf loads a's handle and credentials.
func (s *Server) passkeyUserOf(ctx context.Context, a store.Account, handle []byte) (*passkeyUser, []store.Passkey, error) {
	if handle == nil {
		var err error
		if handle, err = s.cfg.Store.PasskeyHandle(ctx, a.ID); err != nil {
			return nil, nil, err
		}
	}
	keys, err := s.cfg.Store.Passkeys(ctx, a.ID)
	if err != nil {
		return nil, nil, err
	}
	u := &passkeyUser{account: a, handle: handle}
	for _, k := range keys {
		var c webauthn.Credential
		if err := json.Unmarshal(k.Credential, &c); err != nil {
			return nil, nil, fmt.Errorf("passkey %x: %w", k.ID, err)
		}
		u.creds = append(u.creds, c)
	}
	return u, keys, nil
}

// beginCeremony keeps session under a new state token and answers with
// the options for navigator.credentials and the token.
func (s *Server) beginCeremony(w http.ResponseWriter, r *http.Request, accountID int64, options any, session *webauthn.SessionData) {
	data, err := json.Marshal(session)
	if err != nil {
		s.jsonError(w, r, http.StatusInternalServerError, "passkey", err)
		return
	}
	token, hash, err := newToken()
	if err == nil {
		err = s.cfg.Store.SavePasskeyChallenge(r.Context(), hash, accountID, data, passkeyTTL)
	}
	if err != nil {
		s.jsonError(w, r, http.StatusInternalServerError, "passkey", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"state": token, "options": options})
}

// spendCeremony spends the challenge of r's state token.
func (s *Server) spendCeremony(r *http.Request) (int64, webauthn.SessionData, error) {
	var session webauthn.SessionData
	token := r.URL.Query().Get("state")
	if !validToken(token) {
		return 0, session, store.ErrNotFound
	}
	id, data, err := s.cfg.Store.UsePasskeyChallenge(r.Context(), tokenHash(token))
	if err != nil {
		return 0, session, err
	}
	if err := json.Unmarshal(data, &session); err != nil {
		return 0, session, err
	}
	return id, session, nil
}

func (s *Server) passkeyRegisterBegin(w http.ResponseWriter, r *http.Request) {
	a := userOf(r)
	u, keys, err := s.passkeyUserOf(r.Context(), *a, nil)
	if err != nil {
		s.jsonError(w, r, http.StatusInternalServerError, "passkey", err)
		return
	}
	if len(keys) >= maxPasskeys {
		writeJSON(w, http.StatusConflict, map[string]string{"error": fmt.Sprintf("An account has at most %d passkeys. Remove one first.", maxPasskeys)})
		return
	}
	// A discoverable credential, so the login needs no user name; the
	// account's own are excluded, so one authenticator is not added twice.
	var exclude []protocol.CredentialDescriptor
	for _, c := range u.creds {
		exclude = append(exclude, c.Descriptor())
	}
	options, session, err := s.passkeys.BeginRegistration(u,
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithExclusions(exclude))
	if err != nil {
		s.jsonError(w, r, http.StatusInternalServerError, "passkey", err)
		return
	}
	s.beginCeremony(w, r, a.ID, options, session)
}

func (s *Server) passkeyRegisterFinish(w http.ResponseWriter, r *http.Request) {
	a := userOf(r)
	ctx := r.Context()
	owner, session, err := s.spendCeremony(r)
	if err != nil || owner != a.ID {
		s.cfg.Log.Warn("web: passkey registration without its challenge", "user", a.Username, "from", s.clientIP(r))
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "This passkey request has expired or was used already. Try again."})
		return
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(r.Body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "The browser's answer could not be read. Try again."})
		return
	}
	u, _, err := s.passkeyUserOf(ctx, *a, nil)
	if err != nil {
		s.jsonError(w, r, http.StatusInternalServerError, "passkey", err)
		return
	}
	cred, err := s.passkeys.CreateCredential(u, session, parsed)
	if err != nil {
		s.cfg.Log.Warn("web: passkey registration refused", "user", a.Username, "from", s.clientIP(r), "err", err)
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "The passkey was not accepted. Try again."})
		return
	}
	data, err := json.Marshal(cred)
	if err != nil {
		s.jsonError(w, r, http.StatusInternalServerError, "passkey", err)
		return
	}
	name := "Passkey added " + s.cfg.Now().UTC().Format("2006-01-02 15:04 UTC")
	if err := s.cfg.Store.AddPasskey(ctx, a.ID, cred.ID, name, data); errors.Is(err, store.ErrExists) {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "This passkey is registered already."})
		return
	} else if err != nil {
		s.jsonError(w, r, http.StatusInternalServerError, "passkey", err)
		return
	}
	s.cfg.Log.Info("web: passkey added", "user", a.Username, "from", s.clientIP(r))
	writeJSON(w, http.StatusOK, map[string]string{"redirect": "/account?m=passkey"})
}

func (s *Server) passkeyDelete(w http.ResponseWriter, r *http.Request) {
	a := userOf(r)
	id, err := base64.RawURLEncoding.Strict().DecodeString(r.PostFormValue("id"))
	if err != nil || len(id) == 0 {
		err = store.ErrNotFound
	} else {
		err = s.cfg.Store.DeletePasskey(r.Context(), a.ID, id)
	}
	if errors.Is(err, store.ErrNotFound) {
		s.renderAccount(w, r, http.StatusNotFound, "There is no such passkey on your account.")
		return
	}
	if err != nil {
		s.internal(w, r, "removing the passkey", err)
		return
	}
	s.cfg.Log.Info("web: passkey removed", "user", a.Username, "from", s.clientIP(r))
	s.redirect(w, r, "/account", "passkeyrm")
}

func (s *Server) passkeyLoginBegin(w http.ResponseWriter, r *http.Request) {
	options, session, err := s.passkeys.BeginDiscoverableLogin()
	if err != nil {
		s.jsonError(w, r, http.StatusInternalServerError, "passkey", err)
		return
	}
	s.beginCeremony(w, r, 0, options, session)
}

// passkeyLoginFinish logs in the account whose passkey signed the login's
// challenge. Every refusal gets the same answer.
func (s *Server) passkeyLoginFinish(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	refuse := func(why string, err error) {
		s.cfg.Log.Warn("web: passkey login refused", "why", why, "from", s.clientIP(r), "err", err)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "The passkey was not accepted. Try again, or log in with the password."})
	}
	owner, session, err := s.spendCeremony(r)
	if err != nil || owner != 0 {
		refuse("no challenge", err)
		return
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(r.Body)
	if err != nil {
		refuse("unreadable", err)
		return
	}
	var user *passkeyUser
	lookup := func(rawID, handle []byte) (webauthn.User, error) {
		a, err := s.cfg.Store.AccountByPasskeyHandle(ctx, handle)
		if err != nil {
			return nil, err
		}
		user, _, err = s.passkeyUserOf(ctx, a, handle)
		return user, err
	}
	cred, err := s.passkeys.ValidateDiscoverableLogin(lookup, session, parsed)
	if err != nil {
		refuse("invalid", err)
		return
	}
	// The library compares sign counts and flags the clone it suspects.
	if cred.Authenticator.CloneWarning {
		refuse("clone warning", nil)
		return
	}
	data, err := json.Marshal(cred)
	if err == nil {
		err = s.cfg.Store.UsePasskey(ctx, user.account.ID, cred.ID, data)
	}
	if err == nil {
		err = s.startSession(w, r, user.account)
	}
	if err != nil {
		s.jsonError(w, r, http.StatusInternalServerError, "logging you in", err)
		return
	}
	s.cfg.Log.Info("web: logged in with a passkey", "user", user.account.Username, "from", s.clientIP(r))
	writeJSON(w, http.StatusOK, map[string]string{"redirect": "/hostnames"})
}

// passkeyView is one passkey on the account page.
type passkeyView struct {
	ID, Name   string
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

func passkeyViews(keys []store.Passkey) []passkeyView {
	out := make([]passkeyView, len(keys))
	for i, k := range keys {
		out[i] = passkeyView{ID: base64.RawURLEncoding.EncodeToString(k.ID), Name: k.Name, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt}
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		http.Error(w, "encoding the answer failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func (s *Server) jsonError(w http.ResponseWriter, r *http.Request, status int, what string, err error) {
	s.cfg.Log.Error("web: "+what, "path", r.URL.Path, "err", err)
	writeJSON(w, status, map[string]string{"error": "Something went wrong on our side. Try again in a minute."})
}
