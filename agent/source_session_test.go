package agent

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoleSessionNameSanitized(t *testing.T) {
	for _, tc := range []struct{ user, want string }{
		{"alice", "aws-sso-agent-alice"},
		{"first.last@example.com", "aws-sso-agent-first.last@example.com"},
		{`CORP\alice`, "aws-sso-agent-CORP-alice"},
		{"Jean Dupont", "aws-sso-agent-Jean-Dupont"},
		{"jürgen", "aws-sso-agent-j-rgen"},
		{"a+b=c,d_e-f", "aws-sso-agent-a+b=c,d_e-f"},
		{"", "aws-sso-agent"},
		{strings.Repeat("x", 80), "aws-sso-agent-" + strings.Repeat("x", 50)},
	} {
		got := roleSessionName(tc.user)
		if got != tc.want {
			t.Errorf("roleSessionName(%q) = %q, want %q", tc.user, got, tc.want)
		}
		if len(got) > 64 || !sourceRoleName(got) { // the same charset as IAM names
			t.Errorf("roleSessionName(%q) = %q: not a valid RoleSessionName", tc.user, got)
		}
	}
}

// TestRoleSessionNameMoto: roles assumed for a profile without
// role_session_name, by the SDK's chain and by the agent's own chain on a
// credential_process, carry aws-sso-agent-USER in the assumed-role ARN
// that moto's STS reports; a profile's own name still wins.
func TestRoleSessionNameMoto(t *testing.T) {
	motoURL := sourceStartMoto(t)
	sourceIsolate(t)
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	wantName := roleSessionName(u.Username)
	script := filepath.Join(t.TempDir(), "creds")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho '{\"Version\":1,\"AccessKeyId\":\"AKIAIOSFODNN7EXAMPLE\",\"SecretAccessKey\":\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"}'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfgText := fmt.Sprintf(`[profile base]
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
services = moto
[profile process]
credential_process = %s
services = moto
[profile unnamed]
role_arn = arn:aws:iam::123456789012:role/unnamed
source_profile = base
region = us-east-1
services = moto
[profile unnamed-process]
role_arn = arn:aws:iam::123456789012:role/unnamed-process
source_profile = process
region = us-east-1
services = moto
[profile named]
role_arn = arn:aws:iam::123456789012:role/named
source_profile = base
role_session_name = chosen-by-profile
region = us-east-1
services = moto
[services moto]
sts =
  endpoint_url = %s
`, script, motoURL)
	spec := sourceFiles(t, "", cfgText, "")
	for _, tc := range []struct{ profile, want string }{
		{"unnamed", "arn:aws:sts::123456789012:assumed-role/unnamed/" + wantName},
		{"unnamed-process", "arn:aws:sts::123456789012:assumed-role/unnamed-process/" + wantName},
		{"named", "arn:aws:sts::123456789012:assumed-role/named/chosen-by-profile"},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			spec := spec
			spec.Profile = tc.profile
			s := NewSlots(SlotsConfig{})
			defer s.Close()
			if _, err := s.LoadSource(context.Background(), "", spec); err != nil {
				t.Fatal(err)
			}
			c, err := s.Credentials(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			if got := sourceCallerARN(t, motoURL, c); got != tc.want {
				t.Errorf("caller identity: got %q, want %q", got, tc.want)
			}
		})
	}
}
