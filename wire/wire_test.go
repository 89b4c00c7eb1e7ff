package wire_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

func TestCredentialsRoundTrip(t *testing.T) {
	in := wire.Credentials{
		AccessKeyID:     "ASIAFAKE",
		SecretAccessKey: `secret/with+chars"\<>&` + "\u2028\x01",
		SessionToken:    "token",
		Expires:         time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600)),
		AccountID:       "123456789012",
		RoleARN:         "arn:aws:iam::123456789012:role/dev",
	}
	doc := wire.AppendCredentials(nil, &in)
	// RFC 3339 in UTC with "Z": the JavaScript SDK v3 rejects "+00:00".
	if !bytes.Contains(doc, []byte(`"Expiration":"2030-01-02T02:04:05Z"`)) {
		t.Errorf("expiration not in UTC with Z: %s", doc)
	}
	out, err := wire.ParseCredentials(doc)
	if err != nil {
		t.Fatal(err)
	}
	if out.AccessKeyID != in.AccessKeyID || out.SecretAccessKey != in.SecretAccessKey || out.SessionToken != in.SessionToken ||
		!out.Expires.Equal(in.Expires) || out.Expires.Location() != time.UTC || out.AccountID != in.AccountID || out.RoleARN != in.RoleARN {
		t.Errorf("round trip: got %+v, want %+v", out, in)
	}
	static := wire.AppendCredentials(nil, &wire.Credentials{AccessKeyID: "A", SecretAccessKey: "S"})
	if got, want := string(static), `{"AccessKeyId":"A","SecretAccessKey":"S","Token":""}`; got != want {
		t.Errorf("static keys: got %s, want %s", got, want)
	}
}

func TestParseCredentialsRefuses(t *testing.T) {
	tests := []struct {
		doc  string
		want error
	}{
		{`not json`, wire.ErrCredentialsJSON},
		{`{"SecretAccessKey":"S"}`, wire.ErrCredentialsKeys},
		{`{"AccessKeyId":"A"}`, wire.ErrCredentialsKeys},
		{`{"AccessKeyId":"A","SecretAccessKey":"S","Expiration":"tomorrow"}`, wire.ErrCredentialsExpiration},
		{`{"AccessKeyId":"A","SecretAccessKey":"` + strings.Repeat("x", wire.MaxCredentialsDocument) + `"}`, wire.ErrCredentialsTooLarge},
	}
	for _, tt := range tests {
		if _, err := wire.ParseCredentials([]byte(tt.doc)); !errors.Is(err, tt.want) {
			t.Errorf("%.40s: got %v, want %v", tt.doc, err, tt.want)
		}
	}
}

func FuzzParseCredentials(f *testing.F) {
	fuzztest.Start(f)
	f.Add(wire.AppendCredentials(nil, &wire.Credentials{AccessKeyID: "A", SecretAccessKey: "S", Expires: time.Unix(1e9, 0)}))
	f.Add([]byte(`{"AccessKeyId":"A","SecretAccessKey":"S","Expiration":"2030-01-02T03:04:05+01:00"}`))
	f.Add([]byte(`{"AccessKeyId":1}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := wire.ParseCredentials(doc)
		if err != nil {
			if strings.Contains(err.Error(), string(doc)) && len(doc) > 8 {
				t.Fatalf("error quotes the document: %v", err)
			}
			return
		}
		if c.AccessKeyID == "" || c.SecretAccessKey == "" || (!c.Expires.IsZero() && c.Expires.Location() != time.UTC) {
			t.Fatalf("accepted %+v", c)
		}
		// What parses, encodes and parses back the same.
		again, err := wire.ParseCredentials(wire.AppendCredentials(nil, &c))
		if err != nil || again.AccessKeyID != c.AccessKeyID || again.SecretAccessKey != c.SecretAccessKey ||
			again.SessionToken != c.SessionToken || !again.Expires.Equal(c.Expires) {
			// Invalid UTF-8 is replaced on encoding, as encoding/json does.
			if strings.ToValidUTF8(c.AccessKeyID+c.SecretAccessKey+c.SessionToken, "\ufffd") == c.AccessKeyID+c.SecretAccessKey+c.SessionToken {
				t.Fatalf("round trip of %+v: %+v, %v", c, again, err)
			}
		}
	})
}

func TestProofAnswerRoundTrip(t *testing.T) {
	proof := bytes.Repeat([]byte{7}, wire.ProofSize)
	a, err := wire.ParseProofAnswer(wire.ProofAnswer{Session: "00112233445566778899aabbccddeeff", Proof: proof}.Marshal())
	if err != nil || a.Session != "00112233445566778899aabbccddeeff" || !bytes.Equal(a.Proof, proof) {
		t.Fatalf("got %+v, %v", a, err)
	}
	for _, body := range []string{`[]`, `{"session":"x","proof":"AAAA"}`, `{"session":"x","proof":"` + strings.Repeat("A", 43) + `="}`} {
		if _, err := wire.ParseProofAnswer([]byte(body)); err == nil {
			t.Errorf("%s: accepted", body)
		}
	}
}

func FuzzParseProofAnswer(f *testing.F) {
	fuzztest.Start(f)
	f.Add([]byte(`{"session":"00112233445566778899aabbccddeeff","proof":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`))
	f.Add([]byte(`{"session":1}`))
	f.Add([]byte(`{"proof":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := wire.ParseProofAnswer(body)
		if err == nil && len(a.Proof) != wire.ProofSize {
			t.Fatalf("accepted a proof of %d bytes", len(a.Proof))
		}
	})
}

func FuzzParseProofNonce(f *testing.F) {
	fuzztest.Start(f)
	f.Add(strings.Repeat("A", 43))
	f.Add(strings.Repeat("A", 42) + "B")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := wire.ParseProofNonce(s)
		if err != nil {
			return
		}
		if len(n) != wire.ProofNonceSize || wire.ProofTarget(n) != wire.ProofPath+"?nonce="+s {
			t.Fatalf("accepted %q as %x", s, n)
		}
	})
}

func TestSlotNames(t *testing.T) {
	for _, tt := range []struct{ slot, name, quoted, path string }{
		{"", "default", "default", "/"},
		{"dev", "dev", `"dev"`, "/slot/dev"},
		{"a b?", "a b?", `"a b?"`, "/slot/a%20b%3F"},
	} {
		if got := wire.SlotName(tt.slot); got != tt.name {
			t.Errorf("SlotName(%q) = %q, want %q", tt.slot, got, tt.name)
		}
		if got := wire.QuotedSlotName(tt.slot); got != tt.quoted {
			t.Errorf("QuotedSlotName(%q) = %q, want %q", tt.slot, got, tt.quoted)
		}
		if got := wire.SlotPath(tt.slot); got != tt.path {
			t.Errorf("SlotPath(%q) = %q, want %q", tt.slot, got, tt.path)
		}
	}
	for _, bad := range []string{"", "default", ".", "..", "a/b", `a\b`, "a(b)", "a b", strings.Repeat("x", 65), "\xff"} {
		if wire.ValidateSlotName(bad) == nil {
			t.Errorf("ValidateSlotName(%q) accepted", bad)
		}
	}
}

func TestSessionPaths(t *testing.T) {
	id := "00112233445566778899aabbccddeeff"
	if got, want := wire.SessionDir(id), ".aws-sso-agent/sessions/"+id; got != want {
		t.Errorf("SessionDir = %q, want %q", got, want)
	}
	if got, want := wire.SessionFile(id), ".aws-sso-agent/sessions/"+id+"/session.json"; got != want {
		t.Errorf("SessionFile = %q, want %q", got, want)
	}
}

func TestValidateSlotName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"dev", true},
		{"dev-admin@123456789012", true},
		{"Ünïcode", true},
		{"", false},
		{"default", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{`a\b`, false},
		{"a b", false},
		{"tab\there", false},
		{"new\nline", false},
		{"(profile)", false},
		{strings.Repeat("x", 64), true},
		{strings.Repeat("x", 65), false},
		{"\xff", false},
	}
	for _, tt := range tests {
		if err := wire.ValidateSlotName(tt.name); (err == nil) != tt.ok {
			t.Errorf("wire.ValidateSlotName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestErrorDocumentRoundTrip(t *testing.T) {
	for _, msg := range []string{"", "no token: send the file's contents", `quote " backslash \ <html> & ` + "\u2028\t\n"} {
		b := wire.AppendErrorDocument(nil, "missing_token", msg)
		if !bytes.HasSuffix(b, []byte("}\n")) {
			t.Errorf("%q: document %q does not end in a newline", msg, b)
		}
		doc, ok := wire.ParseErrorDocument(b)
		if !ok || doc.Code != "missing_token" || doc.Message != msg {
			t.Errorf("%q: parsed back %+v, %v", msg, doc, ok)
		}
	}
	for _, bad := range []string{"", "not json", `{"code":1}`, `[]`} {
		if doc, ok := wire.ParseErrorDocument([]byte(bad)); ok {
			t.Errorf("%q parsed as %+v", bad, doc)
		}
	}
}

func FuzzErrorDocument(f *testing.F) {
	fuzztest.Start(f)
	f.Add("missing_token", "send the token")
	f.Add("", "\xff\u2028<>&\"\\")
	f.Fuzz(func(t *testing.T, code, msg string) {
		doc, ok := wire.ParseErrorDocument(wire.AppendErrorDocument(nil, code, msg))
		if !ok {
			t.Fatalf("our own document for %q, %q does not parse", code, msg)
		}
		// Valid UTF-8 comes back as it was; invalid bytes become U+FFFD,
		// as encoding/json does.
		if utf8.ValidString(code) && utf8.ValidString(msg) && (doc.Code != code || doc.Message != msg) {
			t.Fatalf("got %+v for %q, %q", doc, code, msg)
		}
		if !utf8.ValidString(doc.Code) || !utf8.ValidString(doc.Message) {
			t.Fatalf("invalid UTF-8 survived: %+v", doc)
		}
	})
}
