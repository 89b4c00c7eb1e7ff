package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/internal/ssofake"
	"github.com/aws-sso-agent/aws-sso-agent/sso"
)

// ssoHome is a user's home with an AWS config naming an sso-session and
// a profile of it, and a fake IAM Identity Center the SDKs reach through
// the endpoint variables they all read.
type ssoHome struct {
	home   string
	config string
	fake   *ssofake.Server
	// env is what every process of the test runs with: the home, the
	// config, the fake's endpoints; vars is what it adds to CleanEnv.
	env  []string
	vars []string
}

const (
	ssoAccount = e2e.Account
	ssoRole    = "Admin"
)

func newSSOHome(t *testing.T, cfg ssofake.Config, extra ...string) *ssoHome {
	t.Helper()
	if len(cfg.Portal.Accounts) == 0 {
		cfg.Portal.Accounts = []ssofake.Account{{ID: ssoAccount, Name: "prod", Email: "prod@example.com", Roles: []string{ssoRole, "ReadOnly"}}}
	}
	fake := ssofake.Start(cfg)
	t.Cleanup(fake.Close)
	home := t.TempDir()
	h := &ssoHome{home: home, config: filepath.Join(home, ".aws", "config"), fake: fake}
	os.MkdirAll(filepath.Dir(h.config), 0o700)
	text := fmt.Sprintf(`[profile dev]
sso_session = corp
sso_account_id = %s
sso_role_name = %s
region = us-east-1

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access
`, ssoAccount, ssoRole)
	if err := os.WriteFile(h.config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	h.vars = append([]string{
		"HOME=" + home,
		"AWS_SSO_AGENT_HOME=" + filepath.Join(home, "agent"),
		"AWS_ENDPOINT_URL_SSO_OIDC=" + fake.URL,
		"AWS_ENDPOINT_URL_SSO=" + fake.URL,
	}, extra...)
	h.env = e2e.MergeEnv(e2e.CleanEnv(t), h.vars...)
	return h
}

// browserScript is a test browser for $BROWSER: it records each URL it is
// given and loads it with curl, following the redirect to the agent's
// loopback listener as a browser does.
func browserScript(t *testing.T) (path, log string) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		e2e.PeerMissing(t, "curl not found in PATH")
	}
	dir := t.TempDir()
	path = filepath.Join(dir, "browser")
	log = path + ".log"
	script := "#!/bin/sh\necho \"$1\" >> \"$0.log\"\nexec curl -fsSL -o /dev/null \"$1\"\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, log
}

func (h *ssoHome) login(t *testing.T, browser string, args ...string) string {
	t.Helper()
	out, errOut, code := runCLI(t, e2e.MergeEnv(h.env, "BROWSER="+browser), append([]string{"login"}, args...)...)
	if code != 0 {
		t.Fatalf("login: exit %d\n%s%s", code, out, errOut)
	}
	return out + errOut
}

func (h *ssoHome) cachePath() string {
	return sso.CachePath(filepath.Join(h.home, ".aws", "sso", "cache"), "corp")
}

// TestSSOLoginPKCE: `aws-sso-agent login` opens $BROWSER on the authorize
// URL, the browser follows the redirect to the loopback listener, and the
// token lands in the AWS CLI v2's cache, 0600, with a refresh token.
func TestSSOLoginPKCE(t *testing.T) {
	t.Parallel()
	browsers := map[string]func(t *testing.T) string{
		"curl": func(t *testing.T) string { p, _ := browserScript(t); return p },
		"headless chromium": func(t *testing.T) string {
			path, err := exec.LookPath("chromium")
			if err != nil {
				e2e.PeerMissing(t, "chromium not found in PATH (apt-get install chromium)")
			}
			// A wrapper, so the test can wait for chromium to end and
			// read the page it rendered: the agent's, after the
			// redirect. --no-sandbox: chromium refuses root without it.
			dir := t.TempDir()
			script := filepath.Join(dir, "chromium")
			text := "#!/bin/sh\n" + path + ` --headless --no-sandbox --disable-gpu --user-data-dir="$0.profile" --dump-dom "$1" >"$0.dom" 2>"$0.err"` + "\necho done >\"$0.done\"\n"
			if err := os.WriteFile(script, []byte(text), 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				e2e.WaitFor(t, func() bool { _, err := os.Stat(script + ".done"); return err == nil }, time.Minute)
				if dom, _ := os.ReadFile(script + ".dom"); !strings.Contains(string(dom), "You are logged in") {
					t.Errorf("chromium rendered:\n%s", dom)
				}
			})
			return script
		},
	}
	for name, browser := range browsers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newSSOHome(t, ssofake.Config{})
			out := h.login(t, browser(t), "--sso-session", "corp")
			if !strings.Contains(out, "logged in to sso-session corp") {
				t.Errorf("login said:\n%s", out)
			}
			tok, err := sso.ReadCache(h.cachePath())
			if err != nil {
				t.Fatal(err)
			}
			if !h.fake.OIDC.Valid(tok.AccessToken) || tok.RefreshToken == "" {
				t.Errorf("cached token: valid %v, refresh token %v", h.fake.OIDC.Valid(tok.AccessToken), tok.RefreshToken != "")
			}
			if got := h.fake.OIDC.Calls(ssofake.OpAuthorize); got != 1 {
				t.Errorf("%d authorize requests, want 1", got)
			}
			if strings.Contains(out, tok.AccessToken) || strings.Contains(out, tok.RefreshToken) {
				t.Error("login printed a token")
			}
		})
	}
}

// TestSSOLoginDeviceCode: --device-code prints the verification URL and
// the code on lines of their own, and polls until the code is approved.
func TestSSOLoginDeviceCode(t *testing.T) {
	t.Parallel()
	h := newSSOHome(t, ssofake.Config{})
	p := e2e.StartProcess(t, h.env, agentBin, "login", "--profile", "dev", "--device-code", "--no-browser")
	p.WaitForOutput(t, "and enter this code:", 30*time.Second)
	var code string
	e2e.WaitFor(t, func() bool {
		lines := strings.Fields(p.Stderr()[strings.Index(p.Stderr(), "and enter this code:")+len("and enter this code:"):])
		if len(lines) > 0 {
			code = lines[0]
		}
		return code != ""
	}, 10*time.Second)
	if !strings.Contains(p.Stderr(), "\n  "+h.fake.URL+"/device\n") {
		t.Errorf("no verification URL on a line of its own in:\n%s", p.Stderr())
	}
	if !h.fake.OIDC.ApproveDevice(code) {
		t.Fatalf("the fake knows no user code %q", code)
	}
	select {
	case <-p.Done():
	case <-time.After(60 * time.Second):
		t.Fatal("login did not end after approval")
	}
	if p.ExitCode() != 0 {
		t.Fatalf("login: exit %d\n%s", p.ExitCode(), p.Output())
	}
	if _, err := sso.ReadCache(h.cachePath()); err != nil {
		t.Fatal(err)
	}
}

// TestSSOCacheSharedWithSDKs: after `aws-sso-agent login`, every SDK
// reads the agent's cache file and gets the role's credentials from the
// portal with no login of its own: aws-sdk-go-v2 (ssocreds), botocore
// 1.43 (boto3), AWS CLI v1, and Debian's AWS CLI v2 2.9.19.
func TestSSOCacheSharedWithSDKs(t *testing.T) {
	t.Parallel()
	moto := e2e.StartMoto(t)
	creds := moto.AssumeRole(t, ssoRole, "sso-user", time.Hour)
	var mu sync.Mutex
	issued := 0
	h := newSSOHome(t, ssofake.Config{Portal: ssofake.PortalConfig{
		Credentials: func(_ context.Context, accountID, roleName string) (ssofake.RoleCredentials, error) {
			mu.Lock()
			issued++
			mu.Unlock()
			return ssofake.RoleCredentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey,
				SessionToken: creds.SessionToken, Expiration: creds.Expires}, nil
		},
	}})
	browser, _ := browserScript(t)
	h.login(t, browser, "--profile", "dev")
	want := e2e.AssumedRoleARN(ssoRole, "sso-user")
	env := e2e.MergeEnv(h.env, append(moto.STSEnv(), "AWS_PROFILE=dev")...)

	clients := append(e2e.Clients()[:3], e2e.Client{Name: "debian-aws-cli-v2", Run: func(t testing.TB, env []string) (string, error) {
		// AWS CLI 2.9 predates the service endpoint variables: its
		// endpoints come from the rule sets in its data path, which
		// AWS_DATA_PATH extends.
		return e2e.DebianAWSCLI(t, e2e.MergeEnv(env, "AWS_DATA_PATH="+ruleSetOverride(t, h.fake.URL)))
	}})
	for _, c := range clients {
		t.Run(c.Name, func(t *testing.T) {
			mu.Lock()
			before := issued
			mu.Unlock()
			arn, err := c.Run(t, env)
			if err != nil {
				t.Fatal(err)
			}
			if arn != want {
				t.Errorf("caller %s, want %s", arn, want)
			}
			mu.Lock()
			defer mu.Unlock()
			if issued == before {
				t.Errorf("the portal issued no credentials: the client did not use the SSO profile")
			}
		})
	}
	if got := h.fake.OIDC.Calls(ssofake.OpAuthorize) + h.fake.OIDC.Calls(ssofake.OpStartDeviceAuthorization); got != 1 {
		t.Errorf("%d logins, want the agent's one: a client logged in by itself", got)
	}
}

// ruleSetOverride writes endpoint rule sets for sso and sso-oidc that
// send every call to url, in a directory for AWS_DATA_PATH.
func ruleSetOverride(t testing.TB, url string) string {
	dir := t.TempDir()
	rules := fmt.Sprintf(`{"version":"1.0","parameters":{"Region":{"builtIn":"AWS::Region","required":false,"documentation":"region","type":"String"}},
"rules":[{"conditions":[],"type":"endpoint","endpoint":{"url":%q,"properties":{},"headers":{}}}]}`, url)
	for _, svc := range []string{"sso", "sso-oidc"} {
		d := filepath.Join(dir, svc, "2019-06-10")
		os.MkdirAll(d, 0o755)
		if err := os.WriteFile(filepath.Join(d, "endpoint-rule-set-1.json"), []byte(rules), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// ssoAgent starts the agent for h and loads profile dev into the default
// slot; it returns the endpoint's URL and token file.
func (h *ssoHome) ssoAgent(t *testing.T, args ...string) (*agentUnderTest, string, string) {
	t.Helper()
	agentHome := filepath.Join(h.home, "agent")
	if err := os.MkdirAll(agentHome, 0o700); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, agentOptions{home: agentHome, extra: h.vars, args: args})
	a.mustCLI(nil, "load", "--profile", "dev")
	vars := exports(t, a.mustCLI(nil, "env"))
	return a, e2e.Getenv(vars, "AWS_CONTAINER_CREDENTIALS_FULL_URI"), e2e.Getenv(vars, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
}

// shortLivedSSOHome is a home logged in through the test browser to a
// fake whose access tokens last 60 s and role credentials 2 minutes, for
// tests that take the given real time.
func shortLivedSSOHome(t *testing.T, takes string) (h *ssoHome, browser, browserLog string) {
	t.Helper()
	if testing.Short() {
		t.Skip("takes " + takes + " of real time (60 s tokens)")
	}
	t.Parallel()
	h = newSSOHome(t, ssofake.Config{
		OIDC:   ssofake.OIDCConfig{AccessTokenLifetime: 60 * time.Second},
		Portal: ssofake.PortalConfig{CredentialLifetime: 2 * time.Minute},
	})
	browser, browserLog = browserScript(t)
	h.login(t, browser, "--sso-session", "corp")
	return h, browser, browserLog
}

// TestSSORefreshAhead: with 60-second access tokens and 2-minute role
// credentials, the agent keeps a slot serving for minutes with no login:
// it refreshes the access token ahead of expiry with rotating refresh
// tokens, and survives botocore rotating the refresh token behind its
// back. (What follows a revoked refresh token, the 503 saying a login is
// needed, is TestSSOLoginNeededRemote's, with shorter lifetimes: here it
// would add the two minutes the slot's credentials take to run out.)
func TestSSORefreshAhead(t *testing.T) {
	h, _, browserLog := shortLivedSSOHome(t, "some two and a half minutes")
	a, url, tokenFile := h.ssoAgent(t)

	keys := map[string]bool{}
	deadline := time.Now().Add(150 * time.Second)
	rotated := false
	for time.Now().Before(deadline) {
		code, body := get(t, url, tokenFile, nil)
		if code != 200 {
			t.Fatalf("endpoint answered %d: %s\nagent log:\n%s", code, body, a.proc.Stderr())
		}
		var c struct{ AccessKeyId string }
		json.Unmarshal([]byte(body), &c)
		keys[c.AccessKeyId] = true
		if !rotated && time.Until(deadline) < 90*time.Second {
			// botocore refreshes a token with under 15 minutes left,
			// so this rotates the refresh token in the shared file.
			botocoreRefresh(t, h)
			rotated = true
		}
		time.Sleep(2 * time.Second)
	}
	refreshes := h.fake.OIDC.Calls(ssofake.OpCreateToken)
	if refreshes < 4 {
		t.Errorf("%d CreateToken calls in 150 s of 60-second tokens: the agent did not refresh ahead", refreshes)
	}
	if len(keys) < 2 {
		t.Errorf("served %d distinct keys of 2-minute credentials in 150 s: the slot did not refresh", len(keys))
	}
	if logs, _ := os.ReadFile(browserLog); strings.Count(string(logs), "\n") != 1 {
		t.Errorf("the browser was opened %d times, want once (the first login)", strings.Count(string(logs), "\n"))
	}
	st := a.status()
	sessions, _ := st["sso_sessions"].([]any)
	if len(sessions) != 1 || sessions[0].(map[string]any)["expires"] == nil {
		t.Errorf("status sso_sessions: %v, want corp with its expiry", st["sso_sessions"])
	}
	if out := a.mustCLI(nil, "status"); !strings.Contains(out, "sso-session corp: token expires") {
		t.Errorf("status does not show the session's expiry:\n%s", out)
	}
}

// botocoreRefresh has botocore load the session's token, which it
// refreshes (and rotates) when under 15 minutes are left.
func botocoreRefresh(t *testing.T, h *ssoHome) {
	t.Helper()
	const script = `import botocore.session
from botocore.tokens import SSOTokenProvider
s = botocore.session.Session(profile="dev")
print(SSOTokenProvider(s).load_token().get_frozen_token().token[:4])
`
	cmd := exec.Command("python3", "-c", script)
	cmd.Env = h.env
	cmd.Dir = h.home
	before, _ := sso.ReadCache(h.cachePath())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("botocore: %v\n%s", err, out)
	}
	after, err := sso.ReadCache(h.cachePath())
	if err != nil {
		t.Fatalf("after botocore's refresh: %v", err)
	}
	if after.RefreshToken == before.RefreshToken {
		t.Errorf("botocore did not rotate the refresh token")
	}
}

// TestSSOAutoLogin: with serve --auto-login, a session that needs a login
// gets exactly one, opened by the agent on $BROWSER, however many
// requests arrive meanwhile, and the slot serves again.
func TestSSOAutoLogin(t *testing.T) {
	h, browser, browserLog := shortLivedSSOHome(t, "a minute or two")
	h.vars = append(h.vars, "BROWSER="+browser)
	a, url, tokenFile := h.ssoAgent(t, "--auto-login")
	h.fake.OIDC.RevokeRefreshTokens()

	// Parallel callers throughout; none may cause a login of its own.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				get(t, url, tokenFile, nil)
				time.Sleep(200 * time.Millisecond)
			}
		}()
	}
	e2e.WaitFor(t, func() bool { return strings.Contains(a.proc.Stderr(), "sso session logged in") }, 3*time.Minute)
	close(stop)
	wg.Wait()
	if code, body := get(t, url, tokenFile, nil); code != 200 {
		t.Errorf("after the automatic login: %d %s", code, body)
	}
	logs, _ := os.ReadFile(browserLog)
	if n := strings.Count(string(logs), "\n"); n != 2 {
		t.Errorf("the browser was opened %d times, want 2: the first login and one automatic login\n%s", n, a.proc.Stderr())
	}
	if n := strings.Count(a.proc.Stderr(), "sso login started"); n != 1 {
		t.Errorf("%d automatic logins started, want 1", n)
	}
}

// servicesSection points h's profile dev at the fake through a
// `[services]` section (sso_oidc and sso endpoint_url) instead of the
// endpoint variables, which it drops from the environment.
func (h *ssoHome) servicesSection(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(h.config)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "[profile dev]\n", "[profile dev]\nservices = fake\n", 1) +
		fmt.Sprintf("\n[services fake]\nsso_oidc =\n  endpoint_url = %s\nsso =\n  endpoint_url = %s\n", h.fake.URL, h.fake.URL)
	if err := os.WriteFile(h.config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, v := range h.vars {
		if !strings.HasPrefix(v, "AWS_ENDPOINT_URL_SSO") {
			vars = append(vars, v)
		}
	}
	h.vars = vars
	h.env = e2e.MergeEnv(e2e.CleanEnv(t), h.vars...)
}

// TestSSOServicesSection: with the endpoints in a [services] section of
// the profile and no endpoint variable, the agent logs in, loads the
// profile through aws-sdk-go-v2 (which reaches the portal named there),
// and serves; and aws-sdk-go-v2, botocore and AWS CLI v1 read the
// agent's cache and reach the same portal by the same section. (Debian's
// AWS CLI 2.9 predates [services] sections.) Unloading the slot makes the
// agent forget the session.
func TestSSOServicesSection(t *testing.T) {
	t.Parallel()
	moto := e2e.StartMoto(t)
	creds := moto.AssumeRole(t, ssoRole, "sso-user", time.Hour)
	h := newSSOHome(t, ssofake.Config{Portal: ssofake.PortalConfig{
		Credentials: func(context.Context, string, string) (ssofake.RoleCredentials, error) {
			return ssofake.RoleCredentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey,
				SessionToken: creds.SessionToken, Expiration: creds.Expires}, nil
		},
	}})
	h.servicesSection(t)
	for _, v := range h.env {
		if strings.HasPrefix(v, "AWS_ENDPOINT_URL") {
			t.Fatalf("the environment still names an endpoint: %s", v)
		}
	}
	browser, _ := browserScript(t)
	h.login(t, browser, "--profile", "dev")
	if n := h.fake.OIDC.Calls(ssofake.OpCreateToken); n != 1 {
		t.Fatalf("%d CreateToken calls at the fake, want the login's one: login did not use the [services] section", n)
	}

	issued := func() int { return h.fake.Portal.Calls(ssofake.OpGetRoleCredentials) }
	before := issued()
	a, url, tokenFile := h.ssoAgent(t)
	if issued() == before {
		t.Fatal("load got no credentials from the fake portal: the agent's SDK did not use the [services] section")
	}
	if code, body := get(t, url, tokenFile, nil); code != 200 {
		t.Fatalf("endpoint: %d %s\nagent log:\n%s", code, body, a.proc.Stderr())
	}

	want := e2e.AssumedRoleARN(ssoRole, "sso-user")
	env := e2e.MergeEnv(h.env, append(moto.STSEnv(), "AWS_PROFILE=dev")...)
	for _, c := range e2e.Clients()[:3] {
		t.Run(c.Name, func(t *testing.T) {
			before := issued()
			arn, err := c.Run(t, env)
			if err != nil {
				t.Fatal(err)
			}
			if arn != want {
				t.Errorf("caller %s, want %s", arn, want)
			}
			if issued() == before {
				t.Errorf("the fake portal issued no credentials: the client did not use the [services] section")
			}
		})
	}

	// The session is kept while its slot is loaded, and forgotten with it.
	ssoSessions := func() []any { s, _ := a.status()["sso_sessions"].([]any); return s }
	if s := ssoSessions(); len(s) != 1 {
		t.Errorf("status sso_sessions with the slot loaded: %v, want corp", s)
	}
	a.mustCLI(nil, "unload")
	if s := ssoSessions(); len(s) != 0 {
		t.Errorf("status sso_sessions after the last slot was unloaded: %v, want none", s)
	}
}
