package web

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/signer"
	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

func TestSignUpNeedsTheMailedLink(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	if a := h.post(c, "/signup", "username", "alice", "email", "alice@example.com", "password", testPassword); a.status != http.StatusSeeOther {
		t.Fatalf("sign up: %d\n%s", a.status, a.body)
	}
	link := h.mailedLink("alice@example.com")

	// Before the link is followed the password alone does not log in; a
	// new link is mailed instead.
	if a := h.post(c, "/login", "username", "alice", "password", testPassword); a.status != http.StatusForbidden || !strings.Contains(a.body, "not verified") {
		t.Fatalf("login before verification: %d\n%s", a.status, a.body)
	}
	newer := h.mailedLink("alice@example.com")
	if a := h.get(c, link); a.status != http.StatusBadRequest {
		t.Errorf("the first link after a newer was sent: %d, want 400", a.status)
	}
	if a := h.get(c, newer); a.status != http.StatusSeeOther {
		t.Fatalf("verify: %d\n%s", a.status, a.body)
	}
	if a := h.get(c, newer); a.status != http.StatusBadRequest {
		t.Errorf("the link a second time: %d, want 400", a.status)
	}
	if a := h.post(c, "/login", "username", "alice", "password", testPassword); a.status != http.StatusSeeOther || a.header.Get("Location") != "/hostnames" {
		t.Fatalf("login: %d %s\n%s", a.status, a.header.Get("Location"), a.body)
	}
	if a := h.get(c, "/hostnames"); a.status != http.StatusOK || !strings.Contains(a.body, "Log out alice") {
		t.Fatalf("hostnames after login: %d\n%s", a.status, a.body)
	}
	if a := h.post(c, "/signup", "username", "Alice", "email", "other@example.com", "password", testPassword); a.status != http.StatusConflict {
		t.Errorf("sign up a taken name: %d, want 409", a.status)
	}

	// A sign-up nobody verifies keeps its name only while its link works.
	anon := h.client()
	if a := h.post(anon, "/signup", "username", "squatter", "email", "s@example.com", "password", testPassword); a.status != http.StatusSeeOther {
		t.Fatal(a.status)
	}
	h.mailedLink("s@example.com")
	if a := h.post(anon, "/signup", "username", "squatter", "email", "real@example.com", "password", testPassword); a.status != http.StatusConflict {
		t.Errorf("sign up a name pending verification: %d, want 409", a.status)
	}
	h.clk.Advance(verifyTTL + time.Second)
	if a := h.post(anon, "/signup", "username", "squatter", "email", "real@example.com", "password", testPassword); a.status != http.StatusSeeOther {
		t.Errorf("sign up a name whose sign-up expired: %d, want 303", a.status)
	}
	h.mailedLink("real@example.com")
	if a := h.post(c, "/signup", "username", "alice", "email", "other@example.com", "password", testPassword); a.status != http.StatusConflict {
		t.Errorf("a verified account gave its name up: %d", a.status)
	}
}

func TestHostnamesKeysCertificates(t *testing.T) {
	h := newHarness(t)
	c := h.user("alice")
	ctx := context.Background()

	if a := h.post(c, "/hostnames/claim", "label", "laptop"); a.status != http.StatusSeeOther {
		t.Fatalf("claim: %d\n%s", a.status, a.body)
	}
	a := h.get(c, "/hostnames")
	for _, want := range []string{"laptop.signer.test", "<code>127.0.0.1</code>", "127.0.0.1 laptop.signer.test", "DNS-rebind"} {
		if !strings.Contains(a.body, want) {
			t.Errorf("hostnames page lacks %q", want)
		}
	}
	for _, bad := range []struct{ label, want string }{
		{"laptop", "taken"}, {"admin", "reserved"}, {"amaz0n", "impersonate"}, {"a", "characters long"},
	} {
		if a := h.post(c, "/hostnames/claim", "label", bad.label); a.status/100 != 4 || !strings.Contains(a.body, bad.want) {
			t.Errorf("claim %q: %d, want a 4xx saying %q\n%s", bad.label, a.status, bad.want, a.body)
		}
	}

	a = h.post(c, "/keys/create", "hostname", "laptop")
	key := regexp.MustCompile(`value="(sgk_[A-Za-z0-9_-]+)"`).FindStringSubmatch(a.body)
	if a.status != http.StatusOK || key == nil {
		t.Fatalf("create key: %d\n%s", a.status, a.body)
	}
	if want := "aws-sso-agent certs api-key --service " + h.base; !strings.Contains(a.body, want) {
		t.Errorf("the new key's page lacks %q", want)
	}
	hash, err := signer.ParseAPIKey(key[1])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.db.Authenticate(ctx, hash, "192.0.2.7"); err != nil {
		t.Fatalf("the shown key is not the stored one: %v", err)
	}
	a = h.get(c, "/keys")
	if strings.Contains(a.body, key[1]) {
		t.Error("the keys page shows the key again")
	}
	if !strings.Contains(a.body, "from 192.0.2.7") {
		t.Errorf("the keys page does not show the last use:\n%s", a.body)
	}

	cert := h.issue("alice", "laptop", 90*24*time.Hour)
	a = h.get(c, "/certificates")
	if !strings.Contains(a.body, cert.Serial) || !strings.Contains(a.body, "(in 90 days)") {
		t.Fatalf("certificates page:\n%s", a.body)
	}
	if a := h.post(c, "/certificates/revoke", "serial", cert.Serial); a.status != http.StatusSeeOther {
		t.Fatalf("revoke certificate: %d\n%s", a.status, a.body)
	}
	if got := h.issuer.serials(); len(got) != 1 || got[0] != cert.Serial {
		t.Errorf("the CA was asked to revoke %v, want [%s]", got, cert.Serial)
	}
	if got, _ := h.db.CertificateBySerial(ctx, cert.Serial); got.RevokedAt == nil {
		t.Error("the revocation is not recorded")
	}

	// Another account sees and touches none of it.
	bob := h.user("bob")
	if a := h.post(bob, "/certificates/revoke", "serial", cert.Serial); a.status != http.StatusNotFound {
		t.Errorf("bob revokes alice's certificate: %d, want 404", a.status)
	}
	keys, _ := h.db.Keys(ctx, "alice")
	if a := h.post(bob, "/keys/revoke", "id", "1"); a.status != http.StatusNotFound || keys[0].RevokedAt != nil {
		t.Errorf("bob revokes alice's key: %d, want 404", a.status)
	}
	if a := h.post(bob, "/hostnames/release", "label", "laptop"); a.status != http.StatusNotFound {
		t.Errorf("bob releases alice's hostname: %d, want 404", a.status)
	}
	if a := h.post(bob, "/hostnames/claim", "label", "bobs"); a.status != http.StatusSeeOther {
		t.Fatal(a.status)
	}
	if a := h.post(bob, "/keys/create", "hostname", "laptop"); a.status != http.StatusBadRequest {
		t.Errorf("bob scopes a key to alice's hostname: %d, want 400", a.status)
	}

	if a := h.post(c, "/keys/revoke", "id", "1"); a.status != http.StatusSeeOther {
		t.Fatalf("revoke key: %d\n%s", a.status, a.body)
	}
	if _, err := h.db.Authenticate(ctx, hash, "192.0.2.7"); !errors.Is(err, store.ErrUnauthorized) {
		t.Errorf("a revoked key authenticates: %v", err)
	}

	// Releasing a name with a certificate still valid holds it until the
	// certificate expires.
	if a := h.post(c, "/hostnames/release", "label", "laptop"); a.status != http.StatusSeeOther {
		t.Fatalf("release: %d\n%s", a.status, a.body)
	}
	if a := h.post(bob, "/hostnames/claim", "label", "laptop"); a.status != http.StatusConflict || !strings.Contains(a.body, "held until") {
		t.Errorf("claim a released name with a live certificate: %d\n%s", a.status, a.body)
	}
}

func TestPasswordChangeAndReset(t *testing.T) {
	h := newHarness(t)
	c := h.user("alice")
	other := h.client()
	if a := h.post(other, "/login", "username", "alice", "password", testPassword); a.status != http.StatusSeeOther {
		t.Fatal(a.status)
	}
	const second = "a second passphrase for alice"
	if a := h.post(c, "/account/password", "current", "wrong password!!", "password", second); a.status != http.StatusUnauthorized {
		t.Errorf("change with a wrong current password: %d, want 401", a.status)
	}
	if a := h.post(c, "/account/password", "current", testPassword, "password", second); a.status != http.StatusSeeOther {
		t.Fatalf("change: %d\n%s", a.status, a.body)
	}
	if a := h.get(c, "/account"); a.status != http.StatusOK {
		t.Errorf("the changing session ended: %d", a.status)
	}
	if a := h.get(other, "/account"); a.status != http.StatusSeeOther {
		t.Errorf("the other session survived a password change: %d", a.status)
	}

	// Reset: the same answer for a name that does not exist, and a mail
	// only for one that does.
	anon := h.client()
	ghost := h.post(anon, "/reset", "username", "ghost")
	real := h.post(anon, "/reset", "username", "alice")
	if ghost.status != real.status || ghost.header.Get("Location") != real.header.Get("Location") {
		t.Errorf("reset answers differ: %d %s vs %d %s", ghost.status, ghost.header.Get("Location"), real.status, real.header.Get("Location"))
	}
	link := h.mailedLink("alice@example.com")
	if m := h.sink.Pending(); len(m) != 0 {
		t.Errorf("mails for a user who does not exist: %v", m)
	}
	a := h.get(anon, link)
	token := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(a.body)
	if token == nil {
		t.Fatalf("reset form:\n%s", a.body)
	}
	const third = "a third passphrase for alice"
	if a := h.post(anon, "/reset/confirm", "token", token[1], "password", third); a.status != http.StatusSeeOther {
		t.Fatalf("reset: %d\n%s", a.status, a.body)
	}
	if a := h.post(anon, "/reset/confirm", "token", token[1], "password", "yet another passphrase"); a.status != http.StatusBadRequest {
		t.Errorf("the reset link a second time: %d, want 400", a.status)
	}
	if a := h.get(c, "/account"); a.status != http.StatusSeeOther {
		t.Errorf("a session survived the reset: %d", a.status)
	}
	if a := h.post(anon, "/login", "username", "alice", "password", third); a.status != http.StatusSeeOther {
		t.Errorf("login with the reset password: %d", a.status)
	}
}

func TestLogout(t *testing.T) {
	h := newHarness(t)
	c := h.user("alice")
	if a := h.post(c, "/logout"); a.status != http.StatusSeeOther {
		t.Fatal(a.status)
	}
	if a := h.get(c, "/hostnames"); a.status != http.StatusSeeOther || a.header.Get("Location") != "/login" {
		t.Errorf("after logout: %d %s", a.status, a.header.Get("Location"))
	}
}

// TestPasswordAgainIsLimited: the password typed again on the account
// page counts against the login limit, so a session cannot guess it
// without end; the locked-out name refuses even the right one.
func TestPasswordAgainIsLimited(t *testing.T) {
	for _, form := range []struct {
		path, field string
		rest        []string // the form's other fields
	}{
		{"/account/password", "current", []string{"password", "a new passphrase for alice"}},
		{"/account/delete", "password", []string{"confirm", "alice"}},
	} {
		t.Run(form.path, func(t *testing.T) {
			h := newHarness(t)
			c := h.user("alice")
			for i := range DefaultLoginLimits.Failures {
				if a := h.post(c, form.path, append([]string{form.field, "a wrong guess, number " + strconv.Itoa(i)}, form.rest...)...); a.status != http.StatusUnauthorized {
					t.Fatalf("guess %d: %d, want 401", i, a.status)
				}
			}
			a := h.post(c, form.path, append([]string{form.field, testPassword}, form.rest...)...)
			if a.status != http.StatusTooManyRequests || !strings.Contains(a.body, "Too many wrong passwords") {
				t.Errorf("the right password after %d guesses: %d, want 429\n%s", DefaultLoginLimits.Failures, a.status, a.body)
			}
			if a := h.post(h.client(), "/login", "username", "alice", "password", testPassword); a.status != http.StatusTooManyRequests {
				t.Errorf("login after the guesses: %d, want the lockout's 429", a.status)
			}
		})
	}
}
