package tunnel

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/forward"
)

// fakeLink is a tunnel that stays up for `up` of fake time, then drops.
type fakeLink struct {
	k      *fakeKeeper
	up     time.Duration
	err    error // why it drops; nil: ErrConnectionClosed
	closed bool
}

func (l *fakeLink) Host() string      { return "user@host" }
func (l *fakeLink) Port() int         { return 4242 }
func (l *fakeLink) SessionID() string { return "abc" }
func (l *fakeLink) Close()            { l.closed = true }
func (l *fakeLink) Wait(ctx context.Context) error {
	if l.up < 0 { // up until ctx ends
		<-ctx.Done()
		return ctx.Err()
	}
	l.k.clock = l.k.clock.Add(l.up)
	if l.err != nil {
		return l.err
	}
	return ErrConnectionClosed
}

// drop is a scripted attempt that connects for up, then ends with err.
type drop struct {
	up  time.Duration
	err error
}

// fakeKeeper scripts KeepOpen's loop: each attempt either fails with an
// error or connects for a while; the fake clock moves only when the loop
// waits or a link is up.
type fakeKeeper struct {
	attempts []any // error, drop, or time.Duration the link stays up (<0: until ctx ends)
	opened   int
	links    []*fakeLink
	clock    time.Time
	waits    []time.Duration
	// cancelAfter, when > 0, cancels the context at that many waits.
	cancelAfter int
	cancel      context.CancelFunc
}

func (f *fakeKeeper) keeper() *keeper {
	return &keeper{
		dest: "host",
		log:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		open: func(ctx context.Context) (link, error) {
			if f.opened >= len(f.attempts) {
				return nil, errors.New("script ran out")
			}
			a := f.attempts[f.opened]
			f.opened++
			if err, ok := a.(error); ok {
				return nil, err
			}
			var l *fakeLink
			if d, ok := a.(drop); ok {
				l = &fakeLink{k: f, up: d.up, err: d.err}
			} else {
				l = &fakeLink{k: f, up: a.(time.Duration)}
			}
			f.links = append(f.links, l)
			return l, nil
		},
		now: func() time.Time { return f.clock },
		after: func(d time.Duration) <-chan time.Time {
			f.waits = append(f.waits, d)
			if f.cancelAfter > 0 && len(f.waits) >= f.cancelAfter {
				f.cancel()
				return nil // never fires: only ctx ends the wait
			}
			f.clock = f.clock.Add(d)
			ch := make(chan time.Time, 1)
			ch <- f.clock
			return ch
		},
		// The longest wait full jitter allows, so waits equal the backoff.
		jitter: func(n time.Duration) time.Duration { return n },
	}
}

func (f *fakeKeeper) run(t *testing.T) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.cancel = cancel
	done := make(chan error, 1)
	go func() { done <- f.keeper().run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the reconnect loop did not stop")
		return nil
	}
}

var errDial = errors.New("forward: connect to host:22: connection refused")

func TestKeepOpenBackoffGrows(t *testing.T) {
	fatal := &forward.AuthError{User: "u", Addr: "host:22", Err: errors.New("ssh: unable to authenticate")}
	f := &fakeKeeper{attempts: []any{errDial, errDial, errDial, errDial, errDial, errDial, errDial, errDial, fatal}}
	err := f.run(t)
	if !errors.Is(err, fatal) {
		t.Fatalf("run: got %v, want the fatal error", err)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	if !slices.Equal(f.waits, want) {
		t.Errorf("waits: got %v, want %v", f.waits, want)
	}
}

func TestKeepOpenBackoffResetsAfterLongConnection(t *testing.T) {
	f := &fakeKeeper{attempts: []any{
		errDial, errDial, errDial, // waits 1s 2s 4s
		5 * time.Second, // a short connection: the backoff keeps growing (8s)
		errDial,         // 16s
		2 * time.Minute, // up longer than the longest backoff: start over (1s)
		errDial,         // 2s
		agent.ErrNotRunning,
	}}
	err := f.run(t)
	if !errors.Is(err, agent.ErrNotRunning) {
		t.Fatalf("run: got %v, want agent.ErrNotRunning", err)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		16 * time.Second, time.Second, 2 * time.Second}
	if !slices.Equal(f.waits, want) {
		t.Errorf("waits: got %v, want %v", f.waits, want)
	}
	for i, l := range f.links {
		if !l.closed {
			t.Errorf("link %d was not closed after its drop", i)
		}
	}
}

func TestKeepOpenStopsAtFatalErrors(t *testing.T) {
	key := testKey(t)
	for _, err := range []error{
		&forward.HostKeyChangedError{Host: "host:22", Key: key},
		&forward.RevokedHostKeyError{Host: "host:22", Key: key},
		&forward.UnknownHostError{Host: "host:22", Key: key, Reason: "BatchMode=yes, nobody to ask"},
		&forward.AuthError{User: "u", Addr: "host:22", Err: errors.New("ssh: unable to authenticate")},
		fmt.Errorf("agent: %w", agent.ErrNotRunning),
		fmt.Errorf("wrapped: %w", &forward.AuthError{User: "u", Addr: "host:22", Err: errors.New("no")}),
	} {
		t.Run(fmt.Sprintf("%T", err), func(t *testing.T) {
			f := &fakeKeeper{attempts: []any{errDial, err}}
			if got := f.run(t); got != err {
				t.Fatalf("run: got %v, want %v", got, err)
			}
			if f.opened != 2 || len(f.waits) != 1 {
				t.Errorf("opened %d times and waited %d times, want 2 and 1: a fatal error is not retried", f.opened, len(f.waits))
			}
		})
	}
}

func TestKeepOpenRetriesOtherErrors(t *testing.T) {
	for _, err := range []error{
		errDial,
		&forward.ForwardDeniedError{Addr: "127.0.0.1:0", Err: errors.New("ssh: tcpip-forward request denied by peer")},
		&forward.ConnectTimeoutError{Addr: "host:22", After: time.Second, Stage: "connect"},
		fmt.Errorf("install the session on u@host: %w", errors.New("remote shell: EOF")),
	} {
		t.Run(fmt.Sprintf("%T", err), func(t *testing.T) {
			f := &fakeKeeper{attempts: []any{err, agent.ErrNotRunning}}
			if got := f.run(t); !errors.Is(got, agent.ErrNotRunning) {
				t.Fatalf("run: got %v, want agent.ErrNotRunning after a retry", got)
			}
			if f.opened != 2 {
				t.Errorf("opened %d times, want 2: %v is retried", f.opened, err)
			}
		})
	}
}

func testKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestKeepOpenStopsWhenContextEnds(t *testing.T) {
	t.Run("while waiting to retry", func(t *testing.T) {
		f := &fakeKeeper{attempts: []any{errDial, errDial, errDial}, cancelAfter: 2}
		if err := f.run(t); err != nil {
			t.Fatalf("run: got %v, want nil once ctx ends", err)
		}
		if f.opened != 2 {
			t.Errorf("opened %d times, want 2: nothing after ctx ended", f.opened)
		}
	})
	t.Run("while connected", func(t *testing.T) {
		f := &fakeKeeper{attempts: []any{time.Duration(-1)}}
		ctx, cancel := context.WithCancel(context.Background())
		k := f.keeper()
		open := k.open
		k.open = func(ctx context.Context) (link, error) {
			l, err := open(ctx)
			cancel() // stop once the tunnel is up
			return l, err
		}
		if err := k.run(ctx); err != nil {
			t.Fatalf("run: got %v, want nil once ctx ends", err)
		}
		if f.opened != 1 || len(f.waits) != 0 || !f.links[0].closed {
			t.Errorf("opened %d, waited %d, closed %v; want 1, 0, true", f.opened, len(f.waits), f.links[0].closed)
		}
	})
}

// The session ends as the agent tells its holder: revoked by the user, or
// the agent stopping (agent/control_session.go).
var (
	errRevokedByUser = &SessionEndedError{Err: &agent.ControlError{Code: agent.CodeRevoked, Message: "session revoked by the user"}}
	errAgentStopping = &SessionEndedError{Err: &agent.ControlError{Code: agent.CodeNoSession, Message: "agent stopping"}}
)

// TestKeepOpenStopsAtRevocation: a session revoked by the user ends
// KeepOpen at once; a new session would undo the revocation.
func TestKeepOpenStopsAtRevocation(t *testing.T) {
	f := &fakeKeeper{attempts: []any{drop{5 * time.Second, errRevokedByUser}, time.Duration(-1)}}
	err := f.run(t)
	if !errors.Is(err, agent.ErrSessionRevoked) || !strings.Contains(err.Error(), "revoked by the user") {
		t.Fatalf("run: got %v, want the revocation", err)
	}
	if f.opened != 1 || len(f.waits) != 0 || !f.links[0].closed {
		t.Errorf("opened %d, waited %d, closed %v; want 1, 0, true: no new session after a revocation",
			f.opened, len(f.waits), f.links[0].closed)
	}
	if !Fatal(err) {
		t.Error("Fatal(revoked) = false")
	}
}

// TestKeepOpenWaitsForTheAgent: the agent stopping is a drop, and the
// agent not running afterwards is a restart to wait out, not the missing
// agent that is fatal at the start.
func TestKeepOpenWaitsForTheAgent(t *testing.T) {
	for _, gone := range []error{errAgentStopping, &SessionEndedError{Err: errors.New("the agent stopped or died")}} {
		t.Run(gone.Error(), func(t *testing.T) {
			notRunning := fmt.Errorf("agent: %w", agent.ErrNotRunning)
			f := &fakeKeeper{attempts: []any{
				drop{5 * time.Second, gone},
				notRunning, notRunning, notRunning, // waited out
				5 * time.Second, // the agent is back: a new session; then an SSH drop
				notRunning,      // no sign of the agent going: fatal, as before
			}}
			err := f.run(t)
			if !errors.Is(err, agent.ErrNotRunning) {
				t.Fatalf("run: got %v, want agent.ErrNotRunning at the end of the script", err)
			}
			if f.opened != 6 || len(f.links) != 2 {
				t.Errorf("opened %d times with %d links, want 6 and 2: the agent's restart is waited out", f.opened, len(f.links))
			}
			want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}
			if !slices.Equal(f.waits, want) {
				t.Errorf("waits: got %v, want %v", f.waits, want)
			}
		})
	}
}

// TestKeepOpenRetriesDrops: a dropped SSH connection, a keepalive timeout
// or the agent stopping is reconnected.
func TestKeepOpenRetriesDrops(t *testing.T) {
	for _, err := range []error{
		ErrConnectionClosed,
		&forward.KeepaliveTimeoutError{Host: "host", Interval: time.Second, Missed: 3},
		errAgentStopping,
	} {
		t.Run(fmt.Sprintf("%T", err), func(t *testing.T) {
			fatal := &forward.AuthError{User: "u", Addr: "host:22", Err: errors.New("no")}
			f := &fakeKeeper{attempts: []any{drop{time.Second, err}, fatal}}
			if got := f.run(t); got != fatal {
				t.Fatalf("run: got %v, want the fatal error after a reconnect", got)
			}
			if f.opened != 2 {
				t.Errorf("opened %d times, want 2: %v is reconnected", f.opened, err)
			}
		})
	}
}
