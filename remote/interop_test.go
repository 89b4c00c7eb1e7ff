package remote_test

import (
	"context"
	"encoding/base64"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/certs/localca"
	"github.com/aws-sso-agent/aws-sso-agent/internal/fakeagent"
	"github.com/aws-sso-agent/aws-sso-agent/remote"
	"github.com/aws-sso-agent/aws-sso-agent/store"
	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

type staticSource map[string]agent.Credentials

func (s staticSource) Credentials(_ context.Context, slot string) (agent.Credentials, error) {
	c, ok := s[slot]
	if !ok {
		return agent.Credentials{}, agent.ErrNoSlot
	}
	return c, nil
}

// realAgent is the real endpoint with the real CA and session registry;
// each session's "forward" is a loopback listener whose connections are
// attached to the session, as the SSH tunnel does.
type realAgent struct {
	ca       *localca.CA
	tokens   *agent.Tokens
	sessions *agent.Sessions
	ep       *agent.Endpoint
}

func newRealAgent(t *testing.T) *realAgent {
	t.Helper()
	ca, err := localca.LoadOrCreate(store.NewMemory(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rot, err := localca.NewLeafRotator(ca, localca.RotatorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	a := &realAgent{ca: ca, tokens: agent.NewTokens()}
	a.sessions = agent.NewSessions(a.tokens, ca.RootPEM(), nil)
	a.ep, err = agent.NewEndpoint(agent.EndpointConfig{
		Source: staticSource{"": {AccessKeyID: "AKIAREAL", SecretAccessKey: "s", SessionToken: "t",
			Expires: time.Now().Add(time.Hour)}},
		Tokens:    a.tokens,
		TLSConfig: localca.ServerTLSConfig(rot.GetCertificate),
		Sessions:  a.sessions,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.ep.Shutdown(context.Background()) })
	return a
}

// open starts a session with its forward and writes its session file;
// it returns the parsed session.
func (a *realAgent) open(t *testing.T, slots ...string) (*wire.Session, agent.SessionGrant) {
	t.Helper()
	sess, grant, err := a.sessions.Open("workstation", slots)
	if err != nil {
		t.Fatal(err)
	}
	go a.ep.ServeChannel(sess.Listener(), grant.ID)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if a.sessions.Attach(grant.ID, c) != nil {
				c.Close()
			}
		}
	}()
	key, err := base64.RawURLEncoding.DecodeString(grant.ProofKey)
	if err != nil {
		t.Fatal(err)
	}
	fs := fakeagent.Session{Session: wire.Session{ID: grant.ID, Port: ln.Addr().(*net.TCPAddr).Port, Token: grant.Token,
		ProofKey: key, CAPEM: []byte(grant.CA), Slots: grant.Slots, SSHDPID: 1, Host: "workstation",
		Created: time.Now()}}
	dir := fs.Write(t, filepath.Join(t.TempDir(), ".aws-sso-agent"))
	s, err := remote.LoadSession(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s, grant
}

// TestRealAgent runs the helper's side of the protocol against the real
// agent endpoint: the two implementations of the same text must agree.
func TestRealAgent(t *testing.T) {
	a := newRealAgent(t)
	s1, grant1 := a.open(t, "")
	s2, _ := a.open(t, "")

	got, err := remote.Fetch(ctx(t), s1, "")
	if err != nil {
		t.Fatalf("fetch from the real agent: %v", err)
	}
	if got.AccessKeyID != "AKIAREAL" {
		t.Fatalf("got %+v, want the agent's credentials", got)
	}

	// Session 1's file pointed at session 2's port: the proof fails
	// (another session), and the token is not sent.
	crossed := *s1
	crossed.Port = s2.Port
	if _, err := remote.Fetch(ctx(t), &crossed, ""); remote.ExitCode(err) != remote.ExitProof {
		t.Errorf("session 1 on session 2's port: got %v, want exit %d", err, remote.ExitProof)
	}

	// The token revoked while the forward is up: proof passes, token refused.
	a.tokens.Revoke(grant1.Token)
	if _, err := remote.Fetch(ctx(t), s1, ""); remote.ExitCode(err) != remote.ExitRefused {
		t.Errorf("revoked token: got %v, want exit %d", err, remote.ExitRefused)
	}

	// Session 2 ends: its port no longer reaches the agent.
	if err := a.sessions.Close(s2.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Fetch(ctx(t), s2, ""); remote.ExitCode(err) == remote.ExitOK {
		t.Error("ended session: got credentials, want a refusal")
	}
}

// TestRealAgentLocalListener: the agent's own local listener (channel "")
// has the right certificate but answers no proof: refused, exit 6.
func TestRealAgentLocalListener(t *testing.T) {
	a := newRealAgent(t)
	s, _ := a.open(t, "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go a.ep.Serve(ln)
	s.Port = ln.Addr().(*net.TCPAddr).Port
	if _, err := remote.Fetch(ctx(t), s, ""); remote.ExitCode(err) != remote.ExitProof {
		t.Fatalf("local listener: got %v, want exit %d", err, remote.ExitProof)
	}
}
