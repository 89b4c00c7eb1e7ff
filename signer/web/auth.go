package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/signer"
	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	if a, _ := s.session(r); a != nil {
		http.Redirect(w, r, "/hostnames", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "home.html", &page{Title: "Certificates for " + s.cfg.Zone})
}

type signupData struct{ Username, Email string }

// usernameRule is signer.CheckUsername's rule, for the pages.
const usernameRule = "A user name has 3 to 32 letters, digits, '-', '_' or '.', and starts with a letter or digit."

// maxUsernameLen bounds the name a failed login is counted under.
const maxUsernameLen = 32

func (s *Server) signupForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "signup.html", &page{Title: "Sign up", Data: signupData{}})
}

func (s *Server) signup(w http.ResponseWriter, r *http.Request) {
	d := signupData{Username: r.PostFormValue("username"), Email: r.PostFormValue("email")}
	refuse := func(status int, msg string) {
		s.render(w, r, status, "signup.html", &page{Title: "Sign up", Error: msg, Data: d})
	}
	name, err := signer.CheckUsername(d.Username)
	if err != nil {
		refuse(http.StatusBadRequest, usernameRule)
		return
	}
	email, err := signer.CheckEmail(d.Email)
	if err != nil {
		refuse(http.StatusBadRequest, "Enter one email address, like name@example.com.")
		return
	}
	pw := r.PostFormValue("password")
	if err := signer.CheckPassword(pw); err != nil {
		refuse(http.StatusBadRequest, fmt.Sprintf("A password has %d to %d characters.", signer.MinPasswordLen, signer.MaxPasswordLen))
		return
	}
	if until, err := s.spend(r.Context(), "signup:"+addressKey(s.clientIP(r)), signupLimits); err != nil {
		s.internal(w, r, "signing you up", err)
		return
	} else if !until.IsZero() {
		refuse(http.StatusTooManyRequests, "Too many sign-ups from your address. Try again after "+until.UTC().Format("15:04 UTC")+".")
		return
	}
	hash, err := s.hash(r.Context(), pw)
	if err != nil {
		s.internal(w, r, "signing you up", err)
		return
	}
	a, err := s.cfg.Store.AddPendingAccount(r.Context(), name, email, hash)
	if errors.Is(err, store.ErrExists) {
		// A sign-up whose link expired unused gives its name back.
		if stale, derr := s.cfg.Store.DeleteStalePending(r.Context(), name, verifyTTL); derr != nil {
			err = derr
		} else if stale {
			a, err = s.cfg.Store.AddPendingAccount(r.Context(), name, email, hash)
		}
	}
	if errors.Is(err, store.ErrExists) {
		refuse(http.StatusConflict, "That user name is taken. Choose another.")
		return
	}
	if err != nil {
		s.internal(w, r, "signing you up", err)
		return
	}
	s.cfg.Log.Info("web: signed up", "user", name, "from", s.clientIP(r))
	if err := s.mailVerification(r.Context(), a); err != nil {
		s.cfg.Log.Error("web: verification mail", "user", name, "err", err)
		s.render(w, r, http.StatusOK, "message.html", &page{Title: "Sign up",
			Error: "Your account is made, but the verification mail could not be sent. Log in later to have it sent again."})
		return
	}
	s.redirect(w, r, "/login", "signedup")
}

// spend counts one use of a bounded action (a sign-up, a reset mail)
// under key and returns when its lockout ends if it was one too many.
func (s *Server) spend(ctx context.Context, key string, lim store.LoginLimits) (time.Time, error) {
	if until, err := s.cfg.Store.LoginLockedUntil(ctx, key); err != nil || !until.IsZero() {
		return until, err
	}
	_, err := s.cfg.Store.RecordLoginFailure(ctx, key, lim)
	return time.Time{}, err
}

// hash and verify run argon2id in one of hashSlots.
func (s *Server) hash(ctx context.Context, pw string) (string, error) {
	select {
	case s.hashing <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.hashing }()
	return signer.HashPassword(pw)
}

func (s *Server) verifyPassword(ctx context.Context, encoded, pw string) bool {
	select {
	case s.hashing <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	defer func() { <-s.hashing }()
	s.verifications.Add(1)
	ok, err := signer.VerifyPassword(encoded, pw)
	return ok && err == nil
}

func (s *Server) mailVerification(ctx context.Context, a store.Account) error {
	token, hash, err := newToken()
	if err != nil {
		return err
	}
	if err := s.cfg.Store.CreateToken(ctx, a.ID, store.TokenVerifyEmail, hash, verifyTTL); err != nil {
		return err
	}
	body := fmt.Sprintf(`Someone, hopefully you, signed up as %q at %s with this address.

To verify it, open this link (it works once, for 24 hours):

%s/verify?token=%s

If it was not you, ignore this mail: the account stays unusable.
`, a.Username, s.cfg.BaseURL, s.cfg.BaseURL, token)
	return s.cfg.Mailer.Send(ctx, a.Email, "Verify your email address for "+s.cfg.Zone, body)
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	bad := func() {
		s.render(w, r, http.StatusBadRequest, "message.html", &page{Title: "Verify your email",
			Error: "This link is not valid: it was used already, has expired, or a newer one was sent. Log in to have a new one sent."})
	}
	if !validToken(token) {
		bad()
		return
	}
	id, err := s.cfg.Store.UseToken(r.Context(), store.TokenVerifyEmail, tokenHash(token))
	if errors.Is(err, store.ErrNotFound) {
		bad()
		return
	}
	if err == nil {
		err = s.cfg.Store.ConfirmEmail(r.Context(), id)
	}
	if err != nil {
		s.internal(w, r, "verifying your address", err)
		return
	}
	s.cfg.Log.Info("web: email verified", "account", id)
	s.redirect(w, r, "/login", "verified")
}

type loginData struct{ Username string }

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "login.html", &page{Title: "Log in", Notice: noticeOf(r), Data: loginData{}})
}

// login answers an unknown user name, a disabled account and a wrong
// password with the same page after the same work: one lockout lookup
// per name and address, one account lookup, one argon2id verification
// (of a dummy hash when there is no account) and one failure recorded
// per name and address.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	submitted := r.PostFormValue("username")
	pw := r.PostFormValue("password")
	d := loginData{Username: submitted}
	name := submitted
	if n, err := signer.CheckUsername(submitted); err == nil {
		name = n
	} else if len(name) > maxUsernameLen {
		name = name[:maxUsernameLen]
	}
	nameKey, addrKey := "login:"+name, "login-ip:"+addressKey(s.clientIP(r))
	ctx := r.Context()

	for _, key := range []string{addrKey, nameKey} {
		until, err := s.cfg.Store.LoginLockedUntil(ctx, key)
		if err != nil {
			s.internal(w, r, "logging you in", err)
			return
		}
		if !until.IsZero() {
			s.cfg.Log.Warn("web: login locked out", "user", name, "from", s.clientIP(r))
			s.render(w, r, http.StatusTooManyRequests, "login.html", &page{Title: "Log in", Data: d,
				Error: "Too many failed logins. Try again after " + until.UTC().Format("15:04 UTC") + ", or set a new password by email."})
			return
		}
	}

	a, err := s.cfg.Store.Account(ctx, name)
	known := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.internal(w, r, "logging you in", err)
		return
	}
	hash := s.dummyHash
	if known {
		hash = a.PasswordHash
	}
	ok := s.verifyPassword(ctx, hash, pw) && known && !a.Disabled
	if !ok {
		for _, k := range []struct {
			key string
			lim store.LoginLimits
		}{{nameKey, s.cfg.Login}, {addrKey, s.cfg.LoginPerAddress}} {
			if _, err := s.cfg.Store.RecordLoginFailure(ctx, k.key, k.lim); err != nil {
				s.internal(w, r, "logging you in", err)
				return
			}
		}
		s.cfg.Log.Info("web: login failed", "user", name, "from", s.clientIP(r))
		s.render(w, r, http.StatusUnauthorized, "login.html", &page{Title: "Log in", Data: d,
			Error: "The user name or the password is wrong."})
		return
	}

	// Only someone who knows the password learns from here on that the
	// account exists.
	pending, err := s.cfg.Store.EmailPending(ctx, a.ID)
	if err != nil {
		s.internal(w, r, "logging you in", err)
		return
	}
	if pending {
		msg := "Your email address is not verified yet. We sent you a new link; open it, then log in."
		if until, err := s.spend(ctx, "verify-mail:"+name, signupLimits); err != nil || !until.IsZero() {
			msg = "Your email address is not verified yet. Open the link in the mail we sent you, then log in."
		} else if err := s.mailVerification(ctx, a); err != nil {
			s.cfg.Log.Error("web: verification mail", "user", name, "err", err)
			msg = "Your email address is not verified yet, and the mail with a new link could not be sent. Try again later."
		}
		s.render(w, r, http.StatusForbidden, "login.html", &page{Title: "Log in", Data: d, Error: msg})
		return
	}
	if err := s.cfg.Store.ClearLoginFailures(ctx, nameKey); err != nil {
		s.internal(w, r, "logging you in", err)
		return
	}
	if err := s.startSession(w, r, a); err != nil {
		s.internal(w, r, "logging you in", err)
		return
	}
	s.cfg.Log.Info("web: logged in", "user", name, "from", s.clientIP(r))
	s.redirect(w, r, "/hostnames", "")
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil && validToken(c.Value) {
		if err := s.cfg.Store.DeleteSession(r.Context(), tokenHash(c.Value)); err != nil {
			s.internal(w, r, "logging you out", err)
			return
		}
	}
	clearSession(w)
	s.redirect(w, r, "/login", "loggedout")
}

func (s *Server) resetForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "reset.html", &page{Title: "Set a new password"})
}

// resetRequest always answers the same, so it tells nobody which user
// names exist; at most signupLimits mails go to one account.
func (s *Server) resetRequest(w http.ResponseWriter, r *http.Request) {
	name, err := signer.CheckUsername(r.PostFormValue("username"))
	if err != nil {
		s.render(w, r, http.StatusBadRequest, "reset.html", &page{Title: "Set a new password", Error: usernameRule})
		return
	}
	ctx := r.Context()
	if until, err := s.spend(ctx, "reset-ip:"+addressKey(s.clientIP(r)), DefaultAddressLimits); err != nil {
		s.internal(w, r, "sending the mail", err)
		return
	} else if !until.IsZero() {
		s.render(w, r, http.StatusTooManyRequests, "reset.html", &page{Title: "Set a new password",
			Error: "Too many requests from your address. Try again after " + until.UTC().Format("15:04 UTC") + "."})
		return
	}
	a, err := s.cfg.Store.Account(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		s.internal(w, r, "sending the mail", err)
		return
	case a.Disabled:
	default:
		if until, err := s.spend(ctx, "reset:"+name, signupLimits); err != nil || !until.IsZero() {
			break
		}
		if err := s.mailReset(ctx, a); err != nil {
			s.cfg.Log.Error("web: reset mail", "user", name, "err", err)
		}
	}
	s.redirect(w, r, "/login", "resetsent")
}

func (s *Server) mailReset(ctx context.Context, a store.Account) error {
	token, hash, err := newToken()
	if err != nil {
		return err
	}
	if err := s.cfg.Store.CreateToken(ctx, a.ID, store.TokenResetPassword, hash, resetTTL); err != nil {
		return err
	}
	body := fmt.Sprintf(`Someone, hopefully you, asked to set a new password for %q at %s.

To set one, open this link (it works once, for an hour):

%s/reset/confirm?token=%s

If it was not you, ignore this mail: your password stays as it is.
`, a.Username, s.cfg.BaseURL, s.cfg.BaseURL, token)
	return s.cfg.Mailer.Send(ctx, a.Email, "Set a new password for "+s.cfg.Zone, body)
}

type resetConfirmData struct{ Token string }

func (s *Server) resetConfirmForm(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if !validToken(token) {
		token = ""
	}
	s.render(w, r, http.StatusOK, "reset_confirm.html", &page{Title: "Set a new password", Data: resetConfirmData{Token: token}})
}

func (s *Server) resetConfirm(w http.ResponseWriter, r *http.Request) {
	token := r.PostFormValue("token")
	pw := r.PostFormValue("password")
	d := resetConfirmData{Token: token}
	if err := signer.CheckPassword(pw); err != nil {
		s.render(w, r, http.StatusBadRequest, "reset_confirm.html", &page{Title: "Set a new password", Data: d,
			Error: fmt.Sprintf("A password has %d to %d characters.", signer.MinPasswordLen, signer.MaxPasswordLen)})
		return
	}
	bad := func() {
		s.render(w, r, http.StatusBadRequest, "message.html", &page{Title: "Set a new password",
			Error: "This link is not valid: it was used already, has expired, or a newer one was sent. Ask for a new one."})
	}
	if !validToken(token) {
		bad()
		return
	}
	hash, err := s.hash(r.Context(), pw)
	if err != nil {
		s.internal(w, r, "setting your password", err)
		return
	}
	id, err := s.cfg.Store.UseToken(r.Context(), store.TokenResetPassword, tokenHash(token))
	if errors.Is(err, store.ErrNotFound) {
		bad()
		return
	}
	if err == nil {
		err = s.cfg.Store.SetPassword(r.Context(), id, hash, nil)
	}
	if err != nil {
		s.internal(w, r, "setting your password", err)
		return
	}
	s.cfg.Log.Info("web: password reset", "account", id, "from", s.clientIP(r))
	s.redirect(w, r, "/login", "reset")
}

// passwordAgain checks the password a logged-in user types again to
// change it or to delete the account. A wrong one counts against the
// user name as a failed login does, so a stolen session guesses it no
// faster than the login page lets anyone; when the name is locked out
// it answers the lockout's end and checks nothing.
func (s *Server) passwordAgain(ctx context.Context, a *store.Account, pw string) (ok bool, until time.Time, err error) {
	key := "login:" + a.Username
	if until, err := s.cfg.Store.LoginLockedUntil(ctx, key); err != nil || !until.IsZero() {
		return false, until, err
	}
	if s.verifyPassword(ctx, a.PasswordHash, pw) {
		return true, time.Time{}, nil
	}
	_, err = s.cfg.Store.RecordLoginFailure(ctx, key, s.cfg.Login)
	return false, time.Time{}, err
}

func tooManyWrongPasswords(until time.Time) string {
	return "Too many wrong passwords. Try again after " + until.UTC().Format("15:04 UTC") + "."
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) {
	a := userOf(r)
	ok, until, err := s.passwordAgain(r.Context(), a, r.PostFormValue("current"))
	switch {
	case err != nil:
		s.internal(w, r, "changing your password", err)
		return
	case !until.IsZero():
		s.renderAccount(w, r, http.StatusTooManyRequests, tooManyWrongPasswords(until))
		return
	case !ok:
		s.renderAccount(w, r, http.StatusUnauthorized, "The current password is wrong.")
		return
	}
	pw := r.PostFormValue("password")
	if err := signer.CheckPassword(pw); err != nil {
		s.renderAccount(w, r, http.StatusBadRequest, fmt.Sprintf("A password has %d to %d characters.", signer.MinPasswordLen, signer.MaxPasswordLen))
		return
	}
	hash, err := s.hash(r.Context(), pw)
	if err == nil {
		err = s.cfg.Store.SetPassword(r.Context(), a.ID, hash, sessionHashOf(r))
	}
	if err != nil {
		s.internal(w, r, "changing your password", err)
		return
	}
	s.cfg.Log.Info("web: password changed", "user", a.Username, "from", s.clientIP(r))
	s.redirect(w, r, "/account", "password")
}
