package protocol_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStandardLibraryOnly keeps protocol importable by the agent's client
// without linking any of the service (databases, DNS, ACME).
func TestStandardLibraryOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg != "github.com/aws-sso-agent/aws-sso-agent/signer/protocol" {
			t.Errorf("protocol imports %s; it must stay standard library only", pkg)
		}
	}
}

// TestClientsLinkNoService: the agent, the forwarder and the remote
// helper reach the service only through this package (the agent's client,
// certs/signer, builds on it); none links the service's own packages.
func TestClientsLinkNoService(t *testing.T) {
	const mod = "github.com/aws-sso-agent/aws-sso-agent/"
	out, err := exec.Command("go", "list", "-deps", mod+"agent/...", mod+"forward/...", mod+"remote/...",
		mod+"cmd/aws-sso-agent", mod+"cmd/aws-sso-remote").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, mod+"signer") && pkg != mod+"signer/protocol" {
			t.Errorf("a client links the service's package %s", pkg)
		}
	}
}
