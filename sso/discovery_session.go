package sso

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sso"
	"github.com/aws/aws-sdk-go-v2/service/sso/types"
)

// SessionNames lists the [sso-session NAME] sections of the shared config
// file (ConfigFile(configFile)), sorted. A missing file has none.
func SessionNames(configFile string) ([]string, error) {
	path := ConfigFile(configFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sso: read config: %w", err)
	}
	ini, err := parseINI(data)
	if err != nil {
		return nil, fmt.Errorf("sso: read config %s: %w", path, err)
	}
	var names []string
	for section := range ini {
		if kind, name, ok := strings.Cut(section, " "); ok && kind == "sso-session" && name != "" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// AccessToken returns an access token of the session that has not
// expired: the cached one, else one refreshed with the cached refresh
// token (Refresh). Errors that only a login fixes match ErrLoginRequired.
func (c *Client) AccessToken(ctx context.Context) (string, error) {
	t, err := c.Cached()
	if err == nil && t.ExpiresAt.After(c.now().Add(accessTokenMargin)) {
		return t.AccessToken, nil
	}
	if err != nil && !errors.Is(err, ErrNoCache) {
		return "", err
	}
	t, err = c.Refresh(ctx)
	if err != nil {
		return "", err
	}
	return t.AccessToken, nil
}

// accessTokenMargin keeps a token that expires during a discovery from
// being used for it: a hundred accounts take seconds, a throttled burst
// longer.
const accessTokenMargin = time.Minute

// Discoverer returns a Discoverer on the session's portal. The portal
// client retries network errors and server faults as the SDK does, but
// not throttling: Discoverer retries that with its own, longer backoff,
// and a client that retried too would multiply the calls of a throttled
// burst. The SDK's retry quota is off for the same reason: a burst of
// throttled calls would drain it and fail calls that never were
// throttled.
func (c *Client) Discoverer() *Discoverer {
	portal := sso.New(c.portal.Options(), func(o *sso.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.RateLimiter = ratelimit.None
			so.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(notThrottling)}, so.Retryables...)
		})
	})
	return &Discoverer{Portal: portal}
}

func notThrottling(err error) aws.Ternary {
	var throttled *types.TooManyRequestsException
	if errors.As(err, &throttled) {
		return aws.FalseTernary
	}
	return aws.UnknownTernary
}
