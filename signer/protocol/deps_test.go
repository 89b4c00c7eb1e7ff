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
