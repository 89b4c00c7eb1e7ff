package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/aws-sso-agent/aws-sso-agent/internal/smtpsink"
)

// signUpAndLogIn signs name up through the pages, follows the mail's
// link and logs in with the password.
func signUpAndLogIn(t *testing.T, ctx context.Context, sink *smtpsink.Sink, base, name string) {
	t.Helper()
	run(t, ctx, "sign up "+name, chromedp.Navigate(base+"/signup"))
	submit(t, ctx, "sign up "+name, [][2]string{{"#username", name}, {"#email", name + "@example.org"}, {"#password", "correct horse battery staple"}}, "main button[type=submit]")
	waitText(t, ctx, "Check your mail")
	m := sink.Next(t, 30*time.Second)
	link := regexp.MustCompile(regexp.QuoteMeta(base) + `/verify\?token=[A-Za-z0-9_-]+`).FindString(m.Body)
	if link == "" {
		t.Fatalf("no verification link in the mail:\n%s", m.Body)
	}
	run(t, ctx, "verify "+name, chromedp.Navigate(link))
	waitText(t, ctx, "Your email address is verified")
	submit(t, ctx, "log in "+name, [][2]string{{"#username", name}, {"#password", "correct horse battery staple"}}, "main button[type=submit]")
	waitText(t, ctx, "Your hostnames")
}

// virtualAuthenticator gives the browser a platform authenticator of
// DevTools' that keeps discoverable credentials and verifies its user
// without asking.
func virtualAuthenticator(t *testing.T, ctx context.Context) webauthn.AuthenticatorID {
	t.Helper()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
		Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
		IsUserVerified: true, AutomaticPresenceSimulation: true,
	}})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

func logOut(t *testing.T, ctx context.Context) {
	t.Helper()
	submit(t, ctx, "log out", nil, "form[action='/logout'] button")
	waitText(t, ctx, "You are logged out")
}

// loggedInAs is the user the nav's logout button names, or "".
func loggedInAs(t *testing.T, ctx context.Context, base string) string {
	t.Helper()
	run(t, ctx, "open hostnames", chromedp.Navigate(base+"/hostnames"), chromedp.WaitReady(chromedp.CSS("main")))
	return value(t, ctx, "who is logged in", chromedp.Evaluate[string](
		`(document.querySelector("form[action='/logout'] button") || {textContent: ""}).textContent.replace("Log out ", "")`))
}

// postAgain sends body to the service's url from the page, as a script
// of an attacker who holds a copy would, and returns the status.
func postAgain(t *testing.T, ctx context.Context, url, body string) int {
	t.Helper()
	return value(t, ctx, "post "+url, chromedp.Evaluate[int](fmt.Sprintf(
		`fetch(%q, {method: "POST", credentials: "same-origin", headers: {"Content-Type": "application/json"}, body: %q}).then(r => r.status)`, url, body),
		chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
}

// TestSignerWebPasskeys: a passkey registered on the account page logs
// in instead of the password, in chromium with DevTools' virtual
// authenticator. An assertion sent again is refused, with its own
// challenge or a new one, and so is another account's passkey presented
// under the first account's user handle.
func TestSignerWebPasskeys(t *testing.T) {
	sink := smtpsink.Start(t)
	s := startSignerWeb(t, sink, 90*24*time.Hour)
	ctx := browser(t)
	sh := newShots(t)
	base := s.api[0]
	first := virtualAuthenticator(t, ctx)

	signUpAndLogIn(t, ctx, sink, base, "alice")
	run(t, ctx, "open account", chromedp.Navigate(base+"/account"), chromedp.WaitVisible(chromedp.CSS("#passkey-add")))
	if body := text(t, ctx, "main"); strings.Contains(body, "needs JavaScript") {
		t.Errorf("the account page says passkeys need JavaScript, with JavaScript:\n%s", body)
	}
	run(t, ctx, "add a passkey", chromedp.Click(chromedp.CSS("#passkey-add")))
	waitText(t, ctx, "The passkey is added")
	if body := text(t, ctx, "main"); !regexp.MustCompile(`Last used\s+never`).MatchString(body) {
		t.Errorf("the account page does not list the new passkey:\n%s", body)
	}
	sh.take(ctx, "passkey-added")
	creds, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: first})
	if err != nil || len(creds.Credentials) != 1 {
		t.Fatalf("the authenticator's credentials: %v, %v; want alice's one", creds, err)
	}
	aliceHandle := base64.RawURLEncoding.EncodeToString(creds.Credentials[0].UserHandle)
	if host := strings.Split(strings.TrimPrefix(base, "https://"), ":")[0]; !creds.Credentials[0].IsResidentCredential || creds.Credentials[0].RpID != host {
		t.Errorf("alice's credential: resident %v, RP %q; want a discoverable one for %s", creds.Credentials[0].IsResidentCredential, creds.Credentials[0].RpID, host)
	}

	// Log in with it, keeping a copy of what the page sent: the tab's
	// sessionStorage outlives the page.
	logOut(t, ctx)
	run(t, ctx, "open login", chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.CSS("#passkey-login")))
	sh.take(ctx, "login-passkey")
	run(t, ctx, "keep what is sent", chromedp.Evaluate[chromedp.Void](`(() => {
		const f = window.fetch;
		window.fetch = function (url, opts) {
			if (String(url).includes("/passkeys/login/finish")) {
				sessionStorage.setItem("sent", JSON.stringify({url: String(url), body: opts.body}));
			}
			return f.apply(this, arguments);
		};
	})()`))
	run(t, ctx, "log in with the passkey", chromedp.Click(chromedp.CSS("#passkey-login")))
	waitText(t, ctx, "Your hostnames")
	if who := loggedInAs(t, ctx, base); who != "alice" {
		t.Fatalf("the passkey logged in %q, want alice", who)
	}
	run(t, ctx, "open account", chromedp.Navigate(base+"/account"))
	if body := text(t, ctx, "main"); regexp.MustCompile(`Last used\s+never`).MatchString(body) {
		t.Errorf("the passkey's use is not recorded:\n%s", body)
	}
	sent := value(t, ctx, "what was sent", chromedp.Evaluate[string](`sessionStorage.getItem("sent") || ""`))
	var replay struct{ URL, Body string }
	if err := json.Unmarshal([]byte(sent), &replay); err != nil || replay.Body == "" {
		t.Fatalf("the page's login request was not kept (%v): %q", err, sent)
	}

	// The same assertion again: its challenge is spent (and its sign
	// count is not above the stored one).
	logOut(t, ctx)
	if got := postAgain(t, ctx, replay.URL, replay.Body); got != 401 {
		t.Errorf("the assertion sent again: status %d, want 401", got)
	}
	// And under a new login's challenge, which it did not sign.
	state := value(t, ctx, "begin a login", chromedp.Evaluate[string](
		`fetch("/passkeys/login/begin", {method: "POST", credentials: "same-origin", body: "{}"}).then(r => r.json()).then(j => j.state)`,
		chromedp.EvalAwaitPromise))
	if got := postAgain(t, ctx, base+"/passkeys/login/finish?state="+state, replay.Body); got != 401 {
		t.Errorf("the assertion under a new challenge: status %d, want 401", got)
	}
	if who := loggedInAs(t, ctx, base); who != "" {
		t.Fatalf("a replayed assertion logged in %q", who)
	}

	// Bob, on another authenticator, registers his own passkey.
	if _, err := chromedp.Call(ctx, webauthn.RemoveVirtualAuthenticator, webauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: first}); err != nil {
		t.Fatal(err)
	}
	virtualAuthenticator(t, ctx)
	signUpAndLogIn(t, ctx, sink, base, "bob")
	run(t, ctx, "open account", chromedp.Navigate(base+"/account"), chromedp.WaitVisible(chromedp.CSS("#passkey-add")))
	run(t, ctx, "add bob's passkey", chromedp.Click(chromedp.CSS("#passkey-add")))
	waitText(t, ctx, "The passkey is added")
	logOut(t, ctx)

	// Bob's passkey presented as alice's: the user handle is not signed,
	// so the service must find the credential among alice's own.
	run(t, ctx, "open login", chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.CSS("#passkey-login")))
	run(t, ctx, "claim to be alice", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const f = window.fetch;
		window.fetch = function (url, opts) {
			if (String(url).includes("/passkeys/login/finish")) {
				const b = JSON.parse(opts.body);
				b.response.userHandle = %q;
				opts = Object.assign({}, opts, {body: JSON.stringify(b)});
			}
			return f.call(this, url, opts);
		};
	})()`, aliceHandle)))
	run(t, ctx, "log in with bob's passkey as alice", chromedp.Click(chromedp.CSS("#passkey-login")))
	waitText(t, ctx, "The passkey was not accepted")
	if who := loggedInAs(t, ctx, base); who != "" {
		t.Fatalf("bob's passkey under alice's handle logged in %q", who)
	}

	// Unaltered, bob's passkey logs in bob.
	run(t, ctx, "open login", chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.CSS("#passkey-login")))
	run(t, ctx, "log in with bob's passkey", chromedp.Click(chromedp.CSS("#passkey-login")))
	waitText(t, ctx, "Your hostnames")
	if who := loggedInAs(t, ctx, base); who != "bob" {
		t.Errorf("bob's passkey logged in %q, want bob", who)
	}
}
