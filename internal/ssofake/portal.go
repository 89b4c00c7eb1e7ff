// Package ssofake is a fake AWS IAM Identity Center for tests: the access
// portal (portal.sso.REGION.amazonaws.com) and the OIDC service
// (oidc.REGION.amazonaws.com), speaking their real wire protocol so that
// aws-sdk-go-v2, botocore and the AWS CLI talk to it unchanged through
// AWS_ENDPOINT_URL_SSO and AWS_ENDPOINT_URL_SSO_OIDC.
//
// No local emulator serves these APIs (moto has ssoadmin and identitystore
// only), so the fake is checked against the SDKs' own serializers in its
// tests rather than against our assumptions.
package ssofake

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Portal operations, as the SDKs name them; PortalConfig.Throttle and
// Portal.Calls take them.
const (
	OpListAccounts       = "ListAccounts"
	OpListAccountRoles   = "ListAccountRoles"
	OpGetRoleCredentials = "GetRoleCredentials"
	OpLogout             = "Logout"
)

// Account is one AWS account assigned to the user, with the roles
// (permission sets) the user may take in it.
type Account struct {
	ID    string // 12 digits
	Name  string
	Email string
	Roles []string
}

// RoleCredentials are what GetRoleCredentials hands out.
type RoleCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

// PortalConfig describes the user's assignments and how the portal
// behaves. The zero value of each field is the real service's behaviour
// where it has one.
type PortalConfig struct {
	// Accounts are listed in this order, and so are their roles.
	Accounts []Account

	// PageSize is the page length when a request gives no max_result.
	// Zero means 20, the length the real portal's ListAccounts pages
	// have been seen with.
	PageSize int

	// Latency is added to every call before it is answered (a real
	// portal answers in 50 to 200 ms from a workstation).
	Latency time.Duration

	// Authorize reports whether an access token (the
	// x-amz-sso_bearer_token header) is valid. Nil accepts any non-empty
	// token. Tokens given to Logout are refused afterwards either way.
	Authorize func(accessToken string) bool

	// Credentials issues the credentials of a role. Nil makes random
	// keys valid for CredentialLifetime. A test that needs keys another
	// service accepts (moto's STS) issues them here.
	Credentials func(ctx context.Context, accountID, roleName string) (RoleCredentials, error)

	// CredentialLifetime is how long default credentials last; zero
	// means an hour, the default session duration of a permission set.
	CredentialLifetime time.Duration

	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Portal is the fake access portal, an http.Handler. Its methods are safe
// for concurrent use.
type Portal struct {
	cfg        PortalConfig
	callCounts // Calls: every request, throttled ones included

	mu        sync.Mutex
	throttle  map[string]int // operation ("" for any) -> calls left to refuse
	inFlight  int
	maxFlight int
	loggedOut map[string]bool
	issued    map[string]issuedRole // access key id -> role
}

type issuedRole struct{ accountID, roleName string }

// NewPortal returns a portal serving cfg.
func NewPortal(cfg PortalConfig) *Portal {
	if cfg.PageSize <= 0 {
		cfg.PageSize = defaultPageSize
	}
	if cfg.CredentialLifetime <= 0 {
		cfg.CredentialLifetime = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Portal{
		cfg:       cfg,
		throttle:  map[string]int{},
		loggedOut: map[string]bool{},
		issued:    map[string]issuedRole{},
	}
}

const (
	defaultPageSize = 20
	// maxResults is the API's bound on max_result (MaxResultType: 1 to
	// 100 in the service model).
	maxResults = 100
)

// Throttle makes the next n calls of op (any operation when op is "")
// answer 429 TooManyRequestsException, as the portal does when a client
// exceeds its request rate.
func (p *Portal) Throttle(op string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.throttle[op] += n
}

// MaxInFlight returns the largest number of requests the portal was
// answering at the same time: what a client's concurrency bound allowed.
func (p *Portal) MaxInFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maxFlight
}

// RoleOf returns the account and role whose credentials had accessKeyID,
// if this portal issued them.
func (p *Portal) RoleOf(accessKeyID string) (accountID, roleName string, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.issued[accessKeyID]
	return r.accountID, r.roleName, ok
}

// LoggedOut reports whether accessToken was given to Logout.
func (p *Portal) LoggedOut(accessToken string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.loggedOut[accessToken]
}

// ServeHTTP answers the portal's four operations:
//
//	GET  /assignment/accounts?max_result=&next_token=
//	GET  /assignment/roles?account_id=&max_result=&next_token=
//	GET  /federation/credentials?account_id=&role_name=
//	POST /logout
//
// each with the access token in the x-amz-sso_bearer_token header.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := portalRoutes[route{r.Method, r.URL.Path}]
	if !ok {
		// API Gateway-fronted AWS services answer an unknown path so.
		writePortalError(w, http.StatusNotFound, "UnknownOperationException", "")
		return
	}
	if !p.begin(op) {
		defer p.end()
		p.wait(r.Context())
		writePortalError(w, http.StatusTooManyRequests, "TooManyRequestsException", "HTTP 429 Too Many Requests")
		return
	}
	defer p.end()
	if !p.wait(r.Context()) {
		return
	}
	token := r.Header.Get("x-amz-sso_bearer_token")
	if !p.authorized(token) {
		// The message every SDK user has met when a token expires.
		writePortalError(w, http.StatusUnauthorized, "UnauthorizedException", "Session token not found or invalid")
		return
	}
	q := r.URL.Query()
	switch op {
	case OpListAccounts:
		p.listAccounts(w, q.Get("max_result"), q.Get("next_token"))
	case OpListAccountRoles:
		p.listAccountRoles(w, q.Get("account_id"), q.Get("max_result"), q.Get("next_token"))
	case OpGetRoleCredentials:
		p.getRoleCredentials(w, r.Context(), q.Get("account_id"), q.Get("role_name"))
	case OpLogout:
		p.mu.Lock()
		p.loggedOut[token] = true
		p.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}
}

type route struct{ method, path string }

var portalRoutes = map[route]string{
	{http.MethodGet, "/assignment/accounts"}:    OpListAccounts,
	{http.MethodGet, "/assignment/roles"}:       OpListAccountRoles,
	{http.MethodGet, "/federation/credentials"}: OpGetRoleCredentials,
	{http.MethodPost, "/logout"}:                OpLogout,
}

// begin counts a call and reports false when it is to be throttled.
func (p *Portal) begin(op string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.add(op)
	p.inFlight++
	p.maxFlight = max(p.maxFlight, p.inFlight)
	for _, k := range []string{op, ""} {
		if p.throttle[k] > 0 {
			p.throttle[k]--
			return false
		}
	}
	return true
}

func (p *Portal) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inFlight--
}

// wait sleeps the configured latency; false means the client left.
func (p *Portal) wait(ctx context.Context) bool {
	if p.cfg.Latency <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(p.cfg.Latency)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (p *Portal) authorized(token string) bool {
	if token == "" {
		return false
	}
	p.mu.Lock()
	out := p.loggedOut[token]
	p.mu.Unlock()
	if out {
		return false
	}
	return p.cfg.Authorize == nil || p.cfg.Authorize(token)
}

type portalAccount struct {
	AccountID    string `json:"accountId"`
	AccountName  string `json:"accountName"`
	EmailAddress string `json:"emailAddress"`
}

type portalRole struct {
	AccountID string `json:"accountId"`
	RoleName  string `json:"roleName"`
}

func (p *Portal) listAccounts(w http.ResponseWriter, maxResult, nextToken string) {
	start, end, next, ok := p.page(w, "accounts", len(p.cfg.Accounts), maxResult, nextToken)
	if !ok {
		return
	}
	list := make([]portalAccount, 0, end-start)
	for _, a := range p.cfg.Accounts[start:end] {
		list = append(list, portalAccount{a.ID, a.Name, a.Email})
	}
	writePortalJSON(w, struct {
		AccountList []portalAccount `json:"accountList"`
		NextToken   *string         `json:"nextToken"`
	}{list, next})
}

func (p *Portal) listAccountRoles(w http.ResponseWriter, accountID, maxResult, nextToken string) {
	a, ok := p.account(accountID)
	if !ok {
		writePortalError(w, http.StatusNotFound, "ResourceNotFoundException", "The specified account was not found")
		return
	}
	start, end, next, ok := p.page(w, "roles:"+accountID, len(a.Roles), maxResult, nextToken)
	if !ok {
		return
	}
	list := make([]portalRole, 0, end-start)
	for _, r := range a.Roles[start:end] {
		list = append(list, portalRole{a.ID, r})
	}
	writePortalJSON(w, struct {
		RoleList  []portalRole `json:"roleList"`
		NextToken *string      `json:"nextToken"`
	}{list, next})
}

func (p *Portal) getRoleCredentials(w http.ResponseWriter, ctx context.Context, accountID, roleName string) {
	if accountID == "" || roleName == "" {
		writePortalError(w, http.StatusBadRequest, "InvalidRequestException", "account_id and role_name are required")
		return
	}
	a, ok := p.account(accountID)
	if !ok || !slices.Contains(a.Roles, roleName) {
		// What the portal answers for a role the user is not assigned
		// ("An error occurred (ForbiddenException) when calling the
		// GetRoleCredentials operation: No access", as users of every
		// SDK report it); the model names no such error, so SDKs show
		// it as a generic API error.
		writePortalError(w, http.StatusForbidden, "ForbiddenException", "No access")
		return
	}
	var creds RoleCredentials
	if p.cfg.Credentials != nil {
		c, err := p.cfg.Credentials(ctx, accountID, roleName)
		if err != nil {
			writePortalError(w, http.StatusInternalServerError, "InternalServerException", err.Error())
			return
		}
		creds = c
	} else {
		creds = RoleCredentials{
			AccessKeyID:     "ASIA" + strings.ToUpper(randomHex(8)),
			SecretAccessKey: randomHex(20),
			SessionToken:    base64.StdEncoding.EncodeToString([]byte(randomHex(64))),
			Expiration:      p.cfg.Now().Add(p.cfg.CredentialLifetime),
		}
	}
	p.mu.Lock()
	p.issued[creds.AccessKeyID] = issuedRole{accountID, roleName}
	p.mu.Unlock()
	type roleCredentials struct {
		AccessKeyID     string `json:"accessKeyId"`
		SecretAccessKey string `json:"secretAccessKey"`
		SessionToken    string `json:"sessionToken"`
		Expiration      int64  `json:"expiration"` // epoch milliseconds
	}
	writePortalJSON(w, struct {
		RoleCredentials roleCredentials `json:"roleCredentials"`
	}{roleCredentials{creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken, creds.Expiration.UnixMilli()}})
}

func (p *Portal) account(id string) (Account, bool) {
	for _, a := range p.cfg.Accounts {
		if a.ID == id {
			return a, true
		}
	}
	return Account{}, false
}

// page resolves max_result and next_token for a listing of n items. The
// token is opaque to clients; it names the listing it belongs to, so a
// token of one account's roles is refused for another's.
func (p *Portal) page(w http.ResponseWriter, listing string, n int, maxResult, nextToken string) (start, end int, next *string, ok bool) {
	size := p.cfg.PageSize
	if maxResult != "" {
		v, err := strconv.Atoi(maxResult)
		if err != nil || v < 1 || v > maxResults {
			writePortalError(w, http.StatusBadRequest, "InvalidRequestException",
				fmt.Sprintf("max_result must be between 1 and %d", maxResults))
			return 0, 0, nil, false
		}
		size = v
	}
	if nextToken != "" {
		v, good := decodePageToken(listing, nextToken)
		if !good || v > n {
			writePortalError(w, http.StatusBadRequest, "InvalidRequestException", "Invalid next token")
			return 0, 0, nil, false
		}
		start = v
	}
	end = min(start+size, n)
	if end < n {
		t := encodePageToken(listing, end)
		next = &t
	}
	return start, end, next, true
}

func encodePageToken(listing string, offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(listing + "|" + strconv.Itoa(offset)))
}

func decodePageToken(listing, token string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, false
	}
	l, off, found := strings.Cut(string(b), "|")
	if !found || l != listing {
		return 0, false
	}
	v, err := strconv.Atoi(off)
	return v, err == nil && v > 0
}

func writePortalJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-RequestId", requestID())
	json.NewEncoder(w).Encode(v)
}

// portalErrorNamespace follows the error type in x-amzn-ErrorType, as the
// portal's service framework sends it; the SDKs keep what precedes the
// colon.
const portalErrorNamespace = ":http://internal.amazon.com/coral/com.amazonaws.switchboard.portal/"

// writePortalError answers as the portal does: the error type in the
// x-amzn-ErrorType header and only the message in the body. The SDKs read
// the type from the header first (aws-sdk-go-v2's restjson
// GetErrorInfo, botocore's RestJSONParser), so a fake that put it only in
// the body's __type would let a client that ignores the header pass.
func writePortalError(w http.ResponseWriter, status int, errorType, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-RequestId", requestID())
	w.Header().Set("x-amzn-ErrorType", errorType+portalErrorNamespace)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Message string `json:"message"`
	}{message})
}

func requestID() string {
	b := randomHex(16)
	return b[:8] + "-" + b[8:12] + "-" + b[12:16] + "-" + b[16:20] + "-" + b[20:]
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
