package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Hostname is a label registered to an account: LABEL.ZONE resolves to
// 127.0.0.1 and the account's keys may sign for it.
type Hostname struct {
	Label     string
	Username  string
	CreatedAt time.Time
}

// Quarantine is how long a released label cannot be registered by
// another account: the longest a certificate its previous owner got for
// it may still be valid (Let's Encrypt's default profile, 90 days). A
// new owner never shares the name with a stranger's valid certificate.
const Quarantine = 90 * 24 * time.Hour

// ErrQuarantined: the label was released recently by another account.
var ErrQuarantined = errors.New("store: hostname recently released by another account")

// AddHostname registers label (checked by the caller with
// signer.CheckLabel) to username, unless the account already has max
// hostnames (ErrCap), the label is taken (ErrExists), or another account
// released it less than Quarantine ago (ErrQuarantined).
func (d *DB) AddHostname(ctx context.Context, username, label string, max int) (Hostname, error) {
	h := Hostname{Label: label, Username: username, CreatedAt: fromUnix(d.unix())}
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		var id int64
		var n int
		// The no-op UPDATE locks the account's row until commit, so two
		// concurrent registrations by one account are serialized on
		// PostgreSQL too and the cap holds.
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET disabled = disabled WHERE username = $1`, username)
		if err := oneRow(res, err); err != nil {
			return fmt.Errorf("account %q: %w", username, err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT a.id, (SELECT COUNT(*) FROM hostnames h WHERE h.account_id = a.id) FROM accounts a WHERE a.username = $1`, username).Scan(&id, &n); err != nil {
			return err
		}
		if n >= max {
			return fmt.Errorf("%w: %q has %d of %d", ErrCap, username, n, max)
		}
		var prev, releasedAt int64
		err = tx.QueryRowContext(ctx, `SELECT account_id, released_at FROM released_hostnames WHERE label = $1`, label).Scan(&prev, &releasedAt)
		switch {
		case err == nil && prev != id && releasedAt > h.CreatedAt.Unix()-secs(Quarantine):
			return fmt.Errorf("%w: free again on %s", ErrQuarantined, fromUnix(releasedAt+secs(Quarantine)).Format(time.DateOnly))
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO hostnames (label, account_id, created_at) VALUES ($1, $2, $3)`, label, id, h.CreatedAt.Unix()); err != nil {
			if isUnique(err) {
				return ErrExists
			}
			return err
		}
		return bumpZone(ctx, tx)
	})
	if err != nil {
		return Hostname{}, fmt.Errorf("store: add hostname %q: %w", label, err)
	}
	return h, nil
}

// ReleaseHostname frees label: it stops resolving, the keys scoped to it
// lose it, and only its previous owner may take it again before
// Quarantine has passed.
func (d *DB) ReleaseHostname(ctx context.Context, label string) error {
	return d.inTx(ctx, func(tx *sql.Tx) error {
		if err := d.quarantine(ctx, tx, `SELECT label, account_id FROM hostnames WHERE label = $1`, label); err != nil {
			return fmt.Errorf("store: release hostname %q: %w", label, err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM hostnames WHERE label = $1`, label)
		if err := oneRow(res, err); err != nil {
			return fmt.Errorf("store: release hostname %q: %w", label, err)
		}
		return bumpZone(ctx, tx)
	})
}

// quarantine records the hostnames query lists (label, account_id) as
// released now.
func (d *DB) quarantine(ctx context.Context, tx *sql.Tx, query string, arg any) error {
	rows, err := tx.QueryContext(ctx, query, arg)
	if err != nil {
		return err
	}
	type rel struct {
		label string
		id    int64
	}
	var rels []rel
	for rows.Next() {
		var r rel
		if err := rows.Scan(&r.label, &r.id); err != nil {
			rows.Close()
			return err
		}
		rels = append(rels, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range rels {
		if _, err := tx.ExecContext(ctx, `INSERT INTO released_hostnames (label, account_id, released_at) VALUES ($1, $2, $3)
			ON CONFLICT (label) DO UPDATE SET account_id = excluded.account_id, released_at = excluded.released_at`, r.label, r.id, d.unix()); err != nil {
			return err
		}
	}
	return nil
}

// Hostname returns the registration of label.
func (d *DB) Hostname(ctx context.Context, label string) (Hostname, error) {
	var h Hostname
	var created int64
	err := d.db.QueryRowContext(ctx, `SELECT h.label, a.username, h.created_at FROM hostnames h JOIN accounts a ON a.id = h.account_id WHERE h.label = $1`, label).
		Scan(&h.Label, &h.Username, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Hostname{}, fmt.Errorf("store: hostname %q: %w", label, ErrNotFound)
	}
	if err != nil {
		return Hostname{}, fmt.Errorf("store: hostname %q: %w", label, err)
	}
	h.CreatedAt = fromUnix(created)
	return h, nil
}

// Hostnames returns the hostnames of username, or of everyone if
// username is empty, by label.
func (d *DB) Hostnames(ctx context.Context, username string) ([]Hostname, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT h.label, a.username, h.created_at FROM hostnames h JOIN accounts a ON a.id = h.account_id
		WHERE $1 = '' OR a.username = $1 ORDER BY h.label`, username)
	if err != nil {
		return nil, fmt.Errorf("store: hostnames: %w", err)
	}
	defer rows.Close()
	var out []Hostname
	for rows.Next() {
		var h Hostname
		var created int64
		if err := rows.Scan(&h.Label, &h.Username, &created); err != nil {
			return nil, fmt.Errorf("store: hostnames: %w", err)
		}
		h.CreatedAt = fromUnix(created)
		out = append(out, h)
	}
	return out, rows.Err()
}

// bumpZone moves the zone's version, so every instance's DNS server
// reloads. It runs in the transaction that changed the zone.
func bumpZone(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'zone'`)
	return err
}
