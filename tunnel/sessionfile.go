package tunnel

import (
	"encoding/base64"
	"fmt"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/remote"
)

// The session file is what aws-sso-remote reads on the remote host: its
// layout is remote.Session's, and its place is sessionDir under $HOME,
// where remote's Finder looks (docs/ssh.md). Both are here and only here,
// so that install.go writes what aws-sso-remote reads.

// sessionDir is the session's directory on the remote host, relative to
// $HOME. The id is hex, so it needs no quoting in shell.
func sessionDir(id string) string { return ".aws-sso-agent/sessions/" + id }

// sessionFileFor is the session.json of grant for the remote host, in the
// one format aws-sso-remote reads (remote.Session).
func sessionFileFor(g agent.SessionGrant, port, sshdPID int, host string, now time.Time) ([]byte, error) {
	key, err := base64.RawURLEncoding.DecodeString(g.ProofKey)
	if err != nil {
		return nil, fmt.Errorf("proof key from the agent: %w", err)
	}
	return (&remote.Session{
		ID: g.ID, Port: port, Token: g.Token, ProofKey: key, CAPEM: []byte(g.CA),
		Slots: g.Slots, SSHDPID: sshdPID, Host: host, Created: now, FQDN: g.FQDN,
	}).Encode()
}
