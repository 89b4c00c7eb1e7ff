package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

func TestPasskeys(t *testing.T) {
	forEachEngine(t, func(t *testing.T, _ string, clk *clock, open func() *store.DB) {
		db := open()
		ctx := context.Background()
		alice, bob := mustAccount(t, db, "alice"), mustAccount(t, db, "bob")

		h1, err := db.PasskeyHandle(ctx, alice.ID)
		if err != nil || len(h1) != 32 {
			t.Fatalf("PasskeyHandle = %x, %v; want 32 bytes", h1, err)
		}
		if h2, _ := db.PasskeyHandle(ctx, alice.ID); !bytes.Equal(h1, h2) {
			t.Errorf("the handle changed: %x then %x", h1, h2)
		}
		if hb, _ := db.PasskeyHandle(ctx, bob.ID); bytes.Equal(h1, hb) {
			t.Error("two accounts share a handle")
		}
		if a, err := db.AccountByPasskeyHandle(ctx, h1); err != nil || a.ID != alice.ID {
			t.Errorf("AccountByPasskeyHandle = %d, %v; want alice's", a.ID, err)
		}
		if _, err := db.AccountByPasskeyHandle(ctx, []byte("nobody's handle")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an unknown handle: %v", err)
		}

		id := []byte("credential-one")
		if err := db.AddPasskey(ctx, alice.ID, id, "laptop", []byte(`{"n":1}`)); err != nil {
			t.Fatal(err)
		}
		if err := db.AddPasskey(ctx, bob.ID, id, "stolen", []byte(`{}`)); !errors.Is(err, store.ErrExists) {
			t.Errorf("the same credential for another account: %v, want ErrExists", err)
		}
		if err := db.UsePasskey(ctx, bob.ID, id, []byte(`{}`)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("using alice's credential as bob: %v, want ErrNotFound", err)
		}
		clk.Advance(time.Minute)
		if err := db.UsePasskey(ctx, alice.ID, id, []byte(`{"n":2}`)); err != nil {
			t.Fatal(err)
		}
		keys, err := db.Passkeys(ctx, alice.ID)
		if err != nil || len(keys) != 1 {
			t.Fatalf("Passkeys = %v, %v", keys, err)
		}
		if k := keys[0]; !bytes.Equal(k.ID, id) || k.Name != "laptop" || string(k.Credential) != `{"n":2}` || k.LastUsedAt == nil || !k.LastUsedAt.Equal(clk.Now().Truncate(time.Second)) {
			t.Errorf("the passkey: %+v", k)
		}
		if keys, _ := db.Passkeys(ctx, bob.ID); len(keys) != 0 {
			t.Errorf("bob has passkeys: %v", keys)
		}
		if err := db.DeletePasskey(ctx, bob.ID, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("bob deleting alice's passkey: %v, want ErrNotFound", err)
		}
		if err := db.DeletePasskey(ctx, alice.ID, id); err != nil {
			t.Fatal(err)
		}

		// A challenge works once, and not after its time.
		if err := db.SavePasskeyChallenge(ctx, []byte("state-1"), alice.ID, []byte("session"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := db.SavePasskeyChallenge(ctx, []byte("state-2"), 0, []byte("login"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if acc, sess, err := db.UsePasskeyChallenge(ctx, []byte("state-1")); err != nil || acc != alice.ID || string(sess) != "session" {
			t.Errorf("UsePasskeyChallenge = %d, %q, %v", acc, sess, err)
		}
		if _, _, err := db.UsePasskeyChallenge(ctx, []byte("state-1")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a challenge used twice: %v", err)
		}
		clk.Advance(2 * time.Minute)
		if _, _, err := db.UsePasskeyChallenge(ctx, []byte("state-2")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an expired challenge: %v", err)
		}

		// The account's deletion takes its passkeys and handle.
		db.AddPasskey(ctx, bob.ID, []byte("credential-two"), "key", []byte(`{}`))
		hb, _ := db.PasskeyHandle(ctx, bob.ID)
		if err := db.DeleteAccount(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AccountByPasskeyHandle(ctx, hb); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a deleted account's handle: %v", err)
		}
		if err := db.AddPasskey(ctx, alice.ID, []byte("credential-two"), "key", []byte(`{}`)); err != nil {
			t.Errorf("a deleted account's credential is still registered: %v", err)
		}
	})
}
