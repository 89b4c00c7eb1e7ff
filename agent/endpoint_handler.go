package agent

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// Shared header values: assigned, never appended to, so sharing is safe and
// the hot path does not allocate them.
var (
	endpointJSON    = []string{"application/json"}
	endpointNoStore = []string{"no-store"}
	endpointNoSniff = []string{"nosniff"}
	endpointAllow   = []string{"GET, HEAD"}
	endpointClose   = []string{"close"}
	// endpointRetryProof is 1/ProofConnRate.
	endpointRetryProof = []string{"1"}
	// endpointProofLimited answers a proof over the rate: no work, no
	// allocation.
	endpointProofLimited       = []byte(`{"code":"proof_rate_limited","message":"too many proof requests on this SSH session: aws-sso-remote needs one per connection"}` + "\n")
	endpointProofLimitedLength = []string{strconv.Itoa(len(endpointProofLimited))}
)

// ServeHTTP answers one credentials request. Every answer other than
// credentials is a JSON error {"code","message"} with Content-Type
// application/json, which the SDKs parse and show (Go v2 only with exactly
// that content type: docs/sdk-compatibility.md).
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := e.now()
	info, _ := r.Context().Value(endpointChannelKey{}).(*endpointConnInfo)
	if info == nil {
		// Not from Serve (a test, or an embedding server): the local channel.
		info = &endpointConnInfo{client: r.RemoteAddr}
	}
	status, code, slot := e.handle(w, r, info, start)
	level := slog.LevelInfo
	if status == http.StatusTooManyRequests || r.URL.Path == wire.ProofPath {
		// A flood: one warning when limiting starts, per-request lines only
		// at debug level, so the flood does not become a log flood.
		// Proofs need no token, so anyone on the remote host may flood
		// them: Sessions logs them in aggregate.
		level = slog.LevelDebug
	}
	if !e.log.Enabled(r.Context(), level) {
		return
	}
	e.log.LogAttrs(r.Context(), level, "credentials request",
		slog.String("slot", slot),
		slog.String("client", info.client),
		slog.Int("status", status),
		slog.String("code", code),
		slog.Duration("latency", e.now().Sub(start)))
}

// handle answers the request and returns what to log: the status, the
// error code ("" on success) and the slot asked for.
func (e *Endpoint) handle(w http.ResponseWriter, r *http.Request, info *endpointConnInfo, now time.Time) (int, string, string) {
	// The token first: a request with a valid token is never rate limited.
	// Tokens are 256 bits, so guessing is hopeless at any rate; the limiter
	// exists to cap the log volume and work a flood of bad requests costs,
	// and must not let such a flood lock out the user's own clients.
	if len(r.TransferEncoding) > 0 {
		// A credentials request has no body, and one with a
		// Transfer-Encoding (with or without a Content-Length) is how
		// request smuggling starts: whatever is answered, nothing more is
		// read on this connection (RFC 9112, section 6.1).
		w.Header()["Connection"] = endpointClose
	}
	token, tokenErr := endpointToken(r.Header)
	var grant Grant
	var slot string
	valid := false
	if tokenErr == nil {
		h := tokenHash(token)
		grant, valid = e.tokens.lookupHash(&h)
		valid = valid && grant.SessionID == info.channel
	}
	fail := func(status int, code, msg string) (int, string, string) {
		if !valid && !e.limiter.AllowN(now, 1) {
			if !e.limited.Swap(true) {
				e.log.LogAttrs(r.Context(), slog.LevelWarn, "rate limiting failed credential requests",
					slog.String("client", info.client))
			}
			w.Header()["Retry-After"] = e.retryAfter
			endpointError(w, r, http.StatusTooManyRequests, "rate_limited",
				"too many failed requests: retry later, and check the token and URL (see `aws-sso-agent env`)")
			return http.StatusTooManyRequests, "rate_limited", slot
		}
		if !valid {
			e.limited.Store(false) // the flood, if any, is over
		}
		endpointError(w, r, status, code, msg)
		return status, code, slot
	}

	// Sizes first, before any other check reads the request's contents.
	if len(r.RequestURI) > endpointMaxURI {
		return fail(http.StatusRequestURITooLong, "uri_too_long",
			"the request URI is longer than 1 KiB: request / or /slot/NAME")
	}
	if endpointHeaderBytes(r) > endpointMaxHeaderBytes {
		return fail(http.StatusRequestHeaderFieldsTooLarge, "headers_too_large",
			"the request headers exceed 8 KiB: send only Host and Authorization")
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header()["Allow"] = endpointAllow
		return fail(http.StatusMethodNotAllowed, "method_not_allowed",
			"the credentials endpoint is read-only: use GET (load and unload slots with the aws-sso-agent command)")
	}
	if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
		return fail(http.StatusRequestEntityTooLarge, "body_not_allowed",
			"a credentials request has no body: send a GET without one")
	}
	if _, ok := r.Header["Origin"]; ok {
		// Browsers send Origin on cross-origin requests; SDKs never do.
		return fail(http.StatusForbidden, "origin_forbidden",
			"requests from web pages are refused: the credentials endpoint is for AWS SDKs only")
	}
	if !e.hostAllowed(r.Host) {
		return fail(http.StatusForbidden, "host_forbidden",
			"the Host header must be a loopback name or address (localhost, 127.0.0.1, [::1]): use the URL from `aws-sso-agent env`")
	}
	if r.URL.Path == wire.ProofPath {
		return e.prove(w, r, info, fail)
	}
	slot, ok := endpointRoute(r.URL)
	if !ok {
		return fail(http.StatusNotFound, "not_found",
			"unknown path: request / for the default slot or /slot/NAME (NAME URL-escaped) for a named one")
	}

	switch {
	case tokenErr == errEndpointNoToken:
		return fail(http.StatusUnauthorized, "missing_token",
			"no Authorization header: the client read no token. Older SDKs (botocore before 1.33, so Debian's python3-boto3 and awscli) read only AWS_CONTAINER_AUTHORIZATION_TOKEN, not AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE; `aws-sso-agent env` (or `aws-sso-remote env` on a remote host) exports both: run it again")
	case tokenErr == errEndpointTokenSpace:
		return fail(http.StatusUnauthorized, "token_whitespace",
			"the token has leading or trailing whitespace or a newline, which AWS SDKs reject in a token file: write the token file without a trailing newline (see `aws-sso-agent env`)")
	case !valid:
		// One answer for unknown, revoked and other-channel tokens: the
		// caller learns nothing about where a token would be valid.
		return fail(http.StatusUnauthorized, "invalid_token",
			"the token is not valid here (revoked, from an ended SSH session, or from another agent): run `aws-sso-agent env` (or `aws-sso-remote env` on a remote host) again")
	case !grant.allows(slot):
		return fail(http.StatusForbidden, "slot_not_granted",
			"this token may not read slot "+endpointSlotName(slot)+": start the session with access to it")
	}

	creds, err := e.source.Credentials(r.Context(), slot)
	var unavailable *UnavailableError
	switch {
	case err == nil && !creds.Expires.IsZero() && !creds.Expires.After(now):
		// Defence in depth: the source must not hand out expired
		// credentials, and SDKs would only fail with them (docs/threat-model.md).
		return fail(http.StatusServiceUnavailable, "credentials_expired",
			"the credentials of slot "+endpointSlotName(slot)+" have expired: reload it with `aws-sso-agent load`")
	case err == nil:
	case errors.Is(err, ErrNoSlot):
		return fail(http.StatusNotFound, "no_credentials",
			"nothing is loaded in slot "+endpointSlotName(slot)+": run `aws-sso-agent load` for it (`aws-sso-agent list` shows what is loaded)")
	case errors.As(err, &unavailable):
		msg := "slot " + endpointSlotName(slot) + ": " + unavailable.Reason
		if unavailable.Hint != "" {
			msg += "; " + unavailable.Hint
		}
		return fail(http.StatusServiceUnavailable, "credentials_unavailable", msg)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return fail(499, "client_closed", "the client went away")
	default:
		e.log.LogAttrs(r.Context(), slog.LevelError, "credentials source failed",
			slog.String("slot", slot), slog.Any("err", err))
		return fail(http.StatusInternalServerError, "source_error",
			"the agent could not get credentials for slot "+endpointSlotName(slot)+": see the agent's log (`aws-sso-agent status`)")
	}

	if info.channel != "" && e.sessions != nil {
		e.sessions.served(info.channel)
	}
	if creds.Expires.IsZero() {
		creds.Expires = staticKeysExpiration(now)
	}
	body := e.bodies.get(slot, &creds)
	h := w.Header()
	h["Content-Type"] = endpointJSON
	h["Cache-Control"] = endpointNoStore
	h["X-Content-Type-Options"] = endpointNoSniff
	h["Content-Length"] = body.length
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body.json)
	}
	return http.StatusOK, "", slot
}

// endpointBody is the encoded response for one set of credentials.
type endpointBody struct {
	creds  Credentials
	json   []byte   // never modified once stored
	length []string // Content-Length value
}

// endpointBodies caches each slot's encoded response, so the hot path
// neither encodes JSON nor allocates while a slot's credentials stay the
// same (they change once per refresh, about hourly). Readers load an
// immutable map; a change copies it. At most endpointMaxBodies slots are
// kept, so unloaded slots do not accumulate.
type endpointBodies struct {
	mu sync.Mutex // serialises writers
	m  atomic.Pointer[map[string]*endpointBody]
}

const endpointMaxBodies = 64

// endpointSameCredentials compares field by field: Expires with Equal, so a
// source that rebuilds the same expiry each call (another location or
// monotonic reading) still hits the cache.
func endpointSameCredentials(a, b *Credentials) bool {
	return a.AccessKeyID == b.AccessKeyID && a.SecretAccessKey == b.SecretAccessKey &&
		a.SessionToken == b.SessionToken && a.Expires.Equal(b.Expires) &&
		a.AccountID == b.AccountID && a.RoleARN == b.RoleARN
}

func (c *endpointBodies) get(slot string, creds *Credentials) *endpointBody {
	if m := c.m.Load(); m != nil {
		if b := (*m)[slot]; b != nil && endpointSameCredentials(&b.creds, creds) {
			return b
		}
	}
	j := endpointAppendCredentials(nil, creds)
	b := &endpointBody{creds: *creds, json: j, length: []string{strconv.Itoa(len(j))}}
	c.mu.Lock()
	defer c.mu.Unlock()
	var next map[string]*endpointBody
	if old := c.m.Load(); old != nil && len(*old) < endpointMaxBodies {
		next = maps.Clone(*old)
	} else {
		next = make(map[string]*endpointBody)
	}
	next[slot] = b
	c.m.Store(&next)
	return b
}

// endpointSlotName is how messages name a slot.
func endpointSlotName(slot string) string { return wire.QuotedSlotName(slot) }

var (
	errEndpointBadHost    = errors.New("bad host")
	errEndpointNoToken    = errors.New("no token")
	errEndpointTokenSpace = errors.New("token with whitespace")
)

// endpointToken extracts the token from the Authorization header, which the
// SDKs send exactly as configured: "TOKEN" or "Bearer TOKEN" (docs/sdk-compatibility.md).
func endpointToken(h map[string][]string) (string, error) {
	v := h["Authorization"]
	if len(v) == 0 || v[0] == "" {
		return "", errEndpointNoToken
	}
	t := v[0]
	if len(t) > 7 && strings.EqualFold(t[:7], "Bearer ") {
		t = t[7:]
	}
	// net/http trims the header value's outer spaces and tabs, but a
	// newline sent percent-free or a space before the token survives; a
	// token never contains whitespace (base64url).
	if strings.TrimSpace(t) != t || strings.ContainsAny(t, " \t\r\n") {
		return "", errEndpointTokenSpace
	}
	if t == "" || strings.EqualFold(t, "Bearer") {
		// "Bearer " with an empty token arrives as "Bearer": net/http
		// trims the trailing space.
		return "", errEndpointNoToken
	}
	return t, nil
}

// endpointHeaderBytes approximates the header size on the wire: each field
// as "Name: value\r\n", plus the Host header, which net/http moves out of
// the map.
func endpointHeaderBytes(r *http.Request) int {
	n := len(r.Host) + len("Host: \r\n")
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// hostAllowed reports whether the Host header names loopback or an allowed
// host. Any port is accepted: forwarded ports differ from the agent's.
func (e *Endpoint) hostAllowed(host string) bool {
	name := host
	if h, _, err := splitEndpointHostPort(host); err == nil {
		name = h
	} else {
		return false
	}
	if name == "" {
		return false
	}
	if ip, err := netip.ParseAddr(name); err == nil {
		return ip.Zone() == "" && ip.Unmap().IsLoopback()
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name == "localhost" {
		return true
	}
	for _, h := range e.allowedHosts {
		if name == h {
			return true
		}
	}
	return e.hostAllowedF != nil && e.hostAllowedF(name)
}

// splitEndpointHostPort splits a Host header: "name", "name:port", "v4",
// "v4:port", "[v6]" or "[v6]:port". The port, if any, must be digits.
func splitEndpointHostPort(host string) (name, port string, err error) {
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return "", "", errEndpointBadHost
		}
		name, rest := host[1:end], host[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return "", "", errEndpointBadHost
			}
			port = rest[1:]
		}
		if !strings.Contains(name, ":") {
			return "", "", errEndpointBadHost // brackets are for IPv6 only
		}
		return name, port, endpointCheckPort(port, rest != "")
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		name, port = host[:i], host[i+1:]
		if strings.Contains(name, ":") {
			return "", "", errEndpointBadHost // bare IPv6 must be bracketed
		}
		return name, port, endpointCheckPort(port, true)
	}
	return host, "", nil
}

func endpointCheckPort(port string, present bool) error {
	if !present {
		return nil
	}
	if port == "" || len(port) > 5 {
		return errEndpointBadHost
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return errEndpointBadHost
		}
	}
	return nil
}

// endpointRoute maps a request path to a slot: "/" is the default slot "",
// "/slot/NAME" the slot NAME, decoded from its escaped form so that a name
// may contain "/" as %2F. Empty names, extra segments and anything else are
// refused.
func endpointRoute(u *url.URL) (string, bool) {
	if u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		// A query or fragment is not part of the protocol; refusing it
		// keeps one spelling per resource.
		return "", false
	}
	p := u.EscapedPath()
	if p == "/" {
		return "", true
	}
	rest, ok := strings.CutPrefix(p, "/slot/")
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return "", false
	}
	name, err := url.PathUnescape(rest)
	if err != nil || name == "" || !utf8.ValidString(name) {
		return "", false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return "", false // control characters are never a slot name
		}
	}
	return name, true
}

// endpointError writes a JSON error. msg never contains a secret.
func endpointError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	b := wire.AppendErrorDocument(make([]byte, 0, 64+len(code)+len(msg)), code, msg)
	h := w.Header()
	h["Content-Type"] = endpointJSON
	h["Cache-Control"] = endpointNoStore
	h["X-Content-Type-Options"] = endpointNoSniff
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	switch status {
	case http.StatusRequestEntityTooLarge, http.StatusRequestURITooLong,
		http.StatusRequestHeaderFieldsTooLarge, http.StatusTooManyRequests:
		// Oversized or abusive: do not keep the connection for more.
		h["Connection"] = endpointClose
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}

// staticKeysExpiration is the Expiration served with static keys, which
// do not expire: botocore's container provider (every version, to 1.43)
// fails with KeyError 'Expiration' on a document without one, so the AWS
// CLI and boto3 could not use a slot of static keys. It is the next full
// hour plus one, so always 1 to 2 hours ahead: beyond botocore's 15-minute
// refresh window, and the same for a whole hour, so the cached body of the
// slot is reused. A client that refreshes then gets the same keys again.
func staticKeysExpiration(now time.Time) time.Time {
	return now.UTC().Truncate(time.Hour).Add(2 * time.Hour)
}

// endpointAppendCredentials appends the container-credentials JSON of c,
// the document aws-sso-remote parses too.
func endpointAppendCredentials(b []byte, c *Credentials) []byte { return wire.AppendCredentials(b, c) }

// prove answers aws-sso-remote's question "do you know my session?" before
// it sends its token (docs/threat-model.md, squatters): over TLS only, on a session's channel
// only, with an HMAC of the TLS connection's exported keying material
// under the session's proof key. The answer is bound to this connection,
// so it cannot be relayed by a squatter to another one.
func (e *Endpoint) prove(w http.ResponseWriter, r *http.Request, info *endpointConnInfo, fail func(int, string, string) (int, string, string)) (int, string, string) {
	if r.TLS == nil || info.channel == "" || e.sessions == nil {
		return fail(http.StatusNotFound, "not_found",
			"the session proof is answered only over TLS on an SSH session's forwarded port")
	}
	if info.proofs == nil {
		info.proofs = rate.NewLimiter(e.proofConn, e.proofBurst)
	}
	key, err := e.sessions.proofKey(info.channel, info.proofs)
	switch {
	case errors.Is(err, errProofLimited):
		// Neither the failure limiter nor its warning: this is the
		// session's own budget, counted and logged by Sessions. The
		// connection is kept (a flooder made to reconnect would cost a
		// TLS handshake each time, far more than this canned answer) but
		// held back, so that its flood waits rather than works.
		if e.proofHold > 0 {
			t := time.NewTimer(e.proofHold)
			select {
			case <-t.C:
			case <-r.Context().Done():
			}
			t.Stop()
		}
		h := w.Header()
		h["Content-Type"] = endpointJSON
		h["Cache-Control"] = endpointNoStore
		h["X-Content-Type-Options"] = endpointNoSniff
		h["Retry-After"] = endpointRetryProof
		h["Content-Length"] = endpointProofLimitedLength
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write(endpointProofLimited)
		return http.StatusTooManyRequests, "proof_rate_limited", ""
	case err != nil:
		return fail(http.StatusNotFound, "no_session", "this SSH session has ended: reconnect with aws-sso-agent ssh")
	}
	nonce, err := wire.ParseProofNonce(r.URL.Query().Get("nonce"))
	if err != nil {
		return fail(http.StatusBadRequest, "bad_nonce", "the proof request needs a nonce of 32 bytes, base64url without padding")
	}
	proof, err := wire.Proof(r.TLS, key, info.channel, nonce)
	if err != nil {
		return fail(http.StatusBadRequest, "no_keying_material", "the TLS connection cannot export keying material: use TLS 1.3")
	}
	body := wire.ProofAnswer{Session: info.channel, Proof: proof}.Marshal()
	h := w.Header()
	h["Content-Type"] = endpointJSON
	h["Cache-Control"] = endpointNoStore
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	return http.StatusOK, "", ""
}
