package tunnel

import (
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/certs/localca"
	"github.com/aws-sso-agent/aws-sso-agent/store"
	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

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
		s, err := wire.ParseSession(b)
		if err != nil {
			t.Fatalf("name %q: aws-sso-remote cannot read it: %v", name, err)
		}
		if s.FQDN != name {
			t.Errorf("read back fqdn %q, want %q", s.FQDN, name)
		}
	}
}
