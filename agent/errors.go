package agent

import (
	"errors"

	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// A hint says what a person can do about an error. An error carries one by
// having a Hint() string method (SourceError, store.UnavailableError,
// ControlError); HintError attaches one to any other error. ErrorHint is
// the one place that reads them, for the control socket and for the CLI.

// HintError is an error with a suggestion of what to do next.
type HintError struct {
	Err      error
	HintText string
}

func (e *HintError) Error() string { return e.Err.Error() }
func (e *HintError) Unwrap() error { return e.Err }

// Hint says what the user can do about the error.
func (e *HintError) Hint() string { return e.HintText }

// ErrorHint returns the hint of the outermost error in err's chain that
// has a Hint method, so a hint attached later (closer to the user)
// overrides one from deeper down; "" if none has one.
func ErrorHint(err error) string {
	var h interface{ Hint() string }
	if errors.As(err, &h) {
		return h.Hint()
	}
	return ""
}

// Error codes of the control protocol (ControlResponse.Code). They are
// stable: a client tells failures apart by code, never by message, and an
// older client that does not know a code still shows the message and
// hint. ControlClient turns each code back into an error that matches
// (errors.Is) the sentinel named here.
const (
	// CodeBadRequest: the request was malformed or invalid
	// (ErrBadRequest).
	CodeBadRequest = "bad_request"
	// CodeRefused: the connecting process does not run as the agent's
	// user, or the agent cannot tell (ErrRefused).
	CodeRefused = "refused"
	// CodeNoSlot: nothing is loaded in the slot (ErrNoSlot).
	CodeNoSlot = "no_slot"
	// CodeSourceFailed: the source to load could not be resolved or gave
	// no credentials (ErrSourceFailed); the hint says what to do.
	CodeSourceFailed = "source_failed"
	// CodeNoSession: no such session, or it ended (ErrNoSession).
	CodeNoSession = "no_session"
	// CodeRevoked: the agent ended the session held on this connection
	// (ErrSessionRevoked).
	CodeRevoked = "revoked"
	// CodeNoPublicCert: the agent serves no public certificate
	// (public.ErrNoCert).
	CodeNoPublicCert = "no_public_cert"
	// CodeUnsupported: this agent does not serve the operation, such as
	// SSH sessions (ErrUnsupported).
	CodeUnsupported = "unsupported"
	// CodeStoreUnavailable: the agent's secure store cannot be used now,
	// a keyring locked since the agent started, say
	// (store.ErrUnavailable).
	CodeStoreUnavailable = "store_unavailable"
	// The refusals of a certs action, one per error of package public:
	// public.ErrNoPendingKey, ErrMalformedPEM, ErrKeyMismatch,
	// ErrWrongName, ErrNotValidNow, ErrUntrustedChain, ErrInvalidFQDN and
	// ErrUnsupportedKey, so that the CLI gives the same hint as when it
	// opens the store itself.
	CodeCertNoPendingKey   = "cert_no_pending_key"
	CodeCertMalformedPEM   = "cert_malformed_pem"
	CodeCertKeyMismatch    = "cert_key_mismatch"
	CodeCertWrongName      = "cert_wrong_name"
	CodeCertNotValidNow    = "cert_not_valid_now"
	CodeCertUntrusted      = "cert_untrusted_chain"
	CodeCertInvalidFQDN    = "cert_invalid_fqdn"
	CodeCertUnsupportedKey = "cert_unsupported_key"
	// CodeInternal: any other failure. It matches no sentinel.
	CodeInternal = "internal"
)

var (
	// ErrBadRequest is matched by a control error of CodeBadRequest.
	ErrBadRequest = errors.New("agent: bad control request")
	// ErrRefused is matched by a control error of CodeRefused.
	ErrRefused = errors.New("agent: connection refused")
	// ErrSourceFailed is matched by every *SourceError and by a control
	// error of CodeSourceFailed.
	ErrSourceFailed = errors.New("agent: source failed")
	// ErrSessionRevoked is matched by a control error of CodeRevoked.
	ErrSessionRevoked = errors.New("agent: session revoked")
	// ErrUnsupported is matched by a control error of CodeUnsupported.
	ErrUnsupported = errors.New("agent: operation not served")
)

// codeSentinels maps each code to the sentinel its errors match.
var codeSentinels = map[string]error{
	CodeBadRequest:   ErrBadRequest,
	CodeRefused:      ErrRefused,
	CodeNoSlot:       ErrNoSlot,
	CodeSourceFailed: ErrSourceFailed,
	CodeNoSession:    ErrNoSession,
	CodeRevoked:      ErrSessionRevoked,
	CodeNoPublicCert: public.ErrNoCert,
	CodeUnsupported:  ErrUnsupported,

	CodeStoreUnavailable:   store.ErrUnavailable,
	CodeCertNoPendingKey:   public.ErrNoPendingKey,
	CodeCertMalformedPEM:   public.ErrMalformedPEM,
	CodeCertKeyMismatch:    public.ErrKeyMismatch,
	CodeCertWrongName:      public.ErrWrongName,
	CodeCertNotValidNow:    public.ErrNotValidNow,
	CodeCertUntrusted:      public.ErrUntrustedChain,
	CodeCertInvalidFQDN:    public.ErrInvalidFQDN,
	CodeCertUnsupportedKey: public.ErrUnsupportedKey,
}

// errorCode is the code the agent answers err with: that of the first
// sentinel err matches, CodeInternal if none.
func errorCode(err error) string {
	// In a fixed order: an error may match more than one (a source
	// failure wrapping ErrNoSlot is still a source failure).
	for _, code := range []string{CodeBadRequest, CodeRefused, CodeSourceFailed, CodeNoSlot,
		CodeNoSession, CodeRevoked, CodeNoPublicCert, CodeUnsupported, CodeStoreUnavailable,
		CodeCertNoPendingKey, CodeCertMalformedPEM, CodeCertKeyMismatch, CodeCertWrongName,
		CodeCertNotValidNow, CodeCertUntrusted, CodeCertInvalidFQDN, CodeCertUnsupportedKey} {
		if errors.Is(err, codeSentinels[code]) {
			return code
		}
	}
	return CodeInternal
}

// ControlError is a failure the agent reported on the control socket.
// Error is the agent's message and Hint its hint, unchanged; errors.Is
// matches the sentinel of Code (ErrNoSlot for CodeNoSlot, and so on).
type ControlError struct {
	Code     string
	Message  string
	HintText string
}

func (e *ControlError) Error() string { return e.Message }

// Hint says what the user can do about the error.
func (e *ControlError) Hint() string { return e.HintText }

// Is reports whether target is the sentinel of e's code.
func (e *ControlError) Is(target error) bool {
	s, ok := codeSentinels[e.Code]
	return ok && s == target
}

// controlError is the error a response carries, nil if none.
func controlError(resp *ControlResponse) error {
	if resp.Error == "" {
		return nil
	}
	return &ControlError{Code: resp.Code, Message: resp.Error, HintText: resp.Hint}
}

// errorResponse is the answer for err: its message, code and hint.
func errorResponse(err error) ControlResponse {
	return ControlResponse{Error: err.Error(), Code: errorCode(err), Hint: ErrorHint(err)}
}

// badRequest marks err as the peer's fault (CodeBadRequest), keeping its
// message.
func badRequest(err error) error { return &codedError{err: err, is: ErrBadRequest} }

// codedError gives err the code of sentinel is, keeping its message.
type codedError struct {
	err error
	is  error
}

func (e *codedError) Error() string        { return e.err.Error() }
func (e *codedError) Unwrap() error        { return e.err }
func (e *codedError) Is(target error) bool { return target == e.is }
