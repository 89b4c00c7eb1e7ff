package sso

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/ssofake"
)

// waitFor polls cond; the keeper works on real timers.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestKeeperRefreshesAhead(t *testing.T) {
	// 10-second tokens are refreshed 5 s ahead: slack for a busy machine.
	f := newFixture(t, ssofake.Config{OIDC: ssofake.OIDCConfig{AccessTokenLifetime: 10 * time.Second}})
	c := f.client(t)
	first, err := c.Login(context.Background(), LoginOptions{Browser: &followBrowser{}, Prompt: &recordPrompt{}})
	if err != nil {
		t.Fatal(err)
	}
	k := NewKeeper(KeeperConfig{CacheDir: f.cacheDir, PollInterval: 50 * time.Millisecond})
	defer k.Close()
	ref := SessionRef{ConfigFile: f.config, Profile: "dev"}
	if ok, err := k.Keep(ref); !ok || err != nil {
		t.Fatalf("Keep: %v %v", ok, err)
	}
	// Two refreshes, each before the token it replaces expired.
	prev := first
	for i := 0; i < 2; i++ {
		waitFor(t, "a refresh", func() bool {
			tok, err := c.Cached()
			return err == nil && tok.AccessToken != prev.AccessToken
		})
		if time.Now().After(prev.ExpiresAt) {
			t.Errorf("refresh %d came after the old token expired", i+1)
		}
		prev, _ = c.Cached()
	}
	st := k.Status()
	if len(st) != 1 || st[0].Session != "sso-session corp" || st[0].Expires.IsZero() || st[0].LoginNeeded != "" {
		t.Errorf("Status: %+v", st)
	}
}

func TestKeeperOneAutoLogin(t *testing.T) {
	f := newFixture(t, ssofake.Config{OIDC: ssofake.OIDCConfig{AccessTokenLifetime: 2 * time.Second}})
	c := f.client(t)
	if _, err := c.Login(context.Background(), LoginOptions{Browser: &followBrowser{}, Prompt: &recordPrompt{}}); err != nil {
		t.Fatal(err)
	}
	f.fake.OIDC.RevokeRefreshTokens()
	var logins atomic.Int32
	release := make(chan struct{})
	k := NewKeeper(KeeperConfig{
		CacheDir:     f.cacheDir,
		PollInterval: 20 * time.Millisecond,
		AutoLogin: func(ctx context.Context, c *Client) error {
			logins.Add(1)
			<-release // the person takes their time
			_, err := c.Login(ctx, LoginOptions{Browser: &followBrowser{}, Prompt: &recordPrompt{}})
			return err
		},
	})
	defer k.Close()
	// Two slots of the same session: one session kept, one login.
	for _, ref := range []SessionRef{{ConfigFile: f.config, Profile: "dev"}, {ConfigFile: f.config, SSOSession: "corp"}} {
		if _, err := k.Keep(ref); err != nil {
			t.Fatal(err)
		}
	}
	ref := SessionRef{ConfigFile: f.config, Profile: "dev"}
	waitFor(t, "login needed", func() bool { _, needed := k.LoginNeeded(ref); return needed })
	// Many polls pass while the login waits for the person.
	time.Sleep(300 * time.Millisecond)
	if n := logins.Load(); n != 1 {
		t.Fatalf("%d automatic logins started, want 1", n)
	}
	if st := k.Status(); len(st) != 1 || !st[0].LoginRunning {
		t.Errorf("Status: %+v, want one session with its login running", st)
	}
	close(release)
	waitFor(t, "logged in again", func() bool { _, needed := k.LoginNeeded(ref); return !needed })
	if n := logins.Load(); n != 1 {
		t.Errorf("%d automatic logins, want 1", n)
	}
}

func TestKeeperIgnoresProfilesWithoutSSO(t *testing.T) {
	f := newFixture(t, ssofake.Config{})
	k := NewKeeper(KeeperConfig{CacheDir: f.cacheDir})
	defer k.Close()
	if ok, err := k.Keep(SessionRef{ConfigFile: f.config, Profile: "nosuch"}); ok || err == nil {
		t.Errorf("Keep of a missing profile: %v %v, want an error", ok, err)
	}
	static := f.config + ".static"
	if err := writeFileAtomic(static, []byte("[profile keys]\naws_access_key_id = AKIA\n")); err != nil {
		t.Fatal(err)
	}
	if ok, err := k.Keep(SessionRef{ConfigFile: static, Profile: "keys"}); ok || err != nil {
		t.Errorf("Keep of a profile with keys: %v %v, want nothing kept and no error", ok, err)
	}
}

// TestKeeperRetainForgets: a session stays kept while one ref to it is
// retained, and once none is, its refreshes stop and status drops it.
func TestKeeperRetainForgets(t *testing.T) {
	// 2-second tokens are refreshed every second while kept.
	f := newFixture(t, ssofake.Config{OIDC: ssofake.OIDCConfig{AccessTokenLifetime: 2 * time.Second}})
	c := f.client(t)
	if _, err := c.Login(context.Background(), LoginOptions{Browser: &followBrowser{}, Prompt: &recordPrompt{}}); err != nil {
		t.Fatal(err)
	}
	k := NewKeeper(KeeperConfig{CacheDir: f.cacheDir, PollInterval: 50 * time.Millisecond})
	defer k.Close()
	byProfile := SessionRef{ConfigFile: f.config, Profile: "dev"}
	bySession := SessionRef{ConfigFile: f.config, SSOSession: "corp"}
	for _, ref := range []SessionRef{byProfile, bySession} {
		if _, err := k.Keep(ref); err != nil {
			t.Fatal(err)
		}
	}
	refreshes := func() int { return f.fake.OIDC.Calls(ssofake.OpCreateToken) }

	// One of the two refs still uses the session: it is still refreshed.
	k.Retain([]SessionRef{bySession})
	if st := k.Status(); len(st) != 1 {
		t.Fatalf("Status after retaining one ref: %+v, want the session", st)
	}
	n := refreshes()
	waitFor(t, "a refresh while a ref is retained", func() bool { return refreshes() > n })

	k.Retain(nil)
	if st := k.Status(); len(st) != 0 {
		t.Errorf("Status after retaining nothing: %+v, want none", st)
	}
	if _, needed := k.LoginNeeded(bySession); needed {
		t.Error("a forgotten session still says a login is needed")
	}
	// A refresh may have been on the wire when Retain ran; after that,
	// three token lifetimes pass without one.
	time.Sleep(500 * time.Millisecond)
	n = refreshes()
	time.Sleep(6 * time.Second)
	if got := refreshes(); got != n {
		t.Errorf("%d refreshes of a forgotten session, want none", got-n)
	}

	// Kept again, it is refreshed again.
	if _, err := k.Keep(byProfile); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a refresh once kept again", func() bool { return refreshes() > n })
}

// TestKeeperAsksOnceForARefusedToken: once the service refused the cached
// refresh token, polls wait for a new login in the cache file rather than
// offer the service the same token every PollInterval.
func TestKeeperAsksOnceForARefusedToken(t *testing.T) {
	f := newFixture(t, ssofake.Config{OIDC: ssofake.OIDCConfig{AccessTokenLifetime: 2 * time.Second}})
	c := f.client(t)
	if _, err := c.Login(context.Background(), LoginOptions{Browser: &followBrowser{}, Prompt: &recordPrompt{}}); err != nil {
		t.Fatal(err)
	}
	f.fake.OIDC.RevokeRefreshTokens()
	k := NewKeeper(KeeperConfig{CacheDir: f.cacheDir, PollInterval: 20 * time.Millisecond})
	defer k.Close()
	ref := SessionRef{ConfigFile: f.config, Profile: "dev"}
	if _, err := k.Keep(ref); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "login needed", func() bool { _, needed := k.LoginNeeded(ref); return needed })
	calls := func() int { return f.fake.OIDC.Calls(ssofake.OpCreateToken) }
	n := calls()
	time.Sleep(300 * time.Millisecond) // many polls
	if got := calls(); got != n {
		t.Errorf("%d refreshes with the refused token, want none", got-n)
	}

	// A login made elsewhere is noticed, and its token refreshed.
	if _, err := c.Login(context.Background(), LoginOptions{Browser: &followBrowser{}, Prompt: &recordPrompt{}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "logged in again", func() bool { _, needed := k.LoginNeeded(ref); return !needed })
	n = calls()
	waitFor(t, "a refresh of the new login", func() bool { return calls() > n })
}
