package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// begin starts a ceremony at path and returns its answer.
func (h *harness) begin(c *http.Client, path string) (state string, options map[string]any) {
	h.t.Helper()
	a := h.do(c, "POST", path, url.Values{})
	if a.status != http.StatusOK || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
		h.t.Fatalf("%s: %d %s\n%s", path, a.status, a.header.Get("Content-Type"), a.body)
	}
	var v struct {
		State   string
		Options struct{ PublicKey map[string]any }
	}
	if err := json.Unmarshal([]byte(a.body), &v); err != nil || !validToken(v.State) {
		h.t.Fatalf("%s: %v\n%s", path, err, a.body)
	}
	return v.State, v.Options.PublicKey
}

func TestPasskeyCeremonies(t *testing.T) {
	h := newHarness(t)
	alice, bob := h.user("alice"), h.user("bob")

	if a := h.post(h.client(), "/passkeys/register/begin"); a.status != http.StatusSeeOther || a.header.Get("Location") != "/login" {
		t.Errorf("a visitor's registration: %d to %q, want the login page", a.status, a.header.Get("Location"))
	}
	state, options := h.begin(alice, "/passkeys/register/begin")
	rp, _ := options["rp"].(map[string]any)
	sel, _ := options["authenticatorSelection"].(map[string]any)
	if rp["id"] != mustURL(t, h.base).Hostname() || sel["residentKey"] != "required" || sel["userVerification"] != "required" || options["challenge"] == "" {
		t.Errorf("registration options: rp %v, selection %v, challenge %v", rp, sel, options["challenge"])
	}
	// alice's ceremony finished by bob's session is refused, and spent.
	if a := h.do(bob, "POST", "/passkeys/register/finish?state="+state, url.Values{}); a.status != http.StatusBadRequest {
		t.Errorf("alice's registration finished by bob: %d\n%s", a.status, a.body)
	}
	if a := h.do(alice, "POST", "/passkeys/register/finish?state="+state, url.Values{}); a.status != http.StatusBadRequest || !strings.Contains(a.body, "used already") {
		t.Errorf("a spent registration: %d\n%s", a.status, a.body)
	}

	// A login's finish takes only a login's challenge, once.
	regState, _ := h.begin(alice, "/passkeys/register/begin")
	loginState, loginOptions := h.begin(h.client(), "/passkeys/login/begin")
	if _, ok := loginOptions["allowCredentials"]; ok {
		t.Errorf("a discoverable login names credentials: %v", loginOptions)
	}
	// The passkey is the only factor: it must verify its user.
	if loginOptions["userVerification"] != "required" {
		t.Errorf("login options: userVerification %v, want required", loginOptions["userVerification"])
	}
	for name, target := range map[string]string{
		"a registration's challenge": "/passkeys/login/finish?state=" + regState,
		"no challenge":               "/passkeys/login/finish",
		"an unknown challenge":       "/passkeys/login/finish?state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"a login's, with no answer":  "/passkeys/login/finish?state=" + loginState,
		"a login's, spent":           "/passkeys/login/finish?state=" + loginState,
	} {
		c := h.client()
		a := h.do(c, "POST", target, url.Values{})
		if a.status != http.StatusUnauthorized || !strings.Contains(a.body, "not accepted") {
			t.Errorf("%s: %d\n%s", name, a.status, a.body)
		}
		if len(c.Jar.Cookies(mustURL(t, h.base))) != 0 {
			t.Errorf("%s: a session cookie was set", name)
		}
	}

	// Removing a passkey that is not the account's.
	if a := h.post(alice, "/passkeys/delete", "id", "bm90LWEta2V5"); a.status != http.StatusNotFound {
		t.Errorf("removing an unknown passkey: %d", a.status)
	}
}

// TestPasskeyPagesWithoutScript: the script is the service's own file,
// and the pages it adds buttons to work without it: the buttons are
// hidden until it runs, and the password form is there.
func TestPasskeyPagesWithoutScript(t *testing.T) {
	h := newHarness(t)
	js := h.get(h.client(), "/static/passkey.js")
	if js.status != http.StatusOK || !strings.HasPrefix(js.header.Get("Content-Type"), "text/javascript") || !strings.Contains(js.body, "navigator.credentials") {
		t.Errorf("/static/passkey.js: %d %s", js.status, js.header.Get("Content-Type"))
	}
	login := h.get(h.client(), "/login")
	for _, want := range []string{`id="passkey-login" hidden`, `<input id="password" name="password" type="password"`, `<script src="/static/passkey.js" defer></script>`} {
		if !strings.Contains(login.body, want) {
			t.Errorf("the login page lacks %s", want)
		}
	}
	account := h.get(h.user("alice"), "/account")
	for _, want := range []string{`id="passkey-add" hidden`, `Adding a passkey needs JavaScript`, "None yet."} {
		if !strings.Contains(account.body, want) {
			t.Errorf("the account page lacks %s", want)
		}
	}
}

// TestNoPasskeysAtAnAddress: WebAuthn binds passkeys to a domain name,
// so pages at an IP address offer none, and still serve.
func TestNoPasskeysAtAnAddress(t *testing.T) {
	h := newHarness(t)
	web, err := New(Config{Store: h.db, Zone: testZone, BaseURL: "https://192.0.2.1:8443",
		Mailer: &SMTP{Addr: h.sink.Addr, From: "signer@" + testZone}, Issuer: h.issuer, Resolver: fixedResolver{}})
	if err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]int{"/login": http.StatusOK, "/passkeys/login/begin": http.StatusNotFound} {
		method := "GET"
		if strings.HasPrefix(target, "/passkeys/") {
			method = "POST"
		}
		rec := httptest.NewRecorder()
		web.ServeHTTP(rec, httptest.NewRequest(method, "https://192.0.2.1:8443"+target, nil))
		if rec.Code != want {
			t.Errorf("%s %s: %d, want %d", method, target, rec.Code, want)
		}
		if method == "GET" && strings.Contains(rec.Body.String(), "passkey") {
			t.Errorf("%s offers passkeys:\n%s", target, rec.Body)
		}
	}
}
