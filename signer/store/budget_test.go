package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

func TestBudget(t *testing.T) {
	forEachEngine(t, func(t *testing.T, url string, clk *clock, open func() *store.DB) {
		ctx := context.Background()
		db := open()
		a := mustAccount(t, db, "alice")
		b := store.Budget{PerHostname: 2, Global: 4, Window: 7 * 24 * time.Hour, MaxFailures: 2, FailureWindow: time.Hour, Pending: 10 * time.Minute}
		begin := func(label string) (int64, error) {
			t.Helper()
			return db.BeginIssuance(ctx, label, a.ID, b)
		}
		issue := func(label string) {
			t.Helper()
			id, err := begin(label)
			if err != nil {
				t.Fatalf("begin %s: %v", label, err)
			}
			if _, err := db.CompleteIssuance(ctx, id, store.Certificate{AccountID: a.ID, Label: label, Serial: fmt.Sprintf("%x", clk.Now().UnixNano()),
				NotBefore: clk.Now(), NotAfter: clk.Now().Add(90 * 24 * time.Hour), ChainPEM: "chain"}); err != nil {
				t.Fatalf("complete %s: %v", label, err)
			}
		}
		wantBudget := func(err error, scope string, retry time.Duration) {
			t.Helper()
			var be *store.BudgetError
			if !errors.As(err, &be) || !errors.Is(err, store.ErrBudget) || be.Scope != scope || be.RetryAfter != retry {
				t.Fatalf("got %v; want the %s budget spent, retry after %s", err, scope, retry)
			}
		}

		id, err := begin("alpha")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := begin("alpha"); !errors.Is(err, store.ErrInProgress) {
			t.Fatalf("second order while one is under way: got %v, want ErrInProgress", err)
		}
		if err := db.FailIssuance(ctx, id, true); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		id, _ = begin("alpha")
		db.FailIssuance(ctx, id, true)
		clk.Advance(time.Minute)
		_, err = begin("alpha")
		wantBudget(err, "failures", time.Hour-2*time.Minute)
		clk.Advance(time.Hour - 2*time.Minute)
		issue("alpha") // the first failure left the window
		clk.Advance(time.Hour)
		issue("alpha")
		clk.Advance(time.Hour)
		_, err = begin("alpha")
		wantBudget(err, "hostname", 7*24*time.Hour-2*time.Hour)

		// Failed orders (not validations) count for nothing; an order by
		// the user's own client (acme-dns update) counts, and is not
		// blocked by one under way.
		id, _ = begin("beta")
		db.FailIssuance(ctx, id, false)
		id, _ = begin("beta")
		if err := db.ReserveExternal(ctx, "beta", a.ID, b); err != nil {
			t.Fatalf("external order beside one under way: %v", err)
		}
		db.FailIssuance(ctx, id, false)
		issue("delta")
		_, err = begin("gamma")
		wantBudget(err, "zone", 7*24*time.Hour-2*time.Hour)

		// An order whose instance died blocks its label only for Pending,
		// but still counts.
		clk.Advance(7 * 24 * time.Hour)
		if _, err := begin("gamma"); err != nil {
			t.Fatalf("after the window: %v", err)
		}
		if _, err := begin("gamma"); !errors.Is(err, store.ErrInProgress) {
			t.Fatalf("got %v, want ErrInProgress", err)
		}
		clk.Advance(11 * time.Minute)
		if _, err := begin("gamma"); err != nil {
			t.Fatalf("after Pending, the stale order no longer blocks: %v", err)
		}

		certs, err := db.Certificates(ctx, []string{"alpha", "delta", "nothing"}, 10)
		if err != nil || len(certs) != 3 || certs[0].Label != "delta" || certs[0].ChainPEM != "chain" {
			t.Fatalf("Certificates = %+v, %v; want 3, delta's newest first", certs, err)
		}
		if err := db.SetCertificateRevoked(ctx, certs[1].Serial); err != nil {
			t.Fatal(err)
		}
		c, err := db.CertificateBySerial(ctx, certs[1].Serial)
		if err != nil || c.RevokedAt == nil || !c.RevokedAt.Equal(clk.Now()) {
			t.Errorf("revoked certificate = %+v, %v; want revoked now", c, err)
		}
		if err := db.SetCertificateRevoked(ctx, certs[1].Serial); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoke twice: got %v, want ErrNotFound", err)
		}
	})
}

// TestBudgetAcrossInstances has two instances on one database race to
// order certificates for many hostnames under a global budget: exactly
// the budget's worth is reserved, never more, and one hostname never has
// two orders at once.
func TestBudgetAcrossInstances(t *testing.T) {
	forEachEngine(t, func(t *testing.T, url string, clk *clock, open func() *store.DB) {
		ctx := context.Background()
		instances := []*store.DB{open(), open()}
		a := mustAccount(t, instances[0], "alice")
		b := store.DefaultBudget()
		b.Global = 7
		const labels, perLabel = 10, 3
		var mu sync.Mutex
		reserved := map[string]int{}
		var wg sync.WaitGroup
		for i := 0; i < labels*perLabel; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				label := fmt.Sprint("host", i%labels)
				_, err := instances[i%2].BeginIssuance(ctx, label, a.ID, b)
				switch {
				case err == nil:
					mu.Lock()
					reserved[label]++
					mu.Unlock()
				case errors.Is(err, store.ErrBudget), errors.Is(err, store.ErrInProgress):
				default:
					t.Errorf("begin %s: %v", label, err)
				}
			}()
		}
		wg.Wait()
		total := 0
		for label, n := range reserved {
			total += n
			if n > 1 {
				t.Errorf("%s has %d orders under way at once", label, n)
			}
		}
		if total != b.Global {
			t.Errorf("%d orders reserved across both instances, want exactly the budget, %d", total, b.Global)
		}
	})
}
