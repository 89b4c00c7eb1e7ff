// Package agent is the workstation agent: the AWS container-credentials
// endpoint, the slots it serves, their refresh, the control socket that
// changes them, and the SSH sessions that reach it from remote hosts.
//
// The pieces:
//
//   - Slots (slots.go, source.go) hold one aws.CredentialsProvider per slot,
//     resolved through aws-sdk-go-v2's own profile resolution, and refresh
//     ahead of expiry: single-flight, jittered, never serving credentials
//     with less than the margin left (15 minutes: botocore refetches on
//     every call below that).
//     They record which source is in which slot in the slots file
//     (slotstate.go), never a secret, and load them again when the agent
//     starts (slots_restore.go).
//   - Endpoint (endpoint.go, endpoint_handler.go) serves them over HTTP and
//     TLS on one port, to requests carrying a valid token (Tokens).
//   - ControlServer (control.go) loads and unloads slots, opens SSH
//     sessions, and changes the public certificate with the agent's own
//     secure store (control_certs.go) over a Unix socket. Its failures carry a stable code
//     (errors.go) that ControlClient turns back into sentinel errors, and
//     a hint for the user (ErrorHint).
//   - Server (server.go) runs all of it from one ServerConfig: the
//     endpoint, slots, sessions, control socket, the local CA's rotating
//     leaf and the public certificate (certs.Supervisor).
//   - Sessions (sessions.go) gives each SSH session its own token, bound to
//     the connections that arrive through that session's forward.
//
// What it protects against (docs/threat-model.md lists each attack and its test):
//
//   - Other local users and web pages reading credentials: every request
//     needs a 256-bit token, compared in constant time and handed over as a
//     0600 file; failures are rate limited without locking out valid
//     tokens; requests with an Origin header or a non-loopback Host are
//     refused (DNS rebinding, SSRF); plain HTTP is answered to loopback
//     peers only.
//   - Anyone changing what is served: the endpoint is read-only; changes go
//     through the control socket, 0600 in a 0700 directory, whose peers must
//     run as the agent's own uid (SO_PEERCRED, getpeereid).
//   - A token captured on a remote host: a session token is accepted only on
//     its own session's forwarded connections, only for its slots, and is
//     revoked when the session ends. Remote helpers get a proof, bound to
//     their TLS connection by exported keying material, that they talk to
//     this agent before they send a token.
//   - Stale credentials: never served expired or inside the margin; a
//     failed refresh becomes a 503 that says what to do.
//
// Secrets (tokens, proof keys, credentials) never appear in a log line or
// an error message.
package agent
