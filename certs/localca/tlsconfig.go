package localca

import "crypto/tls"

// ServerTLSConfig returns the TLS configuration of the credentials
// endpoint, serving the certificates getCert returns (usually
// (*LeafRotator).GetCertificate).
//
//   - TLS 1.2 at least: 1.0 and 1.1 are deprecated
//     by RFC 8996 and every SDK we serve speaks 1.2 or 1.3.
//   - Key exchange on X25519 or P-256 only: both are in every current TLS
//     stack, and nothing weaker is offered.
//   - For TLS 1.2, only ECDHE-ECDSA suites with AEAD ciphers (AES-GCM,
//     ChaCha20-Poly1305): our leaves are ECDSA, so RSA suites could never
//     complete anyway, and these are the forward-secret, non-CBC suites of
//     Mozilla's "intermediate" profile. TLS 1.3 suites are all AEAD and
//     not configurable in Go.
//   - Session tickets stay enabled (Go's default): resumption makes the
//     frequent short connections of SDK clients cheap. Go rotates the
//     ticket keys itself (a new one every 24 hours, each accepted for 7
//     days; crypto/tls ticketKeyRotation and ticketKeyLifetime).
func ServerTLSConfig(getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS12,
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		GetCertificate:         getCert,
		SessionTicketsDisabled: false,
	}
}
