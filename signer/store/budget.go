package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Budget is how many certificates the service orders, counted across
// all instances in the database. The defaults stay under Let's Encrypt's
// limits (letsencrypt.org/docs/rate-limits, 2026).
type Budget struct {
	// PerHostname certificates per label per Window. Let's Encrypt
	// allows 5 duplicate certificates (the same names) per 7 days, with
	// no override; 4 leaves one for a mistake of ours.
	PerHostname int
	// Global certificates per Window under the zone. Let's Encrypt
	// allows 50 per registered domain per 7 days; raise it with an
	// override or once the zone is on the Public Suffix List.
	Global int
	// Window is the span both counts cover: 7 days.
	Window time.Duration
	// MaxFailures failed validations of one label within FailureWindow
	// stop its orders until the oldest of them leaves the window. Let's
	// Encrypt allows 5 per name per account per hour.
	MaxFailures   int
	FailureWindow time.Duration
	// Pending is how long an order without an outcome blocks another for
	// its label (an instance died mid-order). It still counts towards
	// the budgets: the CA may have issued.
	Pending time.Duration
}

// DefaultBudget returns the defaults described on Budget.
func DefaultBudget() Budget {
	return Budget{PerHostname: 4, Global: 45, Window: 7 * 24 * time.Hour, MaxFailures: 3, FailureWindow: time.Hour, Pending: 10 * time.Minute}
}

// ErrBudget is matched by a *BudgetError.
var ErrBudget = errors.New("store: issuance budget spent")

// ErrInProgress: an order for the label is under way, on this instance
// or another.
var ErrInProgress = errors.New("store: an issuance for this hostname is under way")

// BudgetError says which budget is spent and when it has room again.
type BudgetError struct {
	Scope      string // "hostname", "zone" or "failures"
	RetryAfter time.Duration
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("store: %s issuance budget spent; retry in %s", e.Scope, e.RetryAfter.Round(time.Second))
}

func (e *BudgetError) Is(target error) bool { return target == ErrBudget }

// Issuance states.
const (
	stPending = "pending"
	stIssued  = "issued"
	stFailed  = "failed"  // the order failed for another reason; nothing was issued
	stInvalid = "invalid" // the CA refused the validation
	// stExternal is a TXT record published for an ACME client of the
	// user's own (the acme-dns endpoint): the service cannot see that
	// order, so it counts one as if it issued.
	stExternal = "external"
)

// BeginIssuance checks b for label and reserves one unit of it, in one
// transaction under the "issuance" counter row's lock: concurrent calls,
// on any instance, are serialized, so no budget is overspent and one
// label has at most one order under way. It returns the reservation's
// id for CompleteIssuance or FailIssuance.
func (d *DB) BeginIssuance(ctx context.Context, label string, accountID int64, b Budget) (int64, error) {
	id, err := d.reserve(ctx, label, accountID, b, stPending)
	if err != nil {
		return 0, fmt.Errorf("store: begin issuance for %q: %w", label, err)
	}
	return id, nil
}

// ReserveExternal checks b for label as BeginIssuance does, except that
// orders under way do not block, and spends one unit of it for an order
// the user's own ACME client is making (an acme-dns update).
func (d *DB) ReserveExternal(ctx context.Context, label string, accountID int64, b Budget) error {
	if _, err := d.reserve(ctx, label, accountID, b, stExternal); err != nil {
		return fmt.Errorf("store: reserve for %q: %w", label, err)
	}
	return nil
}

func (d *DB) reserve(ctx context.Context, label string, accountID int64, b Budget, state string) (int64, error) {
	now := d.unix()
	var id int64
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'issuance'`); err != nil {
			return err
		}
		var pending int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM issuances WHERE label = $1 AND state = $2 AND started_at > $3`,
			label, stPending, now-secs(b.Pending)).Scan(&pending); err != nil {
			return err
		}
		if pending > 0 && state == stPending {
			return ErrInProgress
		}
		if err := budgetRoom(ctx, tx, "failures", now, b.FailureWindow, b.MaxFailures,
			`SELECT started_at FROM issuances WHERE label = $1 AND state = $2 AND started_at > $3 ORDER BY started_at`,
			label, stInvalid, now-secs(b.FailureWindow)); err != nil {
			return err
		}
		if err := budgetRoom(ctx, tx, "hostname", now, b.Window, b.PerHostname,
			`SELECT started_at FROM issuances WHERE label = $1 AND state IN ($2, $3, $4) AND started_at > $5 ORDER BY started_at`,
			label, stPending, stIssued, stExternal, now-secs(b.Window)); err != nil {
			return err
		}
		if err := budgetRoom(ctx, tx, "zone", now, b.Window, b.Global,
			`SELECT started_at FROM issuances WHERE state IN ($1, $2, $3) AND started_at > $4 ORDER BY started_at`,
			stPending, stIssued, stExternal, now-secs(b.Window)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `INSERT INTO issuances (label, account_id, started_at, state) VALUES ($1, $2, $3, $4) RETURNING id`,
			label, accountID, now, state).Scan(&id)
	})
	return id, err
}

// budgetRoom fails with a *BudgetError if query, listing the start
// times (ascending) that count against a budget of max per window,
// already lists max of them. RetryAfter is when enough of them leave the
// window.
func budgetRoom(ctx context.Context, tx *sql.Tx, scope string, now int64, window time.Duration, max int, query string, args ...any) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var starts []int64
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			return err
		}
		starts = append(starts, s)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(starts) < max {
		return nil
	}
	// Room comes when all but max-1 of them have left the window.
	freeAt := starts[len(starts)-max] + secs(window)
	wait := time.Duration(freeAt-now) * time.Second
	if wait < time.Second {
		wait = time.Second
	}
	return &BudgetError{Scope: scope, RetryAfter: wait}
}

func secs(d time.Duration) int64 { return int64(d / time.Second) }

// CompleteIssuance records the certificate issued for reservation id.
func (d *DB) CompleteIssuance(ctx context.Context, id int64, c Certificate) (Certificate, error) {
	c.IssuedAt = fromUnix(d.unix())
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE issuances SET state = $1 WHERE id = $2 AND state = $3`, stIssued, id, stPending)
		if err := oneRow(res, err); err != nil {
			return fmt.Errorf("reservation %d: %w", id, err)
		}
		return tx.QueryRowContext(ctx, `INSERT INTO certificates (account_id, label, serial, not_before, not_after, issued_at, chain_pem)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			c.AccountID, c.Label, c.Serial, c.NotBefore.Unix(), c.NotAfter.Unix(), c.IssuedAt.Unix(), c.ChainPEM).Scan(&c.ID)
	})
	if err != nil {
		return Certificate{}, fmt.Errorf("store: complete issuance for %q: %w", c.Label, err)
	}
	return c, nil
}

// FailIssuance records that reservation id issued nothing; validation
// says the CA refused the DNS-01 validation, which counts towards
// MaxFailures.
func (d *DB) FailIssuance(ctx context.Context, id int64, validation bool) error {
	st := stFailed
	if validation {
		st = stInvalid
	}
	return d.affectOne(ctx, fmt.Sprintf("store: fail issuance %d", id),
		`UPDATE issuances SET state = $1 WHERE id = $2 AND state = $3`, st, id, stPending)
}
