package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/certs/localca"
	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/remote"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// fakeAgent answers status on a control socket, as the running agent does.
type fakeAgent struct{ status agent.AgentStatus }

func (f *fakeAgent) Load(context.Context, agent.LoadRequest) (agent.SlotInfo, error) {
	return agent.SlotInfo{}, nil
}
func (f *fakeAgent) Unload(agent.UnloadRequest) error  { return nil }
func (f *fakeAgent) Status() agent.AgentStatus         { return f.status }
func (f *fakeAgent) ReloadCerts(context.Context) error { return nil }

func startFakeAgent(t *testing.T, st agent.AgentStatus) agent.Dirs {
	t.Helper()
	t.Setenv(agent.HomeEnv, t.TempDir())
	d, err := agent.DefaultDirs()
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.EnsurePrivateDir(d.Runtime); err != nil {
		t.Fatal(err)
	}
	l, err := agent.ListenControl(d.ControlSocket())
	if err != nil {
		t.Fatal(err)
	}
	srv := &agent.ControlServer{Handler: &fakeAgent{status: st}}
	go srv.Serve(l)
	t.Cleanup(func() { l.Close() })
	return d
}

func TestEnvTLSPublicCert(t *testing.T) {
	base := agent.AgentStatus{
		URL:       "http://127.0.0.1:4144/",
		TLSURL:    "https://127.0.0.1:4144/",
		TokenFile: "/run/token",
	}
	served := base
	served.PublicFQDN = "agent.example.test"
	served.PublicURL = "https://agent.example.test:4144/"
	notServed := base
	notServed.PublicFQDN = "agent.example.test"
	notServed.PublicNotServed = "DNS check failed: agent.example.test resolves to 192.0.2.1"

	for _, tc := range []struct {
		name       string
		st         agent.AgentStatus
		args       []string
		want       []string
		notWant    []string
		wantStderr string
	}{
		{"no public cert, --tls", base, []string{"--tls"},
			[]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI='https://127.0.0.1:4144/'", "SSL_CERT_FILE=", "NODE_EXTRA_CA_CERTS="}, nil, ""},
		{"public cert, --tls", served, []string{"--tls"},
			[]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI='https://agent.example.test:4144/'", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE='/run/token'"},
			[]string{"SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "127.0.0.1"}, ""},
		{"public cert, --tls, slot", served, []string{"--tls", "--slot", "dev"},
			[]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI='https://agent.example.test:4144/slot/dev'"}, nil, ""},
		{"public cert, no --tls", served, nil,
			[]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI='http://127.0.0.1:4144/'"}, []string{"agent.example.test"}, ""},
		{"public name not served, --tls", notServed, []string{"--tls"},
			[]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI='https://127.0.0.1:4144/'", "SSL_CERT_FILE="}, []string{"agent.example.test"},
			"not using agent.example.test: DNS check failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			startFakeAgent(t, tc.st)
			var stdout, stderr bytes.Buffer
			if code := run(append([]string{"env"}, tc.args...), nil, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			out := stdout.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out, "export "+w) || strings.Contains(out, w+"=") || (w == "127.0.0.1" || w == "agent.example.test") && strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			if tc.wantStderr != "" && !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr lacks %q: %s", tc.wantStderr, stderr.String())
			}
		})
	}
}

func TestPublicServingStatus(t *testing.T) {
	// fillStatus on a server that has never loaded leaves status alone.
	ca, err := localca.LoadOrCreate(store.NewMemory(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rot, err := localca.NewLeafRotator(ca, localca.RotatorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	sessions := agent.NewSessions(agent.NewTokens(), ca.RootPEM(), nil)
	ps, err := newPublicServing(&public.Public{Store: store.NewMemory(), Dir: t.TempDir()}, rot, sessions, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var st agent.AgentStatus
	ps.fillStatus(&st, 4144)
	if st.PublicFQDN != "" || st.PublicURL != "" || !st.PublicCertExpires.Equal(time.Time{}) {
		t.Errorf("no public name: status %+v, want no public fields", st)
	}
}

// TestSessionFileFQDNRoundTrip checks that what `ssh` writes to the
// remote host carries the served public name and that aws-sso-remote
// reads it back; without a name the field is left out.
func TestSessionFileFQDNRoundTrip(t *testing.T) {
	ca, err := localca.LoadOrCreate(store.NewMemory(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sessions := agent.NewSessions(agent.NewTokens(), ca.RootPEM(), nil)
	for _, name := range []string{"agent.example.test", ""} {
		sessions.SetFQDN(name)
		_, g, err := sessions.Open("host", []string{"", "dev"})
		if err != nil {
			t.Fatal(err)
		}
		b, err := sessionFileFor(g, 41234, 1, "ws", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(b), `"fqdn"`); got != (name != "") {
			t.Errorf("name %q: session.json %s has fqdn: %v", name, b, got)
		}
		s, err := remote.ParseSession(b)
		if err != nil {
			t.Fatalf("name %q: aws-sso-remote cannot read it: %v", name, err)
		}
		if s.FQDN != name {
			t.Errorf("read back fqdn %q, want %q", s.FQDN, name)
		}
	}
}
