package sso

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sso"
	"github.com/aws/aws-sdk-go-v2/service/sso/types"

	"github.com/aws-sso-agent/aws-sso-agent/internal/ssofake"
)

func fakeAccounts(n int, roles ...string) []ssofake.Account {
	accts := make([]ssofake.Account, n)
	for i := range accts {
		accts[i] = ssofake.Account{
			ID:    fmt.Sprintf("%012d", 200000000000+i),
			Name:  fmt.Sprintf("team-%03d", i),
			Email: fmt.Sprintf("team-%03d@example.com", i),
			Roles: roles,
		}
	}
	return accts
}

// portalClient is the SDK's portal client on the fake, as
// Client.Discoverer configures it, found through AWS_ENDPOINT_URL_SSO as
// a user's would be.
func portalClient(t testing.TB, p *ssofake.Portal) PortalAPI {
	t.Helper()
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return testClient(t, srv.URL).Discoverer().Portal
}

func testClient(t testing.TB, portalURL string) *Client {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, "config"))
	t.Setenv("AWS_ENDPOINT_URL_SSO", portalURL)
	c, err := NewClient(context.Background(), ClientConfig{
		Session:  Session{Name: "corp", StartURL: "https://corp.awsapps.com/start", Region: "eu-west-1", Scopes: []string{DefaultScope}},
		CacheDir: filepath.Join(home, ".aws", "sso", "cache"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// noSleep records the backoff waits instead of waiting them.
type noSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (n *noSleep) sleep(ctx context.Context, d time.Duration) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.waits = append(n.waits, d)
	return ctx.Err()
}

func TestDiscoverPagesAndBoundsConcurrency(t *testing.T) {
	p := ssofake.NewPortal(ssofake.PortalConfig{
		Accounts: fakeAccounts(45, "ReadOnly", "Admin", "Dev"),
		PageSize: 7, // honoured only when the client gives no max_result
		Latency:  2 * time.Millisecond,
	})
	d := &Discoverer{Portal: portalClient(t, p), Concurrency: 4}
	roles, err := d.Discover(context.Background(), "tok")
	if err != nil {
		t.Fatal(err)
	}
	if len(roles) != 45*3 {
		t.Fatalf("got %d roles, want %d", len(roles), 45*3)
	}
	if got, want := roles[0], (Role{AccountID: "200000000000", AccountName: "team-000", Email: "team-000@example.com", RoleName: "Admin"}); got != want {
		t.Errorf("first role = %+v, want %+v", got, want)
	}
	if got := roles[len(roles)-1]; got.AccountName != "team-044" || got.RoleName != "ReadOnly" {
		t.Errorf("last role = %+v, want team-044 ReadOnly", got)
	}
	if n := p.Calls(ssofake.OpListAccountRoles); n != 45 {
		t.Errorf("ListAccountRoles calls = %d, want one per account", n)
	}
	if got := p.MaxInFlight(); got > 4 {
		t.Errorf("MaxInFlight = %d, want at most the concurrency bound 4", got)
	}
}

func TestDiscoverFollowsNextToken(t *testing.T) {
	// A client-side page of 100 is the API's maximum; 250 accounts need
	// three pages of ListAccounts.
	p := ssofake.NewPortal(ssofake.PortalConfig{Accounts: fakeAccounts(250, "Admin")})
	d := &Discoverer{Portal: portalClient(t, p)}
	roles, err := d.Discover(context.Background(), "tok")
	if err != nil {
		t.Fatal(err)
	}
	if len(roles) != 250 {
		t.Errorf("got %d roles, want 250", len(roles))
	}
	if n := p.Calls(ssofake.OpListAccounts); n != 3 {
		t.Errorf("ListAccounts calls = %d, want 3", n)
	}
}

func TestDiscoverRetriesThrottling(t *testing.T) {
	p := ssofake.NewPortal(ssofake.PortalConfig{Accounts: fakeAccounts(5, "Admin", "Dev")})
	p.Throttle(ssofake.OpListAccounts, 2)
	p.Throttle(ssofake.OpListAccountRoles, 6)
	ns := &noSleep{}
	d := &Discoverer{Portal: portalClient(t, p), Concurrency: 2, Sleep: ns.sleep, Backoff: time.Second}
	roles, err := d.Discover(context.Background(), "tok")
	if err != nil {
		t.Fatalf("Discover with throttling: %v", err)
	}
	if len(roles) != 10 {
		t.Errorf("got %d roles, want 10", len(roles))
	}
	// Each throttled call was retried by Discoverer alone: the SDK's
	// retryer leaves throttling to it, so calls = answers + throttles.
	if got, want := p.Calls(ssofake.OpListAccounts), 1+2; got != want {
		t.Errorf("ListAccounts calls = %d, want %d", got, want)
	}
	if got, want := p.Calls(ssofake.OpListAccountRoles), 5+6; got != want {
		t.Errorf("ListAccountRoles calls = %d, want %d", got, want)
	}
	if len(ns.waits) != 8 {
		t.Errorf("backoff waits = %d, want 8 (one per throttled answer)", len(ns.waits))
	}
	for _, w := range ns.waits {
		if w < 0 || w > MaxBackoff {
			t.Errorf("wait %v outside [0, %v]", w, MaxBackoff)
		}
	}
}

func TestDiscoverGivesUpWhenThrottledTooOften(t *testing.T) {
	p := ssofake.NewPortal(ssofake.PortalConfig{Accounts: fakeAccounts(3, "Admin")})
	p.Throttle(ssofake.OpListAccountRoles, 1000)
	d := &Discoverer{Portal: portalClient(t, p), Attempts: 3, Sleep: (&noSleep{}).sleep}
	_, err := d.Discover(context.Background(), "tok")
	var throttled *types.TooManyRequestsException
	if !errors.As(err, &throttled) {
		t.Fatalf("err = %v, want TooManyRequestsException", err)
	}
	if !strings.Contains(err.Error(), "list roles of account") {
		t.Errorf("err = %v, want the failing call named", err)
	}
	// A failure cancels the rest: no account took more than 3 attempts.
	if n := p.Calls(ssofake.OpListAccountRoles); n > 3*3 {
		t.Errorf("ListAccountRoles calls = %d, want at most 9", n)
	}
}

func TestDiscoverRefusedToken(t *testing.T) {
	p := ssofake.NewPortal(ssofake.PortalConfig{
		Accounts:  fakeAccounts(1, "Admin"),
		Authorize: func(tok string) bool { return tok == "good" },
	})
	d := &Discoverer{Portal: portalClient(t, p)}
	_, err := d.Discover(context.Background(), "expired")
	if !errors.Is(err, ErrTokenRefused) {
		t.Fatalf("err = %v, want ErrTokenRefused", err)
	}
	if !strings.Contains(err.Error(), "Session token not found or invalid") {
		t.Errorf("err = %v, want the portal's message", err)
	}
}

func TestDiscoverDropsMalformedEntries(t *testing.T) {
	accts := fakeAccounts(2, "Admin", "bad role", strings.Repeat("x", 65))
	accts = append(accts, ssofake.Account{ID: "12345", Name: "short id", Roles: []string{"Admin"}})
	p := ssofake.NewPortal(ssofake.PortalConfig{Accounts: accts})
	d := &Discoverer{Portal: portalClient(t, p)}
	roles, err := d.Discover(context.Background(), "tok")
	if err != nil {
		t.Fatal(err)
	}
	if len(roles) != 2 {
		t.Fatalf("roles = %+v, want only the 2 well-formed ones", roles)
	}
	for _, r := range roles {
		if r.RoleName != "Admin" {
			t.Errorf("kept %+v", r)
		}
	}
	if n := p.Calls(ssofake.OpListAccountRoles); n != 2 {
		t.Errorf("ListAccountRoles calls = %d, want 2: the malformed account is not asked", n)
	}
}

func TestRoleLabelIsSafeForTerminals(t *testing.T) {
	r := Role{AccountID: "111122223333", AccountName: "prod\x1b[2J\x07\u2028", RoleName: "Admin"}
	if got, want := r.Label(), "prod?[2J?? (111122223333) / Admin"; got != want {
		t.Errorf("Label = %q, want %q", got, want)
	}
}

func TestSessions(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config")
	writeFile(t, cfg, `[default]
region = us-east-1

[sso-session other]
sso_start_url = https://other.awsapps.com/start
[sso-session  corp ]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-central-1
[profile sso-session x]
[services sso-session]

[profile dev]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Admin

[profile legacy-b]
sso_start_url = https://sso.example.com/start#/
sso_region = us-west-2
sso_account_id = 444455556666
sso_role_name = ReadOnly

[profile legacy-a]
sso_start_url = https://sso.example.com/start#/
sso_region = us-west-2
sso_account_id = 444455556666
sso_role_name = Admin

[profile no-region]
sso_start_url = https://noregion.awsapps.com/start
`)
	got, err := Sessions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.String()+" "+s.CacheKey())
	}
	want := []string{
		"sso-session corp corp",
		"sso-session other other",
		// One session for both legacy profiles, found through the
		// first by name; its cache key is the start URL as written.
		"profile legacy-a https://sso.example.com/start#/",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("Sessions = %q, want %q", names, want)
	}
	if p, ok := got[0].ProfileFor("111122223333", "Admin"); !ok || p != "dev" {
		t.Errorf("corp's profile for 111122223333/Admin = %q %v, want dev", p, ok)
	}
	legacy := got[2]
	if legacy.Region != "us-west-2" || legacy.Scopes != nil {
		t.Errorf("legacy session %+v: want us-west-2 and no scopes (the AWS CLI registers legacy logins without)", legacy.Session)
	}
	for role, want := range map[string]string{"Admin": "legacy-a", "ReadOnly": "legacy-b"} {
		if p, ok := legacy.ProfileFor("444455556666", role); !ok || p != want {
			t.Errorf("legacy profile for %s = %q %v, want %s", role, p, ok, want)
		}
	}
	if _, ok := legacy.ProfileFor("444455556666", "Other"); ok {
		t.Error("a role no profile names has a profile")
	}
	if got, err := Sessions(filepath.Join(t.TempDir(), "missing")); err != nil || len(got) != 0 {
		t.Errorf("Sessions(missing) = %v, %v; want none", got, err)
	}
}

func TestAccessTokenFromCache(t *testing.T) {
	p := ssofake.NewPortal(ssofake.PortalConfig{
		Accounts:  fakeAccounts(2, "Admin"),
		Authorize: func(tok string) bool { return tok == "cached-access-token" },
	})
	srv := httptest.NewServer(p)
	defer srv.Close()
	c := testClient(t, srv.URL)
	if _, err := c.AccessToken(context.Background()); !errors.Is(err, ErrLoginRequired) {
		t.Errorf("AccessToken with no login: err = %v, want ErrLoginRequired", err)
	}
	// Expired, without a refresh token: only a login helps.
	if err := WriteCache(c.CachePath(), Token{StartURL: "https://corp.awsapps.com/start", Region: "eu-west-1", AccessToken: "old", ExpiresAt: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AccessToken(context.Background()); !errors.Is(err, ErrLoginRequired) {
		t.Errorf("AccessToken with an expired token: err = %v, want ErrLoginRequired", err)
	}
	if err := WriteCache(c.CachePath(), Token{StartURL: "https://corp.awsapps.com/start", Region: "eu-west-1", AccessToken: "cached-access-token", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.AccessToken(context.Background())
	if err != nil || tok != "cached-access-token" {
		t.Fatalf("AccessToken = %q, %v; want the cached one", tok, err)
	}
	// The session's portal client goes where AWS_ENDPOINT_URL_SSO says.
	roles, err := c.Discoverer().Discover(context.Background(), tok)
	if err != nil || len(roles) != 2 {
		t.Errorf("Discover through the session's client: %d roles, %v; want 2", len(roles), err)
	}
}

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDiscoverStopsARepeatedPageToken(t *testing.T) {
	for _, tc := range []struct {
		name            string
		accounts, roles string
		want            string
	}{
		{"accounts", `{"accountList":[{"accountId":"111122223333","accountName":"prod"}],"nextToken":"again"}`, `{"roleList":[]}`, "list accounts: the portal answered the same page token again"},
		{"roles", `{"accountList":[{"accountId":"111122223333","accountName":"prod"}]}`, `{"roleList":[{"roleName":"Admin"}],"nextToken":"again"}`, "list roles of account 111122223333: the portal answered the same page token again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := sso.New(sso.Options{
				Region:           "eu-west-1",
				BaseEndpoint:     aws.String("http://portal.invalid"),
				HTTPClient:       portalAnswers{[]byte(tc.accounts), []byte(tc.roles)},
				RetryMaxAttempts: 1,
			})
			_, err := (&Discoverer{Portal: client}).Discover(context.Background(), "tok")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
