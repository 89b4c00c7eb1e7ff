package main

import (
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fakeagent"
	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// oneSlot is a fixture whose session was granted prod only.
func oneSlot(t *testing.T, slots ...string) *fixture {
	return newFixture(t, func(cfg *fakeagent.Config, s *fakeagent.Session) {
		s.Slots = slots
		cfg.Grant = slots
		cfg.Creds = map[string]wire.Credentials{"": testCreds, "prod": testCreds, "dev": testCreds}
	})
}

// TestOneSlotIsTheDefault: with no --slot, a session granted one slot
// reads it: env points at it, credential-process serves it.
func TestOneSlotIsTheDefault(t *testing.T) {
	f := oneSlot(t, "prod")
	if _, stderr, code := f.run(t, "check"); code != 0 {
		t.Fatalf("check: exit %d, stderr %q", code, stderr)
	}
	out, stderr, code := f.run(t, "env")
	if code != 0 || !strings.Contains(out, "http://127.0.0.1:"+itoa(f.server.Port)+"/slot/prod") {
		t.Fatalf("env: exit %d, stdout %q, stderr %q; want the prod URL", code, out, stderr)
	}
	out, stderr, code = f.run(t, "credential-process")
	if code != 0 || !strings.Contains(out, testCreds.AccessKeyID) {
		t.Fatalf("credential-process: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if reqs := f.server.Requests(); reqs[len(reqs)-1].Path != "/slot/prod" {
		t.Errorf("last request %+v, want /slot/prod", reqs[len(reqs)-1])
	}
}

// TestDefaultSlotRules: the single-slot rule applies only when --slot is
// not given and the default slot is not granted.
func TestDefaultSlotRules(t *testing.T) {
	for _, tc := range []struct {
		name  string
		slots []string
		args  []string
		code  int
		want  string // in stdout, or in stderr when code != 0
	}{
		{"explicit default is refused", []string{"prod"}, []string{"env", "--slot", "default"}, 7, "slot default is not granted"},
		{"explicit other slot is refused", []string{"prod"}, []string{"env", "--slot", "dev"}, 7, `slot "dev" is not granted`},
		{"two slots: no guess", []string{"prod", "dev"}, []string{"env"}, 7, "slot default is not granted"},
		{"default and another: the default", []string{"", "prod"}, []string{"env"}, 0, "AWS_CONTAINER_CREDENTIALS_FULL_URI"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := oneSlot(t, tc.slots...)
			out, stderr, code := f.run(t, tc.args...)
			got := out
			if tc.code != 0 {
				got = stderr
			}
			if code != tc.code || !strings.Contains(got, tc.want) || strings.Contains(out, "/slot/") {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q", code, out, stderr, tc.code, tc.want)
			}
		})
	}
}
