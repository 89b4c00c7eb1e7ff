package agent

import (
	"github.com/aws-sso-agent/aws-sso-agent/sso"
)

// SSOLogins keeps the IAM Identity Center logins of SSO slots alive:
// package sso's Keeper. Slots tells it the source of every slot loaded,
// asks it why a slot's session needs a login when the slot has nothing
// fit to serve, and status lists its sessions.
type SSOLogins interface {
	// Keep starts keeping ref's session fresh, if ref leads to one.
	Keep(ref sso.SessionRef) (bool, error)
	// LoginNeeded says why ref's session needs a new interactive login.
	LoginNeeded(ref sso.SessionRef) (reason string, needed bool)
	// Status describes the kept sessions.
	Status() []sso.SessionStatus
	// Retain forgets the sessions that none of refs leads to.
	Retain(refs []sso.SessionRef)
}

// ssoRef is the session reference of a slot's source.
func ssoRef(spec SourceSpec) sso.SessionRef {
	return sso.SessionRef{ConfigFile: spec.ConfigFile, SSOSession: spec.SSOSession, Profile: spec.Profile}
}

// ssoKeep hands a loaded slot's source to the keeper. A source without
// an SSO session is nothing to keep; a session that cannot be kept
// (its config unreadable) is logged: the slot still works until its
// token expires, as it would without the keeper.
func (s *Slots) ssoKeep(name string, spec SourceSpec) {
	if s.sso == nil {
		return
	}
	if _, err := s.sso.Keep(ssoRef(spec)); err != nil {
		s.log.Warn("sso session not kept fresh", "slot", slotDisplayName(name), "err", err)
	}
	// The slot may have been unloaded or replaced while the keeper read
	// the config, and the slot it replaced may have been the last of
	// another session: the keeper is told what is held now, under the
	// lock, so the last word it hears matches the slots.
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ssoRetainLocked()
}

// ssoRetainLocked tells the keeper the sources of the slots held now, so
// that it stops refreshing the sessions no slot uses any more. Every
// removal of a slot but its replacement by Load calls it (Load's
// ssoKeep does, once the new slot is in).
func (s *Slots) ssoRetainLocked() {
	if s.sso == nil {
		return
	}
	refs := make([]sso.SessionRef, 0, len(s.slots))
	for _, sl := range s.slots {
		refs = append(refs, ssoRef(sl.spec))
	}
	s.sso.Retain(refs)
}

// ssoUnavailableLocked turns a slot's refusal into one that says a login
// is needed, when the keeper knows that is why.
func (s *Slots) ssoUnavailableLocked(sl *slot, e *UnavailableError) *UnavailableError {
	if s.sso == nil {
		return e
	}
	reason, needed := s.sso.LoginNeeded(ssoRef(sl.spec))
	if !needed {
		return e
	}
	login := "--profile " + sl.spec.Profile
	if sl.spec.SSOSession != "" {
		login = "--sso-session " + sl.spec.SSOSession
	}
	e.Reason = "IAM Identity Center login needed: " + reason + "; " + e.Reason
	e.Hint = "run on the workstation: aws-sso-agent login " + login
	return e
}
