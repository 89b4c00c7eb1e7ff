package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// LoginLimits bound failed logins per submitted user name.
type LoginLimits struct {
	// Failures within Window lock the name for Lockout.
	Failures int
	Window   time.Duration
	Lockout  time.Duration
}

// LoginLockedUntil returns when the lockout of name ends, or the zero
// time if it is not locked. name is whatever was submitted: an unknown
// user name is counted and locked like a known one, so a lockout tells
// nobody whether the account exists.
func (d *DB) LoginLockedUntil(ctx context.Context, name string) (time.Time, error) {
	var until int64
	err := d.db.QueryRowContext(ctx, `SELECT locked_until FROM login_failures WHERE name = $1`, name).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) || err == nil && until <= d.unix() {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("store: login lockout: %w", err)
	}
	return fromUnix(until), nil
}

// RecordLoginFailure counts a failed login for name and returns when
// the lockout it started ends (the zero time if it started none). The
// count is one atomic upsert, so concurrent failures on several
// instances are all counted.
func (d *DB) RecordLoginFailure(ctx context.Context, name string, lim LoginLimits) (time.Time, error) {
	now := d.unix()
	windowStart := now - int64(lim.Window/time.Second)
	var failures int
	err := d.db.QueryRowContext(ctx, `INSERT INTO login_failures (name, failures, window_start, locked_until) VALUES ($1, 1, $2, 0)
		ON CONFLICT (name) DO UPDATE SET
			failures = CASE WHEN login_failures.window_start <= $3 THEN 1 ELSE login_failures.failures + 1 END,
			window_start = CASE WHEN login_failures.window_start <= $3 THEN excluded.window_start ELSE login_failures.window_start END
		RETURNING failures`, name, now, windowStart).Scan(&failures)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: record login failure: %w", err)
	}
	if failures < lim.Failures {
		return time.Time{}, nil
	}
	until := now + int64(lim.Lockout/time.Second)
	if _, err := d.db.ExecContext(ctx, `UPDATE login_failures SET failures = 0, window_start = $1, locked_until = $2 WHERE name = $3`, now, until, name); err != nil {
		return time.Time{}, fmt.Errorf("store: record login failure: %w", err)
	}
	// Names nobody tried lately go, so guessed names do not pile up.
	if _, err := d.db.ExecContext(ctx, `DELETE FROM login_failures WHERE window_start <= $1 AND locked_until <= $2`, windowStart, now); err != nil {
		return time.Time{}, fmt.Errorf("store: record login failure: %w", err)
	}
	return fromUnix(until), nil
}

// ClearLoginFailures forgets the failed logins of name, after a
// successful one.
func (d *DB) ClearLoginFailures(ctx context.Context, name string) error {
	if _, err := d.db.ExecContext(ctx, `DELETE FROM login_failures WHERE name = $1 AND locked_until <= $2`, name, d.unix()); err != nil {
		return fmt.Errorf("store: clear login failures: %w", err)
	}
	return nil
}
