// Package tunnel is the SSH session client of aws-sso-agent: it carries
// one agent session to a remote host over one SSH connection. Open asks
// the running agent for a session, connects (package forward), asks the
// server for the loopback remote forward, installs the session's file on
// the remote host for aws-sso-remote to find, and hands every forwarded
// connection to the agent as a session stream. Run runs a shell or a
// command over the tunnel and returns its exit status as OpenSSH's ssh
// would; KeepOpen holds a tunnel up without a shell (ssh -N -R),
// reconnecting with backoff after a drop.
//
// What it protects against:
//
//   - The session token on a command line: the session file reaches the
//     remote host through a command's stdin, never its arguments, and is
//     stored 0600 in 0700 directories.
//   - A token outliving its connection: Close removes the session file
//     while the connection still allows it, then closes the agent session,
//     which revokes the token; a reconnect is always a new session with a
//     new token and a new port.
//   - Retrying what cannot succeed: KeepOpen stops at a host key problem,
//     refused authentication or a missing agent instead of hammering the
//     server (see Fatal).
//
// The package never prints or exits: it logs through the caller's
// *slog.Logger, asks through the caller's forward.Prompter, and returns
// errors for the CLI to show. Terminal handling (raw mode, window sizes)
// stays with the caller, which hands Run a hook to ask for a terminal.
package tunnel
