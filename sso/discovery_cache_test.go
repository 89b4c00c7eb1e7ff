package sso

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
)

var cacheRoles = []Role{
	{AccountID: "111122223333", AccountName: "prod", RoleName: "Admin"},
	{AccountID: "444455556666", AccountName: "dev", Email: "dev@example.com", RoleName: "ReadOnly"},
}

const cacheStartURL = "https://corp.awsapps.com/start"

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newCache(t *testing.T) (*RoleCache, *fakeClock) {
	clock := &fakeClock{time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)}
	return &RoleCache{Dir: filepath.Join(t.TempDir(), "sso-roles"), MaxAge: time.Hour, Now: clock.now}, clock
}

// discoverer counts its calls and returns roles or err.
type discoverer struct {
	calls int
	roles []Role
	err   error
}

func (d *discoverer) discover(context.Context) ([]Role, error) {
	d.calls++
	return d.roles, d.err
}

func TestRoleCacheServesFreshListing(t *testing.T) {
	c, clock := newCache(t)
	d := &discoverer{roles: cacheRoles}
	l, err := c.Roles(context.Background(), "corp", cacheStartURL, false, d.discover)
	if err != nil || len(l.Roles) != 2 || d.calls != 1 {
		t.Fatalf("cold: %v, %d roles, %d discoveries; want 2 roles from 1 discovery", err, len(l.Roles), d.calls)
	}
	fi, err := os.Stat(c.Path("corp"))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("cache file mode %04o, want 0600", fi.Mode().Perm())
	}
	if dir, _ := os.Stat(c.Dir); runtime.GOOS != "windows" && dir.Mode().Perm() != 0o700 {
		t.Errorf("cache dir mode %04o, want 0700", dir.Mode().Perm())
	}

	clock.t = clock.t.Add(59 * time.Minute)
	l, err = c.Roles(context.Background(), "corp", cacheStartURL, false, d.discover)
	if err != nil || d.calls != 1 || len(l.Roles) != 2 || l.Roles[1] != cacheRoles[1] {
		t.Errorf("warm: %v, %d discoveries, roles %+v; want the cached listing", err, d.calls, l.Roles)
	}

	clock.t = clock.t.Add(2 * time.Minute)
	if _, err := c.Roles(context.Background(), "corp", cacheStartURL, false, d.discover); err != nil || d.calls != 2 {
		t.Errorf("stale: %v, %d discoveries; want a new discovery", err, d.calls)
	}
	if _, err := c.Roles(context.Background(), "corp", cacheStartURL, true, d.discover); err != nil || d.calls != 3 {
		t.Errorf("refresh: %v, %d discoveries; want a new discovery", err, d.calls)
	}
}

func TestRoleCacheKeepsStaleListingOnFailure(t *testing.T) {
	c, clock := newCache(t)
	d := &discoverer{roles: cacheRoles}
	if _, err := c.Roles(context.Background(), "corp", cacheStartURL, false, d.discover); err != nil {
		t.Fatal(err)
	}
	clock.t = clock.t.Add(2 * time.Hour)
	d.err, d.roles = ErrTokenRefused, nil
	l, err := c.Roles(context.Background(), "corp", cacheStartURL, false, d.discover)
	if !errors.Is(err, ErrTokenRefused) {
		t.Errorf("err = %v, want the discovery's", err)
	}
	if len(l.Roles) != 2 {
		t.Errorf("got %d roles with the error, want the stale 2", len(l.Roles))
	}
	// The failed discovery did not overwrite the file.
	if l, err := c.Load("corp", cacheStartURL); err != nil || len(l.Roles) != 2 {
		t.Errorf("after failure: Load = %v, %d roles; want the old listing", err, len(l.Roles))
	}
}

func TestRoleCacheRefusesUnusableFiles(t *testing.T) {
	valid, _ := json.Marshal(Listing{Session: "corp", StartURL: cacheStartURL, DiscoveredAt: time.Now(), Roles: cacheRoles})
	for _, tc := range []struct {
		name string
		data string
		mode os.FileMode
		unix bool // the check needs Unix permission bits
	}{
		{"missing", "", 0, false},
		{"malformed", `{"session":`, 0o600, false},
		{"trailing data", string(valid) + `{}`, 0o600, false},
		{"hostile role", `{"session":"corp","startUrl":"` + cacheStartURL + `","discoveredAt":"2026-12-03T08:00:00Z","roles":[{"accountId":"111122223333","roleName":"x\ny"}]}`, 0o600, false},
		{"other start URL", `{"session":"corp","startUrl":"https://evil.awsapps.com/start","discoveredAt":"2026-12-03T08:00:00Z","roles":[]}`, 0o600, false},
		{"readable by others", string(valid), 0o644, true},
		{"writable by group", string(valid), 0o620, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.unix && runtime.GOOS == "windows" {
				t.Skip("no permission bits on Windows")
			}
			c, _ := newCache(t)
			if tc.mode != 0 {
				writeFile(t, c.Path("corp"), tc.data)
				if err := os.Chmod(c.Path("corp"), tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := c.Load("corp", cacheStartURL); !errors.Is(err, ErrNotCached) {
				t.Fatalf("Load = %v, want ErrNotCached", err)
			}
			// Roles discovers anew and replaces the file with a private one.
			d := &discoverer{roles: cacheRoles[:1]}
			l, err := c.Roles(context.Background(), "corp", cacheStartURL, false, d.discover)
			if err != nil || d.calls != 1 || len(l.Roles) != 1 {
				t.Fatalf("Roles = %v, %d discoveries, %d roles; want a new discovery", err, d.calls, len(l.Roles))
			}
			if fi, err := os.Stat(c.Path("corp")); err != nil || runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
				t.Errorf("rewritten file: %v, mode %v; want 0600", err, fi.Mode())
			}
		})
	}
}

func TestRoleCacheOneFilePerSession(t *testing.T) {
	c, _ := newCache(t)
	a, b := &discoverer{roles: cacheRoles[:1]}, &discoverer{roles: cacheRoles}
	c.Roles(context.Background(), "corp", cacheStartURL, false, a.discover)
	c.Roles(context.Background(), "../other", cacheStartURL, false, b.discover)
	if filepath.Dir(c.Path("../other")) != c.Dir {
		t.Errorf("Path(../other) = %s, outside %s", c.Path("../other"), c.Dir)
	}
	la, _ := c.Load("corp", cacheStartURL)
	lb, _ := c.Load("../other", cacheStartURL)
	if len(la.Roles) != 1 || len(lb.Roles) != 2 {
		t.Errorf("corp has %d roles, other %d; want 1 and 2", len(la.Roles), len(lb.Roles))
	}
}

func FuzzParseListing(f *testing.F) {
	fuzztest.Start(f)
	valid, _ := json.Marshal(Listing{Session: "corp", StartURL: cacheStartURL, DiscoveredAt: time.Now(), Roles: cacheRoles})
	f.Add(valid)
	f.Add([]byte(`{"session":"s","discoveredAt":"2026-12-03T08:00:00Z","roles":[{"accountId":"111122223333","accountName":"\u001b[2J","roleName":"A"}]}`))
	f.Add([]byte(`{"session":"s","discoveredAt":"0001-01-01T00:00:00Z"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseListing(data)
		if err != nil {
			return
		}
		for _, r := range l.Roles {
			if !ValidRole(r) {
				t.Fatalf("ParseListing accepted %+v", r)
			}
			for _, c := range r.Label() {
				if c < 0x20 || c == 0x7f || c >= 0x80 && c < 0xa0 {
					t.Fatalf("Label %q holds control character %U", r.Label(), c)
				}
			}
		}
		// What parses survives a round trip through Save's encoding.
		again, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseListing(again); err != nil {
			t.Fatalf("re-parse of %s: %v", again, err)
		}
	})
}
