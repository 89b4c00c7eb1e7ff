package tunnel

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
)

// renewAttempt bounds one try at a new session: an agent that is starting
// answers in well under a second, one that hangs is tried again later.
const renewAttempt = 10 * time.Second

// renew puts a new agent session in the place of lost, which the agent
// ended without a revocation: it asks for one with backoff until an agent
// answers, points it at the tunnel's remote port, and swaps the session
// file on the remote host (a new id, token and proof key). It gives up
// when ctx ends, the connection ends or Close runs.
//
// Renewing on the same connection, rather than asking for a new
// connection, keeps the shell and the remote port: aws-sso-remote and
// credential_process find the new session file by themselves, and only
// exports made before (which hold the old token) need `env` again.
func (t *Tunnel) renew(ctx context.Context, lost *agent.SessionHandle) (*agent.SessionHandle, error) {
	backoff := minBackoff
	for {
		h, err := t.renewOnce(ctx, lost)
		if err == nil {
			return h, nil
		}
		t.log.Debug("session not renewed yet", "host", t.host, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.stop:
			return nil, ErrConnectionClosed
		case <-t.ended:
			return nil, ErrConnectionClosed
		case <-time.After(backoff/2 + rand.N(backoff/2+1)):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (t *Tunnel) renewOnce(ctx context.Context, lost *agent.SessionHandle) (*agent.SessionHandle, error) {
	ctx, cancel := context.WithTimeout(ctx, renewAttempt)
	defer cancel()
	h, err := t.agent.OpenSession(ctx, t.host, t.slots)
	if err != nil {
		return nil, err
	}
	if err := h.SetPort(t.port); err != nil {
		h.Close()
		return nil, err
	}
	t.mu.Lock()
	select {
	case <-t.stop:
		// Close has run: it will not close a session handed over now.
		t.mu.Unlock()
		h.Close()
		return nil, ErrConnectionClosed
	default:
	}
	t.session = h
	t.mu.Unlock()
	lost.Close()
	// aws-sso-remote looks for the session of its connection: one file at
	// a time, never the dead session's beside the new one.
	t.removeSession(lost.Grant.ID)
	if err := t.installSession(ctx, h.Grant); err != nil {
		// Most likely the connection is going: Run hears of it, and Close
		// ends the new session with the rest.
		t.log.Warn("the new session is not installed on the remote host", "host", t.host, "session", h.Grant.ID, "err", err)
	}
	return h, nil
}
