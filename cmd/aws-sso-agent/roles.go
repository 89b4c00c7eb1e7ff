package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/sso"
)

// discoveryTimeout bounds one session's discovery: a hundred accounts
// take about six round trips (sso.DefaultConcurrency), and a throttled
// burst backs off for seconds.
const discoveryTimeout = 2 * time.Minute

func (c *cli) roles(args []string) error {
	fs := c.flags("roles")
	session := fs.String("sso-session", "", "list the roles of this sso-session only (default: every sso-session of the AWS config)")
	asJSON := fs.Bool("json", false, "print JSON")
	refresh := fs.Bool("refresh", false, "discover now instead of using a listing younger than the refresh interval")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	sessions := []sso.ConfiguredSession{{Session: sso.Session{Name: *session}}}
	if *session == "" {
		var err error
		if sessions, err = sso.Sessions(""); err != nil {
			return err
		}
		if len(sessions) == 0 {
			return withHint(errors.New("no [sso-session] sections or profiles with sso_start_url in the AWS config"), "add one with: aws configure sso-session (or set AWS_CONFIG_FILE)")
		}
	}
	cache, err := c.roleCache()
	if err != nil {
		return err
	}
	// Everything is found before anything is printed, so a failure
	// leaves no half a listing on stdout.
	var listings []sso.Listing
	for _, cs := range sessions {
		ctx, cancel := context.WithTimeout(context.Background(), discoveryTimeout)
		l, err := c.discoverSession(ctx, cache, cs.Session, *refresh, nil)
		cancel()
		if err != nil {
			if len(l.Roles) == 0 {
				return err
			}
			fmt.Fprintf(c.stderr, "aws-sso-agent: warning: %v; showing the roles found %s\n", err, l.DiscoveredAt.Local().Format(time.RFC3339))
		}
		listings = append(listings, l)
	}
	if *asJSON {
		if listings == nil {
			listings = []sso.Listing{}
		}
		return writeJSON(c.stdout, listings)
	}
	return writeRoles(c.stdout, sessions, listings)
}

// roleCache is where discovered roles are kept: beside the agent's other
// files, private to this user.
func (c *cli) roleCache() (*sso.RoleCache, error) {
	d, err := c.dirs()
	if err != nil {
		return nil, err
	}
	return &sso.RoleCache{Dir: filepath.Join(d.Config, "sso-roles")}, nil
}

// discoverSession returns the listing of session (named by its Name, or
// for a legacy start URL by its Profile), from the cache while it is
// fresh. Its errors carry the hint for what the user can do. With an
// error it may still return an older listing. When the portal is asked,
// progress (if not nil) is told first: that can take seconds.
func (c *cli) discoverSession(ctx context.Context, cache *sso.RoleCache, session sso.Session, refresh bool, progress io.Writer) (sso.Listing, error) {
	profile := session.Profile
	if session.Name != "" {
		profile = "" // the session itself, as `roles --sso-session` names it
	}
	client, err := c.ssoClient(session.Name, profile)
	if err != nil {
		return sso.Listing{}, err
	}
	s := client.Session()
	// A legacy start URL's listing is kept under the URL, as its token is.
	l, err := cache.Roles(ctx, s.CacheKey(), s.StartURL, refresh, func(ctx context.Context) ([]sso.Role, error) {
		if progress != nil {
			fmt.Fprintf(progress, "aws-sso-agent: finding the accounts and roles of %s...\n", s)
		}
		token, err := client.AccessToken(ctx)
		if err != nil {
			return nil, err
		}
		return client.Discoverer().Discover(ctx, token)
	})
	if errors.Is(err, sso.ErrTokenRefused) {
		err = withHint(err, "log in again with: aws-sso-agent login "+session.LoginFlags())
	}
	return l, err
}

// writeRoles prints one block per session, one role a line, as the picker
// shows them. A role of a legacy start URL loads only through a profile
// that names it, which its line shows.
func writeRoles(w io.Writer, sessions []sso.ConfiguredSession, listings []sso.Listing) error {
	for i, l := range listings {
		if i > 0 {
			fmt.Fprintln(w)
		}
		cs := sessions[i]
		if cs.Name != "" || cs.StartURL == "" {
			fmt.Fprintf(w, "sso-session %s (%s): %d roles, found %s\n", l.Session, l.StartURL, len(l.Roles), l.DiscoveredAt.Local().Format(time.RFC3339))
			for _, r := range l.Roles {
				fmt.Fprintf(w, "  %s\n", r.Label())
			}
			if len(l.Roles) > 0 {
				r := l.Roles[0]
				fmt.Fprintf(w, "load one with: aws-sso-agent load --sso-session %s --account %s --role %s\n", l.Session, r.AccountID, r.RoleName)
			}
			continue
		}
		fmt.Fprintf(w, "start URL %s (%s): %d roles, found %s\n", l.StartURL, legacyProfiles(cs), len(l.Roles), l.DiscoveredAt.Local().Format(time.RFC3339))
		example := ""
		for _, r := range l.Roles {
			if p, ok := cs.ProfileFor(r.AccountID, r.RoleName); ok {
				fmt.Fprintf(w, "  %s  [profile %s]\n", r.Label(), p)
				if example == "" {
					example = p
				}
			} else {
				fmt.Fprintf(w, "  %s\n", r.Label())
			}
		}
		if example != "" {
			fmt.Fprintf(w, "load one with: aws-sso-agent load --profile %s\n", example)
		}
		if len(l.Roles) > 0 {
			fmt.Fprintf(w, "roles without a profile: add one with aws configure sso, or move the start URL to an [sso-session] (then load --sso-session loads any role)\n")
		}
	}
	return nil
}

// legacyProfiles names the profiles of a legacy start URL for people.
func legacyProfiles(cs sso.ConfiguredSession) string {
	names := []string{cs.Profile}
	for _, p := range cs.Profiles {
		if p.Profile != cs.Profile {
			names = append(names, p.Profile)
		}
	}
	return "profile " + strings.Join(names, ", ")
}
