package remote

import (
	"errors"
	"strings"
)

// Kind classifies a failure of the helper. Each kind has its own exit code
// of aws-sso-remote, so scripts can tell a missing session from a squatter.
type Kind int

const (
	// KindOther is any failure not listed below (exit code 1).
	KindOther Kind = iota
	// KindNoSession: no usable session file was found, or the one found
	// is unsafe (wrong owner or permissions) or malformed (exit code 3).
	KindNoSession
	// KindNotGenuine: nothing genuine answers on the session's port:
	// connection refused, plain HTTP, or a failed TLS handshake (exit code 4).
	KindNotGenuine
	// KindCertificate: the server's certificate is not issued by the
	// session's pinned CA, or not for 127.0.0.1 (exit code 5).
	KindCertificate
	// KindProof: the server has the right certificate but does not prove
	// it knows this session: another session's port, or not this agent
	// (exit code 6).
	KindProof
	// KindRefused: the proven agent refused the token or the slot
	// (revoked, not granted, nothing loaded) (exit code 7).
	KindRefused
)

// Exit codes of aws-sso-remote, documented in its help and in docs/.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitNoSession   = 3
	ExitNotGenuine  = 4
	ExitCertificate = 5
	ExitProof       = 6
	ExitRefused     = 7
)

// ExitCode is the exit code of aws-sso-remote for a failure of kind k.
func (k Kind) ExitCode() int {
	switch k {
	case KindNoSession:
		return ExitNoSession
	case KindNotGenuine:
		return ExitNotGenuine
	case KindCertificate:
		return ExitCertificate
	case KindProof:
		return ExitProof
	case KindRefused:
		return ExitRefused
	}
	return ExitError
}

func (k Kind) String() string {
	switch k {
	case KindNoSession:
		return "no_session"
	case KindNotGenuine:
		return "not_genuine"
	case KindCertificate:
		return "certificate"
	case KindProof:
		return "proof_failed"
	case KindRefused:
		return "refused"
	}
	return "error"
}

// Error is a failure of the helper: what happened (Reason), why (Err, may
// be nil) and what the user can do about it (Hint). It never holds the
// token, the proof key or credentials.
type Error struct {
	Kind   Kind
	Reason string // e.g. "nothing is listening on 127.0.0.1:41234"
	Hint   string // e.g. "the SSH session may have ended: reconnect with ..."
	// Status and Code are the agent's HTTP status and error code when it
	// refused a request (KindRefused), zero otherwise.
	Status int
	Code   string
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("remote: ")
	b.WriteString(e.Reason)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, &Error{Kind: k}) match any *Error of kind k.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == "" && t.Err == nil && t.Kind == e.Kind
}

// KindOf returns the kind of the first *Error in err's chain, KindOther if
// there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindOther
}

// ExitCode is the exit code of aws-sso-remote for err: 0 for nil.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	return KindOf(err).ExitCode()
}

// HintOf returns the hint of the first *Error in err's chain, "" if none.
func HintOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Hint
	}
	return ""
}

// sanitize makes text from outside (a server's message, a file name) safe
// to show on a terminal: control characters become '?', and it is cut to
// max bytes.
func sanitize(s string, max int) string {
	if len(s) > max {
		s = s[:max] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}
