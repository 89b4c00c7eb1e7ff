package agent

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
)

// sourceIsolate points HOME at an empty directory and clears the AWS
// variables of this machine (it exports AWS_CA_BUNDLE, among others), so
// tests resolve only the files they write. It returns the new HOME.
func sourceIsolate(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AWS_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	// Never reach for instance metadata from a test.
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return home
}

// sourceFiles writes a config and a credentials file and returns a spec
// for profile naming them.
func sourceFiles(t *testing.T, profile, configText, credentialsText string) SourceSpec {
	t.Helper()
	dir := t.TempDir()
	spec := SourceSpec{
		Profile:         profile,
		ConfigFile:      filepath.Join(dir, "config"),
		CredentialsFile: filepath.Join(dir, "credentials"),
	}
	if err := os.WriteFile(spec.ConfigFile, []byte(configText), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spec.CredentialsFile, []byte(credentialsText), 0o600); err != nil {
		t.Fatal(err)
	}
	return spec
}

func TestSourceSpecValidate(t *testing.T) {
	tests := []struct {
		spec SourceSpec
		ok   bool
	}{
		{SourceSpec{Profile: "dev"}, true},
		{SourceSpec{Profile: "my profile.with-odd_chars"}, true},
		{SourceSpec{SSOSession: "corp", AccountID: "111122223333", RoleName: "ReadOnly"}, true},
		{SourceSpec{SSOSession: "corp", AccountID: "111122223333", RoleName: "a+=,.@_-b"}, true},
		{SourceSpec{}, false},
		{SourceSpec{Profile: "dev", SSOSession: "corp"}, false},
		{SourceSpec{SSOSession: "corp", AccountID: "111122223333"}, false},
		{SourceSpec{AccountID: "111122223333", RoleName: "R"}, false},
		{SourceSpec{SSOSession: "corp", AccountID: "11112222333", RoleName: "R"}, false},
		{SourceSpec{SSOSession: "corp", AccountID: "11112222333x", RoleName: "R"}, false},
		{SourceSpec{SSOSession: "corp", AccountID: "111122223333", RoleName: "R\nrole_arn = x"}, false},
		{SourceSpec{SSOSession: "corp]\n[profile x", AccountID: "111122223333", RoleName: "R"}, false},
		{SourceSpec{SSOSession: "corp", AccountID: "111122223333", RoleName: strings.Repeat("r", 65)}, false},
		{SourceSpec{Profile: "dev\n"}, false},
		{SourceSpec{Profile: " dev"}, false},
	}
	for _, tt := range tests {
		err := tt.spec.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%+v: got %v, want ok=%v", tt.spec, err, tt.ok)
		}
	}
}

func TestResolveSourceStaticKeys(t *testing.T) {
	sourceIsolate(t)
	// The agent's own environment names other credentials and another
	// profile; the named profile must win.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENVIRONMENT")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
	t.Setenv("AWS_PROFILE", "other")
	spec := sourceFiles(t, "dev",
		// aws_account_id in the config file: the SDK (config v1.33) merges
		// only the keys from the credentials file into a profile both
		// files name.
		"[profile dev]\nregion = eu-west-1\naws_account_id = 111122223333\n[profile other]\ncredential_process = false\n",
		"[dev]\naws_access_key_id = AKIASTATICDEV\naws_secret_access_key = static-secret\n")

	p, info, err := ResolveSource(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessKeyID != "AKIASTATICDEV" || c.SecretAccessKey != "static-secret" || c.CanExpire {
		t.Errorf("got key %s (expires %v), want the profile's static AKIASTATICDEV", c.AccessKeyID, c.CanExpire)
	}
	if got, want := info.Description, "profile dev (static keys)"; got != want {
		t.Errorf("description: got %q, want %q", got, want)
	}
	if info.AccountID != "111122223333" || info.Hint == "" {
		t.Errorf("info: %+v", info)
	}

	// Loaded into a slot, static keys are served as they are.
	s := NewSlots(SlotsConfig{})
	defer s.Close()
	st, err := s.LoadSource(context.Background(), "", spec)
	if err != nil {
		t.Fatal(err)
	}
	if st.Spec != spec || st.Description != info.Description {
		t.Errorf("status: %+v", st)
	}
	if _, err := s.LoadSource(context.Background(), "bad/name", spec); err == nil {
		t.Errorf("LoadSource accepted slot name bad/name")
	}
	got, err := s.Credentials(context.Background(), "")
	if err != nil || got.AccessKeyID != "AKIASTATICDEV" || !got.Expires.IsZero() || got.AccountID != "111122223333" {
		t.Errorf("served %+v, %v", got, err)
	}
}

func TestResolveSourceRefusals(t *testing.T) {
	sourceIsolate(t)
	cfgText := `[profile nothing]
region = eu-west-1
[profile mfa]
role_arn = arn:aws:iam::111122223333:role/admin
source_profile = keys
mfa_serial = arn:aws:iam::111122223333:mfa/me
[profile keys]
aws_access_key_id = AKIAKEYS
aws_secret_access_key = keys-secret
[profile orphan-role]
role_arn = arn:aws:iam::111122223333:role/admin
[profile broken-sso]
sso_session = missing
sso_account_id = 111122223333
sso_role_name = ReadOnly
`
	tests := []struct {
		profile, wantErr, wantHint string
	}{
		{"absent", "no such profile", "list-profiles"},
		{"nothing", "no credentials", ""},
		// Without a source the SDK would take the role's source
		// credentials from instance metadata or a container endpoint.
		{"orphan-role", "no credentials", ""},
		{"mfa", "MFA", "cannot prompt"},
		{"broken-sso", "sso", ""},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			spec := sourceFiles(t, tt.profile, cfgText, "")
			_, _, err := ResolveSource(context.Background(), spec)
			var se *SourceError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want *SourceError", err)
			}
			if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tt.wantErr)) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
			if !strings.Contains(se.Hint(), tt.wantHint) {
				t.Errorf("hint %q does not mention %q", se.Hint(), tt.wantHint)
			}
			if strings.Contains(err.Error(), "keys-secret") {
				t.Errorf("error leaks a secret: %v", err)
			}
		})
	}

	_, _, err := ResolveSource(context.Background(), SourceSpec{
		SSOSession: "missing", AccountID: "111122223333", RoleName: "ReadOnly",
		ConfigFile: sourceFiles(t, "x", cfgText, "").ConfigFile,
	})
	if err == nil || !strings.Contains(err.Error(), "[sso-session missing]") {
		t.Errorf("unknown sso session: got %v", err)
	}
}

// sourceProcessScript writes a credential_process that prints a new key
// on each run (AKIAPROC1, AKIAPROC2, ...), valid for an hour.
func sourceProcessScript(t *testing.T, body string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the credential_process fixture is a shell script")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "creds.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"+body), 0o700); err != nil {
		t.Fatal(err)
	}
	return script
}

func TestResolveSourceCredentialProcess(t *testing.T) {
	sourceIsolate(t)
	script := sourceProcessScript(t, `n=$(cat "$0.n" 2>/dev/null || echo 0)
n=$((n+1))
echo $n > "$0.n"
exp=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
printf '{"Version":1,"AccessKeyId":"AKIAPROC%s","SecretAccessKey":"proc-secret-%s","SessionToken":"proc-token","Expiration":"%s","AccountId":"444455556666"}' $n $n $exp
`)
	spec := sourceFiles(t, "proc", "[profile proc]\ncredential_process = "+script+"\n", "")
	p, info, err := ResolveSource(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info.Description, "profile proc (credential_process)"; got != want {
		t.Errorf("description: got %q, want %q", got, want)
	}
	if strings.Contains(info.Description, script) {
		t.Errorf("description shows the command: %q", info.Description)
	}

	// The slot's clock runs 50 minutes ahead, so the first credentials
	// (an hour, by the real clock) are inside the margin on the next
	// request: the slot must reach the process again through the SDK's
	// cache, which still holds AKIAPROC1 as valid.
	offset := atomic.Int64{}
	s := NewSlots(SlotsConfig{Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	defer s.Close()
	st, err := s.Load(context.Background(), "proc", spec, p, info)
	if err != nil {
		t.Fatal(err)
	}
	if st.AccountID != "444455556666" {
		t.Errorf("account: got %q, want the process's 444455556666", st.AccountID)
	}
	c, err := s.Credentials(context.Background(), "proc")
	if err != nil || c.AccessKeyID != "AKIAPROC1" {
		t.Fatalf("first: got %+v, %v; want AKIAPROC1", c, err)
	}
	offset.Store(int64(50 * time.Minute))
	c, err = s.Credentials(context.Background(), "proc")
	if err != nil || c.AccessKeyID != "AKIAPROC2" {
		t.Fatalf("after 50 minutes: got %+v, %v; want a refresh to AKIAPROC2", c, err)
	}
}

func TestResolveSourceCredentialProcessGarbage(t *testing.T) {
	sourceIsolate(t)
	// A process that prints credentials the SDK cannot parse: the SDK
	// quotes its output in the error, which must not reach people.
	script := sourceProcessScript(t, `printf '{"Version":1,"AccessKeyId":"AKIALEAK","SecretAccessKey":"leaked-secret-value",'`)
	spec := sourceFiles(t, "proc", "[profile proc]\ncredential_process = "+script+"\n", "")
	p, info, err := ResolveSource(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSlots(SlotsConfig{})
	defer s.Close()
	_, err = s.Load(context.Background(), "proc", spec, p, info)
	if err == nil {
		t.Fatal("loaded garbage")
	}
	t.Logf("garbage: %v", err)
	if strings.Contains(err.Error(), "leaked-secret-value") {
		t.Errorf("error leaks the process output: %v", err)
	}
	var se *SourceError
	if !errors.As(err, &se) || !strings.Contains(se.Hint(), "credential_process") {
		t.Errorf("got %v, want a *SourceError with a credential_process hint", err)
	}
}

// sourceStartMoto runs moto_server as STS on a free port and returns its
// URL. It must run before sourceIsolate changes HOME (pyenv's shims need
// the real one).
func sourceStartMoto(t *testing.T) string {
	t.Helper()
	// e2e.StartMoto retries when another process takes the port first,
	// and waits for this moto's own log line before trusting an answer.
	return e2e.StartMoto(t).Endpoint
}

func TestResolveSourceRoleChainMoto(t *testing.T) {
	motoURL := sourceStartMoto(t)
	sourceIsolate(t)
	const roleARN = "arn:aws:iam::123456789012:role/agent-test"
	// FACTS.md: the SDK ignores a profile's endpoint_url for the
	// AssumeRole of a source_profile chain; a [services] section works.
	cfgText := fmt.Sprintf(`[profile base]
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
services = moto
[profile chain]
role_arn = %s
source_profile = base
role_session_name = agent-test-session
duration_seconds = 3600
region = us-east-1
services = moto
[services moto]
sts =
  endpoint_url = %s
`, roleARN, motoURL)
	spec := sourceFiles(t, "chain", cfgText, "")
	p, info, err := ResolveSource(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if info.RoleARN != roleARN || info.AccountID != "123456789012" {
		t.Errorf("info: %+v", info)
	}
	if want := "profile chain (assume role " + roleARN + " via profile base)"; info.Description != want {
		t.Errorf("description: got %q, want %q", info.Description, want)
	}

	s := NewSlots(SlotsConfig{})
	defer s.Close()
	st, err := s.Load(context.Background(), "chain", spec, p, info)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Servable || st.AccountID != "123456789012" {
		t.Errorf("status: %+v", st)
	}
	c, err := s.Credentials(context.Background(), "chain")
	if err != nil {
		t.Fatal(err)
	}
	if c.RoleARN != roleARN || c.AccountID != "123456789012" || c.SessionToken == "" {
		t.Errorf("served role %q account %q token? %v", c.RoleARN, c.AccountID, c.SessionToken != "")
	}
	// duration_seconds = 3600 reached STS (moto's default is 900 s).
	if left := time.Until(c.Expires); left < 50*time.Minute || left > 61*time.Minute {
		t.Errorf("credentials live %v, want about an hour", left)
	}

	// moto knows the keys it issued: they are the assumed role's.
	if got, want := sourceCallerARN(t, motoURL, c), "arn:aws:sts::123456789012:assumed-role/agent-test/agent-test-session"; got != want {
		t.Errorf("caller identity: got %q, want %q", got, want)
	}
}

// sourceCallerARN is the identity moto's STS at motoURL reports for c.
func sourceCallerARN(t *testing.T, motoURL string, c Credentials) string {
	t.Helper()
	client := sts.New(sts.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(motoURL),
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
	})
	out, err := client.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Arn)
}

// sourceSSOPortal is a fake IAM Identity Center portal answering
// GetRoleCredentials for one access token.
func sourceSSOPortal(t *testing.T, accessToken string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.URL.Path != "/federation/credentials" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("x-amz-sso_bearer_token") != accessToken {
			w.Header().Set("x-amzn-ErrorType", "UnauthorizedException")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"message":"Session token not found or invalid"}`)
			return
		}
		q := r.URL.Query()
		if q.Get("account_id") != "111122223333" || q.Get("role_name") != "ReadOnly" {
			w.Header().Set("x-amzn-ErrorType", "ForbiddenException")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"message":"No access"}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"roleCredentials": map[string]any{
			"accessKeyId":     fmt.Sprintf("AKIASSO%d", n),
			"secretAccessKey": "sso-secret",
			"sessionToken":    "sso-token",
			"expiration":      time.Now().Add(8 * time.Hour).UnixMilli(),
		}})
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// sourceSSOToken writes an AWS CLI token cache entry, named as the CLI
// names it: the SHA-1 of the sso-session name (or of the start URL for
// legacy profiles).
func sourceSSOToken(t *testing.T, home, key, accessToken string, expires time.Time) {
	t.Helper()
	sum := sha1.Sum([]byte(key))
	dir := filepath.Join(home, ".aws", "sso", "cache")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	tok, _ := json.Marshal(map[string]string{
		"startUrl":    "https://example.awsapps.com/start",
		"region":      "eu-west-1",
		"accessToken": accessToken,
		"expiresAt":   expires.UTC().Format(time.RFC3339),
	})
	if err := os.WriteFile(filepath.Join(dir, hex.EncodeToString(sum[:])+".json"), tok, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestResolveSourceSSO(t *testing.T) {
	const accessToken = "portal-access-token"
	cfgText := func(portal string) string {
		return `[profile sso]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = ReadOnly
services = portal
[profile legacy]
sso_start_url = https://legacy.awsapps.com/start
sso_region = eu-west-1
sso_account_id = 111122223333
sso_role_name = ReadOnly
services = portal
[profile sso-chain]
role_arn = arn:aws:iam::999988887777:role/deploy
source_profile = sso
[sso-session corp]
sso_start_url = https://example.awsapps.com/start
sso_region = eu-west-1
sso_registration_scopes = sso:account:access
[services portal]
sso =
  endpoint_url = ` + portal + "\n"
	}

	tests := []struct {
		name     string
		spec     SourceSpec
		tokenKey string
		desc     string
		hint     string
	}{
		{"sso-session profile", SourceSpec{Profile: "sso"}, "corp",
			"profile sso (IAM Identity Center account 111122223333 role ReadOnly)", "aws-sso-agent login --profile sso"},
		{"legacy profile", SourceSpec{Profile: "legacy"}, "https://legacy.awsapps.com/start",
			"profile legacy (IAM Identity Center account 111122223333 role ReadOnly)", "aws-sso-agent login --profile legacy"},
		{"session, account and role", SourceSpec{SSOSession: "corp", AccountID: "111122223333", RoleName: "ReadOnly"}, "corp",
			"sso-session corp (account 111122223333 role ReadOnly)", "aws-sso-agent login --sso-session corp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := sourceIsolate(t)
			portal, calls := sourceSSOPortal(t, accessToken)
			// Profiles reach the portal through their [services]
			// section. The synthetic profile of an --sso-session source
			// has none; the SDK's environment variable reaches it.
			if tt.spec.SSOSession != "" {
				t.Setenv("AWS_ENDPOINT_URL_SSO", portal.URL)
			}
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			spec := sourceFiles(t, tt.spec.Profile, cfgText(portal.URL), "")
			tt.spec.ConfigFile, tt.spec.CredentialsFile = spec.ConfigFile, spec.CredentialsFile

			// A valid token: the portal hands out role credentials.
			sourceSSOToken(t, home, tt.tokenKey, accessToken, time.Now().Add(time.Hour))
			p, info, err := ResolveSource(context.Background(), tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if info.Description != tt.desc || !strings.Contains(info.Hint, tt.hint) || info.AccountID != "111122223333" {
				t.Errorf("info: %+v", info)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("ResolveSource left %s in the temporary directory", left[0].Name())
			}
			clock := newSlotClock()
			clock.t = time.Now()
			s := NewSlots(SlotsConfig{Now: clock.Now})
			defer s.Close()
			if _, err := s.Load(context.Background(), "sso", tt.spec, p, info); err != nil {
				t.Fatal(err)
			}
			c, err := s.Credentials(context.Background(), "sso")
			if err != nil || c.AccessKeyID != "AKIASSO1" || c.AccountID != "111122223333" {
				t.Fatalf("served %+v, %v", c, err)
			}

			// The token expires (the user has not run aws sso login);
			// the next refresh fails with the login hint, and no
			// credentials are served inside the margin.
			sourceSSOToken(t, home, tt.tokenKey, accessToken, time.Now().Add(-time.Minute))
			clock.Advance(8*time.Hour - 10*time.Minute)
			_, err = s.Credentials(context.Background(), "sso")
			var ue *UnavailableError
			if !errors.As(err, &ue) || !strings.Contains(ue.Hint, tt.hint) {
				t.Fatalf("with an expired token: got %v (hint %q), want *UnavailableError hinting %q", err, hintOf(err), tt.hint)
			}
			t.Logf("expired token: %v; hint: %s", err, ue.Hint)
			if !strings.Contains(ue.Reason, "expired") {
				t.Errorf("reason %q does not say the token expired", ue.Reason)
			}
			if strings.Contains(err.Error(), accessToken) || strings.Contains(err.Error(), "sso-secret") {
				t.Errorf("error leaks a secret: %v", err)
			}
			if got := calls.Load(); got != 1 {
				t.Errorf("portal calls: got %d, want 1 (the expired token never reaches it)", got)
			}

			// A fresh load with the expired token fails the same way.
			_, err = s.Load(context.Background(), "again", tt.spec, p, info)
			var se *SourceError
			if !errors.As(err, &se) || !strings.Contains(se.Hint(), tt.hint) {
				t.Errorf("load with expired token: got %v, want *SourceError hinting %q", err, tt.hint)
			}

			// After aws sso login, the slot recovers by itself.
			sourceSSOToken(t, home, tt.tokenKey, accessToken, time.Now().Add(time.Hour))
			clock.Advance(slotSyncHoldoff)
			if c, err := s.Credentials(context.Background(), "sso"); err != nil || c.AccessKeyID != "AKIASSO2" {
				t.Errorf("after login: got %+v, %v; want AKIASSO2", c, err)
			}
		})
	}

	t.Run("role chain from sso", func(t *testing.T) {
		home := sourceIsolate(t)
		spec := sourceFiles(t, "sso-chain", cfgText("http://127.0.0.1:9"), "")
		sourceSSOToken(t, home, "corp", accessToken, time.Now().Add(time.Hour))
		_, info, err := ResolveSource(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		// The role chain starts at SSO: the hint is the login.
		if info.Hint != "run: aws-sso-agent login --profile sso-chain" || info.AccountID != "999988887777" {
			t.Errorf("info: %+v", info)
		}
	})
}

func hintOf(err error) string {
	var h interface{ Hint() string }
	if errors.As(err, &h) {
		return h.Hint()
	}
	var ue *UnavailableError
	if errors.As(err, &ue) {
		return ue.Hint
	}
	return ""
}

func TestSourceFailureRedacts(t *testing.T) {
	got := sourceFailure(errors.New("bad request for secret-abcdefgh and token-12345678"), "secret-abcdefgh", "token-12345678", "")
	if strings.Contains(got, "secret-abcdefgh") || strings.Contains(got, "token-12345678") {
		t.Errorf("not redacted: %q", got)
	}
}

// FuzzSourceSpecSession checks that session, account and role values that
// pass Validate cannot change the structure of the synthetic profile
// ResolveSource writes: the SDK reads back exactly those three values.
func FuzzSourceSpecSession(f *testing.F) {
	fuzztest.Start(f)
	f.Add("corp", "111122223333", "ReadOnly")
	f.Add("corp]\n[profile x", "111122223333", "R")
	f.Add("corp", "111122223333", "R\nrole_arn = arn:aws:iam::1:role/x")
	f.Add("a # b", "111122223333", "R")
	f.Add("a=b", "111122223333", "R")
	f.Add("sso\u00a0name", "111122223333", "R")
	f.Fuzz(func(t *testing.T, session, account, role string) {
		spec := SourceSpec{SSOSession: session, AccountID: account, RoleName: role}
		if spec.Validate() != nil {
			return
		}
		synthetic, cleanup, err := sourceSyntheticProfile(spec)
		if err != nil {
			t.Fatal(err)
		}
		defer cleanup()
		sessions := filepath.Join(filepath.Dir(synthetic.file), "sessions")
		text := "[sso-session " + session + "]\nsso_start_url = https://example.awsapps.com/start\nsso_region = eu-west-1\n"
		if err := os.WriteFile(sessions, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		sc, err := config.LoadSharedConfigProfile(context.Background(), synthetic.profile, func(o *config.LoadSharedConfigOptions) {
			o.ConfigFiles = []string{sessions, synthetic.file}
			o.CredentialsFiles = []string{}
		})
		if err != nil {
			t.Fatalf("%+v: %v", spec, err)
		}
		if sc.SSOSessionName != session || sc.SSOAccountID != account || sc.SSORoleName != role ||
			sc.RoleARN != "" || sc.CredentialProcess != "" || sc.SourceProfileName != "" {
			t.Errorf("%+v read back as session %q account %q role %q role_arn %q", spec, sc.SSOSessionName, sc.SSOAccountID, sc.SSORoleName, sc.RoleARN)
		}
	})
}
