package main

import (
	"bytes"
	"crypto/tls"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fakeagent"
	"github.com/aws-sso-agent/aws-sso-agent/remote"
	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// execed is what the fake execve was called with; nil when it was not.
type execed struct {
	path string
	argv []string
	env  map[string]string
}

// runExec runs the CLI against the fixture with a fake execve, an
// environment holding a profile that would outrank the agent, and getenv.
func (f *fixture) runExec(t *testing.T, getenv map[string]string, args ...string) (got *execed, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{
		stdout: &out,
		stderr: &errb,
		getenv: func(k string) string { return getenv[k] },
		finder: &remote.Finder{
			Dir:       f.root,
			Getenv:    func(string) string { return "" },
			Ancestors: func() ([]int, error) { return []int{f.sess.SSHDPID}, nil },
		},
		systemRoots: func(func(string) string, string) ([]byte, string, error) { return f.roots, "test", nil },
		timeout:     5 * time.Second,
		// A stale endpoint from the login: exec and shell replace it, the fallback shell drops it.
		environ: func() []string {
			return []string{"PATH=/usr/bin:/bin", "AWS_PROFILE=outranks", "KEEP=1", "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:1/", "AWS_CONTAINER_AUTHORIZATION_TOKEN=stale"}
		},
		execve: func(path string, argv, env []string) error {
			got = &execed{path: path, argv: argv, env: map[string]string{}}
			for _, kv := range env {
				k, v, _ := strings.Cut(kv, "=")
				got.env[k] = v
			}
			return nil
		},
	}
	code = c.run(args)
	if out.Len() != 0 {
		t.Errorf("%v printed %q on stdout, want nothing (the command's own output only)", args, out.String())
	}
	return got, errb.String(), code
}

// TestExec: CMD runs, found in $PATH, with the variables env prints set
// and the overriding ones unset, the rest of the environment kept.
func TestExec(t *testing.T) {
	f := newFixture(t, nil)
	got, stderr, code := f.runExec(t, nil, "exec", "--", "sh", "-c", "echo hi")
	if code != 0 || got == nil {
		t.Fatalf("exit %d, exec %+v, stderr %q", code, got, stderr)
	}
	if !filepath.IsAbs(got.path) || filepath.Base(got.path) != "sh" || !slices.Equal(got.argv, []string{"sh", "-c", "echo hi"}) {
		t.Errorf("exec %s %q, want sh from $PATH with its arguments", got.path, got.argv)
	}
	want := map[string]string{
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "http://127.0.0.1:" + itoa(f.server.Port) + "/",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": filepath.Join(f.sessionDir(), "token"),
		"KEEP":                                   "1",
	}
	for k, v := range want {
		if got.env[k] != v {
			t.Errorf("%s = %q, want %q", k, got.env[k], v)
		}
	}
	for _, n := range wire.OverridingVars() {
		if v, ok := got.env[n]; ok {
			t.Errorf("%s is set (%q), want it unset", n, v)
		}
	}
	// The same variables as env, from the same code.
	out, _, _ := f.run(t, "env", "--shell", "fish")
	for k, v := range got.env {
		if strings.HasPrefix(k, "AWS_CONTAINER_") && !strings.Contains(out, k+" '"+v+"'") {
			t.Errorf("env does not export %s=%s as exec sets it:\n%s", k, v, out)
		}
	}

	f = newFixture(t, func(cfg *fakeagent.Config, _ *fakeagent.Session) {
		cfg.Creds = map[string]wire.Credentials{"dev": testCreds}
	})
	got, _, code = f.runExec(t, nil, "exec", "--slot", "dev", "--tls", "/bin/true")
	if code != 0 || got == nil || got.path != "/bin/true" ||
		got.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] != "https://127.0.0.1:"+itoa(f.server.Port)+"/slot/dev" || got.env["SSL_CERT_FILE"] == "" {
		t.Errorf("exec --slot dev --tls: exit %d, %+v", code, got)
	}
}

// TestExecRefuses: on any failure CMD does not run, the reason is on
// stderr, and the exit code is env's for the same failure.
func TestExecRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(cfg *fakeagent.Config, s *fakeagent.Session)
		args []string
		code int
		want string
	}{
		{"plain HTTP squatter", func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.PlainHTTP = true }, []string{"exec", "--", "true"}, 4, "error:"},
		{"TLS 1.2 squatter", func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.MaxVersion = tls.VersionTLS12 }, []string{"exec", "true"}, 4, "error:"},
		{"self-signed squatter", func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.Cert = fakeagent.SelfSigned(t) }, []string{"shell"}, 5, "error:"},
		{"another proof key", func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.ProofKey = fakeagent.Secret(t, 32) }, []string{"exec", "true"}, 6, "error:"},
		{"revoked token", func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.Token = fakeagent.Secret(t, 32) }, []string{"shell"}, 7, "error:"},
		{"nothing loaded", func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.Creds = nil }, []string{"exec", "true"}, 7, "no_credentials"},
		{"slot not granted", nil, []string{"exec", "--slot", "prod", "--", "true"}, 7, "not granted"},
		{"no command", nil, []string{"exec"}, 2, "exec needs a command"},
		{"no command after --", nil, []string{"exec", "--"}, 2, "exec needs a command"},
		{"unknown flag", nil, []string{"exec", "--nope", "true"}, 2, "nope"},
		{"shell takes no arguments", nil, []string{"shell", "ls"}, 2, "takes no arguments"},
		{"command not found", nil, []string{"exec", "no-such-command-here"}, 1, "no-such-command-here"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.mod)
			got, stderr, code := f.runExec(t, nil, tc.args...)
			if got != nil {
				t.Errorf("ran %s %q", got.path, got.argv)
			}
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.want)
			}
			if strings.Contains(stderr, f.sess.Token) {
				t.Error("stderr shows the token")
			}
		})
	}
}

// TestShell: the login shell from $SHELL, started as a login shell; a slot
// with nothing loaded only warns, as env does.
func TestShell(t *testing.T) {
	f := newFixture(t, func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.Creds = nil })
	for _, tc := range []struct{ shell, path, argv0 string }{
		{"/usr/bin/fish", "/usr/bin/fish", "-fish"},
		{"/bin/bash", "/bin/bash", "-bash"},
		{"", "/bin/sh", "-sh"},
		{"zsh", "/bin/sh", "-sh"}, // not a path: not trusted to name a shell
	} {
		got, stderr, code := f.runExec(t, map[string]string{"SHELL": tc.shell}, "shell")
		if code != 0 || got == nil {
			t.Fatalf("SHELL=%q: exit %d, stderr %q", tc.shell, code, stderr)
		}
		if got.path != tc.path || !slices.Equal(got.argv, []string{tc.argv0}) {
			t.Errorf("SHELL=%q: exec %s %q, want %s [%s]", tc.shell, got.path, got.argv, tc.path, tc.argv0)
		}
		if got.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] == "" || !strings.Contains(stderr, "warning:") {
			t.Errorf("SHELL=%q: env %v, stderr %q; want the variables and a warning", tc.shell, got.env, stderr)
		}
	}
}

// TestShellFallback: with --fallback, a failed proof is reported and the
// login shell still starts, without any container variable and with no
// token shown; a usage error is still an error.
func TestShellFallback(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(cfg *fakeagent.Config, s *fakeagent.Session)
		want string
	}{
		{"self-signed squatter", func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.Cert = fakeagent.SelfSigned(t) }, "error:"},
		{"plain HTTP squatter", func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.PlainHTTP = true }, "error:"},
		{"revoked token", func(cfg *fakeagent.Config, _ *fakeagent.Session) { cfg.Token = fakeagent.Secret(t, 32) }, "error:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.mod)
			got, stderr, code := f.runExec(t, map[string]string{"SHELL": "/usr/bin/zsh"}, "shell", "--fallback")
			if code != 0 || got == nil {
				t.Fatalf("exit %d, exec %+v, stderr %q; want the shell started", code, got, stderr)
			}
			if got.path != "/usr/bin/zsh" || !slices.Equal(got.argv, []string{"-zsh"}) {
				t.Errorf("exec %s %q, want the login shell /usr/bin/zsh as -zsh", got.path, got.argv)
			}
			for k := range got.env {
				if strings.HasPrefix(k, "AWS_CONTAINER_") {
					t.Errorf("%s is set in a shell whose port did not prove genuine", k)
				}
			}
			if got.env["AWS_PROFILE"] != "outranks" || got.env["KEEP"] != "1" {
				t.Errorf("env %v: want the environment as it was, less the container variables", got.env)
			}
			if !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "starting your shell without AWS credentials") {
				t.Errorf("stderr %q: want the reason and that the shell has no credentials", stderr)
			}
			if strings.Contains(stderr, f.sess.Token) {
				t.Error("stderr shows the token")
			}
		})
	}
	f := newFixture(t, nil)
	if got, stderr, code := f.runExec(t, nil, "shell", "--fallback", "extra"); got != nil || code != 2 {
		t.Errorf("shell --fallback extra: exit %d, exec %+v, stderr %q; want 2 and no shell", code, got, stderr)
	}
	got, _, code := f.runExec(t, map[string]string{"SHELL": "/bin/bash"}, "shell", "--fallback")
	if code != 0 || got == nil || got.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] == "" {
		t.Errorf("shell --fallback with a genuine agent: exit %d, %+v; want the variables set", code, got)
	}
}
