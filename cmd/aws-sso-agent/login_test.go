package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoginRefusals(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "config")
	os.WriteFile(config, []byte("[profile keys]\naws_access_key_id = AKIA\n"), 0o600)
	t.Setenv("AWS_CONFIG_FILE", config)
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("HOME", dir)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"both flags", []string{"login", "--sso-session", "a", "--profile", "b"}, 2, []string{"either --sso-session or --profile"}},
		{"no such session", []string{"login", "--sso-session", "corp"}, 1, []string{"no [sso-session corp] section", "hint: configure one with: aws configure sso-session"}},
		{"profile without sso", []string{"logout", "--profile", "keys"}, 1, []string{"profile keys", "no sso_session or sso_start_url", "hint:"}},
		{"argument", []string{"login", "extra"}, 2, []string{`unexpected argument "extra"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, strings.NewReader(""), &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}
