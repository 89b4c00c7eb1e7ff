// Package wire is what aws-sso-agent and aws-sso-remote must agree on,
// written once so the two binaries cannot drift apart:
//
//   - the session proof: the HMAC the agent answers on a forwarded port and
//     the helper checks before it sends a token (Proof, ProofAnswer);
//   - the session file, session.json, that `aws-sso-agent ssh` installs on
//     the remote host and the helper reads, and where it lives
//     (Session, ParseSession, SessionDir);
//   - the credentials document the endpoint serves (Credentials,
//     AppendCredentials, ParseCredentials);
//   - slot names: their rules and how a person sees them (ValidateSlotName,
//     SlotName);
//   - the platform's root certificates, for the bundles handed to
//     SSL_CERT_FILE (SystemRoots);
//   - the shell exports both `env` commands print (Shell).
//
// The protocol is described in docs/ssh.md and docs/sdk-compatibility.md.
//
// What it protects against: the session file and the proof are what stop
// a squatter on the remote host (another user who binds the forwarded port
// first, or after the forward is gone) from receiving a session's token.
// Every parser here reads input an attacker may have shaped (a session
// file planted or damaged, an answer from whatever listens on the port, a
// credentials body) and is strict: sizes are bounded, each field is
// checked, and errors name the field but never a secret's value. Shell
// exports quote every value so that a value cannot run a command in the
// shell that evaluates them.
//
// The package uses only the standard library: aws-sso-remote imports it
// and must stay small and free of the AWS SDK and keyrings.
package wire
