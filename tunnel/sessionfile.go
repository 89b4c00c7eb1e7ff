package tunnel

import (
	"encoding/base64"
	"fmt"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// sessionFileFor is the session.json of grant for the remote host, in the
// one format aws-sso-remote reads (wire.Session), for wire.SessionFile.
func sessionFileFor(g agent.SessionGrant, port, sshdPID int, host string, now time.Time) ([]byte, error) {
	key, err := base64.RawURLEncoding.DecodeString(g.ProofKey)
	if err != nil {
		return nil, fmt.Errorf("proof key from the agent: %w", err)
	}
	return (&wire.Session{
		ID: g.ID, Port: port, Token: g.Token, ProofKey: key, CAPEM: []byte(g.CA),
		Slots: g.Slots, SSHDPID: sshdPID, Host: host, Created: now, FQDN: g.FQDN,
	}).Encode()
}
