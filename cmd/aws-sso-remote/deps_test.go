package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the remote helper small and auditable: the
// standard library and golang.org/x/crypto (with the x/ packages it needs)
// only. No AWS SDK, no keyring, nothing else.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := []string{
		"github.com/aws-sso-agent/aws-sso-agent/cmd/aws-sso-remote",
		"github.com/aws-sso-agent/aws-sso-agent/remote",
		"golang.org/x/crypto/",
		"golang.org/x/sys/",
		"golang.org/x/term",
	}
	for _, pkg := range strings.Fields(string(out)) {
		ok := false
		for _, a := range allowed {
			if pkg == a || (strings.HasSuffix(a, "/") && strings.HasPrefix(pkg, a)) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("aws-sso-remote imports %s: only the standard library and golang.org/x/crypto belong here", pkg)
		}
	}
}
