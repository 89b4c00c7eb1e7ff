package sso

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
)

// cliCache is a cache file as AWS CLI v2 writes it after a PKCE login.
const cliCache = `{"startUrl": "https://corp.awsapps.com/start", "region": "eu-west-1", "accessToken": "aoa-secret", "expiresAt": "2026-12-03T10:00:00Z", "clientId": "cid", "clientSecret": "csecret", "registrationExpiresAt": "2027-03-03T10:00:00Z", "refreshToken": "aor-secret"}`

func TestCachePath(t *testing.T) {
	// The names every SDK computes, checked with sha1sum(1).
	for key, want := range map[string]string{
		"corp":                           "ee0bfd2552fbd840c02cc48b6e823320543c450f.json",
		"https://corp.awsapps.com/start": "a51746d4aa793ae07b25e90c3a5db96fc7832bd7.json",
	} {
		if got := CachePath("/c", key); got != filepath.Join("/c", want) {
			t.Errorf("CachePath(%q) = %s, want /c/%s", key, got, want)
		}
	}
}

func TestCacheRoundTrip(t *testing.T) {
	tok, err := ParseCache([]byte(cliCache))
	if err != nil {
		t.Fatal(err)
	}
	want := Token{
		StartURL: "https://corp.awsapps.com/start", Region: "eu-west-1", AccessToken: "aoa-secret",
		ExpiresAt: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), ClientID: "cid", ClientSecret: "csecret",
		RegistrationExpiresAt: time.Date(2027, 3, 3, 10, 0, 0, 0, time.UTC), RefreshToken: "aor-secret",
	}
	if tok != want {
		t.Fatalf("parsed %+v, want %+v", tok, want)
	}
	data, err := MarshalCache(tok)
	if err != nil {
		t.Fatal(err)
	}
	// The CLI's eight fields, in its order, nothing else.
	wantJSON := strings.NewReplacer(": ", ":", ", ", ",").Replace(cliCache)
	if string(data) != wantJSON {
		t.Errorf("marshalled\n%s\nwant\n%s", data, wantJSON)
	}
}

func TestParseCacheBad(t *testing.T) {
	for name, data := range map[string]string{
		"empty":           ``,
		"not json":        `accessToken=x`,
		"no token":        `{"expiresAt": "2026-12-03T10:00:00Z"}`,
		"no expiry":       `{"accessToken": "aoa-secret"}`,
		"bad expiry":      `{"accessToken": "aoa-secret", "expiresAt": "tomorrow"}`,
		"bad reg expiry":  `{"accessToken": "aoa-secret", "expiresAt": "2026-12-03T10:00:00Z", "registrationExpiresAt": 5}`,
		"wrong type":      `{"accessToken": 7, "expiresAt": "2026-12-03T10:00:00Z"}`,
		"trailing object": cliCache + `{}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseCache([]byte(data))
			if err == nil {
				t.Fatal("parsed")
			}
			if strings.Contains(err.Error(), "aoa-secret") {
				t.Errorf("error %q quotes the token", err)
			}
		})
	}
}

func TestReadCacheRefusesUnsafeFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Log("not root: the file owned by another user is not tested")
	}
	dir := t.TempDir()
	write := func(name, data string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	ok := write("ok.json", cliCache, 0o600)
	if _, err := ReadCache(ok); err != nil {
		t.Fatalf("ReadCache of a good file: %v", err)
	}
	cases := map[string]string{
		"malformed":       write("bad.json", `{"accessToken":`, 0o600),
		"others can read": write("open.json", cliCache, 0o644),
	}
	if os.Geteuid() == 0 {
		p := write("theirs.json", cliCache, 0o600)
		if err := os.Chown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		cases["another user's"] = p
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ReadCache(p)
			var cfe *CacheFileError
			if !errors.As(err, &cfe) {
				t.Fatalf("ReadCache: %v, want a CacheFileError", err)
			}
			if strings.Contains(err.Error(), "aoa-secret") {
				t.Errorf("error %q quotes the token", err)
			}
			t.Log(err)
		})
	}
	if _, err := ReadCache(filepath.Join(dir, "none.json")); !errors.Is(err, ErrNoCache) {
		t.Errorf("missing file: %v, want ErrNoCache", err)
	}
}

func TestWriteCacheAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sso", "cache")
	p := CachePath(dir, "corp")
	tok, _ := ParseCache([]byte(cliCache))
	if err := WriteCache(p, tok); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("cache directory: %v, mode %v; want 0700", err, fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want the cache file alone (no temporary left)", len(entries))
	}
	got, err := ReadCache(p)
	if err != nil || got != tok {
		t.Errorf("read back %+v, %v", redact(got), err)
	}
}

func FuzzParseCache(f *testing.F) {
	fuzztest.Start(f)
	f.Add([]byte(cliCache))
	f.Add([]byte(`{"accessToken":"a","expiresAt":"2026-12-03T10:00:00.123+01:00"}`))
	f.Add([]byte(`{"accessToken":"a","expiresAt":"2026-12-03T10:00:00Z","unknown":[1,{}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseCache(data)
		if err != nil {
			return
		}
		out, err := MarshalCache(tok)
		if err != nil {
			t.Fatalf("MarshalCache of a parsed token: %v", err)
		}
		again, err := ParseCache(out)
		if err != nil {
			t.Fatalf("a written token does not parse: %v\n%s", err, out)
		}
		// Times are written to the second.
		tok.ExpiresAt = tok.ExpiresAt.Truncate(time.Second)
		tok.RegistrationExpiresAt = tok.RegistrationExpiresAt.Truncate(time.Second)
		if !again.ExpiresAt.Equal(tok.ExpiresAt) || again.AccessToken != tok.AccessToken || again.RefreshToken != tok.RefreshToken {
			t.Fatalf("round trip changed the token")
		}
	})
}

func FuzzParseINI(f *testing.F) {
	fuzztest.Start(f)
	f.Add([]byte("[profile dev]\nsso_session = corp\n[sso-session corp]\nsso_start_url = https://x/start # c\nsso_region=eu-west-1\nsso_registration_scopes = a, b\n[services s]\nsso_oidc =\n  endpoint_url = http://127.0.0.1:1\n"))
	f.Add([]byte("[default]\nsso_start_url=u\nsso_region=r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ini, err := parseINI(data)
		if err != nil {
			return
		}
		for _, p := range []string{"dev", "default"} {
			s, err := ini.session("config", "", p)
			if err == nil && (s.StartURL == "" || s.Region == "") {
				t.Fatalf("session %+v without a start url or region", s)
			}
		}
	})
}
