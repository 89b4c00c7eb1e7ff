package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// AddPendingAccount adds an account, as AddAccount does, that waits for
// its email address's verification (ConfirmEmail): the web interface
// refuses it a session until then. An account the admin CLI adds is not
// pending.
func (d *DB) AddPendingAccount(ctx context.Context, username, email, passwordHash string) (Account, error) {
	a, err := d.AddAccount(ctx, username, email, passwordHash)
	if err != nil {
		return Account{}, err
	}
	if _, err := d.db.ExecContext(ctx, `UPDATE accounts SET email_pending = 1 WHERE id = $1`, a.ID); err != nil {
		// An account that is not pending would be one nobody verified.
		_ = d.DeleteAccount(context.WithoutCancel(ctx), username)
		return Account{}, fmt.Errorf("store: add account %q: %w", username, err)
	}
	return a, nil
}

// EmailPending reports whether the account's email address still waits
// for its verification.
func (d *DB) EmailPending(ctx context.Context, accountID int64) (bool, error) {
	var pending int
	err := d.db.QueryRowContext(ctx, `SELECT email_pending FROM accounts WHERE id = $1`, accountID).Scan(&pending)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("store: account %d: %w", accountID, ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("store: account %d: %w", accountID, err)
	}
	return pending != 0, nil
}

// ConfirmEmail records that the account's email address is verified.
func (d *DB) ConfirmEmail(ctx context.Context, accountID int64) error {
	return d.affectOne(ctx, fmt.Sprintf("store: confirm email of account %d", accountID),
		`UPDATE accounts SET email_pending = 0 WHERE id = $1`, accountID)
}

// AccountByID returns the account with id.
func (d *DB) AccountByID(ctx context.Context, id int64) (Account, error) {
	a, err := scanAccount(d.db.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, fmt.Errorf("store: account %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Account{}, fmt.Errorf("store: account %d: %w", id, err)
	}
	return a, nil
}

// SetPassword replaces the account's password hash and ends every
// session of it but keep's (nil ends them all): whoever knew the old
// password is logged out.
func (d *DB) SetPassword(ctx context.Context, accountID int64, passwordHash string, keep []byte) error {
	return d.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET password_hash = $1 WHERE id = $2`, passwordHash, accountID)
		if err := oneRow(res, err); err != nil {
			return fmt.Errorf("store: set password of account %d: %w", accountID, err)
		}
		if keep == nil {
			keep = []byte{}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE account_id = $1 AND token_hash <> $2`, accountID, keep); err != nil {
			return fmt.Errorf("store: set password of account %d: end sessions: %w", accountID, err)
		}
		return nil
	})
}

// AccountCertificates returns the certificates issued to the account,
// newest first, at most limit of them; also those of hostnames it has
// released since.
func (d *DB) AccountCertificates(ctx context.Context, accountID int64, limit int) ([]Certificate, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+certColumns+` FROM certificates WHERE account_id = $1 ORDER BY issued_at DESC, id DESC LIMIT $2`, accountID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: certificates of account %d: %w", accountID, err)
	}
	defer rows.Close()
	var out []Certificate
	for rows.Next() {
		c, err := scanCert(rows)
		if err != nil {
			return nil, fmt.Errorf("store: certificates of account %d: %w", accountID, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// DeleteStalePending deletes the account called username if it is still
// pending, was made more than age ago and has no hostname: a sign-up
// nobody verified in time does not keep its user name forever. It
// reports whether it deleted one.
func (d *DB) DeleteStalePending(ctx context.Context, username string, age time.Duration) (bool, error) {
	res, err := d.db.ExecContext(ctx, `DELETE FROM accounts WHERE username = $1 AND email_pending = 1 AND created_at < $2
		AND NOT EXISTS (SELECT 1 FROM hostnames h WHERE h.account_id = accounts.id)`, username, d.unix()-secs(age))
	if err := oneRow(res, err); errors.Is(err, ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("store: delete stale sign-up %q: %w", username, err)
	}
	return true, nil
}
