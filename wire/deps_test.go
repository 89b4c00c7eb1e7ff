package wire_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStandardLibraryOnly keeps wire importable by aws-sso-remote, which
// must stay small and must not link the AWS SDK or a keyring: wire itself
// imports nothing outside the standard library.
func TestStandardLibraryOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg != "github.com/aws-sso-agent/aws-sso-agent/wire" {
			t.Errorf("wire imports %s: only the standard library belongs here", pkg)
		}
	}
}
