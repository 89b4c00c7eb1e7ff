package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Key is an API key's record. The key itself is never stored, only its
// hash.
type Key struct {
	ID         int64
	Username   string
	Labels     []string // the hostnames it may sign for
	CreatedAt  time.Time
	RevokedAt  *time.Time
	LastUsedAt *time.Time
	LastUsedIP string
}

// CreateKey records a key with hash (signer.NewAPIKey) for username,
// scoped to labels, each of which must be registered to username.
func (d *DB) CreateKey(ctx context.Context, username string, labels []string, hash []byte) (Key, error) {
	if len(labels) == 0 {
		return Key{}, fmt.Errorf("store: create key for %q: no hostname to scope it to", username)
	}
	k := Key{Username: username, Labels: sortedUnique(labels), CreatedAt: fromUnix(d.unix())}
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		var accountID int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM accounts WHERE username = $1`, username).Scan(&accountID); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("account %q: %w", username, ErrNotFound)
			}
			return err
		}
		for _, l := range k.Labels {
			var owner int64
			err := tx.QueryRowContext(ctx, `SELECT account_id FROM hostnames WHERE label = $1`, l).Scan(&owner)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && owner != accountID) {
				return fmt.Errorf("hostname %q is not registered to %q: %w", l, username, ErrNotFound)
			}
			if err != nil {
				return err
			}
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO api_keys (account_id, key_hash, created_at) VALUES ($1, $2, $3) RETURNING id`,
			accountID, hash, k.CreatedAt.Unix()).Scan(&k.ID); err != nil {
			if isUnique(err) {
				return ErrExists
			}
			return err
		}
		for _, l := range k.Labels {
			if _, err := tx.ExecContext(ctx, `INSERT INTO api_key_hostnames (key_id, label) VALUES ($1, $2)`, k.ID, l); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Key{}, fmt.Errorf("store: create key for %q: %w", username, err)
	}
	return k, nil
}

// Keys returns the keys of username, or of everyone if username is
// empty, oldest first.
func (d *DB) Keys(ctx context.Context, username string) ([]Key, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT k.id, a.username, k.created_at, k.revoked_at, k.last_used_at, COALESCE(k.last_used_ip, ''),
		COALESCE((SELECT `+d.groupConcat("kh.label")+` FROM api_key_hostnames kh WHERE kh.key_id = k.id), '')
		FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE $1 = '' OR a.username = $1 ORDER BY k.id`, username)
	if err != nil {
		return nil, fmt.Errorf("store: keys: %w", err)
	}
	defer rows.Close()
	var out []Key
	for rows.Next() {
		var k Key
		var created int64
		var revoked, used sql.NullInt64
		var labels string
		if err := rows.Scan(&k.ID, &k.Username, &created, &revoked, &used, &k.LastUsedIP, &labels); err != nil {
			return nil, fmt.Errorf("store: keys: %w", err)
		}
		k.CreatedAt, k.RevokedAt, k.LastUsedAt = fromUnix(created), fromNullUnix(revoked), fromNullUnix(used)
		if labels != "" {
			k.Labels = sortedUnique(strings.Split(labels, ","))
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func (d *DB) groupConcat(col string) string {
	if d.dialect == postgres {
		return "STRING_AGG(" + col + ", ',')"
	}
	return "GROUP_CONCAT(" + col + ", ',')"
}

// RevokeKey revokes key id for good.
func (d *DB) RevokeKey(ctx context.Context, id int64) error {
	return d.affectOne(ctx, fmt.Sprintf("store: revoke key %d", id),
		`UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, d.unix(), id)
}

// Principal is who an accepted API key speaks for.
type Principal struct {
	KeyID     int64
	AccountID int64
	Username  string
	Labels    []string
}

// May reports whether the principal may act on label.
func (p Principal) May(label string) bool {
	for _, l := range p.Labels {
		if l == label {
			return true
		}
	}
	return false
}

// lastUsedGranularity bounds how often a key's last use is written: at
// most once a minute per key, so authentication costs a read, not a
// write, on the hot path.
const lastUsedGranularity = 60

// Authenticate finds the live key with hash and records its use from ip.
// An unknown or revoked key, or one whose account is disabled, is
// ErrUnauthorized.
func (d *DB) Authenticate(ctx context.Context, hash []byte, ip string) (Principal, error) {
	var p Principal
	var used sql.NullInt64
	var labels string
	st, err := d.prepared(ctx, `SELECT k.id, a.id, a.username, k.last_used_at,
		COALESCE((SELECT `+d.groupConcat("kh.label")+` FROM api_key_hostnames kh WHERE kh.key_id = k.id), '')
		FROM api_keys k JOIN accounts a ON a.id = k.account_id
		WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND a.disabled = 0`)
	if err != nil {
		return Principal{}, fmt.Errorf("store: authenticate: %w", err)
	}
	err = st.QueryRowContext(ctx, hash).Scan(&p.KeyID, &p.AccountID, &p.Username, &used, &labels)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, ErrUnauthorized
	}
	if err != nil {
		return Principal{}, fmt.Errorf("store: authenticate: %w", err)
	}
	if labels != "" {
		p.Labels = sortedUnique(strings.Split(labels, ","))
	}
	now := d.unix()
	if !used.Valid || now-used.Int64 >= lastUsedGranularity {
		if _, err := d.db.ExecContext(ctx, `UPDATE api_keys SET last_used_at = $1, last_used_ip = $2 WHERE id = $3`, now, ip, p.KeyID); err != nil {
			return Principal{}, fmt.Errorf("store: authenticate: record use: %w", err)
		}
	}
	return p, nil
}

func sortedUnique(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	j := 0
	for i, s := range out {
		if i == 0 || s != out[j-1] {
			out[j] = s
			j++
		}
	}
	return out[:j]
}
