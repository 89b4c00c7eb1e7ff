package ssofake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
)

// botocoreScript drives botocore's own portal client: its paginators,
// its parsing of each answer and of each error.
const botocoreScript = `import json, os, sys
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError
s = botocore.session.get_session()
c = s.create_client("sso", region_name="eu-west-1", endpoint_url=os.environ["PORTAL"],
                    config=Config(retries={"max_attempts": 1, "mode": "standard"}))
out = {"accounts": [], "roles": {}, "errors": {}}
for page in c.get_paginator("list_accounts").paginate(accessToken="tok", PaginationConfig={"PageSize": 2}):
    out["accounts"] += [[a["accountId"], a["accountName"], a["emailAddress"]] for a in page["accountList"]]
for a in out["accounts"]:
    roles = []
    for page in c.get_paginator("list_account_roles").paginate(accessToken="tok", accountId=a[0], PaginationConfig={"PageSize": 1}):
        roles += [r["roleName"] for r in page["roleList"]]
    out["roles"][a[0]] = roles
rc = c.get_role_credentials(accessToken="tok", accountId=out["accounts"][0][0], roleName="Admin")["roleCredentials"]
out["keyId"], out["expiration"] = rc["accessKeyId"], rc["expiration"]
def err(name, f):
    try:
        f()
        out["errors"][name] = "no error"
    except ClientError as e:
        out["errors"][name] = [e.response["Error"]["Code"], e.response["Error"]["Message"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
err("unauthorized", lambda: c.list_accounts(accessToken="bad"))
err("throttled", lambda: c.list_accounts(accessToken="throttle-me"))
err("notfound", lambda: c.list_account_roles(accessToken="tok", accountId="999999999999"))
err("forbidden", lambda: c.get_role_credentials(accessToken="tok", accountId=out["accounts"][0][0], roleName="Nope"))
c.logout(accessToken="logout-me")
err("loggedout", lambda: c.list_accounts(accessToken="logout-me"))
json.dump(out, sys.stdout)
`

func TestPortalWithBotocore(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		e2e.PeerMissing(t, "python3 not found in PATH")
	}
	if err := exec.Command(python, "-c", "import botocore").Run(); err != nil {
		e2e.PeerMissing(t, "%s cannot import botocore: %v", python, err)
	}
	p := NewPortal(PortalConfig{
		Accounts: testAccounts(3, "Admin", "ReadOnly"),
		Authorize: func(tok string) bool {
			return tok == "tok" || tok == "logout-me" || tok == "throttle-me"
		},
	})
	srv := httptest.NewServer(throttleToken(p, "throttle-me"))
	defer srv.Close()
	cmd := exec.Command(python, "-c", botocoreScript)
	cmd.Env = e2e.CleanEnv(t, "PORTAL="+srv.URL)
	cmd.Dir = t.TempDir()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("botocore: %v\n%s", err, stderrOf(err))
	}
	var got struct {
		Accounts   [][]string
		Roles      map[string][]string
		KeyID      string
		Expiration int64
		Errors     map[string][]any
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("botocore output %q: %v", out, err)
	}
	if len(got.Accounts) != 3 || got.Accounts[2][0] != testAccounts(3)[2].ID || got.Accounts[2][1] != "acct-002" || got.Accounts[2][2] != "acct-002@example.com" {
		t.Errorf("accounts = %v, want the 3 test accounts", got.Accounts)
	}
	for _, a := range got.Accounts {
		if strings.Join(got.Roles[a[0]], ",") != "Admin,ReadOnly" {
			t.Errorf("roles of %s = %v, want [Admin ReadOnly]", a[0], got.Roles[a[0]])
		}
	}
	// 3 accounts in pages of 2, then 2 roles in pages of 1 for each.
	if n := p.Calls(OpListAccounts); n < 2 {
		t.Errorf("ListAccounts calls = %d, want paging (at least 2)", n)
	}
	if n := p.Calls(OpListAccountRoles); n < 6+1 {
		t.Errorf("ListAccountRoles calls = %d, want paging (6 pages and the error call)", n)
	}
	if acct, role, ok := p.RoleOf(got.KeyID); !ok || acct != testAccounts(1)[0].ID || role != "Admin" {
		t.Errorf("botocore's key %q: RoleOf = %s %s %v", got.KeyID, acct, role, ok)
	}
	if got.Expiration < 1e12 {
		t.Errorf("expiration = %d, want epoch milliseconds", got.Expiration)
	}
	want := map[string][]any{
		"unauthorized": {"UnauthorizedException", "Session token not found or invalid", 401.0},
		"throttled":    {"TooManyRequestsException", "HTTP 429 Too Many Requests", 429.0},
		"notfound":     {"ResourceNotFoundException", "The specified account was not found", 404.0},
		"forbidden":    {"ForbiddenException", "No access", 403.0},
		"loggedout":    {"UnauthorizedException", "Session token not found or invalid", 401.0},
	}
	for name, w := range want {
		if g := got.Errors[name]; len(g) != 3 || g[0] != w[0] || g[1] != w[1] || g[2] != w[2] {
			t.Errorf("botocore %s error = %v, want %v", name, g, w)
		}
	}
}

func TestPortalWithAWSCLIv2(t *testing.T) {
	const aws = "/usr/bin/aws"
	if v, err := exec.Command(aws, "--version").Output(); err != nil || !strings.HasPrefix(string(v), "aws-cli/2.") {
		e2e.PeerMissing(t, "%s is not AWS CLI v2 (apt-get install awscli): %q %v", aws, v, err)
	}
	p := NewPortal(PortalConfig{Accounts: testAccounts(5, "Admin", "ReadOnly", "Dev"), PageSize: 2,
		Authorize: func(tok string) bool { return tok == "tok" }})
	srv := httptest.NewServer(p)
	defer srv.Close()
	env := e2e.CleanEnv(t, "AWS_ENDPOINT_URL_SSO="+srv.URL)
	run := func(args ...string) ([]byte, error) {
		cmd := exec.Command(aws, append(args, "--region", "eu-west-1", "--endpoint-url", srv.URL, "--output", "json")...)
		cmd.Env, cmd.Dir = env, t.TempDir()
		return cmd.Output()
	}
	// The CLI follows nextToken itself; pages of 2 make 3 calls for 5.
	out, err := run("sso", "list-accounts", "--access-token", "tok")
	if err != nil {
		t.Fatalf("aws sso list-accounts: %v\n%s", err, stderrOf(err))
	}
	var accts struct {
		AccountList []struct{ AccountID, AccountName string }
	}
	if err := json.Unmarshal(out, &accts); err != nil || len(accts.AccountList) != 5 {
		t.Fatalf("list-accounts = %s (%v), want 5 accounts", out, err)
	}
	if n := p.Calls(OpListAccounts); n != 3 {
		t.Errorf("ListAccounts calls = %d, want 3 pages", n)
	}
	id := testAccounts(5)[4].ID
	out, err = run("sso", "list-account-roles", "--access-token", "tok", "--account-id", id)
	if err != nil {
		t.Fatalf("aws sso list-account-roles: %v\n%s", err, stderrOf(err))
	}
	var roles struct{ RoleList []struct{ RoleName string } }
	if err := json.Unmarshal(out, &roles); err != nil || len(roles.RoleList) != 3 || roles.RoleList[2].RoleName != "Dev" {
		t.Fatalf("list-account-roles = %s (%v), want Admin ReadOnly Dev", out, err)
	}
	out, err = run("sso", "get-role-credentials", "--access-token", "tok", "--account-id", id, "--role-name", "Dev")
	if err != nil {
		t.Fatalf("aws sso get-role-credentials: %v\n%s", err, stderrOf(err))
	}
	var rc struct{ RoleCredentials struct{ AccessKeyID string } }
	json.Unmarshal(out, &rc)
	if acct, role, ok := p.RoleOf(rc.RoleCredentials.AccessKeyID); !ok || acct != id || role != "Dev" {
		t.Errorf("get-role-credentials %s: RoleOf = %s %s %v", out, acct, role, ok)
	}
	_, err = run("sso", "list-accounts", "--access-token", "expired")
	if !strings.Contains(stderrOf(err), "(UnauthorizedException) when calling the ListAccounts operation: Session token not found or invalid") {
		t.Errorf("bad token: err %v, stderr %q, want the UnauthorizedException message", err, stderrOf(err))
	}
}

// throttleToken answers every call with token as throttled, so a client
// script can ask for a 429 without a side channel.
func throttleToken(p *Portal, token string) *tokenThrottle {
	return &tokenThrottle{p, token}
}

type tokenThrottle struct {
	*Portal
	token string
}

func (t *tokenThrottle) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("x-amz-sso_bearer_token") == t.token {
		t.Portal.Throttle("", 1)
	}
	t.Portal.ServeHTTP(w, r)
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
