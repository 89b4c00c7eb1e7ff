package agent

import (
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
)

func TestParseProfileSections(t *testing.T) {
	config := `
[default]
region = us-east-1
[profile dev]
role_arn = x
[ profile  spaced ]
[sso-session corp]
[services moto]
[profile]
[broken
`
	got := strings.Join(parseProfileSections([]byte(config), true), ",")
	if want := "default,dev,spaced"; got != want {
		t.Errorf("config: got %q, want %q", got, want)
	}
	got = strings.Join(parseProfileSections([]byte("[default]\n[static]\naws_access_key_id=x\n"), false), ",")
	if want := "default,static"; got != want {
		t.Errorf("credentials: got %q, want %q", got, want)
	}
}

func FuzzParseProfileSections(f *testing.F) {
	fuzztest.Start(f)
	f.Add([]byte("[profile dev]\n[default]\n"), true)
	f.Add([]byte("[x]\n[\n]"), false)
	f.Fuzz(func(t *testing.T, data []byte, config bool) {
		for _, n := range parseProfileSections(data, config) {
			if n == "" || strings.ContainsAny(n, "\n]") {
				t.Fatalf("bad profile name %q", n)
			}
		}
	})
}
