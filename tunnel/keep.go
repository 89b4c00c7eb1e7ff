package tunnel

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/forward"
)

// Reconnect backoff: the first retry comes after about minBackoff, each
// failure doubles the wait up to maxBackoff, and a connection that stayed
// up longer than maxBackoff starts over from minBackoff (a fresh drop,
// not a server that keeps failing).
const minBackoff, maxBackoff = time.Second, time.Minute

// KeepOpen holds a tunnel to o.Dest open without a shell (ssh -N -R) until
// ctx ends, then returns nil. After a drop it reconnects with backoff;
// each connection is a new session: a new port and a new token, installed
// anew on the remote host. It logs each connect, drop and retry at info
// level, and returns the first error retrying cannot fix (Fatal).
//
// A drop is the SSH connection ending, or the agent ending the session
// because it stopped or died; then KeepOpen waits for an agent to run
// again, however long that takes. The user revoking the session
// (aws-sso-agent sessions revoke) is no drop: KeepOpen returns the
// *SessionEndedError, which matches agent.ErrSessionRevoked, rather than
// undo the revocation with a new session.
func KeepOpen(ctx context.Context, o Options) error {
	k := keeper{
		dest: o.Dest,
		log:  o.logger(),
		open: func(ctx context.Context) (link, error) {
			t, err := Open(ctx, o)
			if err != nil {
				return nil, err // not a nil *Tunnel in a non-nil link
			}
			if err := t.HelperError(); err != nil {
				o.logger().Warn("aws-sso-remote not installed on the remote host", "host", t.Host(), "err", err)
			}
			return t, nil
		},
		now:    time.Now,
		after:  time.After,
		jitter: func(n time.Duration) time.Duration { return rand.N(n + 1) },
	}
	return k.run(ctx)
}

// Fatal reports whether err is one retrying cannot fix: a host key
// problem, authentication refused, the session revoked by the user, or no
// agent to serve the session. KeepOpen waits for an agent all the same
// when it saw the agent go: a restart, not a missing agent.
func Fatal(err error) bool {
	var changed *forward.HostKeyChangedError
	var revoked *forward.RevokedHostKeyError
	var unknown *forward.UnknownHostError
	var auth *forward.AuthError
	return errors.As(err, &changed) || errors.As(err, &revoked) || errors.As(err, &unknown) ||
		errors.As(err, &auth) || errors.Is(err, agent.ErrNotRunning) || Revoked(err)
}

// link is what keeper holds open: a *Tunnel, or a fake in tests.
type link interface {
	Host() string
	Port() int
	SessionID() string
	Wait(ctx context.Context) error
	Close()
}

// keeper is KeepOpen's loop, with its dialer and clock swappable.
type keeper struct {
	dest  string
	log   *slog.Logger
	open  func(context.Context) (link, error)
	now   func() time.Time
	after func(time.Duration) <-chan time.Time
	// jitter returns a random duration in [0, n].
	jitter func(n time.Duration) time.Duration
}

func (k *keeper) run(ctx context.Context) error {
	backoff := minBackoff
	// agentLeft: the last tunnel ended because the agent ended its
	// session without revoking it. An agent that is not running is then
	// one being restarted, to wait for.
	agentLeft := false
	for ctx.Err() == nil {
		started := k.now()
		l, err := k.open(ctx)
		if err != nil {
			if Fatal(err) && !(agentLeft && errors.Is(err, agent.ErrNotRunning)) {
				return err
			}
			k.log.Warn("forward: connect failed", "host", k.dest, "err", err, "retry_in", backoff)
		} else {
			k.log.Info("forward: connected", "host", l.Host(), "remote_port", l.Port(), "session", l.SessionID())
			why := "stopping"
			err := l.Wait(ctx)
			if err != ctx.Err() { // Wait returns ctx.Err() only for ctx
				why = err.Error()
			}
			l.Close()
			k.log.Info("forward: disconnected", "host", l.Host(), "why", why)
			if Revoked(err) {
				return err
			}
			var ended *SessionEndedError
			agentLeft = errors.As(err, &ended)
			if k.now().Sub(started) > maxBackoff {
				backoff = minBackoff // it was up for a while: a fresh drop
			}
		}
		if ctx.Err() != nil {
			break
		}
		// Full jitter keeps many forwards from reconnecting in step.
		wait := backoff/2 + k.jitter(backoff/2)
		select {
		case <-ctx.Done():
		case <-k.after(wait):
		}
		backoff = min(2*backoff, maxBackoff)
	}
	return nil
}
