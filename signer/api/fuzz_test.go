package api_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
	"github.com/aws-sso-agent/aws-sso-agent/signer/protocol"
)

// FuzzRequests sends arbitrary bodies, paths and keys to the API in
// process: every answer is JSON, a refusal is a 4xx with a code (the
// test CA never fails, so no 5xx), a success is only for alice's own
// hostnames, and no answer echoes the key.
func FuzzRequests(f *testing.F) {
	fuzztest.Start(f)
	fx := newFixture(f, nil)
	handler := fx.handler
	csr := string(csrFor(f, "alice."+zone, nil))
	for _, s := range []struct{ method, path, body string }{
		{"POST", protocol.PathCertificates, `{"csr":` + jsonString(csr) + `}`},
		{"POST", protocol.PathCertificates, `{"csr":` + jsonString(string(csrFor(f, "bob."+zone, nil))) + `}`},
		{"POST", protocol.PathCertificates, `{"csr":"x"}{}`},
		{"GET", protocol.PathCertificates, ``},
		{"POST", protocol.PathRevoke, `{"serial":"00ff"}`},
		{"POST", protocol.PathUpdate, `{"subdomain":"alice","txt":"` + strings.Repeat("a", 43) + `"}`},
		{"POST", protocol.PathUpdate, `{"subdomain":"_acme-challenge.alice.signer.test.","txt":"` + strings.Repeat("b", 43) + `"}`},
		{"POST", "/update?x=1", `[]`},
		{"PUT", "/v1/certificates/revoke", `{"serial":1}`},
	} {
		f.Add(s.method, s.path, s.body, true)
		f.Add(s.method, s.path, s.body, false)
	}
	f.Fuzz(func(t *testing.T, method, path, body string, withKey bool) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#?%") || len(method) == 0 || strings.ContainsAny(method, " \r\n\t/") {
			return
		}
		req := httptest.NewRequest("GET", "http://signer.test/", bytes.NewReader([]byte(body)))
		req.Method, req.URL.Path, req.RequestURI = method, path, path
		if withKey {
			req.Header.Set("Authorization", "Bearer "+fx.aliceKey)
			req.Header.Set(protocol.HeaderAPIUser, "alice")
			req.Header.Set(protocol.HeaderAPIKey, fx.aliceKey)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		out := rec.Body.String()
		if strings.Contains(out, fx.aliceKey) {
			t.Fatalf("the answer echoes the key")
		}
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, rec.Code, out)
		}
		if rec.Code >= 300 && rec.Code < 400 {
			return // the mux's redirect to a cleaned path
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %q", method, path, rec.Code, out)
		}
		if rec.Code >= 400 {
			if e, ok := v["error"].(map[string]any); !ok || e["code"] == "" {
				t.Fatalf("refusal without a code: %s", out)
			}
			return
		}
		if h, ok := v["hostname"].(string); ok && h != "alice."+zone && h != "alice2."+zone {
			t.Fatalf("issued for %q", h)
		}
	})
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
