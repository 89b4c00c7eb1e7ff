package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/internal/ssofake"
	"github.com/aws-sso-agent/aws-sso-agent/sso"
)

var rolesAccounts = []ssofake.Account{
	{ID: "111122223333", Name: "prod", Email: "prod@example.com", Roles: []string{"Admin", "ReadOnly"}},
	{ID: "444455556666", Name: "dev", Email: "dev@example.com", Roles: []string{"Admin", "Developer", "ReadOnly"}},
	{ID: "777788889999", Name: "sandbox", Email: "sandbox@example.com", Roles: []string{"Admin"}},
}

// rolesEnv is a home with an AWS config naming sso-session corp, a fake
// portal behind AWS_ENDPOINT_URL_SSO, and the agent's files in a home of
// their own. With a token, the session is logged in as AWS CLI v2 leaves
// it.
func rolesEnv(t *testing.T, token string) (*ssofake.Portal, string) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("AWS_SSO_AGENT_HOME", filepath.Join(home, "agent"))
	cfg := filepath.Join(home, "config")
	if err := os.WriteFile(cfg, []byte("[profile base]\naws_access_key_id = AKIAEXAMPLEEXAMPLE01\naws_secret_access_key = x\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfg)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "credentials"))
	p := ssofake.NewPortal(ssofake.PortalConfig{
		Accounts:  rolesAccounts,
		PageSize:  2,
		Authorize: func(tok string) bool { return tok == "valid-token" },
	})
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL_SSO", srv.URL)
	if token != "" {
		writeTokenCache(t, "corp", token, time.Now().Add(time.Hour))
	}
	return p, home
}

// writeTokenCache leaves the session logged in as AWS CLI v2 would.
func writeTokenCache(t *testing.T, session, token string, expires time.Time) {
	t.Helper()
	dir, err := sso.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := sso.WriteCache(sso.CachePath(dir, session), sso.Token{StartURL: "https://corp.awsapps.com/start", Region: "eu-west-1", AccessToken: token, ExpiresAt: expires}); err != nil {
		t.Fatal(err)
	}
}

func runRoles(args ...string) (string, string, int) {
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"roles"}, args...), strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

func TestRolesListsAndCaches(t *testing.T) {
	p, _ := rolesEnv(t, "valid-token")
	out, errOut, code := runRoles()
	if code != 0 {
		t.Fatalf("roles: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{
		"sso-session corp (https://corp.awsapps.com/start): 6 roles",
		"  dev (444455556666) / Developer\n",
		"  prod (111122223333) / ReadOnly\n",
		"  sandbox (777788889999) / Admin\n",
		"load one with: aws-sso-agent load --sso-session corp --account 444455556666 --role Admin",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("roles output lacks %q:\n%s", want, out)
		}
	}
	// One page of accounts (discovery asks for 100 a page) and one of
	// roles for each of the 3 accounts.
	calls := p.Calls("")
	if calls != 4 {
		t.Errorf("cold listing made %d portal calls, want 4", calls)
	}

	// Warm: the listing comes from the cache, with no portal call.
	out, _, code = runRoles("--json")
	if code != 0 {
		t.Fatalf("roles --json: exit %d", code)
	}
	if p.Calls("") != calls {
		t.Errorf("warm listing made %d portal calls, want 0", p.Calls("")-calls)
	}
	var listings []sso.Listing
	if err := json.Unmarshal([]byte(out), &listings); err != nil {
		t.Fatalf("roles --json: %v\n%s", err, out)
	}
	if len(listings) != 1 || listings[0].Session != "corp" || len(listings[0].Roles) != 6 {
		t.Fatalf("roles --json = %+v, want corp's 6 roles", listings)
	}
	if r := listings[0].Roles[0]; r != (sso.Role{AccountID: "444455556666", AccountName: "dev", Email: "dev@example.com", RoleName: "Admin"}) {
		t.Errorf("first role = %+v", r)
	}

	if _, _, code := runRoles("--refresh", "--sso-session", "corp"); code != 0 || p.Calls("") == calls {
		t.Errorf("roles --refresh: exit %d, %d new calls; want a new discovery", code, p.Calls("")-calls)
	}
}

func TestRolesNeedsLogin(t *testing.T) {
	rolesEnv(t, "")
	_, errOut, code := runRoles()
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{"aws-sso-agent: error: sso: sso-session corp: login required", "hint: run: aws-sso-agent login --sso-session corp"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestRolesRefusedTokenKeepsOldListing(t *testing.T) {
	rolesEnv(t, "valid-token")
	if _, errOut, code := runRoles(); code != 0 {
		t.Fatalf("roles: %s", errOut)
	}
	writeTokenCache(t, "corp", "revoked-token", time.Now().Add(time.Hour))
	out, errOut, code := runRoles("--refresh")
	if code != 0 {
		t.Fatalf("roles --refresh with a refused token: exit %d, want 0 with the old listing\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "warning: sso: list accounts: sso: the portal refused the access token") || !strings.Contains(out, "6 roles") {
		t.Errorf("stdout %q stderr %q: want the old listing with a warning", out, errOut)
	}
}

func TestRolesUnknownSession(t *testing.T) {
	rolesEnv(t, "valid-token")
	_, errOut, code := runRoles("--sso-session", "nope")
	if code != 1 || !strings.Contains(errOut, "no [sso-session nope] section") {
		t.Errorf("exit %d, stderr %q; want the missing session named", code, errOut)
	}
	_, errOut, code = runRoles("extra")
	if code != 2 {
		t.Errorf("roles extra: exit %d, want 2\n%s", code, errOut)
	}
}

// TestPickerShowsDiscoveredRoles drives the picker in a real
// pseudo-terminal with the profiles and the roles discovered from the
// fake portal: typing filters both, and picking a role gives the
// sso-session source load sends to the agent.
func TestPickerShowsDiscoveredRoles(t *testing.T) {
	rolesEnv(t, "valid-token")
	var notes bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &notes}
	choices := append(profileChoices(agent.ProfileNames()), c.roleChoices()...)
	if len(choices) != 1+6 {
		t.Fatalf("choices = %d (%v), want the profile and 6 roles; notes: %s", len(choices), choices, notes.String())
	}
	if !strings.Contains(notes.String(), "finding the accounts and roles of sso-session corp...") {
		t.Errorf("notes = %q, want the discovery announced", notes.String())
	}
	// From the cache the second time: nothing to announce.
	notes.Reset()
	if again := c.roleChoices(); len(again) != 6 || notes.Len() != 0 {
		t.Errorf("warm roleChoices = %d choices, notes %q; want 6 and silence", len(again), notes.String())
	}
	for _, tt := range []struct {
		name    string
		keys    []string
		screen  string // shown after typing
		want    agent.SourceSpec
		wantErr error
	}{
		{"role by account and role", []string{"prod read"}, "(1 of 7)", agent.SourceSpec{SSOSession: "corp", AccountID: "111122223333", RoleName: "ReadOnly"}, nil},
		{"role by account id", []string{"4444"}, "(3 of 7)", agent.SourceSpec{SSOSession: "corp", AccountID: "444455556666", RoleName: "Admin"}, nil},
		{"arrow among roles", []string{"admin", "\x1b[B"}, "(3 of 7)", agent.SourceSpec{SSOSession: "corp", AccountID: "111122223333", RoleName: "Admin"}, nil},
		{"profile beside roles", []string{"base"}, "(1 of 7)", agent.SourceSpec{Profile: "base"}, nil},
		{"esc", []string{"\x1b"}, "", agent.SourceSpec{}, errPickCancelled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ptmx, tty, err := pty.Open()
			if err != nil {
				t.Skipf("no pseudo-terminal here: %v", err)
			}
			defer ptmx.Close()
			defer tty.Close()
			var screen e2e.LockedBuffer
			go io.Copy(&screen, ptmx)
			done := make(chan pickResult, 1)
			go func() {
				got, err := pickInTerminal(tty, tty, choices)
				done <- pickResult{got, err}
			}()
			waitScreen(t, &screen, "sandbox (777788889999) / Admin")
			for _, k := range tt.keys {
				ptmx.WriteString(k)
				time.Sleep(20 * time.Millisecond)
			}
			if tt.screen != "" {
				waitScreen(t, &screen, tt.screen)
				ptmx.WriteString("\r")
			}
			select {
			case r := <-done:
				if !errors.Is(r.err, tt.wantErr) || r.got.spec != tt.want {
					t.Errorf("got %+v, %v; want %+v, %v", r.got.spec, r.err, tt.want, tt.wantErr)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("picker did not return; screen:\n%s", screen.String())
			}
		})
	}
}

type pickResult struct {
	got pickChoice
	err error
}

func TestPickerNotesSessionsItCannotList(t *testing.T) {
	rolesEnv(t, "")
	var notes bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &notes}
	if got := c.roleChoices(); len(got) != 0 {
		t.Errorf("roleChoices without a login = %v, want none", got)
	}
	if !strings.Contains(notes.String(), "note: no roles of sso-session corp: sso: sso-session corp: login required") || !strings.Contains(notes.String(), "hint: run: aws-sso-agent login --sso-session corp") {
		t.Errorf("notes = %q, want the session named with a hint", notes.String())
	}
}

// TestPickerOffersLegacyRolesThroughProfiles: a legacy profile's start
// URL (a vanity one here) is discovered with the token the AWS CLI keys
// by that URL; the picker offers the roles its profiles name, each
// loading its profile, and leaves out roles no profile names (only a
// profile loads a role of a legacy start URL).
func TestPickerOffersLegacyRolesThroughProfiles(t *testing.T) {
	_, home := rolesEnv(t, "")
	const url = "https://login.example.com/start#/"
	cfg := filepath.Join(home, "config")
	text := "[profile legacy-dev]\nsso_start_url = " + url + "\nsso_region = eu-west-1\nsso_account_id = 444455556666\nsso_role_name = Developer\n\n" +
		"[profile legacy-prod]\nsso_start_url = " + url + "\nsso_region = eu-west-1\nsso_account_id = 111122223333\nsso_role_name = ReadOnly\n"
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	dir, err := sso.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := sso.WriteCache(sso.CachePath(dir, url), sso.Token{StartURL: url, Region: "eu-west-1", AccessToken: "valid-token", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var notes bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &notes}
	var got []string
	for _, ch := range c.roleChoices() {
		got = append(got, ch.label+" -> "+ch.spec.String())
	}
	want := []string{
		"dev (444455556666) / Developer  [profile legacy-dev] -> " + (agent.SourceSpec{Profile: "legacy-dev"}).String(),
		"prod (111122223333) / ReadOnly  [profile legacy-prod] -> " + (agent.SourceSpec{Profile: "legacy-prod"}).String(),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("choices:\n%s\nwant:\n%s\nnotes: %s", strings.Join(got, "\n"), strings.Join(want, "\n"), notes.String())
	}
	if !strings.Contains(notes.String(), "finding the accounts and roles of profile legacy-dev...") {
		t.Errorf("notes = %q, want the discovery of the legacy start URL announced", notes.String())
	}
}
