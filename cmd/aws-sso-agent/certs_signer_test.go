package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/certs/signer"
)

func (e *acmeCLIEnv) runInput(stdin string, args ...string) (int, string, string) {
	args = append(args, "--store", "file", "--passphrase-file", e.pass, "--test-scrypt-work-factor", "10")
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestCertsAPIKey: the key comes from stdin into the secure store, never
// back out to the terminal; each service URL is added once, in order.
func TestCertsAPIKey(t *testing.T) {
	env := newACMECLIEnv(t)
	const key = "sgk_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
	for _, svc := range []string{"https://API.signer.test/", "https://b.signer.test:8443", "https://api.signer.test"} {
		code, out, errOut := env.runInput(key+"\n", "certs", "api-key", "--service", svc)
		if code != 0 {
			t.Fatalf("certs api-key --service %s: exit %d\n%s%s", svc, code, out, errOut)
		}
		if strings.Contains(out+errOut, key) {
			t.Fatalf("the key was echoed:\n%s%s", out, errOut)
		}
	}
	st := env.store(t)
	got, err := st.Get(signer.APIKeyName("https://api.signer.test"))
	if err != nil || string(got) != key {
		t.Errorf("stored key %q, %v", got, err)
	}
	s, err := signer.LoadSettings(filepath.Join(env.home, "config", "public"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://api.signer.test", "https://b.signer.test:8443"}; strings.Join(s.Services, " ") != strings.Join(want, " ") {
		t.Errorf("services %v, want %v", s.Services, want)
	}
}

func TestCertsSignerRefusals(t *testing.T) {
	env := newACMECLIEnv(t)
	for _, tc := range []struct {
		name, stdin string
		args        []string
		code        int
		want        string
	}{
		{"plain http", "sgk_x\n", []string{"certs", "api-key", "--service", "http://api.signer.test"}, 2, "must be https://"},
		{"no service", "sgk_x\n", []string{"certs", "api-key"}, 2, "--service URL is required"},
		{"key as an argument", "", []string{"certs", "api-key", "--service", "https://api.signer.test", "sgk_x"}, 2, "unexpected argument"},
		{"empty key", "\n", []string{"certs", "api-key", "--service", "https://api.signer.test"}, 1, "no API key given"},
		{"not a key", "two words\n", []string{"certs", "api-key", "--service", "https://api.signer.test"}, 1, "not an API key"},
		{"sign-csr without a service", "", []string{"certs", "sign-csr", "--fqdn", "alice.signer.test"}, 1, "certs api-key --service URL"},
		{"revoke without a certificate", "", []string{"certs", "revoke"}, 2, "give --serial"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := env.runInput(tc.stdin, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want %d with %q\n%s%s", code, tc.code, tc.want, out, errOut)
			}
		})
	}
}
