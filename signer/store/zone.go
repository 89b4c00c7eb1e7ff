package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/signer"
)

// DB is the service's signer.Challenges and signer.ZoneSource.
var (
	_ signer.Challenges = (*DB)(nil)
	_ signer.ZoneSource = (*DB)(nil)
)

// MaxTXTPerName bounds the TXT values one name holds at once. Two are
// what a certificate for NAME and *.NAME needs at once, which is why
// acme-dns keeps two; a few more allow overlapping retries.
const MaxTXTPerName = 4

// SetTXT publishes value at fqdn for ttl, or until ClearTXT. Beyond
// MaxTXTPerName values the oldest goes. Expired records are swept here.
func (d *DB) SetTXT(ctx context.Context, fqdn, value string, ttl time.Duration) error {
	fqdn = strings.ToLower(fqdn)
	now := d.unix()
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM txt_records WHERE expires_at <= $1`, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO txt_records (fqdn, value, created_at, expires_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (fqdn, value) DO UPDATE SET created_at = excluded.created_at, expires_at = excluded.expires_at`,
			fqdn, value, now, now+int64(ttl/time.Second)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM txt_records WHERE fqdn = $1 AND value NOT IN
			(SELECT value FROM txt_records WHERE fqdn = $1 ORDER BY created_at DESC, value LIMIT $2)`, fqdn, MaxTXTPerName); err != nil {
			return err
		}
		return bumpZone(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("store: set txt %s: %w", fqdn, err)
	}
	return nil
}

// ClearTXT removes value from fqdn. Removing what is not there is not an
// error: a validation's clean-up may run twice.
func (d *DB) ClearTXT(ctx context.Context, fqdn, value string) error {
	fqdn = strings.ToLower(fqdn)
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM txt_records WHERE fqdn = $1 AND value = $2`, fqdn, value); err != nil {
			return err
		}
		return bumpZone(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("store: clear txt %s: %w", fqdn, err)
	}
	return nil
}

// ZoneVersion is one indexed read: DNS servers poll it.
func (d *DB) ZoneVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := d.db.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'zone'`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: zone version: %w", err)
	}
	return v, nil
}

// LoadZone reads the whole zone. The version is read first: a change
// made while the records are read moves it again, so the next poll loads
// once more. On PostgreSQL the reads share one snapshot besides.
func (d *DB) LoadZone(ctx context.Context) (signer.Zone, error) {
	z := signer.Zone{TXT: map[string][]string{}}
	now := d.unix()
	var tx querier = d.db
	if d.dialect == postgres {
		t, err := d.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
		if err != nil {
			return signer.Zone{}, fmt.Errorf("store: load zone: %w", err)
		}
		defer t.Rollback()
		tx = t
	}
	if err := tx.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'zone'`).Scan(&z.Version); err != nil {
		return signer.Zone{}, fmt.Errorf("store: load zone: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT label FROM hostnames ORDER BY label`)
	if err != nil {
		return signer.Zone{}, fmt.Errorf("store: load zone: %w", err)
	}
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			rows.Close()
			return signer.Zone{}, fmt.Errorf("store: load zone: %w", err)
		}
		z.Hostnames = append(z.Hostnames, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return signer.Zone{}, fmt.Errorf("store: load zone: %w", err)
	}
	rows, err = tx.QueryContext(ctx, `SELECT fqdn, value, expires_at FROM txt_records WHERE expires_at > $1 ORDER BY fqdn, created_at, value`, now)
	if err != nil {
		return signer.Zone{}, fmt.Errorf("store: load zone: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var fqdn, value string
		var exp int64
		if err := rows.Scan(&fqdn, &value, &exp); err != nil {
			return signer.Zone{}, fmt.Errorf("store: load zone: %w", err)
		}
		z.TXT[fqdn] = append(z.TXT[fqdn], value)
		if e := fromUnix(exp); z.Expires.IsZero() || e.Before(z.Expires) {
			z.Expires = e
		}
	}
	if err := rows.Err(); err != nil {
		return signer.Zone{}, fmt.Errorf("store: load zone: %w", err)
	}
	return z, nil
}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}
