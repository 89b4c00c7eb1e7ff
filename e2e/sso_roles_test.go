package e2e

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/internal/ssofake"
	"github.com/aws-sso-agent/aws-sso-agent/sso"
)

var ssoAccounts = []ssofake.Account{
	{ID: "111122223333", Name: "prod", Email: "prod@example.com", Roles: []string{"Admin", "ReadOnly"}},
	{ID: "444455556666", Name: "dev", Email: "dev@example.com", Roles: []string{"Admin", "Developer", "ReadOnly"}},
	{ID: "777788889999", Name: "sandbox", Email: "sandbox@example.com", Roles: []string{"Admin"}},
}

// ssoRolesHome is newSSOHome with the accounts above, a fake portal whose
// role credentials are moto's, and a real login: `aws-sso-agent login`
// through the fake's OIDC service, the browser played by curl.
//
// GetRoleCredentials of role R in account A answers with moto's
// AssumeRole of R (in moto's account) with session name A, so a client's
// caller identity shows which account and role the agent loaded.
func ssoRolesHome(t *testing.T, moto *e2e.Moto) *ssoHome {
	t.Helper()
	h := newSSOHome(t, ssofake.Config{Portal: ssofake.PortalConfig{
		Accounts: ssoAccounts,
		Credentials: func(ctx context.Context, accountID, roleName string) (ssofake.RoleCredentials, error) {
			return motoAssumeRole(ctx, moto, roleName, accountID)
		},
	}})
	browser, _ := browserScript(t)
	h.login(t, browser, "--sso-session", "corp")
	return h
}

// motoAssumeRole is Moto.AssumeRole for a handler goroutine: it returns
// its error instead of failing the test.
func motoAssumeRole(ctx context.Context, moto *e2e.Moto, role, session string) (ssofake.RoleCredentials, error) {
	client := sts.New(sts.Options{
		Region:       e2e.Region,
		BaseEndpoint: aws.String(moto.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(e2e.StaticAccessKeyID, e2e.StaticSecretAccessKey, ""),
	})
	out, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         aws.String(e2e.RoleARN(role)),
		RoleSessionName: aws.String(session),
		DurationSeconds: aws.Int32(3600), // moto's default 900 s is inside every SDK's refresh window
	})
	if err != nil {
		return ssofake.RoleCredentials{}, err
	}
	c := out.Credentials
	return ssofake.RoleCredentials{
		AccessKeyID:     aws.ToString(c.AccessKeyId),
		SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken:    aws.ToString(c.SessionToken),
		Expiration:      aws.ToTime(c.Expiration),
	}, nil
}

// rolesAgent starts the agent in h's home, with h's environment.
func rolesAgent(t *testing.T, h *ssoHome) *agentUnderTest {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(h.home, "agent"), 0o700); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, agentOptions{home: filepath.Join(h.home, "agent"), extra: h.vars})
	return a
}

// TestSSORolesDiscoverAndLoad: `roles` lists every role the fake portal
// assigns; `load --sso-session --account --role` loads any of them, and
// AWS CLI v1 and boto3, through the agent, get that role's credentials.
func TestSSORolesDiscoverAndLoad(t *testing.T) {
	t.Parallel()
	moto := e2e.StartMoto(t)
	h := ssoRolesHome(t, moto)
	a := rolesAgent(t, h)

	var listings []sso.Listing
	if err := json.Unmarshal([]byte(a.mustCLI(nil, "roles", "--json")), &listings); err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, l := range listings {
		for _, r := range l.Roles {
			found = append(found, r.AccountID+"/"+r.RoleName)
		}
	}
	var want []string
	for _, acct := range ssoAccounts {
		for _, r := range acct.Roles {
			want = append(want, acct.ID+"/"+r)
		}
	}
	sort.Strings(found)
	sort.Strings(want)
	if strings.Join(found, " ") != strings.Join(want, " ") {
		t.Fatalf("roles found %v, want %v", found, want)
	}

	// Every discovered role loads; each client gets that role.
	for _, acct := range ssoAccounts {
		for _, role := range acct.Roles {
			t.Run(acct.Name+"/"+role, func(t *testing.T) {
				out := a.mustCLI(nil, "load", "--sso-session", "corp", "--account", acct.ID, "--role", role)
				if !strings.Contains(out, "sso-session corp") {
					t.Errorf("load printed %q", out)
				}
				vars := exports(t, a.mustCLI(nil, "env"))
				wantARN := e2e.AssumedRoleARN(role, acct.ID)
				for _, c := range []e2e.Client{{Name: "aws-cli", Run: e2e.AWSCLI}, {Name: "boto3", Run: e2e.Boto3}} {
					got, err := c.Run(t, clientEnv(t, moto, vars))
					if err != nil {
						t.Fatalf("%s: %v", c.Name, err)
					}
					if got != wantARN {
						t.Errorf("%s: caller %q, want %q", c.Name, got, wantARN)
					}
				}
			})
		}
	}
	if n := h.fake.Portal.Calls(ssofake.OpGetRoleCredentials); n < 6 {
		t.Errorf("GetRoleCredentials calls = %d, want one per role loaded (6)", n)
	}

	// A role the portal does not assign is refused with its answer.
	_, errOut, code := a.cli(nil, "load", "--sso-session", "corp", "--account", "777788889999", "--role", "ReadOnly")
	if code == 0 || !strings.Contains(errOut, "ForbiddenException") {
		t.Errorf("load of an unassigned role: exit %d, stderr %q; want the portal's ForbiddenException", code, errOut)
	}
}

// TestSSORolesPickerLoadsDiscoveredRole runs `load` with no flags in a
// real pseudo-terminal: the picker shows the discovered roles as
// "account name (id) / role", typing filters them, Enter loads the one
// picked, and AWS CLI v1 gets its credentials.
func TestSSORolesPickerLoadsDiscoveredRole(t *testing.T) {
	t.Parallel()
	moto := e2e.StartMoto(t)
	h := ssoRolesHome(t, moto)
	a := rolesAgent(t, h)

	cmd := exec.Command(agentBin, "load")
	cmd.Env = e2e.MergeEnv(a.env, "TERM=xterm")
	ptmx := startPTY(t, cmd)
	shown := ptmx.shown
	e2e.WaitFor(t, shown("dev (444455556666) / Developer"), 20*time.Second)
	// The profile dev of the config, beside the 6 roles.
	e2e.WaitFor(t, shown("(7 of 7)"), 10*time.Second)
	ptmx.WriteString("dev read")
	e2e.WaitFor(t, shown("(1 of 7)"), 10*time.Second)
	ptmx.WriteString("\r")
	ptmx.waitLoad(t, cmd, 30*time.Second)
	// The last output may still be on its way through the terminal.
	e2e.WaitFor(t, shown("loaded sso-session corp (account 444455556666 role ReadOnly)"), 10*time.Second)
	got, err := e2e.AWSCLI(t, clientEnv(t, moto, exports(t, a.mustCLI(nil, "env"))))
	if err != nil {
		t.Fatal(err)
	}
	if want := e2e.AssumedRoleARN("ReadOnly", "444455556666"); got != want {
		t.Errorf("aws-cli: caller %q, want %q", got, want)
	}
}

// BenchmarkRolesWarm runs `aws-sso-agent roles` on a warm cache, the
// whole process as a user waits for it, against `aws-sso-agent version`
// in the same run: what the listing adds to starting the binary. The
// goal is under 50 ms ("ms/roles").
func BenchmarkRolesWarm(b *testing.B) {
	const token = "bench-access-token"
	fake := ssofake.Start(ssofake.Config{Portal: ssofake.PortalConfig{
		Accounts:  ssoAccounts,
		Latency:   20 * time.Millisecond,
		Authorize: func(tok string) bool { return tok == token },
	}})
	b.Cleanup(fake.Close)
	home := b.TempDir()
	config := filepath.Join(home, "config")
	if err := os.WriteFile(config, []byte("[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	// Logged in as AWS CLI v2 leaves a session.
	if err := sso.WriteCache(sso.CachePath(filepath.Join(home, ".aws", "sso", "cache"), "corp"), sso.Token{
		StartURL: "https://corp.awsapps.com/start", Region: "eu-west-1", AccessToken: token, ExpiresAt: time.Now().Add(8 * time.Hour),
	}); err != nil {
		b.Fatal(err)
	}
	env := e2e.CleanEnv(b, "HOME="+home, "AWS_SSO_AGENT_HOME="+filepath.Join(home, "agent"),
		"AWS_CONFIG_FILE="+config, "AWS_ENDPOINT_URL_SSO="+fake.URL)
	if _, errOut, code := runCLI(b, env, "roles"); code != 0 {
		b.Fatalf("cold roles: %s", errOut)
	}
	calls := fake.Portal.Calls("")
	median := func(args ...string) time.Duration {
		var d []time.Duration
		for range 7 {
			start := time.Now()
			if _, errOut, code := runCLI(b, env, args...); code != 0 {
				b.Fatalf("%v: %s", args, errOut)
			}
			d = append(d, time.Since(start))
		}
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	base := median("version")
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		out, errOut, code := runCLI(b, env, "roles")
		if code != 0 || !strings.Contains(out, "6 roles") {
			b.Fatalf("roles: exit %d\n%s%s", code, out, errOut)
		}
	}
	per := time.Since(start) / time.Duration(b.N)
	if n := fake.Portal.Calls(""); n != calls {
		b.Fatalf("warm roles called the portal %d times", n-calls)
	}
	b.ReportMetric(float64(per.Microseconds())/1000, "ms/roles")
	b.ReportMetric(float64(base.Microseconds())/1000, "ms/version")
	b.ReportMetric(float64(per)/float64(base), "x-version")
}

// legacyStartURL is a vanity start URL (an organization's own alias,
// not the awsapps.com default), written as the console shows it, with
// its fragment: the AWS CLI's token cache key is its SHA-1 as written.
const legacyStartURL = "https://login.example.com/start#/"

// TestSSORolesLegacyProfile: a legacy profile that carries sso_start_url
// and sso_region itself (no [sso-session]), with a vanity start URL.
// `login --profile` writes the token where the AWS CLI looks for it (the
// SHA-1 of the start URL), `roles` lists every role of that start URL and
// says which one loads through the profile, and the agent and botocore
// get that role's credentials.
func TestSSORolesLegacyProfile(t *testing.T) {
	t.Parallel()
	moto := e2e.StartMoto(t)
	h := newSSOHome(t, ssofake.Config{Portal: ssofake.PortalConfig{
		Accounts: ssoAccounts,
		Credentials: func(ctx context.Context, accountID, roleName string) (ssofake.RoleCredentials, error) {
			return motoAssumeRole(ctx, moto, roleName, accountID)
		},
	}})
	// Only the legacy profile: no sso-session is discovered instead.
	legacy := "[profile legacy]\nsso_start_url = " + legacyStartURL + "\nsso_region = us-east-1\nsso_account_id = 444455556666\nsso_role_name = Developer\nregion = us-east-1\n"
	if err := os.WriteFile(h.config, []byte(legacy), 0o600); err != nil {
		t.Fatal(err)
	}
	browser, _ := browserScript(t)
	h.login(t, browser, "--profile", "legacy")
	sum := sha1.Sum([]byte(legacyStartURL))
	cacheFile := filepath.Join(h.home, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json")
	tok, err := sso.ReadCache(cacheFile)
	if err != nil {
		t.Fatalf("the AWS CLI's cache file for the start URL: %v", err)
	}
	if tok.StartURL != legacyStartURL {
		t.Errorf("cached startUrl %q, want %q", tok.StartURL, legacyStartURL)
	}

	a := rolesAgent(t, h)
	var listings []sso.Listing
	if err := json.Unmarshal([]byte(a.mustCLI(nil, "roles", "--json")), &listings); err != nil {
		t.Fatal(err)
	}
	if len(listings) != 1 || listings[0].StartURL != legacyStartURL || len(listings[0].Roles) != 6 {
		t.Fatalf("roles --json: %+v, want the 6 roles of %s", listings, legacyStartURL)
	}
	out := a.mustCLI(nil, "roles")
	for _, want := range []string{
		"start URL " + legacyStartURL + " (profile legacy): 6 roles",
		"dev (444455556666) / Developer  [profile legacy]",
		"sandbox (777788889999) / Admin\n",
		"load one with: aws-sso-agent load --profile legacy",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("roles output lacks %q:\n%s", want, out)
		}
	}

	a.mustCLI(nil, "load", "--profile", "legacy")
	wantARN := e2e.AssumedRoleARN("Developer", "444455556666")
	got, err := e2e.AWSCLI(t, clientEnv(t, moto, exports(t, a.mustCLI(nil, "env"))))
	if err != nil || got != wantARN {
		t.Errorf("aws-cli through the agent: %q %v, want %q", got, err, wantARN)
	}
	// botocore finds the agent's login by the start URL, with no agent.
	got, err = e2e.Boto3(t, e2e.MergeEnv(h.env, append(moto.STSEnv(), "AWS_PROFILE=legacy")...))
	if err != nil || got != wantARN {
		t.Errorf("boto3 from the cache: %q %v, want %q", got, err, wantARN)
	}
}
