package store_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

// latestSchema is the schema version Open migrates to.
const latestSchema = 4

// undoWebMigration takes a database back from version 4 (signer/web's
// tables, then its passkeys) to version 2, for the upgrade test.
func undoWebMigration(t *testing.T, raw *sql.DB) {
	t.Helper()
	for _, q := range []string{`DROP TABLE passkey_challenges`, `DROP TABLE passkeys`, `DROP TABLE passkey_users`,
		`DELETE FROM schema_migrations WHERE version = 4`, `DROP TABLE web_sessions`, `DROP TABLE web_tokens`, `DROP TABLE login_failures`,
		`ALTER TABLE accounts DROP COLUMN email_pending`, `DELETE FROM schema_migrations WHERE version = 3`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

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

func TestQuarantinedUntil(t *testing.T) {
	forEachEngine(t, func(t *testing.T, _ string, clk *clock, open func() *store.DB) {
		db := open()
		ctx := context.Background()
		mustAccount(t, db, "alice")
		mustAccount(t, db, "bob")
		mustHostname(t, db, "alice", "laptop")
		if until, err := db.QuarantinedUntil(ctx, "laptop"); err != nil || !until.IsZero() {
			t.Errorf("a registered name: %v %v", until, err)
		}
		if err := db.ReleaseHostname(ctx, "laptop"); err != nil {
			t.Fatal(err)
		}
		want := clk.Now().Add(store.Quarantine)
		if until, err := db.QuarantinedUntil(ctx, "laptop"); err != nil || !until.Equal(want) {
			t.Errorf("quarantined until %v (%v), want %v", until, err, want)
		}
		if _, err := db.AddHostname(ctx, "bob", "laptop", 5); !errors.Is(err, store.ErrQuarantined) {
			t.Errorf("bob registers the quarantined name: %v", err)
		}
		clk.Advance(store.Quarantine)
		if until, _ := db.QuarantinedUntil(ctx, "laptop"); !until.IsZero() {
			t.Errorf("still quarantined: %v", until)
		}
	})
}

func TestDeleteStalePending(t *testing.T) {
	forEachEngine(t, func(t *testing.T, _ string, clk *clock, open func() *store.DB) {
		db := open()
		ctx := context.Background()
		if _, err := db.AddPendingAccount(ctx, "carol", "c@example.com", "$argon2id$fake"); err != nil {
			t.Fatal(err)
		}
		mustAccount(t, db, "dave") // an admin's: never pending
		if gone, err := db.DeleteStalePending(ctx, "carol", time.Hour); err != nil || gone {
			t.Errorf("a fresh sign-up: deleted %v, %v", gone, err)
		}
		clk.Advance(time.Hour + time.Second)
		for _, name := range []string{"dave", "nobody"} {
			if gone, err := db.DeleteStalePending(ctx, name, time.Hour); err != nil || gone {
				t.Errorf("%s: deleted %v, %v", name, gone, err)
			}
		}
		if gone, err := db.DeleteStalePending(ctx, "carol", time.Hour); err != nil || !gone {
			t.Errorf("a stale sign-up: deleted %v, %v", gone, err)
		}
		if _, err := db.Account(ctx, "carol"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("carol: %v", err)
		}
	})
}
