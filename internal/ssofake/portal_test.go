package ssofake

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sso"
	"github.com/aws/aws-sdk-go-v2/service/sso/types"
	"github.com/aws/smithy-go"
)

// testAccounts makes n accounts with the given roles each.
func testAccounts(n int, roles ...string) []Account {
	accts := make([]Account, n)
	for i := range accts {
		accts[i] = Account{
			ID:    fmt.Sprintf("%012d", 100000000000+i),
			Name:  fmt.Sprintf("acct-%03d", i),
			Email: fmt.Sprintf("acct-%03d@example.com", i),
			Roles: roles,
		}
	}
	return accts
}

// sdkClient is aws-sdk-go-v2's own portal client, pointed at the fake: its
// serializers and deserializers are the check on the fake's wire format.
func sdkClient(t *testing.T, p *Portal) *sso.Client {
	t.Helper()
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return sso.New(sso.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(srv.URL),
		// Retries off: the tests count calls and see each error as sent.
		RetryMaxAttempts: 1,
	})
}

func TestPortalPagesWithSDK(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pageSize  int
		maxResult int32
		wantPages int
	}{
		{"default page size", 0, 0, 3},    // 45 accounts in pages of 20
		{"configured page size", 7, 0, 7}, // 45 in pages of 7
		{"client max_result", 20, 10, 5},  // the client's bound wins
		{"one page", 0, 100, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPortal(PortalConfig{Accounts: testAccounts(45, "Admin", "ReadOnly", "Dev"), PageSize: tc.pageSize})
			c := sdkClient(t, p)
			in := &sso.ListAccountsInput{AccessToken: aws.String("tok")}
			if tc.maxResult > 0 {
				in.MaxResults = aws.Int32(tc.maxResult)
			}
			var got []types.AccountInfo
			pager := sso.NewListAccountsPaginator(c, in)
			for pager.HasMorePages() {
				out, err := pager.NextPage(context.Background())
				if err != nil {
					t.Fatalf("ListAccounts: %v", err)
				}
				got = append(got, out.AccountList...)
			}
			if len(got) != 45 {
				t.Fatalf("got %d accounts, want 45", len(got))
			}
			for i, a := range got {
				want := testAccounts(45)[i]
				if aws.ToString(a.AccountId) != want.ID || aws.ToString(a.AccountName) != want.Name || aws.ToString(a.EmailAddress) != want.Email {
					t.Errorf("account %d = %s %s %s, want %s %s %s", i, aws.ToString(a.AccountId), aws.ToString(a.AccountName), aws.ToString(a.EmailAddress), want.ID, want.Name, want.Email)
				}
			}
			if n := p.Calls(OpListAccounts); n != tc.wantPages {
				t.Errorf("ListAccounts calls = %d, want %d", n, tc.wantPages)
			}
		})
	}
}

func TestPortalRolesWithSDK(t *testing.T) {
	p := NewPortal(PortalConfig{Accounts: testAccounts(2, "Admin", "ReadOnly", "Dev"), PageSize: 2})
	c := sdkClient(t, p)
	id := testAccounts(2)[1].ID
	var got []string
	pager := sso.NewListAccountRolesPaginator(c, &sso.ListAccountRolesInput{AccessToken: aws.String("tok"), AccountId: aws.String(id)})
	for pager.HasMorePages() {
		out, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatalf("ListAccountRoles: %v", err)
		}
		for _, r := range out.RoleList {
			if aws.ToString(r.AccountId) != id {
				t.Errorf("role %s has account %s, want %s", aws.ToString(r.RoleName), aws.ToString(r.AccountId), id)
			}
			got = append(got, aws.ToString(r.RoleName))
		}
	}
	if fmt.Sprint(got) != "[Admin ReadOnly Dev]" {
		t.Errorf("roles = %v, want [Admin ReadOnly Dev]", got)
	}
	if n := p.Calls(OpListAccountRoles); n != 2 {
		t.Errorf("ListAccountRoles calls = %d, want 2 (pages of 2)", n)
	}

	// A page token belongs to its listing.
	out, err := c.ListAccountRoles(context.Background(), &sso.ListAccountRolesInput{AccessToken: aws.String("tok"), AccountId: aws.String(id), MaxResults: aws.Int32(1)})
	if err != nil || out.NextToken == nil {
		t.Fatalf("first page: %v, next token %v", err, out)
	}
	_, err = c.ListAccountRoles(context.Background(), &sso.ListAccountRolesInput{AccessToken: aws.String("tok"), AccountId: aws.String(testAccounts(1)[0].ID), NextToken: out.NextToken})
	var invalid *types.InvalidRequestException
	if !errors.As(err, &invalid) {
		t.Errorf("another account's page token: err = %v, want InvalidRequestException", err)
	}
}

func TestPortalCredentialsWithSDK(t *testing.T) {
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	p := NewPortal(PortalConfig{
		Accounts:           testAccounts(1, "Admin"),
		Now:                func() time.Time { return now },
		CredentialLifetime: 2 * time.Hour,
	})
	c := sdkClient(t, p)
	id := testAccounts(1)[0].ID
	out, err := c.GetRoleCredentials(context.Background(), &sso.GetRoleCredentialsInput{AccessToken: aws.String("tok"), AccountId: aws.String(id), RoleName: aws.String("Admin")})
	if err != nil {
		t.Fatalf("GetRoleCredentials: %v", err)
	}
	rc := out.RoleCredentials
	if aws.ToString(rc.AccessKeyId) == "" || aws.ToString(rc.SecretAccessKey) == "" || aws.ToString(rc.SessionToken) == "" {
		t.Fatalf("credentials incomplete: %+v", rc)
	}
	if got, want := time.UnixMilli(rc.Expiration).UTC(), now.Add(2*time.Hour); !got.Equal(want) {
		t.Errorf("expiration = %v, want %v", got, want)
	}
	acct, role, ok := p.RoleOf(aws.ToString(rc.AccessKeyId))
	if !ok || acct != id || role != "Admin" {
		t.Errorf("RoleOf = %s %s %v, want %s Admin true", acct, role, ok, id)
	}
}

func TestPortalErrorsWithSDK(t *testing.T) {
	id := testAccounts(1)[0].ID
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		setup    func(p *Portal)
		call     func(c *sso.Client) error
		wantCode string
		wantHTTP int
		wantMsg  string
	}{
		{
			name: "unauthorized token",
			call: func(c *sso.Client) error {
				_, err := c.ListAccounts(ctx, &sso.ListAccountsInput{AccessToken: aws.String("bad")})
				return err
			},
			wantCode: "UnauthorizedException", wantHTTP: 401, wantMsg: "Session token not found or invalid",
		},
		{
			name:  "throttled",
			setup: func(p *Portal) { p.Throttle(OpListAccountRoles, 1) },
			call: func(c *sso.Client) error {
				_, err := c.ListAccountRoles(ctx, &sso.ListAccountRolesInput{AccessToken: aws.String("tok"), AccountId: aws.String(id)})
				return err
			},
			wantCode: "TooManyRequestsException", wantHTTP: 429,
		},
		{
			name: "unknown account",
			call: func(c *sso.Client) error {
				_, err := c.ListAccountRoles(ctx, &sso.ListAccountRolesInput{AccessToken: aws.String("tok"), AccountId: aws.String("999999999999")})
				return err
			},
			wantCode: "ResourceNotFoundException", wantHTTP: 404,
		},
		{
			name: "unassigned role",
			call: func(c *sso.Client) error {
				_, err := c.GetRoleCredentials(ctx, &sso.GetRoleCredentialsInput{AccessToken: aws.String("tok"), AccountId: aws.String(id), RoleName: aws.String("Nope")})
				return err
			},
			wantCode: "ForbiddenException", wantHTTP: 403, wantMsg: "No access",
		},
		{
			name: "max_result out of range",
			call: func(c *sso.Client) error {
				_, err := c.ListAccounts(ctx, &sso.ListAccountsInput{AccessToken: aws.String("tok"), MaxResults: aws.Int32(101)})
				return err
			},
			wantCode: "InvalidRequestException", wantHTTP: 400,
		},
		{
			name: "logged out token",
			setup: func(p *Portal) {
				p.mu.Lock()
				p.loggedOut["tok"] = true
				p.mu.Unlock()
			},
			call: func(c *sso.Client) error {
				_, err := c.GetRoleCredentials(ctx, &sso.GetRoleCredentialsInput{AccessToken: aws.String("tok"), AccountId: aws.String(id), RoleName: aws.String("Admin")})
				return err
			},
			wantCode: "UnauthorizedException", wantHTTP: 401,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPortal(PortalConfig{
				Accounts:  testAccounts(1, "Admin"),
				Authorize: func(tok string) bool { return tok == "tok" },
			})
			if tc.setup != nil {
				tc.setup(p)
			}
			err := tc.call(sdkClient(t, p))
			var api smithy.APIError
			if !errors.As(err, &api) {
				t.Fatalf("err = %v, want an API error", err)
			}
			if api.ErrorCode() != tc.wantCode {
				t.Errorf("code = %q, want %q (err %v)", api.ErrorCode(), tc.wantCode, err)
			}
			if tc.wantMsg != "" && api.ErrorMessage() != tc.wantMsg {
				t.Errorf("message = %q, want %q", api.ErrorMessage(), tc.wantMsg)
			}
			var re interface{ HTTPStatusCode() int }
			if errors.As(err, &re) && re.HTTPStatusCode() != tc.wantHTTP {
				t.Errorf("status = %d, want %d", re.HTTPStatusCode(), tc.wantHTTP)
			}
		})
	}
}

// The SDK's modelled exceptions must come out as their own types, which is
// what callers match on (errors.As), so the fake's header form is right.
func TestPortalModelledErrorTypes(t *testing.T) {
	p := NewPortal(PortalConfig{Accounts: testAccounts(1, "Admin"), Authorize: func(tok string) bool { return tok == "tok" }})
	c := sdkClient(t, p)
	_, err := c.ListAccounts(context.Background(), &sso.ListAccountsInput{AccessToken: aws.String("bad")})
	var unauth *types.UnauthorizedException
	if !errors.As(err, &unauth) {
		t.Errorf("bad token: err = %T %v, want *types.UnauthorizedException", err, err)
	}
	p.Throttle("", 1)
	_, err = c.ListAccounts(context.Background(), &sso.ListAccountsInput{AccessToken: aws.String("tok")})
	var tooMany *types.TooManyRequestsException
	if !errors.As(err, &tooMany) {
		t.Errorf("throttled: err = %T %v, want *types.TooManyRequestsException", err, err)
	}
}

func TestPortalLogoutWithSDK(t *testing.T) {
	p := NewPortal(PortalConfig{Accounts: testAccounts(1, "Admin")})
	c := sdkClient(t, p)
	if _, err := c.Logout(context.Background(), &sso.LogoutInput{AccessToken: aws.String("tok")}); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if !p.LoggedOut("tok") {
		t.Error("LoggedOut(tok) = false after Logout")
	}
	_, err := c.ListAccounts(context.Background(), &sso.ListAccountsInput{AccessToken: aws.String("tok")})
	var unauth *types.UnauthorizedException
	if !errors.As(err, &unauth) {
		t.Errorf("after logout: err = %v, want UnauthorizedException", err)
	}
}

func TestPortalRawShapes(t *testing.T) {
	p := NewPortal(PortalConfig{Accounts: testAccounts(1, "Admin")})
	srv := httptest.NewServer(p)
	defer srv.Close()
	for _, tc := range []struct {
		method, path, token string
		wantStatus          int
		wantErrorType       string
	}{
		{"GET", "/assignment/accounts", "", 401, "UnauthorizedException"},
		{"POST", "/assignment/accounts", "tok", 404, "UnknownOperationException"},
		{"GET", "/assignment/accounts?next_token=not-a-token", "tok", 400, "InvalidRequestException"},
		{"GET", "/federation/credentials", "tok", 400, "InvalidRequestException"},
		{"GET", "/assignment/accounts", "tok", 200, ""},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		if tc.token != "" {
			req.Header.Set("x-amz-sso_bearer_token", tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.wantStatus {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, resp.StatusCode, tc.wantStatus)
		}
		et := resp.Header.Get("x-amzn-ErrorType")
		if tc.wantErrorType == "" && et != "" || tc.wantErrorType != "" && et != tc.wantErrorType+portalErrorNamespace {
			t.Errorf("%s %s: x-amzn-ErrorType %q, want %q", tc.method, tc.path, et, tc.wantErrorType)
		}
		if resp.Header.Get("x-amzn-RequestId") == "" {
			t.Errorf("%s %s: no x-amzn-RequestId", tc.method, tc.path)
		}
	}
}

func TestPortalServesConcurrently(t *testing.T) {
	// Authorize holds each call until two are inside at once: the test
	// ends only if the fake answers calls in parallel.
	var arrived sync.WaitGroup
	arrived.Add(2)
	p := NewPortal(PortalConfig{
		Accounts: testAccounts(1, "Admin"),
		Latency:  time.Millisecond,
		Authorize: func(string) bool {
			arrived.Done()
			arrived.Wait()
			return true
		},
	})
	c := sdkClient(t, p)
	done := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := c.ListAccounts(context.Background(), &sso.ListAccountsInput{AccessToken: aws.String("tok")})
			done <- err
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if got := p.MaxInFlight(); got != 2 {
		t.Errorf("MaxInFlight = %d, want 2", got)
	}
}
