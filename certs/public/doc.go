// Package public keeps and serves the certificate for the agent's public
// name: a DNS name under a zone the user controls that resolves to
// loopback, with a certificate from a CA every SDK trusts (docs/tls.md).
//
// Public is the installed certificate. Its private key lives in the secure
// store only; the chain, the name and a pending CSR are public files in its
// Dir. Every way in (a CSR and the chain a CA signed for it, a certificate
// and key the user already has, a certificate from package acme) checks
// the same things before it stores anything: the leaf is for the key,
// covers the name, is valid now, and the chain verifies against the system
// roots. A refusal leaves the store and the directory as they were.
//
// Server picks the certificate for each TLS handshake of the endpoint: the
// public certificate when a client asks for the public name (SNI), the
// local CA's leaf otherwise. It serves the public name only while the name
// resolves to loopback addresses only (CheckLoopbackDNS).
//
// What this protects against: a poisoned resolver or a hijacked zone that
// points the public name elsewhere would have clients send their token
// there, so a non-loopback answer stops the name being served at once
// (docs/threat-model.md); a key file others can read is refused
// (ReadKeyFile), as ssh refuses one; a chain, key or CSR from a file is
// parsed by bounded, strict parsers that never quote key material in an
// error.
package public
