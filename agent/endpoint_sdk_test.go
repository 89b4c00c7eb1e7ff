package agent

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/smithy-go"
)

// TestEndpointSDKClient drives the endpoint with aws-sdk-go-v2's own
// container-credentials client, over plain HTTP on loopback as
// AWS_CONTAINER_CREDENTIALS_FULL_URI would.
func TestEndpointSDKClient(t *testing.T) {
	env := endpointTestStart(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for _, tt := range []struct {
		name, path, auth, slot string
	}{
		{"default slot", "/", env.token, ""},
		{"named slot with Bearer", "/slot/dev", "Bearer " + env.token, "dev"},
		{"escaped slot name", "/slot/a%2Fb", env.token, "a/b"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := endpointcreds.New(env.url+tt.path, func(o *endpointcreds.Options) {
				o.AuthorizationToken = tt.auth
			})
			got, err := p.Retrieve(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := endpointTestCreds(tt.slot)
			if got.AccessKeyID != want.AccessKeyID || got.SecretAccessKey != want.SecretAccessKey ||
				got.SessionToken != want.SessionToken || got.AccountID != want.AccountID {
				t.Errorf("got %+v, want %+v", got, want)
			}
			if !got.CanExpire || !got.Expires.Equal(want.Expires) {
				t.Errorf("expiry: got %v %v, want %v", got.CanExpire, got.Expires, want.Expires)
			}
		})
	}

	for _, tt := range []struct {
		name, path, auth, code string
	}{
		{"wrong token", "/", "wrong", "invalid_token"},
		{"no token", "/", "", "missing_token"},
		{"nothing loaded", "/slot/nothing", env.token, "no_credentials"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := endpointcreds.New(env.url+tt.path, func(o *endpointcreds.Options) {
				o.AuthorizationToken = tt.auth
			})
			_, err := p.Retrieve(ctx)
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("got %v (%T), want a smithy.APIError", err, err)
			}
			if apiErr.ErrorCode() != tt.code || apiErr.ErrorMessage() == "" {
				t.Errorf("got code %q message %q, want code %q and a message", apiErr.ErrorCode(), apiErr.ErrorMessage(), tt.code)
			}
			t.Logf("the SDK says: %v", err)
		})
	}
}
