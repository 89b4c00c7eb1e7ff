package ssofake

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// OIDC operations, as the SDKs name them; OIDC.Calls takes them.
const (
	OpRegisterClient           = "RegisterClient"
	OpStartDeviceAuthorization = "StartDeviceAuthorization"
	OpCreateToken              = "CreateToken"
	OpAuthorize                = "Authorize"
)

// Grant types CreateToken accepts (RFC 6749, RFC 8628).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
)

// OIDCConfig says how the fake OIDC service behaves. The zero value of
// each field is the real service's behaviour where it has one.
type OIDCConfig struct {
	// AccessTokenLifetime is how long access tokens last (expiresIn);
	// zero means an hour.
	AccessTokenLifetime time.Duration
	// RegistrationLifetime is how long a client registration lasts
	// (clientSecretExpiresAt); zero means 90 days, the service's.
	RegistrationLifetime time.Duration
	// DeviceCodeLifetime is a device code's expiresIn; zero means 600 s.
	DeviceCodeLifetime time.Duration
	// Interval is the polling interval a device authorization asks for,
	// in seconds; zero means 1, what the service answers.
	Interval int
	// DenyAuthorize makes /authorize redirect with error=access_denied,
	// as when the person clicks Deny.
	DenyAuthorize bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// OIDC is the fake SSO OIDC service (oidc.REGION.amazonaws.com), an
// http.Handler. Its methods are safe for concurrent use.
//
// The browser's part is played by plain GET requests: /authorize
// approves at once and redirects with a code (the person is signed in and
// clicks Allow), /device?user_code= approves a device code.
type OIDC struct {
	cfg  OIDCConfig
	base func(r *http.Request) string

	callCounts // Calls: every request, faults included

	mu       sync.Mutex
	clients  map[string]*oidcClient
	devices  map[string]*oidcDevice // device code -> authorization
	codes    map[string]*oidcCode   // authorization code -> grant
	access   map[string]time.Time   // access token -> expiry
	refresh  map[string]string      // refresh token -> client id
	slowDown int
	faults   map[string]oidcFault // operation -> error for its next call
}

type oidcFault struct {
	status    int
	errorType string
	oauth     string
}

type oidcClient struct {
	secret    string
	expires   time.Time
	scopes    []string
	grants    []string
	redirects []string
}

type oidcDevice struct {
	clientID string
	userCode string
	expires  time.Time
	approved bool
	used     bool
}

type oidcCode struct {
	clientID    string
	challenge   string
	redirectURI string
	expires     time.Time
}

// NewOIDC returns a fake OIDC service.
func NewOIDC(cfg OIDCConfig) *OIDC {
	if cfg.AccessTokenLifetime <= 0 {
		cfg.AccessTokenLifetime = time.Hour
	}
	if cfg.RegistrationLifetime <= 0 {
		cfg.RegistrationLifetime = 90 * 24 * time.Hour
	}
	if cfg.DeviceCodeLifetime <= 0 {
		cfg.DeviceCodeLifetime = 600 * time.Second
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 1
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &OIDC{
		cfg:     cfg,
		base:    requestBase,
		clients: map[string]*oidcClient{},
		devices: map[string]*oidcDevice{},
		codes:   map[string]*oidcCode{},
		access:  map[string]time.Time{},
		refresh: map[string]string{},
		faults:  map[string]oidcFault{},
	}
}

// Fail makes the next call of op answer status with the exception
// errorType (and OAuth error code oauthError), as the service sends its
// errors: InternalServerException 500, InvalidClientException 401...
func (o *OIDC) Fail(op string, status int, errorType, oauthError string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.faults[op] = oidcFault{status, errorType, oauthError}
}

// fault answers op's injected error, if there is one.
func (o *OIDC) fault(w http.ResponseWriter, op string) bool {
	o.mu.Lock()
	f, ok := o.faults[op]
	delete(o.faults, op)
	o.mu.Unlock()
	if ok {
		writeOIDCError(w, f.status, f.errorType, f.oauth, "")
	}
	return ok
}

// requestBase is the URL the client reached us at.
func requestBase(r *http.Request) string { return "http://" + r.Host }

// Valid reports whether accessToken was issued here and has not expired:
// the portal's PortalConfig.Authorize.
func (o *OIDC) Valid(accessToken string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	exp, ok := o.access[accessToken]
	return ok && o.cfg.Now().Before(exp)
}

// RefreshTokens returns how many refresh tokens are valid now.
func (o *OIDC) RefreshTokens() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.refresh)
}

// RevokeRefreshTokens invalidates every refresh token, as when the
// administrator's session limit ends the session: refreshes then fail
// with InvalidGrantException.
func (o *OIDC) RevokeRefreshTokens() {
	o.mu.Lock()
	defer o.mu.Unlock()
	clear(o.refresh)
}

// SlowDown makes the next n device code polls answer SlowDownException.
func (o *OIDC) SlowDown(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.slowDown += n
}

// ApproveDevice approves the device authorization with userCode, as the
// person does on the device page. It reports whether there was one.
func (o *OIDC) ApproveDevice(userCode string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, d := range o.devices {
		if d.userCode == userCode && !d.used {
			d.approved = true
			return true
		}
	}
	return false
}

// ServeHTTP answers:
//
//	POST /client/register         RegisterClient
//	POST /device_authorization    StartDeviceAuthorization
//	POST /token                   CreateToken (device code, authorization code + PKCE, refresh token)
//	GET  /authorize               the browser's page: redirects with a code
//	GET  /device?user_code=       the device page: approves the code
func (o *OIDC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/client/register":
		if o.served(w, OpRegisterClient) {
			o.register(w, r)
		}
	case r.Method == http.MethodPost && r.URL.Path == "/device_authorization":
		if o.served(w, OpStartDeviceAuthorization) {
			o.startDevice(w, r)
		}
	case r.Method == http.MethodPost && r.URL.Path == "/token":
		if o.served(w, OpCreateToken) {
			o.token(w, r)
		}
	case r.Method == http.MethodGet && r.URL.Path == "/authorize":
		o.add(OpAuthorize)
		o.authorize(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/device":
		if o.ApproveDevice(r.URL.Query().Get("user_code")) {
			w.Write([]byte("Request approved\n"))
			return
		}
		http.Error(w, "no such code", http.StatusNotFound)
	default:
		writeOIDCError(w, http.StatusNotFound, "UnknownOperationException", "", "")
	}
}

// served counts a call of op and answers its injected error if any; it
// reports whether the call is still to be answered.
func (o *OIDC) served(w http.ResponseWriter, op string) bool {
	o.add(op)
	return !o.fault(w, op)
}

// maxOIDCBody bounds a request body; the largest real one, a
// registration with redirect URIs, is under a kilobyte.
const maxOIDCBody = 64 << 10

func decodeOIDC(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxOIDCBody)).Decode(v); err != nil {
		writeOIDCError(w, http.StatusBadRequest, "InvalidRequestException", "invalid_request", "malformed request body")
		return false
	}
	return true
}

func (o *OIDC) register(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ClientName   string   `json:"clientName"`
		ClientType   string   `json:"clientType"`
		Scopes       []string `json:"scopes"`
		GrantTypes   []string `json:"grantTypes"`
		RedirectURIs []string `json:"redirectUris"`
		IssuerURL    string   `json:"issuerUrl"`
	}
	if !decodeOIDC(w, r, &in) {
		return
	}
	switch {
	case in.ClientName == "" || in.ClientType == "":
		writeOIDCError(w, http.StatusBadRequest, "InvalidRequestException", "invalid_request", "clientName and clientType are required")
		return
	case in.ClientType != "public":
		writeOIDCError(w, http.StatusBadRequest, "InvalidClientMetadataException", "invalid_client_metadata", "unsupported client type")
		return
	}
	for _, g := range in.GrantTypes {
		if g != GrantAuthorizationCode && g != GrantRefreshToken && g != GrantDeviceCode {
			writeOIDCError(w, http.StatusBadRequest, "InvalidClientMetadataException", "invalid_client_metadata", "unsupported grant type")
			return
		}
	}
	for _, u := range in.RedirectURIs {
		if !loopbackRedirect(u) {
			writeOIDCError(w, http.StatusBadRequest, "InvalidRedirectUriException", "invalid_redirect_uri", "redirect uri must be a loopback address")
			return
		}
	}
	if containsString(in.GrantTypes, GrantAuthorizationCode) && (len(in.RedirectURIs) == 0 || in.IssuerURL == "") {
		writeOIDCError(w, http.StatusBadRequest, "InvalidRequestException", "invalid_request", "authorization_code needs redirectUris and issuerUrl")
		return
	}
	now := o.cfg.Now()
	id, secret := randomToken("cid"), randomToken("csecret")
	c := &oidcClient{secret: secret, expires: now.Add(o.cfg.RegistrationLifetime), scopes: in.Scopes, grants: in.GrantTypes, redirects: in.RedirectURIs}
	o.mu.Lock()
	o.clients[id] = c
	o.mu.Unlock()
	out := map[string]any{
		"clientId":              id,
		"clientSecret":          secret,
		"clientIdIssuedAt":      now.Unix(),
		"clientSecretExpiresAt": c.expires.Unix(),
	}
	if containsString(in.GrantTypes, GrantAuthorizationCode) {
		out["authorizationEndpoint"] = o.base(r) + "/authorize"
		out["tokenEndpoint"] = o.base(r) + "/token"
	}
	writeOIDCJSON(w, out)
}

// loopbackRedirect is a redirect URI on 127.0.0.1 or [::1], over http,
// with any port (RFC 8252 7.3), as the service accepts.
func loopbackRedirect(u string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Scheme == "http" && (p.Hostname() == "127.0.0.1" || p.Hostname() == "::1")
}

// client checks a client id and secret; on failure it has answered.
func (o *OIDC) client(w http.ResponseWriter, id, secret string) (*oidcClient, bool) {
	o.mu.Lock()
	c := o.clients[id]
	o.mu.Unlock()
	if c == nil || c.secret != secret {
		writeOIDCError(w, http.StatusUnauthorized, "InvalidClientException", "invalid_client", "invalid client")
		return nil, false
	}
	if !o.cfg.Now().Before(c.expires) {
		writeOIDCError(w, http.StatusUnauthorized, "InvalidClientException", "invalid_client", "client registration expired")
		return nil, false
	}
	return c, true
}

func (o *OIDC) startDevice(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
		StartURL     string `json:"startUrl"`
	}
	if !decodeOIDC(w, r, &in) {
		return
	}
	if _, ok := o.client(w, in.ClientID, in.ClientSecret); !ok {
		return
	}
	if in.StartURL == "" {
		writeOIDCError(w, http.StatusBadRequest, "InvalidRequestException", "invalid_request", "startUrl is required")
		return
	}
	code, user := randomToken("dev"), userCode()
	o.mu.Lock()
	o.devices[code] = &oidcDevice{clientID: in.ClientID, userCode: user, expires: o.cfg.Now().Add(o.cfg.DeviceCodeLifetime)}
	o.mu.Unlock()
	verify := o.base(r) + "/device"
	writeOIDCJSON(w, map[string]any{
		"deviceCode":              code,
		"userCode":                user,
		"verificationUri":         verify,
		"verificationUriComplete": verify + "?user_code=" + url.QueryEscape(user),
		"expiresIn":               int(o.cfg.DeviceCodeLifetime / time.Second),
		"interval":                o.cfg.Interval,
	})
}

func (o *OIDC) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	o.mu.Lock()
	c := o.clients[q.Get("client_id")]
	o.mu.Unlock()
	redirect := q.Get("redirect_uri")
	// Errors before the redirect URI is known good are shown to the
	// person, never redirected (RFC 6749 4.1.2.1).
	switch {
	case c == nil || !containsString(c.grants, GrantAuthorizationCode):
		http.Error(w, "unknown client", http.StatusBadRequest)
		return
	case !registeredRedirect(c.redirects, redirect):
		http.Error(w, "redirect_uri not registered", http.StatusBadRequest)
		return
	}
	back, _ := url.Parse(redirect)
	v := url.Values{"state": {q.Get("state")}}
	switch {
	case q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		v.Set("error", "invalid_request")
	case o.cfg.DenyAuthorize:
		v.Set("error", "access_denied")
	default:
		code := randomToken("code")
		o.mu.Lock()
		o.codes[code] = &oidcCode{clientID: q.Get("client_id"), challenge: q.Get("code_challenge"), redirectURI: redirect, expires: o.cfg.Now().Add(10 * time.Minute)}
		o.mu.Unlock()
		v.Set("code", code)
	}
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// registeredRedirect matches a redirect against the registered ones,
// ignoring the port of a loopback URI (RFC 8252 7.3).
func registeredRedirect(registered []string, redirect string) bool {
	got, err := url.Parse(redirect)
	if err != nil || !loopbackRedirect(redirect) {
		return false
	}
	for _, r := range registered {
		want, err := url.Parse(r)
		if err == nil && want.Scheme == got.Scheme && want.Hostname() == got.Hostname() && want.Path == got.Path {
			return true
		}
	}
	return false
}

func (o *OIDC) token(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
		GrantType    string `json:"grantType"`
		DeviceCode   string `json:"deviceCode"`
		Code         string `json:"code"`
		CodeVerifier string `json:"codeVerifier"`
		RedirectURI  string `json:"redirectUri"`
		RefreshToken string `json:"refreshToken"`
	}
	if !decodeOIDC(w, r, &in) {
		return
	}
	c, ok := o.client(w, in.ClientID, in.ClientSecret)
	if !ok {
		return
	}
	now := o.cfg.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	switch in.GrantType {
	case GrantDeviceCode:
		d := o.devices[in.DeviceCode]
		switch {
		case d == nil || d.clientID != in.ClientID || d.used:
			writeOIDCError(w, http.StatusBadRequest, "InvalidGrantException", "invalid_grant", "invalid device code")
		case !now.Before(d.expires):
			writeOIDCError(w, http.StatusBadRequest, "ExpiredTokenException", "expired_token", "device code expired")
		case o.slowDown > 0:
			o.slowDown--
			writeOIDCError(w, http.StatusBadRequest, "SlowDownException", "slow_down", "")
		case !d.approved:
			writeOIDCError(w, http.StatusBadRequest, "AuthorizationPendingException", "authorization_pending", "")
		default:
			d.used = true
			o.issueLocked(w, in.ClientID, c, now)
		}
	case GrantAuthorizationCode:
		g := o.codes[in.Code]
		delete(o.codes, in.Code) // a code is good for one try (RFC 6749 4.1.2)
		switch {
		case g == nil || g.clientID != in.ClientID || !now.Before(g.expires):
			writeOIDCError(w, http.StatusBadRequest, "InvalidGrantException", "invalid_grant", "invalid authorization code")
		case g.redirectURI != in.RedirectURI:
			writeOIDCError(w, http.StatusBadRequest, "InvalidGrantException", "invalid_grant", "redirect uri mismatch")
		case in.CodeVerifier == "" || s256(in.CodeVerifier) != g.challenge:
			writeOIDCError(w, http.StatusBadRequest, "InvalidGrantException", "invalid_grant", "code verifier mismatch")
		default:
			o.issueLocked(w, in.ClientID, c, now)
		}
	case GrantRefreshToken:
		if owner, ok := o.refresh[in.RefreshToken]; !ok || owner != in.ClientID {
			writeOIDCError(w, http.StatusBadRequest, "InvalidGrantException", "invalid_grant", "invalid refresh token")
			return
		}
		delete(o.refresh, in.RefreshToken) // refresh tokens rotate on every use
		o.issueLocked(w, in.ClientID, c, now)
	default:
		writeOIDCError(w, http.StatusBadRequest, "UnsupportedGrantTypeException", "unsupported_grant_type", "")
	}
}

// issueLocked answers a new access token, with a refresh token when the
// client registered scopes: without them the service issues none.
func (o *OIDC) issueLocked(w http.ResponseWriter, clientID string, c *oidcClient, now time.Time) {
	access := randomToken("atok")
	o.access[access] = now.Add(o.cfg.AccessTokenLifetime)
	out := map[string]any{
		"accessToken": access,
		"tokenType":   "Bearer",
		"expiresIn":   int(o.cfg.AccessTokenLifetime / time.Second),
	}
	if len(c.scopes) > 0 {
		rt := randomToken("rtok")
		o.refresh[rt] = clientID
		out["refreshToken"] = rt
	}
	writeOIDCJSON(w, out)
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func writeOIDCJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-RequestId", requestID())
	json.NewEncoder(w).Encode(v)
}

// writeOIDCError answers as the OIDC service does: the exception's name
// in x-amzn-ErrorType and the OAuth error and description in the body
// ({"error":"authorization_pending","error_description":null}).
func writeOIDCError(w http.ResponseWriter, status int, errorType, oauthError, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-RequestId", requestID())
	w.Header().Set("x-amzn-ErrorType", errorType)
	w.WriteHeader(status)
	body := map[string]any{"error": nil, "error_description": nil}
	if oauthError != "" {
		body["error"] = oauthError
	}
	if description != "" {
		body["error_description"] = description
	}
	json.NewEncoder(w).Encode(body)
}

func randomToken(prefix string) string { return prefix + "-" + randomHex(24) }

// userCode is eight letters in two groups, as the device page shows them.
func userCode() string {
	const letters = "BCDFGHJKLMNPQRSTVWXZ"
	b := []byte(randomHex(4))
	var s strings.Builder
	for i, x := range b {
		if i == 4 {
			s.WriteByte('-')
		}
		s.WriteByte(letters[int(x)%len(letters)])
	}
	return s.String()
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
