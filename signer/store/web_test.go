package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

func TestWebSessionsAndTokens(t *testing.T) {
	forEachEngine(t, func(t *testing.T, _ string, clk *clock, open func() *store.DB) {
		db := open()
		ctx := context.Background()
		a, err := db.AddPendingAccount(ctx, "alice", "alice@example.com", "$argon2id$fake")
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := db.EmailPending(ctx, a.ID); !p {
			t.Error("a signed-up account is not pending")
		}
		if b := mustAccount(t, db, "bob"); func() bool { p, _ := db.EmailPending(ctx, b.ID); return p }() {
			t.Error("an admin's account is pending")
		}
		s1, s2 := []byte("session-one-hash"), []byte("session-two-hash")
		for _, s := range [][]byte{s1, s2} {
			if err := db.CreateSession(ctx, a.ID, s, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.SessionAccount(ctx, s1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a pending account's session: %v", err)
		}
		if err := db.ConfirmEmail(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if got, err := db.SessionAccount(ctx, s1); err != nil || got.Username != "alice" {
			t.Fatalf("session: %v %v", got, err)
		}
		if err := db.SetPassword(ctx, a.ID, "$argon2id$new", s1); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SessionAccount(ctx, s1); err != nil {
			t.Errorf("the kept session ended: %v", err)
		}
		if _, err := db.SessionAccount(ctx, s2); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("another session survived a password change: %v", err)
		}
		if got, _ := db.AccountByID(ctx, a.ID); got.PasswordHash != "$argon2id$new" {
			t.Errorf("hash %q", got.PasswordHash)
		}
		clk.Advance(time.Hour)
		if _, err := db.SessionAccount(ctx, s1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an expired session: %v", err)
		}

		old, newer := []byte("token-old"), []byte("token-new")
		db.CreateToken(ctx, a.ID, store.TokenResetPassword, old, time.Hour)
		db.CreateToken(ctx, a.ID, store.TokenResetPassword, newer, time.Hour)
		if _, err := db.UseToken(ctx, store.TokenResetPassword, old); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a replaced token: %v", err)
		}
		if _, err := db.UseToken(ctx, store.TokenVerifyEmail, newer); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a token of another purpose: %v", err)
		}
		// Two spend it at once: one wins.
		var wins int
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if id, err := db.UseToken(ctx, store.TokenResetPassword, newer); err == nil && id == a.ID {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Errorf("the token was spent %d times", wins)
		}
	})
}

func TestLoginFailures(t *testing.T) {
	forEachEngine(t, func(t *testing.T, _ string, clk *clock, open func() *store.DB) {
		db := open()
		ctx := context.Background()
		lim := store.LoginLimits{Failures: 3, Window: time.Minute, Lockout: 10 * time.Minute}
		for i := range 2 {
			if until, err := db.RecordLoginFailure(ctx, "login:alice", lim); err != nil || !until.IsZero() {
				t.Fatalf("failure %d: %v %v", i, until, err)
			}
		}
		// The window passes: counting starts over.
		clk.Advance(time.Minute + time.Second)
		for i := range 2 {
			if until, _ := db.RecordLoginFailure(ctx, "login:alice", lim); !until.IsZero() {
				t.Fatalf("failure %d of a new window locked", i)
			}
		}
		// Concurrent failures are all counted: the third locks.
		var wg sync.WaitGroup
		for range 3 {
			wg.Add(1)
			go func() { defer wg.Done(); db.RecordLoginFailure(ctx, "login:alice", lim) }()
		}
		wg.Wait()
		until, err := db.LoginLockedUntil(ctx, "login:alice")
		if err != nil || !until.Equal(clk.Now().Add(lim.Lockout)) {
			t.Fatalf("locked until %v (%v), want %v", until, err, clk.Now().Add(lim.Lockout))
		}
		db.ClearLoginFailures(ctx, "login:alice")
		if until, _ := db.LoginLockedUntil(ctx, "login:alice"); until.IsZero() {
			t.Error("a success lifted the lockout")
		}
		clk.Advance(lim.Lockout)
		if until, _ := db.LoginLockedUntil(ctx, "login:alice"); !until.IsZero() {
			t.Errorf("still locked after the lockout: %v", until)
		}
	})
}

func TestHostnameHolds(t *testing.T) {
	forEachEngine(t, func(t *testing.T, _ string, clk *clock, open func() *store.DB) {
		db := open()
		ctx := context.Background()
		mustAccount(t, db, "bob")
		later, sooner := clk.Now().Add(48*time.Hour), clk.Now().Add(24*time.Hour)
		if err := db.HoldHostnames(ctx, map[string]time.Time{"laptop": later}); err != nil {
			t.Fatal(err)
		}
		// A shorter hold never shortens a longer one.
		if err := db.HoldHostnames(ctx, map[string]time.Time{"laptop": sooner}); err != nil {
			t.Fatal(err)
		}
		if until, err := db.HostnameHold(ctx, "laptop"); err != nil || !until.Equal(later) {
			t.Errorf("hold %v %v, want %v", until, err, later)
		}
		_, err := db.AddHostname(ctx, "bob", "laptop", 5)
		var held *store.HoldError
		if !errors.As(err, &held) || !errors.Is(err, store.ErrHeld) || !held.Until.Equal(later) {
			t.Errorf("register a held name: %v", err)
		}
		clk.Advance(48 * time.Hour)
		if _, err := db.AddHostname(ctx, "bob", "laptop", 5); err != nil {
			t.Errorf("register after the hold: %v", err)
		}
	})
}
