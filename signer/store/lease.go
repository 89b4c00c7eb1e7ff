package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// AcquireLease takes the lease called name for holder (an instance's
// unique id) for ttl, or renews it if holder has it already. It reports
// false if another holder has an unexpired lease. A holder that dies
// loses the lease when ttl passes, so a job is never stuck behind a dead
// instance; a holder that outlives ttl must renew in time.
func (d *DB) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := d.unix()
	res, err := d.db.ExecContext(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= $4`, name, holder, now+secs(ttl), now)
	if err != nil {
		return false, fmt.Errorf("store: acquire lease %q: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: acquire lease %q: %w", name, err)
	}
	return n == 1, nil
}

// ReleaseLease gives up holder's lease called name, if it has it.
func (d *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := d.db.ExecContext(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder); err != nil {
		return fmt.Errorf("store: release lease %q: %w", name, err)
	}
	return nil
}

// Blob returns the service state called name (the ACME account, the
// service's own certificate).
func (d *DB) Blob(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := d.db.QueryRowContext(ctx, `SELECT value FROM blobs WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: blob %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: blob %q: %w", name, err)
	}
	return v, nil
}

// PutBlob stores value as the service state called name.
func (d *DB) PutBlob(ctx context.Context, name string, value []byte) error {
	if _, err := d.db.ExecContext(ctx, `INSERT INTO blobs (name, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, name, value, d.unix()); err != nil {
		return fmt.Errorf("store: put blob %q: %w", name, err)
	}
	return nil
}
