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

// ConfiguredSession is one login the shared config names: an
// [sso-session NAME] section, or a start URL that legacy profiles carry
// themselves (sso_start_url and sso_region, no sso_session), as AWS CLI
// v1 and older configs have them.
type ConfiguredSession struct {
	Session
	// Profiles are the profiles that use the session and name a role
	// of it (sso_account_id and sso_role_name), sorted by name. A role
	// of a legacy start URL loads only through such a profile.
	Profiles []ProfileRole
}

// ProfileRole is a profile naming one role of its session.
type ProfileRole struct {
	Profile   string
	AccountID string
	RoleName  string
}

// ProfileFor returns the profile that names the role, if one does.
func (s ConfiguredSession) ProfileFor(accountID, roleName string) (string, bool) {
	for _, p := range s.Profiles {
		if p.AccountID == accountID && p.RoleName == roleName {
			return p.Profile, true
		}
	}
	return "", false
}

// Sessions lists the logins of the shared config file
// (ConfigFile(configFile)): its [sso-session] sections by name, then the
// start URLs of legacy profiles by URL. Legacy profiles that share a
// start URL share its token (the AWS CLI's cache key is the URL), so
// they are one session, found through the first of them by name; a
// legacy profile without sso_region is left out, as no SDK can use it.
// A missing file has none.
func Sessions(configFile string) ([]ConfiguredSession, error) {
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
	var sections []string
	for section := range ini {
		sections = append(sections, section)
	}
	sort.Strings(sections)

	var named []ConfiguredSession
	byName := map[string]int{}
	for _, section := range sections {
		if kind, name, _ := strings.Cut(section, " "); kind == "sso-session" && name != "" {
			s, err := ini.session(path, name, "")
			if err != nil {
				// Still listed: discovering it says what is wrong.
				s = Session{Name: name}
			}
			byName[name] = len(named)
			named = append(named, ConfiguredSession{Session: s})
		}
	}
	legacy := map[string]*ConfiguredSession{}
	for _, section := range sections {
		kind, name, _ := strings.Cut(section, " ")
		switch {
		case kind == "profile" && name != "":
		case section == "default" && ini["profile default"] == nil:
			name = "default"
		default:
			continue
		}
		p := ini.profile(name)
		role := ProfileRole{Profile: name, AccountID: p["sso_account_id"], RoleName: p["sso_role_name"]}
		hasRole := role.AccountID != "" && role.RoleName != ""
		if sn := p["sso_session"]; sn != "" {
			if i, ok := byName[sn]; ok && hasRole {
				named[i].Profiles = append(named[i].Profiles, role)
			}
			continue
		}
		url, region := p["sso_start_url"], p["sso_region"]
		if url == "" || region == "" {
			continue
		}
		cs := legacy[url]
		if cs == nil {
			cs = &ConfiguredSession{Session: Session{StartURL: url, Region: region, Profile: name}}
			legacy[url] = cs
		}
		if hasRole {
			cs.Profiles = append(cs.Profiles, role)
		}
	}
	out := named
	var urls []string
	for url := range legacy {
		urls = append(urls, url)
	}
	sort.Strings(urls)
	for _, url := range urls {
		out = append(out, *legacy[url])
	}
	return out, nil
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
