package sso

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sso"
	"github.com/aws/aws-sdk-go-v2/service/sso/types"
)

// Role is one role (permission set) of one account the user can take
// through IAM Identity Center.
type Role struct {
	AccountID   string `json:"accountId"`
	AccountName string `json:"accountName"`
	Email       string `json:"emailAddress,omitempty"`
	RoleName    string `json:"roleName"`
}

// Label is how people see the role: "account name (id) / role". The
// account name comes from the portal, so it is made safe for a terminal.
func (r Role) Label() string {
	return fmt.Sprintf("%s (%s) / %s", displayText(r.AccountName), r.AccountID, r.RoleName)
}

// PortalAPI is the part of the portal client (*sso.Client of
// aws-sdk-go-v2) that discovery calls.
type PortalAPI interface {
	ListAccounts(ctx context.Context, in *sso.ListAccountsInput, optFns ...func(*sso.Options)) (*sso.ListAccountsOutput, error)
	ListAccountRoles(ctx context.Context, in *sso.ListAccountRolesInput, optFns ...func(*sso.Options)) (*sso.ListAccountRolesOutput, error)
}

// Discoverer lists every role the holder of an access token can take:
// ListAccounts page by page, then ListAccountRoles of the accounts, a few
// at a time, each call retried with backoff while the portal answers
// TooManyRequestsException.
type Discoverer struct {
	Portal PortalAPI

	// Concurrency bounds the ListAccountRoles calls in flight; zero means
	// DefaultConcurrency.
	Concurrency int

	// Attempts bounds the tries of one call that the portal throttles;
	// zero means DefaultAttempts. Backoff is the first wait between
	// them, doubled each time up to MaxBackoff, with full jitter; zero
	// means DefaultBackoff.
	Attempts int
	Backoff  time.Duration

	// Sleep waits d or until ctx ends; nil means a timer. Tests replace
	// it to run retries without waiting.
	Sleep func(ctx context.Context, d time.Duration) error
}

const (
	// DefaultConcurrency is how many accounts' roles are listed at once.
	// With 20, a hundred accounts take six round trips (one page of
	// accounts, five rounds of roles) instead of a hundred and one; a
	// portal that throttles the burst is answered with backoff.
	DefaultConcurrency = 20
	// DefaultAttempts and DefaultBackoff follow the SDKs' standard
	// retryer for throttling (up to 3 attempts there), with more tries:
	// a discovery makes a hundred calls in a burst and one throttled
	// call should not fail the listing.
	DefaultAttempts = 8
	DefaultBackoff  = 200 * time.Millisecond
	// MaxBackoff is the SDKs' standard retryer's cap (20 s).
	MaxBackoff = 20 * time.Second
	// pageSize is asked of the portal for both listings: the API's
	// maximum (MaxResultType allows 1 to 100), so that fewer calls are
	// made.
	pageSize = 100
)

// ErrTokenRefused is returned (wrapped) when the portal refuses the
// access token: it expired or was revoked, and a login is needed.
var ErrTokenRefused = errors.New("sso: the portal refused the access token")

// Discover lists the roles, sorted by account name, account ID and role.
// Entries the portal returns with a malformed account ID or role name are
// left out: they could never be loaded (see ValidRole).
func (d *Discoverer) Discover(ctx context.Context, accessToken string) ([]Role, error) {
	accounts, err := d.accounts(ctx, accessToken)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, d.concurrency())
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		roles    []Role
		firstErr error
	)
	for _, a := range accounts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			got, err := d.roles(ctx, accessToken, a)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				return
			}
			roles = append(roles, got...)
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sso: list roles: %w", err)
	}
	SortRoles(roles)
	return roles, nil
}

// SortRoles sorts roles as Discover returns them.
func SortRoles(roles []Role) {
	sort.Slice(roles, func(i, j int) bool {
		a, b := roles[i], roles[j]
		if a.AccountName != b.AccountName {
			return strings.ToLower(a.AccountName) < strings.ToLower(b.AccountName)
		}
		if a.AccountID != b.AccountID {
			return a.AccountID < b.AccountID
		}
		return a.RoleName < b.RoleName
	})
}

func (d *Discoverer) accounts(ctx context.Context, token string) ([]types.AccountInfo, error) {
	var all []types.AccountInfo
	in := &sso.ListAccountsInput{AccessToken: aws.String(token), MaxResults: aws.Int32(pageSize)}
	for page := 0; ; page++ {
		if page > maxPages {
			return nil, fmt.Errorf("sso: list accounts: more than %d pages", maxPages)
		}
		var out *sso.ListAccountsOutput
		err := d.retry(ctx, func() (err error) {
			out, err = d.Portal.ListAccounts(ctx, in)
			return err
		})
		if err != nil {
			return nil, portalError("list accounts", err)
		}
		for _, a := range out.AccountList {
			if ValidAccountID(aws.ToString(a.AccountId)) {
				all = append(all, a)
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return all, nil
		}
		if aws.ToString(out.NextToken) == aws.ToString(in.NextToken) {
			return nil, errors.New("sso: list accounts: the portal answered the same page token again")
		}
		in.NextToken = out.NextToken
	}
}

// maxPages stops a portal that keeps answering with a next token: 1000
// pages of 100 is more than any organization's limit of accounts (10,000
// by default).
const maxPages = 1000

func (d *Discoverer) roles(ctx context.Context, token string, a types.AccountInfo) ([]Role, error) {
	id := aws.ToString(a.AccountId)
	var roles []Role
	in := &sso.ListAccountRolesInput{AccessToken: aws.String(token), AccountId: aws.String(id), MaxResults: aws.Int32(pageSize)}
	for page := 0; ; page++ {
		if page > maxPages {
			return nil, fmt.Errorf("sso: list roles of account %s: more than %d pages", id, maxPages)
		}
		var out *sso.ListAccountRolesOutput
		err := d.retry(ctx, func() (err error) {
			out, err = d.Portal.ListAccountRoles(ctx, in)
			return err
		})
		if err != nil {
			return nil, portalError("list roles of account "+id, err)
		}
		for _, r := range out.RoleList {
			role := Role{
				AccountID:   id,
				AccountName: aws.ToString(a.AccountName),
				Email:       aws.ToString(a.EmailAddress),
				RoleName:    aws.ToString(r.RoleName),
			}
			if ValidRole(role) {
				roles = append(roles, role)
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return roles, nil
		}
		if aws.ToString(out.NextToken) == aws.ToString(in.NextToken) {
			return nil, fmt.Errorf("sso: list roles of account %s: the portal answered the same page token again", id)
		}
		in.NextToken = out.NextToken
	}
}

// retry calls f until it succeeds, fails with anything but throttling, or
// runs out of attempts.
func (d *Discoverer) retry(ctx context.Context, f func() error) error {
	attempts := d.Attempts
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	backoff := d.Backoff
	if backoff <= 0 {
		backoff = DefaultBackoff
	}
	sleep := d.Sleep
	if sleep == nil {
		sleep = sleepContext
	}
	for i := 1; ; i++ {
		err := f()
		var throttled *types.TooManyRequestsException
		if err == nil || !errors.As(err, &throttled) || i >= attempts {
			return err
		}
		// Full jitter (the SDKs' standard retryer): a burst of throttled
		// workers spreads out instead of retrying in step.
		wait := time.Duration(rand.Int64N(int64(backoff) + 1))
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		backoff = min(2*backoff, MaxBackoff)
	}
}

func (d *Discoverer) concurrency() int {
	if d.Concurrency > 0 {
		return d.Concurrency
	}
	return DefaultConcurrency
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// portalError says which call failed; a refused token wraps
// ErrTokenRefused so callers can say that a login is needed.
func portalError(what string, err error) error {
	var unauth *types.UnauthorizedException
	if errors.As(err, &unauth) {
		return fmt.Errorf("sso: %s: %w (%s)", what, ErrTokenRefused, displayText(unauth.ErrorMessage()))
	}
	return fmt.Errorf("sso: %s: %w", what, err)
}

// ValidAccountID reports whether id is an AWS account ID: 12 digits.
func ValidAccountID(id string) bool {
	if len(id) != 12 {
		return false
	}
	for _, r := range id {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// ValidRole reports whether r has an account ID and a role name that the
// agent can load (IAM's role name rule: 1 to 64 of letters, digits and
// +=,.@_-), so nothing the portal sends ends up in a config file or a
// command line unchecked.
func ValidRole(r Role) bool {
	if !ValidAccountID(r.AccountID) || r.RoleName == "" || len(r.RoleName) > 64 {
		return false
	}
	for _, c := range r.RoleName {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("+=,.@_-", c)
		if !ok {
			return false
		}
	}
	return len(r.AccountName) <= maxAccountName
}

// maxAccountName is AWS Organizations' limit on an account name (50
// characters), with room for multi-byte ones.
const maxAccountName = 256

// displayText makes s safe to show on a terminal: control characters and
// invalid UTF-8 become '?', so a hostile name cannot move the cursor.
func displayText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}
