package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Account is one user of the service.
type Account struct {
	ID           int64
	Username     string
	Email        string
	PasswordHash string
	Disabled     bool
	CreatedAt    time.Time
}

// AddAccount adds an account. username and email are the caller's to
// check; passwordHash is already hashed (signer.HashPassword).
func (d *DB) AddAccount(ctx context.Context, username, email, passwordHash string) (Account, error) {
	a := Account{Username: username, Email: email, PasswordHash: passwordHash, CreatedAt: fromUnix(d.unix())}
	err := d.db.QueryRowContext(ctx,
		`INSERT INTO accounts (username, email, password_hash, disabled, created_at) VALUES ($1, $2, $3, 0, $4) RETURNING id`,
		username, email, passwordHash, a.CreatedAt.Unix()).Scan(&a.ID)
	if isUnique(err) {
		return Account{}, fmt.Errorf("store: add account %q: %w", username, ErrExists)
	}
	if err != nil {
		return Account{}, fmt.Errorf("store: add account %q: %w", username, err)
	}
	return a, nil
}

const accountColumns = `id, username, email, password_hash, disabled, created_at`

func scanAccount(row interface{ Scan(...any) error }) (Account, error) {
	var a Account
	var disabled int
	var created int64
	if err := row.Scan(&a.ID, &a.Username, &a.Email, &a.PasswordHash, &disabled, &created); err != nil {
		return Account{}, err
	}
	a.Disabled = disabled != 0
	a.CreatedAt = fromUnix(created)
	return a, nil
}

// Account returns the account called username.
func (d *DB) Account(ctx context.Context, username string) (Account, error) {
	a, err := scanAccount(d.db.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE username = $1`, username))
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, fmt.Errorf("store: account %q: %w", username, ErrNotFound)
	}
	if err != nil {
		return Account{}, fmt.Errorf("store: account %q: %w", username, err)
	}
	return a, nil
}

// Accounts returns every account, by user name.
func (d *DB) Accounts(ctx context.Context) ([]Account, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("store: accounts: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SetAccountDisabled disables or enables an account. A disabled
// account's keys are refused at once; its hostnames stay registered to
// it, so nobody else can take them over.
func (d *DB) SetAccountDisabled(ctx context.Context, username string, disabled bool) error {
	v := 0
	if disabled {
		v = 1
	}
	return d.affectOne(ctx, fmt.Sprintf("store: set account %q disabled", username),
		`UPDATE accounts SET disabled = $1 WHERE username = $2`, v, username)
}

// DeleteAccount deletes an account with its hostnames, keys and
// certificate records. The hostnames are released (ReleaseHostname).
// Issuance records stay, because the CA's limits still count those
// certificates.
func (d *DB) DeleteAccount(ctx context.Context, username string) error {
	return d.inTx(ctx, func(tx *sql.Tx) error {
		if err := d.quarantine(ctx, tx, `SELECT h.label, h.account_id FROM hostnames h JOIN accounts a ON a.id = h.account_id WHERE a.username = $1`, username); err != nil {
			return fmt.Errorf("store: delete account %q: %w", username, err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE username = $1`, username)
		if err := oneRow(res, err); err != nil {
			return fmt.Errorf("store: delete account %q: %w", username, err)
		}
		return bumpZone(ctx, tx)
	})
}

// affectOne runs an update that must change exactly one row.
func (d *DB) affectOne(ctx context.Context, what, query string, args ...any) error {
	res, err := d.db.ExecContext(ctx, query, args...)
	if err := oneRow(res, err); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func oneRow(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
