package signer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"unicode"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
)

// FuzzClientAnswer feeds arbitrary answers of a service (status, a
// Retry-After and a body) to Client.Sign: nothing panics, a refusal is an
// *APIError whose text is printable, and the API key never shows in an
// error.
func FuzzClientAnswer(f *testing.F) {
	fuzztest.Start(f)
	f.Add(201, "", []byte(`{"serial":"ab","hostname":"alice.signer.test","chain":"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"}`))
	f.Add(429, "30", []byte(`{"error":{"code":"rate_limited","message":"slow down"}}`))
	f.Add(403, "", []byte(`{"error":{"code":"forbidden","message":"\x1b[2J sgk_secret"}}`))
	f.Add(500, "-1", []byte(`not json`))
	f.Add(401, "", []byte(`{"error":{"code":"sgk_fuzzkeyfuzzkeyfuzzkey","message":"your key sgk_fuzzkeyfuzzkeyfuzzkey is wrong"}}`))
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		if status < 100 || status > 999 {
			return
		}
		const key = "sgk_fuzzkeyfuzzkeyfuzzkey"
		rt := roundTripFunc(func(*http.Request) (*http.Response, error) {
			h := http.Header{}
			h.Set("Retry-After", retryAfter)
			return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(body))}, nil
		})
		c := &Client{Service: "https://signer.test", APIKey: key, HTTPClient: &http.Client{Transport: rt}}
		_, err := c.Sign(context.Background(), []byte("csr"))
		if err == nil {
			return
		}
		if strings.Contains(err.Error(), key) {
			t.Fatalf("the API key in an error: %v", err)
		}
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			if status/100 == 2 {
				t.Fatalf("a %d answer became a refusal: %v", status, err)
			}
			if strings.ContainsFunc(apiErr.Code+apiErr.Message, func(r rune) bool { return !unicode.IsPrint(r) }) {
				t.Fatalf("unprintable text from the service kept: %q %q", apiErr.Code, apiErr.Message)
			}
			if apiErr.RetryAfter < 0 {
				t.Fatalf("negative Retry-After %v", apiErr.RetryAfter)
			}
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
