// Package remote is the logic of aws-sso-remote, the helper that runs on a
// host reached with `aws-sso-agent ssh`: it finds the SSH session's file,
// proves that the forwarded loopback port is the genuine agent of that
// session, and only then uses the session's bearer token to read
// credentials over the same TLS connection.
//
// It protects against a squatter on the remote host: another user who binds
// the forwarded port first, or answers on it once the forward is gone. The
// session file (0600 in a 0700 directory owned by the user, written over the
// authenticated SSH connection) pins the agent's CA and carries a proof key.
// Before any token leaves this process:
//
//   - the connection must be TLS 1.3 with a certificate chained to the
//     pinned CA and valid for 127.0.0.1 (a plain-HTTP listener or a foreign
//     certificate is refused);
//   - the server must answer a fresh nonce with an HMAC under the session's
//     proof key bound to this TLS connection's exported keying material
//     (RFC 5705, RFC 8446 section 7.5), so a genuine agent of another
//     session, or a relay of someone else's connection, cannot pass.
//
// The token is then sent on that same proven connection, never on a new
// one. Errors are *Error values whose Kind maps to the helper's documented
// exit codes; they never contain the token or credentials.
//
// What the helper and the agent must agree on (the session file, the proof,
// the credentials document) is in package wire, which both use. This
// package uses only the standard library, golang.org/x/sys and wire, so the
// helper binary stays small and static.
package remote
