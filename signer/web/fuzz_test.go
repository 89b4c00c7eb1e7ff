package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
)

// FuzzForms sends arbitrary methods, paths, queries and form bodies
// through the pages, logged in and not: no answer is a 5xx, every
// answer carries the policy headers, and no input comes back as markup.
func FuzzForms(f *testing.F) {
	fuzztest.Start(f)
	h := newHarness(f)
	c := h.user("alice")
	var session *http.Cookie
	for _, ck := range c.Jar.Cookies(mustURL(f, h.base)) {
		if ck.Name == sessionCookie {
			session = ck
		}
	}
	if session == nil {
		f.Fatal("no session cookie")
	}
	for _, s := range []struct{ method, target, body string }{
		{"POST", "/signup", "username=bob&email=bob%40example.com&password=correct+horse+battery"},
		{"POST", "/login", "username=alice&password=x"},
		{"POST", "/reset", "username=alice"},
		{"POST", "/reset/confirm", "token=AAAA&password=correct+horse+battery"},
		{"GET", "/verify?token=%00%ff", ""},
		{"GET", "/reset/confirm?token=<b>", ""},
		{"POST", "/hostnames/claim", "label=laptop"},
		{"POST", "/hostnames/release", "label=%3Cscript%3E"},
		{"POST", "/keys/create", "hostname=laptop&hostname=laptop"},
		{"POST", "/keys/revoke", "id=-1"},
		{"POST", "/certificates/revoke", "serial=00ff"},
		{"POST", "/account/password", "current=x&password=y"},
		{"POST", "/account/delete", "confirm=alice&password=x"},
		{"GET", "/hostnames?m=claimed", ""},
		{"GET", "/static/../templates/layout.html", ""},
		{"POST", "/login", "username=%zz&&=="},
		// The passkeys' JSON ceremonies, whose bodies the WebAuthn library parses.
		{"POST", "/passkeys/login/begin", "{}"},
		{"POST", "/passkeys/login/finish?state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", `{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AA","signature":"AA","userHandle":"AA"}}`},
		{"POST", "/passkeys/register/begin", "{}"},
		{"POST", "/passkeys/register/finish?state=x", `{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`},
		{"POST", "/passkeys/delete", "id=%3Cb%3E"},
	} {
		f.Add(s.method, s.target, s.body, true)
		f.Add(s.method, s.target, s.body, false)
	}
	f.Fuzz(func(t *testing.T, method, target, body string, loggedIn bool) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t#") || method == "" || strings.ContainsAny(method, " \r\n\t/()<>@,;:\\\"[]?={}") {
			return
		}
		req := httptest.NewRequest("GET", "https://"+testZone+"/", strings.NewReader(body))
		req.Method = method
		if u, err := req.URL.Parse(target); err == nil {
			req.URL, req.RequestURI = u, target
		} else {
			return
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if loggedIn {
			req.AddCookie(session)
		}
		rec := httptest.NewRecorder()
		h.web.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d\n%s", method, target, body, rec.Code, rec.Body)
		}
		if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") || rec.Header().Get("X-Frame-Options") != "DENY" {
			t.Fatalf("%s %s: the policy headers are missing", method, target)
		}
		// The one script is the passkeys' file, on the login and account pages.
		out := strings.ReplaceAll(rec.Body.String(), `<script src="/static/passkey.js" defer></script>`, "")
		if strings.Contains(out, "<script") || strings.Contains(out, "onerror=") {
			t.Fatalf("%s %s %q: markup in the answer\n%s", method, target, body, rec.Body)
		}
	})
}
