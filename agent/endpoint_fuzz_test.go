package agent

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
)

func endpointFuzzEndpoint(f *testing.F) (*Endpoint, string) {
	f.Helper()
	tokens := NewTokens()
	tok, err := NewToken()
	if err != nil {
		f.Fatal(err)
	}
	tokens.Add(tok, Grant{})
	e, err := NewEndpoint(EndpointConfig{
		Source:      endpointTestSourceWith("", "dev", "a/b"),
		Tokens:      tokens,
		Now:         func() time.Time { return endpointTestNow },
		FailureRate: rate.Inf,
	})
	if err != nil {
		f.Fatal(err)
	}
	return e, tok
}

// endpointFuzzCheck asserts the answer is JSON with the right content type.
func endpointFuzzCheck(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		t.Fatalf("status %d: Content-Type %q, want application/json", rec.Code, got)
	}
	var v map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("status %d: body %q is not JSON: %v", rec.Code, rec.Body, err)
	}
	if rec.Code != 200 && (v["code"] == nil || v["message"] == nil) {
		t.Fatalf("status %d: body %q is not {code,message}", rec.Code, rec.Body)
	}
}

func FuzzEndpointPath(f *testing.F) {
	fuzztest.Start(f)
	e, tok := endpointFuzzEndpoint(f)
	for _, s := range []string{"/", "/slot/dev", "/slot/a%2Fb", "/slot/", "/slot/a/b", "/slot/%00",
		"/slot/%zz", "//slot/dev", "/?x", "/slot/dev#f", "*", "http://evil/slot/dev", "/slot/%E2%80%A8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		// What net/http would accept as a request target.
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		if slot, ok := endpointRoute(u); ok {
			// A routed name round-trips through its escaped form.
			back, ok2 := endpointRoute(&url.URL{Path: "/slot/" + slot, RawPath: "/slot/" + url.PathEscape(slot)})
			if slot != "" && (!ok2 || back != slot) {
				t.Fatalf("slot %q from %q does not round-trip: got %q %v", slot, target, back, ok2)
			}
		}
		req := &http.Request{
			Method: "GET", URL: u, RequestURI: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Host: "127.0.0.1:4144", Header: http.Header{"Authorization": {tok}}, RemoteAddr: "127.0.0.1:5555",
		}
		req = req.WithContext(t.Context())
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		endpointFuzzCheck(t, rec)
	})
}

func FuzzEndpointHeaders(f *testing.F) {
	fuzztest.Start(f)
	e, tok := endpointFuzzEndpoint(f)
	f.Add(tok, "127.0.0.1:4144", "", "X-A", "b")
	f.Add("Bearer "+tok, "localhost", "", "", "")
	f.Add(tok+"\n", "[::1]:1", "", "", "")
	f.Add(tok, "attacker.example:4144", "", "", "")
	f.Add(tok, "localhost", "https://evil.example", "", "")
	f.Add("bearer", "[::1%25lo]:1", "", "Cookie", strings.Repeat("x", 9000))
	f.Fuzz(func(t *testing.T, auth, host, origin, name, value string) {
		req := httptest.NewRequest("GET", "/slot/dev", nil)
		req.Host = host
		req.Header = http.Header{}
		if auth != "" {
			req.Header["Authorization"] = []string{auth}
		}
		if origin != "" {
			req.Header["Origin"] = []string{origin}
		}
		if name != "" {
			req.Header[http.CanonicalHeaderKey(name)] = []string{value}
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		endpointFuzzCheck(t, rec)
		if rec.Code == 200 {
			got, err := endpointToken(req.Header)
			if err != nil || got != tok {
				t.Fatalf("served with Authorization %q", req.Header["Authorization"])
			}
			if _, ok := req.Header["Origin"]; ok {
				t.Fatalf("served with Origin %q", origin)
			}
			if !e.hostAllowed(host) {
				t.Fatalf("served with Host %q", host)
			}
		}
	})
}
