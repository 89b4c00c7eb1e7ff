package agent

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSessionGrantFQDN checks that a new session's grant carries the
// public name the agent serves at the moment it opens, and none without.
func TestSessionGrantFQDN(t *testing.T) {
	s := NewSessions(NewTokens(), []byte("ca"), nil)
	open := func() SessionGrant {
		t.Helper()
		_, g, err := s.Open("host", nil)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	g := open()
	b, _ := json.Marshal(g)
	if g.FQDN != "" || strings.Contains(string(b), "fqdn") {
		t.Errorf("without a public name: grant %s, want no fqdn", b)
	}
	s.SetFQDN("agent.example.test")
	g = open()
	b, _ = json.Marshal(g)
	if g.FQDN != "agent.example.test" || !strings.Contains(string(b), `"fqdn":"agent.example.test"`) {
		t.Errorf("with a public name: grant %s, want fqdn agent.example.test", b)
	}
	var back SessionGrant
	if err := json.Unmarshal(b, &back); err != nil || back.FQDN != g.FQDN {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	s.SetFQDN("")
	if g := open(); g.FQDN != "" {
		t.Errorf("after the name stopped being served: fqdn %q, want none", g.FQDN)
	}
}
