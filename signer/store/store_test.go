package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/pgtest"
	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

// clock is a settable clock shared by a test's instances.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// cluster is the package's PostgreSQL, shared by its tests; nil where
// PostgreSQL is not installed (pgErr says why).
var (
	cluster *pgtest.Cluster
	pgErr   error
)

func TestMain(m *testing.M) {
	cluster, pgErr = pgtest.New()
	code := m.Run()
	if cluster != nil {
		cluster.Stop()
	}
	os.Exit(code)
}

// engine makes fresh, empty databases of one kind.
type engine struct {
	name  string
	fresh func(t *testing.T) string
}

// engines are SQLite and PostgreSQL.
var engines = []engine{
	{"sqlite", func(t *testing.T) string { return "sqlite:" + t.TempDir() + "/signer.db" }},
	{"postgres", func(t *testing.T) string {
		if cluster == nil {
			if errors.Is(pgErr, pgtest.ErrNotInstalled) {
				pgtest.Missing(t, pgErr)
			}
			t.Fatal(pgErr)
		}
		return cluster.NewDatabase(t)
	}},
}

// forEachEngine runs fn on each engine with a fresh database and clock.
func forEachEngine(t *testing.T, fn func(t *testing.T, url string, clk *clock, open func() *store.DB)) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			url := e.fresh(t)
			clk := newClock()
			open := func() *store.DB {
				t.Helper()
				db, err := store.Open(context.Background(), url, store.Options{Now: clk.Now})
				if err != nil {
					t.Fatalf("open %s: %v", e.name, err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			}
			fn(t, url, clk, open)
		})
	}
}

func mustAccount(t *testing.T, db *store.DB, name string) store.Account {
	t.Helper()
	a, err := db.AddAccount(context.Background(), name, name+"@example.com", "$argon2id$fake")
	if err != nil {
		t.Fatalf("add account %q: %v", name, err)
	}
	return a
}

func mustHostname(t *testing.T, db *store.DB, user, label string) {
	t.Helper()
	if _, err := db.AddHostname(context.Background(), user, label, 10); err != nil {
		t.Fatalf("add hostname %q: %v", label, err)
	}
}

func TestMigrations(t *testing.T) {
	forEachEngine(t, func(t *testing.T, url string, clk *clock, open func() *store.DB) {
		ctx := context.Background()
		// Instances starting at once all migrate, or wait for the one that
		// does.
		var wg sync.WaitGroup
		dbs := make([]*store.DB, 4)
		errs := make([]error, 4)
		for i := range dbs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dbs[i], errs[i] = store.Open(ctx, url, store.Options{Now: clk.Now})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("instance %d: open: %v", i, err)
			}
			defer dbs[i].Close()
		}
		v, err := dbs[0].SchemaVersion(ctx)
		if err != nil || v != latestSchema {
			t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, latestSchema)
		}
		again := open()
		if v, _ := again.SchemaVersion(ctx); v != latestSchema {
			t.Errorf("after reopening, SchemaVersion = %d, want %d", v, latestSchema)
		}
		if _, err := dbs[1].AddAccount(ctx, "alice", "a@example.com", "h"); err != nil {
			t.Fatalf("the migrated schema takes an account: %v", err)
		}
		// A database at version 1, as the first release left it, is
		// upgraded with its data.
		raw, err := sql.Open(map[bool]string{true: "pgx", false: "sqlite"}[again.Engine() == "postgres"], strings.TrimPrefix(url, "sqlite:"))
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		undoWebMigration(t, raw)
		if _, err := raw.ExecContext(ctx, `DROP TABLE released_hostnames`); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.ExecContext(ctx, `DELETE FROM schema_migrations WHERE version >= 2`); err != nil {
			t.Fatal(err)
		}
		upgraded := open()
		if v, _ := upgraded.SchemaVersion(ctx); v != latestSchema {
			t.Errorf("after upgrading from 1, SchemaVersion = %d, want %d", v, latestSchema)
		}
		if _, err := upgraded.Account(ctx, "alice"); err != nil {
			t.Errorf("the upgrade lost an account: %v", err)
		}
		upgraded.AddHostname(ctx, "alice", "alpha", 3)
		if err := upgraded.ReleaseHostname(ctx, "alpha"); err != nil {
			t.Errorf("version 2's table after the upgrade: %v", err)
		}
		// A database newer than the program is refused, not damaged.
		if _, err := raw.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)`); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Open(ctx, url, store.Options{}); err == nil || !strings.Contains(err.Error(), "newer than this program's") {
			t.Errorf("opening a newer schema: %v; want it refused", err)
		}
	})
}

func TestAccounts(t *testing.T) {
	forEachEngine(t, func(t *testing.T, url string, clk *clock, open func() *store.DB) {
		ctx := context.Background()
		db := open()
		mustAccount(t, db, "bob")
		mustAccount(t, db, "alice")
		if _, err := db.AddAccount(ctx, "alice", "x@example.com", "h"); !errors.Is(err, store.ErrExists) {
			t.Errorf("second alice: got %v, want ErrExists", err)
		}
		list, err := db.Accounts(ctx)
		if err != nil || len(list) != 2 || list[0].Username != "alice" || list[1].Username != "bob" {
			t.Fatalf("Accounts = %+v, %v; want alice, bob", list, err)
		}
		if err := db.SetAccountDisabled(ctx, "alice", true); err != nil {
			t.Fatal(err)
		}
		if a, _ := db.Account(ctx, "alice"); !a.Disabled {
			t.Errorf("alice not disabled after SetAccountDisabled")
		}
		if err := db.SetAccountDisabled(ctx, "nobody", true); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("disable nobody: got %v, want ErrNotFound", err)
		}
		mustHostname(t, db, "bob", "bobs-box")
		if _, err := db.CreateKey(ctx, "bob", []string{"bobs-box"}, []byte("hash-of-bobs-key-0123456789abcde")); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteAccount(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Hostname(ctx, "bobs-box"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("bob's hostname after deleting bob: got %v, want ErrNotFound", err)
		}
		if keys, _ := db.Keys(ctx, ""); len(keys) != 0 {
			t.Errorf("keys after deleting bob: %+v, want none", keys)
		}
		if err := db.DeleteAccount(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete bob twice: got %v, want ErrNotFound", err)
		}
	})
}

// TestInjectionStringsAreData stores the classic SQL injection strings in
// every text field and reads them back unchanged, with the schema intact.
func TestInjectionStringsAreData(t *testing.T) {
	evil := []string{
		`x'; DROP TABLE accounts; --`,
		`" OR 1=1 --`,
		`'); DELETE FROM hostnames; --`,
		`\'; SELECT pg_sleep(10); --`,
		"nul\x00byte",
		`$1`,
	}
	forEachEngine(t, func(t *testing.T, url string, clk *clock, open func() *store.DB) {
		ctx := context.Background()
		db := open()
		for i, s := range evil {
			if s == "nul\x00byte" && db.Engine() == "postgres" {
				// PostgreSQL text cannot hold NUL: refused, not injected.
				if _, err := db.AddAccount(ctx, s, s, s); err == nil {
					t.Errorf("postgres stored a NUL byte")
				}
				continue
			}
			a, err := db.AddAccount(ctx, s, s, s)
			if err != nil {
				t.Fatalf("add account %q: %v", s, err)
			}
			got, err := db.Account(ctx, s)
			if err != nil || got.ID != a.ID || got.Email != s || got.PasswordHash != s {
				t.Errorf("account %q read back as %+v, %v", s, got, err)
			}
			fqdn := fmt.Sprintf("_acme-challenge.%d%s.", i, s)
			if err := db.SetTXT(ctx, fqdn, s, time.Hour); err != nil {
				t.Fatalf("set txt %q: %v", s, err)
			}
			if _, err := db.Blob(ctx, s); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("blob %q: got %v, want ErrNotFound", s, err)
			}
		}
		list, err := db.Accounts(ctx)
		if err != nil {
			t.Fatalf("accounts after the injections: %v", err)
		}
		want := len(evil)
		if db.Engine() == "postgres" {
			want--
		}
		if len(list) != want {
			t.Errorf("%d accounts, want %d", len(list), want)
		}
	})
}

func TestHostnames(t *testing.T) {
	forEachEngine(t, func(t *testing.T, url string, clk *clock, open func() *store.DB) {
		ctx := context.Background()
		db := open()
		mustAccount(t, db, "alice")
		mustAccount(t, db, "bob")
		v0, _ := db.ZoneVersion(ctx)
		if _, err := db.AddHostname(ctx, "alice", "one", 2); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AddHostname(ctx, "bob", "one", 2); !errors.Is(err, store.ErrExists) {
			t.Errorf("bob takes alice's label: got %v, want ErrExists", err)
		}
		if _, err := db.AddHostname(ctx, "alice", "two", 2); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AddHostname(ctx, "alice", "three", 2); !errors.Is(err, store.ErrCap) {
			t.Errorf("third hostname under a cap of 2: got %v, want ErrCap", err)
		}
		if _, err := db.AddHostname(ctx, "nobody", "four", 2); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("hostname for a missing account: got %v, want ErrNotFound", err)
		}
		z, err := db.LoadZone(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if z.Version <= v0 || fmt.Sprint(z.Hostnames) != "[one two]" {
			t.Errorf("zone = version %d (was %d), hostnames %v; want a newer version and [one two]", z.Version, v0, z.Hostnames)
		}
		if err := db.ReleaseHostname(ctx, "one"); err != nil {
			t.Fatal(err)
		}
		if v, _ := db.ZoneVersion(ctx); v <= z.Version {
			t.Errorf("release did not move the zone version (%d, was %d)", v, z.Version)
		}
		if _, err := db.AddHostname(ctx, "bob", "one", 2); !errors.Is(err, store.ErrQuarantined) {
			t.Errorf("bob takes alice's just released label: got %v, want ErrQuarantined", err)
		}
		clk.Advance(store.Quarantine - time.Second)
		if _, err := db.AddHostname(ctx, "bob", "one", 2); !errors.Is(err, store.ErrQuarantined) {
			t.Errorf("a second before the quarantine ends: got %v, want ErrQuarantined", err)
		}
		if _, err := db.AddHostname(ctx, "alice", "one", 2); err != nil {
			t.Errorf("alice takes back her own released label: %v", err)
		}
		if err := db.ReleaseHostname(ctx, "one"); err != nil {
			t.Fatal(err)
		}
		clk.Advance(store.Quarantine)
		if _, err := db.AddHostname(ctx, "bob", "one", 2); err != nil {
			t.Errorf("after the quarantine, a released label is free: %v", err)
		}
		if hs, _ := db.Hostnames(ctx, "alice"); len(hs) != 1 || hs[0].Label != "two" {
			t.Errorf("alice's hostnames = %+v, want [two]", hs)
		}
		// Deleting an account releases its hostnames the same way.
		if err := db.DeleteAccount(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AddHostname(ctx, "bob", "two", 2); !errors.Is(err, store.ErrQuarantined) {
			t.Errorf("bob takes a deleted account's hostname at once: got %v, want ErrQuarantined", err)
		}
	})
}

func TestKeys(t *testing.T) {
	forEachEngine(t, func(t *testing.T, url string, clk *clock, open func() *store.DB) {
		ctx := context.Background()
		db := open()
		mustAccount(t, db, "alice")
		mustAccount(t, db, "bob")
		mustHostname(t, db, "alice", "alpha")
		mustHostname(t, db, "alice", "beta")
		mustHostname(t, db, "bob", "bravo")
		hash := []byte("0123456789abcdef0123456789abcdef")
		if _, err := db.CreateKey(ctx, "alice", []string{"bravo"}, hash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("key for bob's hostname: got %v, want ErrNotFound", err)
		}
		k, err := db.CreateKey(ctx, "alice", []string{"beta", "alpha", "beta"}, hash)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(k.Labels) != "[alpha beta]" {
			t.Errorf("labels = %v, want [alpha beta]", k.Labels)
		}
		if _, err := db.CreateKey(ctx, "alice", []string{"alpha"}, hash); !errors.Is(err, store.ErrExists) {
			t.Errorf("a second key with the same hash: got %v, want ErrExists", err)
		}
		p, err := db.Authenticate(ctx, hash, "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		if p.Username != "alice" || !p.May("alpha") || !p.May("beta") || p.May("bravo") {
			t.Errorf("principal = %+v; want alice, for alpha and beta only", p)
		}
		keys, _ := db.Keys(ctx, "alice")
		if len(keys) != 1 || keys[0].LastUsedAt == nil || !keys[0].LastUsedAt.Equal(clk.Now()) || keys[0].LastUsedIP != "192.0.2.1" {
			t.Fatalf("keys = %+v; want one, last used now from 192.0.2.1", keys)
		}
		clk.Advance(2 * time.Minute)
		if _, err := db.Authenticate(ctx, hash, "192.0.2.2"); err != nil {
			t.Fatal(err)
		}
		if keys, _ := db.Keys(ctx, "alice"); !keys[0].LastUsedAt.Equal(clk.Now()) || keys[0].LastUsedIP != "192.0.2.2" {
			t.Errorf("last use not recorded again after 2 minutes: %+v", keys[0])
		}
		if _, err := db.Authenticate(ctx, []byte("some-other-hash-0123456789abcdef"), "192.0.2.1"); !errors.Is(err, store.ErrUnauthorized) {
			t.Errorf("unknown key: got %v, want ErrUnauthorized", err)
		}
		if err := db.ReleaseHostname(ctx, "beta"); err != nil {
			t.Fatal(err)
		}
		if p, _ := db.Authenticate(ctx, hash, "192.0.2.1"); p.May("beta") {
			t.Errorf("the key still signs for a released hostname")
		}
		if err := db.SetAccountDisabled(ctx, "alice", true); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Authenticate(ctx, hash, "192.0.2.1"); !errors.Is(err, store.ErrUnauthorized) {
			t.Errorf("key of a disabled account: got %v, want ErrUnauthorized", err)
		}
		if err := db.SetAccountDisabled(ctx, "alice", false); err != nil {
			t.Fatal(err)
		}
		if err := db.RevokeKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Authenticate(ctx, hash, "192.0.2.1"); !errors.Is(err, store.ErrUnauthorized) {
			t.Errorf("revoked key: got %v, want ErrUnauthorized", err)
		}
		if err := db.RevokeKey(ctx, k.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoke twice: got %v, want ErrNotFound", err)
		}
	})
}

func TestTXT(t *testing.T) {
	forEachEngine(t, func(t *testing.T, url string, clk *clock, open func() *store.DB) {
		ctx := context.Background()
		db := open()
		name := "_acme-challenge.alpha.signer.test."
		if err := db.SetTXT(ctx, "_ACME-challenge.Alpha.signer.test.", "v1", time.Minute); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		if err := db.SetTXT(ctx, name, "v2", 10*time.Minute); err != nil {
			t.Fatal(err)
		}
		z, _ := db.LoadZone(ctx)
		if fmt.Sprint(z.TXT[name]) != "[v1 v2]" || !z.Expires.Equal(clk.Now().Add(time.Minute-time.Second)) {
			t.Errorf("TXT = %v, expires %v; want [v1 v2] (names folded to lowercase), first expiry in 59s", z.TXT, z.Expires)
		}
		clk.Advance(time.Minute)
		z, _ = db.LoadZone(ctx)
		if fmt.Sprint(z.TXT[name]) != "[v2]" {
			t.Errorf("after v1's ttl, TXT = %v; want [v2]", z.TXT[name])
		}
		if err := db.ClearTXT(ctx, name, "v2"); err != nil {
			t.Fatal(err)
		}
		if err := db.ClearTXT(ctx, name, "v2"); err != nil {
			t.Errorf("clearing twice: %v", err)
		}
		for i := 0; i < store.MaxTXTPerName+2; i++ {
			clk.Advance(time.Second)
			if err := db.SetTXT(ctx, name, fmt.Sprintf("n%d", i), time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		z, _ = db.LoadZone(ctx)
		if got := z.TXT[name]; len(got) != store.MaxTXTPerName || got[0] != "n2" {
			t.Errorf("TXT = %v; want the newest %d", got, store.MaxTXTPerName)
		}
	})
}

func TestLeases(t *testing.T) {
	forEachEngine(t, func(t *testing.T, url string, clk *clock, open func() *store.DB) {
		ctx := context.Background()
		a, b := open(), open()
		acquire := func(db *store.DB, holder string) bool {
			t.Helper()
			ok, err := db.AcquireLease(ctx, "renew-service-cert", holder, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !acquire(a, "instance-a") {
			t.Fatal("a free lease was refused")
		}
		if acquire(b, "instance-b") {
			t.Error("b took a's unexpired lease")
		}
		clk.Advance(30 * time.Second)
		if !acquire(a, "instance-a") {
			t.Error("a could not renew its own lease")
		}
		clk.Advance(59 * time.Second)
		if acquire(b, "instance-b") {
			t.Error("b took a's renewed lease before it expired")
		}
		clk.Advance(2 * time.Second)
		if !acquire(b, "instance-b") {
			t.Error("b could not take a's expired lease")
		}
		if err := a.ReleaseLease(ctx, "renew-service-cert", "instance-a"); err != nil {
			t.Fatal(err)
		}
		if acquire(a, "instance-a") {
			t.Error("a's release freed b's lease")
		}
		if err := b.ReleaseLease(ctx, "renew-service-cert", "instance-b"); err != nil {
			t.Fatal(err)
		}
		if !acquire(a, "instance-a") {
			t.Error("a released lease was refused")
		}
	})
}

// TestLeaseRace has instances race for one lease: exactly one wins.
func TestLeaseRace(t *testing.T) {
	forEachEngine(t, func(t *testing.T, url string, clk *clock, open func() *store.DB) {
		const n = 8
		dbs := []*store.DB{open(), open()}
		var won atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := dbs[i%2].AcquireLease(context.Background(), "job", fmt.Sprint("holder-", i), time.Minute)
				if err != nil {
					t.Error(err)
				}
				if ok {
					won.Add(1)
				}
			}()
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Errorf("%d holders got the lease, want 1", won.Load())
		}
	})
}

func TestBlobs(t *testing.T) {
	forEachEngine(t, func(t *testing.T, url string, clk *clock, open func() *store.DB) {
		ctx := context.Background()
		a, b := open(), open()
		if _, err := a.Blob(ctx, "acme-account"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing blob: got %v, want ErrNotFound", err)
		}
		for _, v := range [][]byte{{0, 1, 2, 0xff}, []byte("second")} {
			if err := a.PutBlob(ctx, "acme-account", v); err != nil {
				t.Fatal(err)
			}
			if got, err := b.Blob(ctx, "acme-account"); err != nil || string(got) != string(v) {
				t.Errorf("other instance reads %q, %v; want %q", got, err, v)
			}
		}
	})
}
