package wire_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fakeagent"
	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

func sessionJSON(t testing.TB, edit func(m map[string]any)) []byte {
	t.Helper()
	s := fakeagent.NewSession(t, testCA(t), 41234)
	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	if edit != nil {
		edit(m)
	}
	b, err = json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

var sharedCA *fakeagent.CA

func testCA(t testing.TB) *fakeagent.CA {
	if sharedCA == nil {
		sharedCA = fakeagent.NewCA(t)
	}
	return sharedCA
}

func TestParseSession(t *testing.T) {
	ca := testCA(t)
	other := fakeagent.NewCA(t)
	leafPEM := "-----BEGIN CERTIFICATE-----\n" + b64(ca.Leaf(t).Certificate[0]) + "\n-----END CERTIFICATE-----\n"
	tests := []struct {
		name string
		edit func(m map[string]any)
		want string // error substring; "" = valid
	}{
		{"valid", nil, ""},
		{"unknown field ignored", func(m map[string]any) { m["future"] = 1 }, ""},
		{"no created", func(m map[string]any) { delete(m, "created") }, ""},
		{"only default slot", func(m map[string]any) { m["slots"] = []string{""} }, ""},
		{"no slots granted", func(m map[string]any) { m["slots"] = []string{} }, ""},
		{"no version", func(m map[string]any) { delete(m, "version") }, "no version"},
		{"version 2", func(m map[string]any) { m["version"] = 2 }, "version 2 is not supported"},
		{"short id", func(m map[string]any) { m["id"] = "abc" }, "not 32 hex"},
		{"uppercase id", func(m map[string]any) { m["id"] = strings.Repeat("AB", 16) }, "not lowercase hex"},
		{"path in id", func(m map[string]any) { m["id"] = "../../../../../../../../../../../x" }, "session id"},
		{"port 0", func(m map[string]any) { m["port"] = 0 }, "out of range"},
		{"port 65536", func(m map[string]any) { m["port"] = 65536 }, "out of range"},
		{"port string", func(m map[string]any) { m["port"] = "80" }, "not valid JSON"},
		{"no token", func(m map[string]any) { delete(m, "token") }, "token: missing"},
		{"short token", func(m map[string]any) { m["token"] = "c2hvcnQ" }, "token: 5 bytes, want 32"},
		{"padded token", func(m map[string]any) { m["token"] = m["token"].(string) + "=" }, "token: not base64url"},
		{"std base64 token", func(m map[string]any) { m["token"] = strings.Repeat("+", 43) }, "token: not base64url"},
		{"short proof key", func(m map[string]any) { m["proof_key"] = "AAAA" }, "proof_key: 3 bytes"},
		{"no ca", func(m map[string]any) { delete(m, "ca") }, "ca: missing"},
		{"ca not PEM", func(m map[string]any) { m["ca"] = "hello" }, "ca: no PEM block"},
		{"ca two certs", func(m map[string]any) { m["ca"] = string(ca.RootPEM) + string(other.RootPEM) }, "more than one PEM block"},
		{"ca is a leaf", func(m map[string]any) { m["ca"] = leafPEM }, "not a CA"},
		{"ca key block", func(m map[string]any) {
			m["ca"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
		}, `"PRIVATE KEY", want CERTIFICATE`},
		{"ca garbage DER", func(m map[string]any) {
			m["ca"] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
		}, "parse certificate"},
		{"no slots", func(m map[string]any) { delete(m, "slots") }, "no slots"},
		{"slot with slash", func(m map[string]any) { m["slots"] = []string{"a/b"} }, "holds '/'"},
		{"slot default", func(m map[string]any) { m["slots"] = []string{"default"} }, "reserved"},
		{"slot twice", func(m map[string]any) { m["slots"] = []string{"dev", "dev"} }, "listed twice"},
		{"slot control", func(m map[string]any) { m["slots"] = []string{"a\x1b[31m"} }, "holds"},
		{"sshd pid 0", func(m map[string]any) { m["sshd_pid"] = 0 }, "not a process id"},
		{"host with escape", func(m map[string]any) { m["host"] = "evil\x1b]0;x\x07" }, "host is not a printable"},
		{"bad created", func(m map[string]any) { m["created"] = "yesterday" }, "created is not"},
		{"not an object", func(m map[string]any) { clear(m) }, "no version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := sessionJSON(t, tt.edit)
			s, err := wire.ParseSession(data)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				if s.CA == nil || len(s.ProofKey) != 32 || s.Port != 41234 {
					t.Fatalf("got %+v, want a parsed session", s)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
			var m map[string]any
			json.Unmarshal(data, &m)
			for _, secret := range []string{"token", "proof_key"} {
				if v, _ := m[secret].(string); len(v) > 8 && strings.Contains(err.Error(), v) {
					t.Errorf("error %q shows the %s", err, secret)
				}
			}
		})
	}
}

func TestParseSessionNonCanonicalBase64(t *testing.T) {
	// 32 bytes in base64url take 43 characters, the last carrying 4
	// padding bits that must be zero: a strict decoder refuses others.
	data := sessionJSON(t, func(m map[string]any) { m["token"] = strings.Repeat("A", 42) + "B" })
	if _, err := wire.ParseSession(data); err == nil {
		t.Fatal("got no error for non-canonical base64, want one")
	}
}

func TestParseSessionTooLarge(t *testing.T) {
	data := sessionJSON(t, func(m map[string]any) { m["pad"] = strings.Repeat("x", 70<<10) })
	if _, err := wire.ParseSession(data); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("got %v, want a size error", err)
	}
}

func TestCAFingerprintAndURL(t *testing.T) {
	s, err := wire.ParseSession(sessionJSON(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if fp := s.CAFingerprint(); !strings.HasPrefix(fp, "SHA256:") || len(fp) != len("SHA256:")+43 {
		t.Errorf("got fingerprint %q, want SHA256: and 43 base64 characters", fp)
	}
	for _, tt := range []struct {
		slot string
		tls  bool
		want string
	}{
		{"", false, "http://127.0.0.1:41234/"},
		{"dev", true, "https://127.0.0.1:41234/slot/dev"},
		{"a b?", false, "http://127.0.0.1:41234/slot/a%20b%3F"},
	} {
		if got := s.URL(tt.slot, tt.tls); got != tt.want {
			t.Errorf("URL(%q, %v) = %q, want %q", tt.slot, tt.tls, got, tt.want)
		}
	}
}

func FuzzParseSession(f *testing.F) {
	fuzztest.Start(f)
	f.Add(sessionJSON(f, nil))
	f.Add(sessionJSON(f, func(m map[string]any) { m["slots"] = []string{"", "a", "b"} }))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"id":"00112233445566778899aabbccddeeff","port":1,"slots":null}`))
	f.Add([]byte(`[]`))
	f.Add(sessionJSON(f, func(m map[string]any) { m["fqdn"] = "agent.example.com" }))
	f.Add(sessionJSON(f, func(m map[string]any) { m["fqdn"] = "127.0.0.1" }))
	f.Add(sessionJSON(f, func(m map[string]any) { m["fqdn"] = "evil.example.com/path?x=" }))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := wire.ParseSession(data)
		if err != nil {
			return
		}
		// Whatever parses must satisfy every invariant the helper relies on.
		if wire.ValidateSessionID(s.ID) != nil || s.Port < 1 || s.Port > 65535 ||
			len(s.ProofKey) != 32 || s.CA == nil || !s.CA.IsCA || s.SSHDPID < 1 {
			t.Fatalf("accepted an invalid session: %+v", s)
		}
		if s.FQDN != "" && (strings.ContainsAny(s.FQDN, ":/?#@[] ") || strings.ToLower(s.FQDN) != s.FQDN) {
			t.Fatalf("accepted fqdn %q", s.FQDN)
		}
		if strings.ContainsAny(s.Token, " \r\n\t=+/") || len(s.Token) != 43 {
			t.Fatalf("accepted token of %d bytes with bad characters", len(s.Token))
		}
	})
}

// TestSessionEncodeRoundTrip: what the writer (aws-sso-agent ssh) encodes,
// the reader parses back unchanged.
func TestSessionEncodeRoundTrip(t *testing.T) {
	for _, fqdn := range []string{"", "agent.example.com"} {
		in, err := wire.ParseSession(sessionJSON(t, nil))
		if err != nil {
			t.Fatal(err)
		}
		in.FQDN = fqdn
		data, err := in.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(data), `"fqdn"`); got != (fqdn != "") {
			t.Errorf("fqdn %q: encoded %s", fqdn, data)
		}
		out, err := wire.ParseSession(data)
		if err != nil {
			t.Fatalf("parse what Encode wrote: %v\n%s", err, data)
		}
		if out.ID != in.ID || out.Port != in.Port || out.Token != in.Token || !bytes.Equal(out.ProofKey, in.ProofKey) ||
			!bytes.Equal(out.CAPEM, in.CAPEM) || !slices.Equal(out.Slots, in.Slots) || out.SSHDPID != in.SSHDPID ||
			out.Host != in.Host || !out.Created.Equal(in.Created) || out.FQDN != in.FQDN {
			t.Errorf("round trip changed the session:\n in %+v\nout %+v", in, out)
		}
	}
}

func TestSessionFQDN(t *testing.T) {
	s, err := wire.ParseSession(sessionJSON(t, func(m map[string]any) { m["fqdn"] = "agent.example.com" }))
	if err != nil {
		t.Fatal(err)
	}
	if s.FQDN != "agent.example.com" {
		t.Fatalf("FQDN = %q", s.FQDN)
	}
	if got, want := s.PublicURL(""), "https://agent.example.com:41234/"; got != want {
		t.Errorf("PublicURL = %q, want %q", got, want)
	}
	if got, want := s.PublicURL("a b"), "https://agent.example.com:41234/slot/a%20b"; got != want {
		t.Errorf("PublicURL(slot) = %q, want %q", got, want)
	}
	// Without the field: no name, as before the field existed.
	s, err = wire.ParseSession(sessionJSON(t, nil))
	if err != nil || s.FQDN != "" || s.PublicURL("") != "" {
		t.Errorf("without fqdn: %+v, %v; want no public name", s, err)
	}
	for _, bad := range []string{"127.0.0.1", "localhost", "x.localhost", "Agent.Example.com", "agent", "agent.example.com.",
		"evil.com/x", "evil.com:1", "a..b", "-a.example.com", "a.example.123", "user@example.com", strings.Repeat("a.", 130) + "com"} {
		if _, err := wire.ParseSession(sessionJSON(t, func(m map[string]any) { m["fqdn"] = bad })); err == nil || !strings.Contains(err.Error(), "fqdn") {
			t.Errorf("fqdn %q: got %v, want refused", bad, err)
		}
	}
}
