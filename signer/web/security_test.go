package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

func TestCrossOriginPostRefused(t *testing.T) {
	h := newHarness(t)
	c := h.user("alice")
	for _, hdr := range [][]string{
		{"Origin", "https://evil.example"},
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site", "Origin", "https://other." + testZone},
	} {
		a := h.do(c, "POST", "/hostnames/claim", url.Values{"label": {"forged"}}, hdr...)
		if a.status != http.StatusForbidden {
			t.Errorf("POST with %v: %d, want 403", hdr, a.status)
		}
	}
	if hs, _ := h.db.Hostnames(context.Background(), "alice"); len(hs) != 0 {
		t.Errorf("a cross-origin POST claimed %v", hs)
	}
	// The same POST from the service's own origin goes through, also when
	// a proxy in front changed Host.
	if a := h.do(c, "POST", "/hostnames/claim", url.Values{"label": {"proxied"}}, "Origin", h.base, "Host", "internal:8080"); a.status != http.StatusSeeOther {
		t.Errorf("same-origin POST through a proxy: %d, want 303", a.status)
	}
	// The same POST from the service's own origin goes through.
	if a := h.do(c, "POST", "/hostnames/claim", url.Values{"label": {"mine"}}, "Origin", h.base, "Sec-Fetch-Site", "same-origin"); a.status != http.StatusSeeOther {
		t.Errorf("same-origin POST: %d, want 303", a.status)
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := newHarness(t)
	c := h.user("alice")
	for _, path := range []string{"/", "/login", "/signup", "/hostnames", "/keys", "/certificates", "/account", "/nowhere", "/static/style.css"} {
		a := h.get(c, path)
		csp := a.header.Get("Content-Security-Policy")
		for _, want := range []string{"frame-ancestors 'none'", "default-src 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: Content-Security-Policy %q lacks %s", path, csp, want)
			}
		}
		// Script only from the service's own files: no inline script, no
		// other origin.
		if strings.Contains(csp, "unsafe-") || !strings.Contains(csp, "script-src 'self';") {
			t.Errorf("%s: Content-Security-Policy %q allows script beyond the service's own files", path, csp)
		}
		if got := a.header.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("%s: X-Frame-Options %q", path, got)
		}
		if got := a.header.Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=63072000") {
			t.Errorf("%s: Strict-Transport-Security %q", path, got)
		}
		if got := a.header.Get("Referrer-Policy"); got != "no-referrer" {
			t.Errorf("%s: Referrer-Policy %q", path, got)
		}
		if got := a.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", path, got)
		}
		// A script is only the service's own file, with nothing inline.
		inline := regexp.MustCompile(`<script src="/static/[a-z]+\.js" defer></script>`).ReplaceAllString(a.body, "")
		if strings.Contains(inline, "<script") || strings.Contains(a.body, "style=") {
			t.Errorf("%s: inline script or style in the page", path)
		}
	}
}

func TestSessionCookie(t *testing.T) {
	h := newHarness(t)
	h.user("alice")
	c := h.client()
	// A session id planted before login (fixation) is not the one after.
	planted := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	u, _ := url.Parse(h.base)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: planted, Path: "/"}})
	first := h.post(c, "/login", "username", "alice", "password", testPassword)
	second := h.post(h.client(), "/login", "username", "alice", "password", testPassword)
	var cookies []*http.Cookie
	for _, a := range []answer{first, second} {
		resp := http.Response{Header: a.header}
		for _, ck := range resp.Cookies() {
			if ck.Name == sessionCookie {
				cookies = append(cookies, ck)
			}
		}
	}
	if len(cookies) != 2 {
		t.Fatalf("session cookies set: %v", cookies)
	}
	for _, ck := range cookies {
		if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" {
			t.Errorf("session cookie %s: HttpOnly %v, Secure %v, SameSite %v, Path %q, Domain %q", ck.Raw, ck.HttpOnly, ck.Secure, ck.SameSite, ck.Path, ck.Domain)
		}
		if ck.Value == planted {
			t.Error("the planted session id survived the login")
		}
	}
	if cookies[0].Value == cookies[1].Value {
		t.Error("two logins got one session id")
	}
}

// TestLoginAnswersAlike: an unknown user name and a wrong password get
// the same status and page, and cost one argon2id verification each.
func TestLoginAnswersAlike(t *testing.T) {
	h := newHarness(t)
	h.user("alice")
	c := h.client()
	before := h.web.verifications.Load()
	wrong := h.post(c, "/login", "username", "alice", "password", "not alice's password")
	mid := h.web.verifications.Load()
	unknown := h.post(c, "/login", "username", "alicf", "password", "not alice's password")
	after := h.web.verifications.Load()
	if wrong.status != unknown.status {
		t.Errorf("status: wrong password %d, unknown user %d", wrong.status, unknown.status)
	}
	if strings.ReplaceAll(unknown.body, "alicf", "alice") != wrong.body {
		t.Errorf("the pages differ:\n%s\n----\n%s", wrong.body, unknown.body)
	}
	if mid-before != 1 || after-mid != 1 {
		t.Errorf("argon2id verifications: %d for a wrong password, %d for an unknown user; want 1 and 1", mid-before, after-mid)
	}
	// A disabled account answers alike too.
	if err := h.db.SetAccountDisabled(context.Background(), "alice", true); err != nil {
		t.Fatal(err)
	}
	if a := h.post(c, "/login", "username", "alice", "password", testPassword); a.body != wrong.body {
		t.Errorf("a disabled account's answer differs:\n%s", a.body)
	}
}

func TestLoginLockout(t *testing.T) {
	h := newHarness(t)
	h.user("alice")
	c := h.client()
	lim := DefaultLoginLimits
	for i := 0; i < lim.Failures; i++ {
		if a := h.post(c, "/login", "username", "alice", "password", "guess number "+string(rune('a'+i))); a.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, a.status)
		}
	}
	// Locked: the right password does not log in now, and an unknown
	// name that was guessed as often is locked just the same.
	before := h.web.verifications.Load()
	if a := h.post(c, "/login", "username", "alice", "password", testPassword); a.status != http.StatusTooManyRequests || strings.Contains(a.header.Get("Set-Cookie"), sessionCookie) {
		t.Fatalf("the right password during the lockout: %d", a.status)
	}
	if h.web.verifications.Load() != before {
		t.Error("a locked-out login still ran argon2id")
	}
	for i := 0; i < lim.Failures; i++ {
		h.post(c, "/login", "username", "ghost", "password", "guess")
	}
	if a := h.post(c, "/login", "username", "ghost", "password", "guess"); a.status != http.StatusTooManyRequests {
		t.Errorf("an unknown name guessed %d times: %d, want 429", lim.Failures, a.status)
	}
	h.clk.Advance(lim.Lockout + time.Second)
	if a := h.post(c, "/login", "username", "alice", "password", testPassword); a.status != http.StatusSeeOther {
		t.Errorf("after the lockout: %d, want 303", a.status)
	}

	// Per address: many names from one address lock the address.
	h.clk.Advance(DefaultAddressLimits.Window + time.Second)
	locked := false
	for i := 0; i < DefaultAddressLimits.Failures+1 && !locked; i++ {
		a := h.post(c, "/login", "username", "user"+strings.Repeat("x", i%20)+string(rune('a'+i%26)), "password", "guess")
		locked = a.status == http.StatusTooManyRequests
	}
	if !locked {
		t.Errorf("%d failures from one address over many names were not locked out", DefaultAddressLimits.Failures)
	}
}

var injections = []string{
	`'; DROP TABLE accounts; --`,
	`" OR "1"="1`,
	`<script>alert(1)</script>`,
	`"><img src=x onerror=alert(1)>`,
	"name\r\nBcc: victim@example.com",
	`{{.}}`,
	"\x00nul",
	`../../etc/passwd`,
	strings.Repeat("A", 5000),
}

// TestInjectionStrings sends hostile strings in every form field: each
// is refused with a 4xx, or stored literally; none reaches a page
// unescaped, and the database is intact afterwards.
func TestInjectionStrings(t *testing.T) {
	h := newHarness(t)
	c := h.user("alice")
	ctx := context.Background()
	if a := h.post(c, "/hostnames/claim", "label", "laptop"); a.status != http.StatusSeeOther {
		t.Fatal(a.status)
	}
	anon := h.client()
	check := func(where string, a answer) {
		t.Helper()
		if a.status >= 500 {
			t.Errorf("%s: %d", where, a.status)
		}
		if strings.Contains(a.body, "<script>alert") || strings.Contains(a.body, "<img src=x") {
			t.Errorf("%s: the string reached the page unescaped", where)
		}
	}
	for _, s := range injections {
		check("sign up username", h.post(anon, "/signup", "username", s, "email", "x@example.com", "password", testPassword))
		check("sign up email", h.post(anon, "/signup", "username", "mallory", "email", s, "password", testPassword))
		check("login username", h.post(anon, "/login", "username", s, "password", "x"))
		check("login password", h.post(anon, "/login", "username", "bob", "password", s))
		check("reset username", h.post(anon, "/reset", "username", s))
		check("reset token", h.post(anon, "/reset/confirm", "token", s, "password", testPassword))
		check("verify token", h.get(anon, "/verify?token="+url.QueryEscape(s)))
		check("claim label", h.post(c, "/hostnames/claim", "label", s))
		check("release label", h.post(c, "/hostnames/release", "label", s))
		check("key hostname", h.post(c, "/keys/create", "hostname", s))
		check("key id", h.post(c, "/keys/revoke", "id", s))
		check("certificate serial", h.post(c, "/certificates/revoke", "serial", s))
		check("password current", h.post(c, "/account/password", "current", s, "password", testPassword))
		check("delete confirm", h.post(c, "/account/delete", "confirm", s, "password", testPassword))
	}
	// Nothing of it was stored: the accounts and hostnames are as before.
	if as, _ := h.db.Accounts(ctx); len(as) != 1 || as[0].Username != "alice" {
		t.Errorf("accounts after the injections: %v", as)
	}
	if hs, _ := h.db.Hostnames(ctx, ""); len(hs) != 1 || hs[0].Label != "laptop" {
		t.Errorf("hostnames after the injections: %v", hs)
	}
	if m := h.sink.Pending(); len(m) != 0 {
		t.Errorf("mails sent by the injections: %d, first to %v", len(m), m[0].To)
	}

	// What a field may hold is stored literally: a password with quotes
	// and markup logs in as itself, and an email address with an
	// apostrophe is kept as typed.
	pw := `'; DROP TABLE accounts; -- <script>alert(1)</script>`
	if a := h.post(anon, "/signup", "username", "obrien", "email", "o'brien@example.com", "password", pw); a.status != http.StatusSeeOther {
		t.Fatalf("sign up with a hostile password: %d\n%s", a.status, a.body)
	}
	h.get(anon, h.mailedLink("o'brien@example.com"))
	if a := h.post(anon, "/login", "username", "obrien", "password", pw); a.status != http.StatusSeeOther {
		t.Errorf("login with the hostile password: %d", a.status)
	}
	if a, err := h.db.Account(ctx, "obrien"); err != nil || a.Email != "o'brien@example.com" {
		t.Errorf("stored email %q, %v", a.Email, err)
	}
	if a := h.get(anon, "/account"); !strings.Contains(a.body, "o&#39;brien@example.com") {
		t.Errorf("the account page does not show the address escaped")
	}
}

func TestDeletedAccountsHostnamesAreHeld(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	bob := h.user("bob")
	ctx := context.Background()
	for _, l := range []string{"laptop", "desktop"} {
		if a := h.post(alice, "/hostnames/claim", "label", l); a.status != http.StatusSeeOther {
			t.Fatal(a.status)
		}
	}
	live := h.issue("alice", "laptop", 90*24*time.Hour)
	other := h.issue("alice", "desktop", 45*24*time.Hour)
	h.clk.Advance(time.Hour)

	// A CA that does not revoke keeps the account.
	h.issuer.fail = true
	if a := h.post(alice, "/account/delete", "confirm", "alice", "password", testPassword); a.status != http.StatusBadGateway {
		t.Fatalf("delete with the CA down: %d", a.status)
	}
	if _, err := h.db.Account(ctx, "alice"); err != nil {
		t.Fatalf("the account is gone though a revocation failed: %v", err)
	}
	h.issuer.fail = false
	if a := h.post(alice, "/account/delete", "confirm", "alice", "password", "wrong password!!"); a.status != http.StatusUnauthorized {
		t.Errorf("delete with a wrong password: %d", a.status)
	}
	if a := h.post(alice, "/account/delete", "confirm", "alice", "password", testPassword); a.status != http.StatusOK {
		t.Fatalf("delete: %d\n%s", a.status, a.body)
	}
	if _, err := h.db.Account(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the account survived: %v", err)
	}
	if got := h.issuer.serials(); len(got) != 2 || !(got[0] == live.Serial && got[1] == other.Serial || got[1] == live.Serial && got[0] == other.Serial) {
		t.Errorf("revoked %v, want %s and %s", got, live.Serial, other.Serial)
	}

	// Both names are held from everyone for store.Quarantine.
	for _, label := range []string{"desktop", "laptop"} {
		if until, err := h.db.QuarantinedUntil(ctx, label); err != nil || !until.Equal(h.clk.Now().Add(store.Quarantine)) {
			t.Errorf("%s held until %v (%v), want %v", label, until, err, h.clk.Now().Add(store.Quarantine))
		}
	}
	if a := h.post(bob, "/hostnames/claim", "label", "desktop"); a.status != http.StatusConflict || !strings.Contains(a.body, "held until") {
		t.Errorf("bob claims the held name: %d\n%s", a.status, a.body)
	}
	if _, err := h.db.AddHostname(ctx, "bob", "laptop", 5); !errors.Is(err, store.ErrQuarantined) {
		t.Errorf("the store registers a held name: %v", err)
	}
	h.clk.Advance(store.Quarantine - time.Minute)
	if a := h.post(bob, "/login", "username", "bob", "password", testPassword); a.status != http.StatusSeeOther {
		t.Fatalf("bob logs in again: %d", a.status)
	}
	if a := h.post(bob, "/hostnames/claim", "label", "laptop"); a.status != http.StatusConflict {
		t.Errorf("bob claims laptop a minute before its hold ends: %d", a.status)
	}
	h.clk.Advance(time.Minute)
	if a := h.post(bob, "/login", "username", "bob", "password", testPassword); a.status != http.StatusSeeOther {
		t.Fatalf("bob logs in again: %d", a.status)
	}
	if a := h.post(bob, "/hostnames/claim", "label", "desktop"); a.status != http.StatusSeeOther {
		t.Errorf("bob claims desktop after its hold: %d", a.status)
	}
	if a := h.post(bob, "/hostnames/claim", "label", "laptop"); a.status != http.StatusSeeOther {
		t.Errorf("bob claims laptop after its hold: %d", a.status)
	}
}

// TestReleasedHostnamesCertificatesAreRevoked: releasing a hostname on
// its page revokes its live certificates first, and only its own; with
// the CA down the name stays its owner's.
func TestReleasedHostnamesCertificatesAreRevoked(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	ctx := context.Background()
	for _, l := range []string{"laptop", "desktop"} {
		if a := h.post(alice, "/hostnames/claim", "label", l); a.status != http.StatusSeeOther {
			t.Fatal(a.status)
		}
	}
	live := h.issue("alice", "laptop", 90*24*time.Hour)
	other := h.issue("alice", "desktop", 90*24*time.Hour)

	h.issuer.fail = true
	if a := h.post(alice, "/hostnames/release", "label", "laptop"); a.status != http.StatusBadGateway {
		t.Fatalf("release with the CA down: %d, want 502", a.status)
	}
	if hn, err := h.db.Hostname(ctx, "laptop"); err != nil || hn.Username != "alice" {
		t.Fatalf("the name was released though its certificate was not revoked: %+v, %v", hn, err)
	}
	h.issuer.fail = false
	if a := h.post(alice, "/hostnames/release", "label", "laptop"); a.status != http.StatusSeeOther {
		t.Fatalf("release: %d\n%s", a.status, a.body)
	}
	if got := h.issuer.serials(); len(got) != 1 || got[0] != live.Serial {
		t.Errorf("the CA was asked to revoke %v, want only laptop's %s (not desktop's %s)", got, live.Serial, other.Serial)
	}
	if got, _ := h.db.CertificateBySerial(ctx, live.Serial); got.RevokedAt == nil {
		t.Error("the revocation is not recorded")
	}
}
