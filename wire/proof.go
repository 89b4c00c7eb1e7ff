package wire

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// The session proof, version 1. Before aws-sso-remote sends a session's
// token on a forwarded port it asks the server there to prove, over the
// same TLS connection, that it holds the session's proof key: a squatter
// on the port cannot, and a genuine agent of another session, or a relay
// of someone else's connection, cannot either (docs/ssh.md).
const (
	// ProofPath is the path of the proof request; the nonce is its
	// "nonce" query parameter, base64url without padding.
	ProofPath = "/.aws-sso-agent/proof"
	// ProofLabel is the RFC 5705 exporter label.
	ProofLabel = "EXPORTER-aws-sso-agent-session-proof"
	// ProofNonceSize is the nonce's size: 256 bits, drawn fresh for every
	// proof, so an answer can never be replayed.
	ProofNonceSize = 32
	// ProofSize is the size of a proof, an HMAC-SHA256.
	ProofSize = sha256.Size
	// proofContext starts the HMAC's message, binding it to this
	// protocol and version.
	proofContext = "aws-sso-agent proof v1"
	// ekmSize is the size of the exported keying material.
	ekmSize = 32
	// maxProofAnswer bounds the answer: about 100 bytes are needed.
	maxProofAnswer = 4 << 10
)

// ErrProofNeedsTLS13 is returned by Proof for a connection below TLS 1.3.
// TLS 1.2's exporter is safe only with the extended master secret
// (RFC 7627), which a client cannot insist on; the protocol requires 1.3,
// whose exporter is always bound to the handshake (RFC 8446 section 7.5).
var ErrProofNeedsTLS13 = errors.New("wire: session proof needs TLS 1.3")

// Proof computes the session proof over a TLS connection's state: the
// HMAC-SHA256, under the session's proof key, of
// "aws-sso-agent proof v1" 0x00 sessionID 0x00 EKM, where EKM is 32 bytes
// exported from the connection with ProofLabel and the nonce as context.
// Both ends compute it over their own view of the same connection, so a
// relay between two TLS connections (or a replay) cannot produce it.
func Proof(cs *tls.ConnectionState, proofKey []byte, sessionID string, nonce []byte) ([]byte, error) {
	if cs.Version != tls.VersionTLS13 {
		return nil, ErrProofNeedsTLS13
	}
	ekm, err := cs.ExportKeyingMaterial(ProofLabel, nonce, ekmSize)
	if err != nil {
		return nil, fmt.Errorf("wire: export keying material: %w", err)
	}
	m := hmac.New(sha256.New, proofKey)
	m.Write([]byte(proofContext))
	m.Write([]byte{0})
	m.Write([]byte(sessionID))
	m.Write([]byte{0})
	m.Write(ekm)
	return m.Sum(nil), nil
}

// ProofTarget is the request target asking for the proof for nonce.
func ProofTarget(nonce []byte) string {
	return ProofPath + "?nonce=" + base64.RawURLEncoding.EncodeToString(nonce)
}

// ParseProofNonce decodes the "nonce" query parameter of a proof request:
// ProofNonceSize bytes in base64url without padding, canonical only.
func ParseProofNonce(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	// The decoder skips '\r' and '\n' wherever they are, even in strict
	// mode (encoding/base64's Strict): only the re-encoding tells a
	// canonical nonce.
	if err != nil || len(b) != ProofNonceSize || base64.RawURLEncoding.EncodeToString(b) != s {
		return nil, fmt.Errorf("wire: proof nonce is not %d bytes of base64url without padding", ProofNonceSize)
	}
	return b, nil
}

// ProofAnswer is the agent's answer to a proof request, the JSON
// {"session": ID, "proof": base64url(Proof)}.
type ProofAnswer struct {
	// Session is the id of the session the server claims to be.
	Session string
	// Proof is the HMAC computed by Proof.
	Proof []byte
}

type proofAnswerJSON struct {
	Session string `json:"session"`
	Proof   string `json:"proof"`
}

// Marshal returns the answer's JSON.
func (a ProofAnswer) Marshal() []byte {
	b, _ := json.Marshal(proofAnswerJSON{Session: a.Session, Proof: base64.RawURLEncoding.EncodeToString(a.Proof)})
	return b
}

// Errors of ParseProofAnswer, for callers that say which part failed.
var (
	ErrProofAnswerJSON = errors.New("wire: the answer is not the proof JSON")
	ErrProofEncoding   = errors.New("wire: the proof is not 32 bytes of base64url")
)

// ParseProofAnswer parses a proof answer. It checks the shape only: the
// caller compares Session and Proof with what it expects, in constant
// time (crypto/subtle, hmac.Equal), since it is the secret-derived part.
func ParseProofAnswer(body []byte) (ProofAnswer, error) {
	if len(body) > maxProofAnswer {
		return ProofAnswer{}, ErrProofAnswerJSON
	}
	var j proofAnswerJSON
	if err := json.Unmarshal(body, &j); err != nil {
		return ProofAnswer{}, fmt.Errorf("%w: %w", ErrProofAnswerJSON, err)
	}
	p, err := base64.RawURLEncoding.Strict().DecodeString(j.Proof)
	if err != nil || len(p) != ProofSize {
		return ProofAnswer{}, ErrProofEncoding
	}
	return ProofAnswer{Session: j.Session, Proof: p}, nil
}
