// Package forward is the native SSH client of aws-sso-agent: it resolves a
// host's configuration as OpenSSH does, verifies host keys against
// known_hosts, authenticates with the user's ssh-agent and key files, dials
// (through ProxyJump hops or a ProxyCommand such as `aws ssm
// start-session`) with keepalives, and asks the server
// for the loopback remote forward that carries the agent's endpoint.
//
// What it protects against:
//
//   - A man in the middle: every hop's host key is checked against
//     known_hosts (hashed entries, @cert-authority, @revoked). A changed key
//     is always refused with *HostKeyChangedError; an unknown host is refused
//     in batch mode and otherwise asked about through the caller's Prompter.
//   - A port squatter on the remote host: the forward asks for 127.0.0.1
//     (never "localhost", which also binds ::1 and can half-succeed) on a
//     port the server chooses, and a refused forward is an error
//     (*ForwardDeniedError), never a warning.
//   - A dead server hanging a session forever: keepalives close the
//     connection after ServerAliveCountMax missed replies.
//
// The package never touches the terminal, prints or exits: prompts
// (unknown host, passphrase, password, keyboard-interactive) go through
// the Prompter the caller supplies, and a nil Prompter means "no one to ask".
package forward
