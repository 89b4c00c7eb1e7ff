package ssofake

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc/types"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
)

// oidcClient is aws-sdk-go-v2's own OIDC client: its serializers and
// deserializers are the check on the fake's wire format.
func sdkOIDC(t *testing.T, o *OIDC) (*ssooidc.Client, string) {
	t.Helper()
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	return ssooidc.New(ssooidc.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1}), srv.URL
}

func register(t *testing.T, c *ssooidc.Client, in *ssooidc.RegisterClientInput) *ssooidc.RegisterClientOutput {
	t.Helper()
	in.ClientName, in.ClientType = aws.String("test"), aws.String("public")
	out, err := c.RegisterClient(context.Background(), in)
	if err != nil {
		t.Fatalf("RegisterClient: %v", err)
	}
	return out
}

// TestOIDCDeviceFlowWithSDK: pending, slow_down and expired answers
// decode to the SDK's typed exceptions, with the OAuth error code.
func TestOIDCDeviceFlowWithSDK(t *testing.T) {
	o := NewOIDC(OIDCConfig{})
	c, _ := sdkOIDC(t, o)
	ctx := context.Background()
	reg := register(t, c, &ssooidc.RegisterClientInput{Scopes: []string{"sso:account:access"}})
	da, err := c.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{
		ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, StartUrl: aws.String("https://x.awsapps.com/start")})
	if err != nil {
		t.Fatal(err)
	}
	if da.ExpiresIn != 600 || da.Interval != 1 || aws.ToString(da.VerificationUriComplete) == "" {
		t.Errorf("device authorization %+v", da)
	}
	poll := func() error {
		_, err := c.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret,
			GrantType: aws.String(GrantDeviceCode), DeviceCode: da.DeviceCode})
		return err
	}
	var pending *types.AuthorizationPendingException
	if err := poll(); !errors.As(err, &pending) || aws.ToString(pending.Error_) != "authorization_pending" {
		t.Errorf("before approval: %v, want AuthorizationPendingException (authorization_pending)", err)
	}
	o.SlowDown(1)
	var slow *types.SlowDownException
	if err := poll(); !errors.As(err, &slow) {
		t.Errorf("after SlowDown: %v, want SlowDownException", err)
	}
	o.ApproveDevice(aws.ToString(da.UserCode))
	if err := poll(); err != nil {
		t.Fatalf("after approval: %v", err)
	}
	var invalid *types.InvalidGrantException
	if err := poll(); !errors.As(err, &invalid) {
		t.Errorf("second use of the device code: %v, want InvalidGrantException", err)
	}
	var badClient *types.InvalidClientException
	_, err = c.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: aws.String("wrong"),
		GrantType: aws.String(GrantDeviceCode), DeviceCode: da.DeviceCode})
	if !errors.As(err, &badClient) {
		t.Errorf("wrong secret: %v, want InvalidClientException", err)
	}
}

// TestOIDCAuthorizationCodeWithSDK: /authorize redirects with a code and
// the state; the code is exchanged once, only with the right verifier;
// refresh tokens rotate on every use.
func TestOIDCAuthorizationCodeWithSDK(t *testing.T) {
	o := NewOIDC(OIDCConfig{})
	c, base := sdkOIDC(t, o)
	ctx := context.Background()
	reg := register(t, c, &ssooidc.RegisterClientInput{
		Scopes: []string{"sso:account:access"}, GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken},
		RedirectUris: []string{"http://127.0.0.1/oauth/callback"}, IssuerUrl: aws.String("https://x.awsapps.com/start")})
	if aws.ToString(reg.AuthorizationEndpoint) != base+"/authorize" {
		t.Errorf("authorizationEndpoint %q", aws.ToString(reg.AuthorizationEndpoint))
	}
	const verifier = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-."
	redirect := "http://127.0.0.1:5555/oauth/callback"
	q := url.Values{"response_type": {"code"}, "client_id": {aws.ToString(reg.ClientId)}, "redirect_uri": {redirect},
		"state": {"st8"}, "code_challenge_method": {"S256"}, "code_challenge": {s256(verifier)}, "scopes": {"sso:account:access"}}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(base + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Host != "127.0.0.1:5555" || loc.Query().Get("state") != "st8" || loc.Query().Get("code") == "" {
		t.Fatalf("authorize answered %d Location %s", resp.StatusCode, loc)
	}
	exchange := func(v string) (*ssooidc.CreateTokenOutput, error) {
		return c.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret,
			GrantType: aws.String(GrantAuthorizationCode), Code: aws.String(loc.Query().Get("code")),
			CodeVerifier: aws.String(v), RedirectUri: aws.String(redirect)})
	}
	var invalid *types.InvalidGrantException
	if _, err := exchange("wrong" + verifier[5:]); !errors.As(err, &invalid) {
		t.Fatalf("wrong verifier: %v, want InvalidGrantException", err)
	}
	// The wrong try used the code up, as the service does.
	if _, err := exchange(verifier); !errors.As(err, &invalid) {
		t.Fatalf("used code: %v, want InvalidGrantException", err)
	}
	resp, _ = noFollow.Get(base + "/authorize?" + q.Encode())
	resp.Body.Close()
	loc, _ = url.Parse(resp.Header.Get("Location"))
	tok, err := exchange(verifier)
	if err != nil || aws.ToString(tok.RefreshToken) == "" || tok.ExpiresIn != 3600 {
		t.Fatalf("exchange: %+v %v", tok, err)
	}
	refresh := func(rt *string) (*ssooidc.CreateTokenOutput, error) {
		return c.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret,
			GrantType: aws.String(GrantRefreshToken), RefreshToken: rt})
	}
	next, err := refresh(tok.RefreshToken)
	if err != nil || aws.ToString(next.RefreshToken) == aws.ToString(tok.RefreshToken) {
		t.Fatalf("refresh: %v, want a new refresh token", err)
	}
	if _, err := refresh(tok.RefreshToken); !errors.As(err, &invalid) {
		t.Errorf("reused refresh token: %v, want InvalidGrantException", err)
	}
	if !o.Valid(aws.ToString(next.AccessToken)) {
		t.Error("refreshed access token not valid")
	}
}

// TestOIDCWithBotocore: botocore's sso-oidc client parses the fake's
// answers and errors as the service's.
func TestOIDCWithBotocore(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		e2e.PeerMissing(t, "python3 not found in PATH")
	}
	if err := exec.Command(python, "-c", "import botocore").Run(); err != nil {
		e2e.PeerMissing(t, "%s cannot import botocore: %v", python, err)
	}
	o := NewOIDC(OIDCConfig{})
	srv := httptest.NewServer(o)
	defer srv.Close()
	const script = `import json, os, sys
import botocore.session
from botocore.config import Config
c = botocore.session.get_session().create_client("sso-oidc", region_name="eu-west-1", endpoint_url=os.environ["OIDC"],
    config=Config(retries={"max_attempts": 1, "mode": "standard"}))
r = c.register_client(clientName="t", clientType="public", scopes=["sso:account:access"])
d = c.start_device_authorization(clientId=r["clientId"], clientSecret=r["clientSecret"], startUrl="https://x/start")
out = {"interval": d["interval"], "errors": []}
for _ in range(1):
    try:
        c.create_token(grantType="urn:ietf:params:oauth:grant-type:device_code", clientId=r["clientId"], clientSecret=r["clientSecret"], deviceCode=d["deviceCode"])
    except c.exceptions.AuthorizationPendingException as e:
        out["errors"].append([e.response["Error"]["Code"], e.response["error"]])
json.dump(out, sys.stdout)
`
	cmd := exec.Command(python, "-c", script)
	cmd.Env = e2e.CleanEnv(t, "OIDC="+srv.URL)
	cmd.Dir = t.TempDir()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("botocore: %v\n%s", err, stderrOf(err))
	}
	var got struct {
		Interval int
		Errors   [][]string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("botocore printed %s: %v", out, err)
	}
	if got.Interval != 1 || len(got.Errors) != 1 || got.Errors[0][0] != "AuthorizationPendingException" || got.Errors[0][1] != "authorization_pending" {
		t.Errorf("botocore saw %+v, want interval 1 and AuthorizationPendingException (authorization_pending)", got)
	}
}
