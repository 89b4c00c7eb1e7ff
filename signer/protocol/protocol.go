// Package protocol is the vocabulary of aws-sso-signer's HTTP API: its
// paths, headers, JSON bodies and error codes. The service (package
// signer/api) and the agent's client both speak it from here, so the
// protocol is written once. It imports only the standard library, so the
// agent that imports it links nothing of the service.
//
// The API, all JSON, authenticated with an API key as
// "Authorization: Bearer KEY":
//
//	POST /v1/certificates         SignRequest   -> 201 Certificate (with Chain)
//	GET  /v1/certificates                       -> 200 CertificateList
//	POST /v1/certificates/revoke  RevokeRequest -> 200 Certificate
//
// and, for ACME clients of the user's own (lego's and certbot's acme-dns
// plugins), acme-dns's update call, authenticated with the headers
// X-Api-User (the account's user name) and X-Api-Key (the same API key):
//
//	POST /update                  UpdateRequest -> 200 UpdateResponse
//
// Every refusal is an ErrorResponse with a 4xx or 5xx status; a 429
// carries Retry-After in seconds.
package protocol

import "time"

// Paths of the API.
const (
	PathCertificates = "/v1/certificates"
	PathRevoke       = "/v1/certificates/revoke"
	PathUpdate       = "/update"
)

// Headers of acme-dns's update call.
const (
	HeaderAPIUser = "X-Api-User"
	HeaderAPIKey  = "X-Api-Key"
)

// MaxBodyBytes is the most the service reads of a request body. A CSR
// with an RSA 4096 key is about 1.7 KB in PEM; 64 KiB leaves room for any
// honest request and none for a flood of memory.
const MaxBodyBytes = 64 << 10

// SignRequest asks for a certificate for the one DNS name of CSR, a PEM
// "CERTIFICATE REQUEST".
type SignRequest struct {
	CSR string `json:"csr"`
}

// Certificate is one issued certificate. Chain, in PEM with the leaf
// first, is set in the answer to a SignRequest only.
type Certificate struct {
	Serial    string     `json:"serial"`
	Hostname  string     `json:"hostname"`
	NotBefore time.Time  `json:"not_before"`
	NotAfter  time.Time  `json:"not_after"`
	IssuedAt  time.Time  `json:"issued_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Chain     string     `json:"chain,omitempty"`
}

// CertificateList is the certificates of the hostnames the key may sign
// for, newest first.
type CertificateList struct {
	Certificates []Certificate `json:"certificates"`
}

// RevokeRequest revokes the certificate with Serial (hexadecimal, as in
// Certificate).
type RevokeRequest struct {
	Serial string `json:"serial"`
}

// UpdateRequest is acme-dns's: Subdomain is the hostname's label (or its
// full name under the zone), TXT the 43-character DNS-01 value to publish
// at _acme-challenge.LABEL.ZONE.
type UpdateRequest struct {
	Subdomain string `json:"subdomain"`
	TXT       string `json:"txt"`
}

// UpdateResponse echoes the published value, as acme-dns does.
type UpdateResponse struct {
	TXT string `json:"txt"`
}

// ErrorResponse is the body of every refusal.
type ErrorResponse struct {
	Error Error `json:"error"`
}

// Error is a stable Code a client can act on and a Message that says
// what to fix. Neither ever holds a key.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error codes.
const (
	CodeBadRequest       = "bad_request"        // malformed JSON or fields
	CodeBadCSR           = "bad_csr"            // the CSR failed a check; Message says which
	CodeUnauthorized     = "unauthorized"       // no key, an unknown or revoked key, or a disabled account
	CodeForbidden        = "forbidden"          // the key may not act on this hostname
	CodeNotFound         = "not_found"          // no such certificate or path
	CodeMethodNotAllowed = "method_not_allowed" // wrong HTTP method
	CodeTooLarge         = "too_large"          // the body is over MaxBodyBytes
	CodeRateLimited      = "rate_limited"       // see Retry-After
	CodeConflict         = "conflict"           // an issuance for this hostname is already under way
	CodeIssuerFailed     = "issuer_failed"      // the CA did not issue; try later
	CodeInternal         = "internal"           // the service failed; nothing was issued
)
