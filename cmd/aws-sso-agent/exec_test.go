package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

func TestCommandEnv(t *testing.T) {
	environ := []string{"PATH=/bin", "AWS_PROFILE=base", "AWS_DEFAULT_PROFILE=base", "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://old/", "KEEP=1"}
	got := commandEnv(environ, []wire.Var{{Name: "AWS_CONTAINER_CREDENTIALS_FULL_URI", Value: "http://127.0.0.1:4144/"}}, wire.OverridingVars())
	want := []string{"PATH=/bin", "KEEP=1", "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:4144/"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestExecWithoutCommand(t *testing.T) {
	t.Setenv(agent.HomeEnv, t.TempDir())
	var stdout, stderr bytes.Buffer
	if code := run([]string{"exec", "--slot", "dev"}, nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "exec needs a command") {
		t.Errorf("exit %d, stderr %q; want 2 and the usage", code, stderr.String())
	}
}

func TestJSONListsNeverNull(t *testing.T) {
	var b bytes.Buffer
	writeJSON(&b, jsonSessions([]agent.SessionInfo{{ID: "s1", Slots: []string{""}}, {ID: "s2"}}))
	var got []struct{ Slots []string }
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !slices.Equal(got[0].Slots, []string{"default"}) || got[1].Slots == nil {
		t.Errorf("sessions --json: %s", b.String())
	}
	b.Reset()
	writeJSON(&b, jsonStatus(&agent.AgentStatus{}))
	if !strings.Contains(b.String(), `"slots": []`) {
		t.Errorf("status --json of an older agent's null: %s", b.String())
	}
}

// TestTrustFilesReadAtExport: the bundle holds the roots as they are when
// env runs, and a rerun in a shell that evaluated the first keeps them.
func TestTrustFilesReadAtExport(t *testing.T) {
	dir := t.TempDir()
	d := agent.Dirs{Config: filepath.Join(dir, "config"), Runtime: filepath.Join(dir, "run")}
	if err := agent.EnsurePrivateDir(d.Runtime); err != nil {
		t.Fatal(err)
	}
	agent.WritePrivateFile(d.CARoot(), []byte(testRootPEM))
	corp := filepath.Join(dir, "corp.pem")
	env := map[string]string{"SSL_CERT_FILE": corp}
	getenv := func(k string) string { return env[k] }

	os.WriteFile(corp, []byte("OLD CORPORATE\n"), 0o600)
	first, node, err := writeTrustFiles(d, getenv, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if node != d.CARoot() {
		t.Errorf("NODE_EXTRA_CA_CERTS without one set: got %s, want the agent's root %s", node, d.CARoot())
	}
	os.WriteFile(corp, []byte("NEW CORPORATE\n"), 0o600)
	env["SSL_CERT_FILE"] = first // the shell evaluated the first exports
	second, _, err := writeTrustFiles(d, getenv, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(second)
	if !strings.Contains(string(b), "NEW CORPORATE") || strings.Contains(string(b), "OLD") || strings.Count(string(b), "AGENT") != 1 {
		t.Errorf("second bundle:\n%s\nwant today's corporate roots and the agent's root once", b)
	}
	if fi, err := os.Stat(second); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("bundle mode: %v, %v; want 0600", fi.Mode(), err)
	}
}
