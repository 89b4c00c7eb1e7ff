package acme

import (
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
)

// FuzzIsDirectory: the CA's directory comes from the network; no input
// panics, and only an object with the three URLs passes.
func FuzzIsDirectory(f *testing.F) {
	fuzztest.Start(f)
	for _, s := range []string{
		`{"newNonce":"https://ca/nonce","newAccount":"https://ca/acct","newOrder":"https://ca/order"}`,
		`{"newNonce":"x","newAccount":"y","newOrder":"z"}`, `[]`, `null`, `{"newNonce":1}`, "<html>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_ = isDirectory(body)
	})
}

func TestIsDirectory(t *testing.T) {
	for body, want := range map[string]bool{
		`{"newNonce":"https://ca/nonce","newAccount":"https://ca/acct","newOrder":"https://ca/order","meta":{}}`: true,
		`{"newNonce":"https://ca/nonce","newAccount":"https://ca/acct"}`:                                         false,
		`{"newNonce":"x","newAccount":"y","newOrder":"z"}`:                                                       false,
		`<html>`: false,
		`null`:   false,
	} {
		if got := isDirectory([]byte(body)); got != want {
			t.Errorf("isDirectory(%s) = %v, want %v", body, got, want)
		}
	}
}
