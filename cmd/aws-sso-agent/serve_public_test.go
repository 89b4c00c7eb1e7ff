package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
)

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
	// The agent's root, which the agent writes when it starts and env
	// --tls puts in its bundles.
	if err := agent.WritePrivateFile(d.CARoot(), []byte(testRootPEM)); err != nil {
		t.Fatal(err)
	}
	l, err := agent.ListenControl(d.ControlSocket())
	if err != nil {
		t.Fatal(err)
	}
	// A control server with nothing but its status, as the running
	// agent answers it.
	srv := &agent.ControlServer{Info: st}
	go srv.Serve(l)
	t.Cleanup(func() { l.Close() })
	return d
}

const testRootPEM = "-----BEGIN CERTIFICATE-----\nAGENT\n-----END CERTIFICATE-----\n"

func TestEnvTLSPublicCert(t *testing.T) {
	// env exports the token's value too, so it reads the file.
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("test-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := agent.AgentStatus{
		URL:       "http://127.0.0.1:4144/",
		TLSURL:    "https://127.0.0.1:4144/",
		TokenFile: tokenFile,
	}
	served := base
	served.PublicFQDN = "agent.example.test"
	served.PublicURL = "https://agent.example.test:4144/"
	// env --slot NAME needs the slot loaded.
	served.Slots = []agent.SlotInfo{{Name: "dev"}}
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
			[]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI='https://agent.example.test:4144/'", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE='" + tokenFile + "'", "AWS_CONTAINER_AUTHORIZATION_TOKEN='test-token'"},
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
