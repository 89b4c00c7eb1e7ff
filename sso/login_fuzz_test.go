package sso

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
)

// FuzzRedirect sends the loopback listener arbitrary request targets: it
// never panics, answers at most one result, and hands over a code only
// for a request to the callback path carrying the login's exact state.
func FuzzRedirect(f *testing.F) {
	fuzztest.Start(f)
	const state = "s3cr3t-state"
	f.Add("/oauth/callback?code=abc&state=s3cr3t-state")
	f.Add("/oauth/callback?code=abc&state=s3cr3t-statf")
	f.Add("/oauth/callback?error=access_denied&state=s3cr3t-state")
	f.Add("/oauth/callback?state=s3cr3t-state&state=x&code=1&code=2")
	f.Add("/oauth/callback?code=%zz&state=s3cr3t-state")
	f.Fuzz(func(t *testing.T, target string) {
		req, err := http.NewRequest("GET", "http://127.0.0.1:1", nil)
		if err != nil {
			return
		}
		u, err := req.URL.Parse(target)
		if err != nil {
			return
		}
		req.URL = u
		results := make(chan redirectResult, 1)
		redirectHandler(state, results).ServeHTTP(httptest.NewRecorder(), req)
		select {
		case res := <-results:
			if res.code != "" {
				if res.err != nil {
					t.Fatalf("a code and an error")
				}
				if u.Path != redirectPath || u.Query().Get("state") != state {
					t.Fatalf("code accepted for %q", target)
				}
			}
		default:
			if u.Path == redirectPath {
				t.Fatalf("no result for a request to the callback: %q", target)
			}
		}
	})
}
