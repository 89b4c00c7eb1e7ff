package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// CreateSession records a web session for the account under hash (the
// SHA-256 of the cookie's token: a copy of the database logs nobody in)
// until ttl has passed.
func (d *DB) CreateSession(ctx context.Context, accountID int64, hash []byte, ttl time.Duration) error {
	now := d.unix()
	// Expired sessions go as new ones come, so the table holds only live ones.
	if _, err := d.db.ExecContext(ctx, `DELETE FROM web_sessions WHERE expires_at <= $1`, now); err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	if _, err := d.db.ExecContext(ctx, `INSERT INTO web_sessions (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		hash, accountID, now, now+int64(ttl/time.Second)); err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	return nil
}

// SessionAccount returns the account of the live session with hash. An
// unknown or expired session, or one of a disabled account, is
// ErrNotFound.
func (d *DB) SessionAccount(ctx context.Context, hash []byte) (Account, error) {
	a, err := scanAccount(d.db.QueryRowContext(ctx, `SELECT `+prefixed("a.", accountColumns)+` FROM web_sessions s JOIN accounts a ON a.id = s.account_id
		WHERE s.token_hash = $1 AND s.expires_at > $2 AND a.disabled = 0 AND a.email_pending = 0`, hash, d.unix()))
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, fmt.Errorf("store: session: %w", ErrNotFound)
	}
	if err != nil {
		return Account{}, fmt.Errorf("store: session: %w", err)
	}
	return a, nil
}

// DeleteSession ends the session with hash, if there is one.
func (d *DB) DeleteSession(ctx context.Context, hash []byte) error {
	if _, err := d.db.ExecContext(ctx, `DELETE FROM web_sessions WHERE token_hash = $1`, hash); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// Purposes of one-time tokens.
const (
	TokenVerifyEmail   = "verify-email"
	TokenResetPassword = "reset-password"
)

// CreateToken records a one-time token of purpose for the account under
// hash until ttl has passed. It replaces the account's earlier tokens of
// that purpose: only the newest mail's link works.
func (d *DB) CreateToken(ctx context.Context, accountID int64, purpose string, hash []byte, ttl time.Duration) error {
	now := d.unix()
	return d.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM web_tokens WHERE (account_id = $1 AND purpose = $2) OR expires_at <= $3`, accountID, purpose, now); err != nil {
			return fmt.Errorf("store: create token: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO web_tokens (token_hash, account_id, purpose, expires_at) VALUES ($1, $2, $3, $4)`,
			hash, accountID, purpose, now+int64(ttl/time.Second)); err != nil {
			return fmt.Errorf("store: create token: %w", err)
		}
		return nil
	})
}

// UseToken spends the live token of purpose with hash and returns its
// account. It works once: a second use, an expired token or one of
// another purpose is ErrNotFound.
func (d *DB) UseToken(ctx context.Context, purpose string, hash []byte) (int64, error) {
	var id int64
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `DELETE FROM web_tokens WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3 RETURNING account_id`,
			hash, purpose, d.unix()).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: use %s token: %w", purpose, err)
	}
	return id, nil
}

// prefixed qualifies each column of a list written "a, b, c" with p.
func prefixed(p, columns string) string {
	return p + strings.ReplaceAll(columns, ", ", ", "+p)
}
