package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// passkeyHandleLen is the user handle's length: WebAuthn allows at most
// 64 bytes and recommends random ones (§5.4.3), so the handle says
// nothing about the account.
const passkeyHandleLen = 32

// PasskeyHandle returns the account's WebAuthn user handle, making one
// the first time.
func (d *DB) PasskeyHandle(ctx context.Context, accountID int64) ([]byte, error) {
	var h []byte
	err := d.db.QueryRowContext(ctx, `SELECT handle FROM passkey_users WHERE account_id = $1`, accountID).Scan(&h)
	if err == nil {
		return h, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: passkey handle: %w", err)
	}
	h = make([]byte, passkeyHandleLen)
	if _, err := rand.Read(h); err != nil {
		return nil, fmt.Errorf("store: passkey handle: %w", err)
	}
	// Two first registrations at once: the one that loses reads the
	// winner's handle.
	if _, err := d.db.ExecContext(ctx, `INSERT INTO passkey_users (account_id, handle) VALUES ($1, $2) ON CONFLICT (account_id) DO NOTHING`, accountID, h); err != nil {
		return nil, fmt.Errorf("store: passkey handle: %w", err)
	}
	if err := d.db.QueryRowContext(ctx, `SELECT handle FROM passkey_users WHERE account_id = $1`, accountID).Scan(&h); err != nil {
		return nil, fmt.Errorf("store: passkey handle: %w", err)
	}
	return h, nil
}

// AccountByPasskeyHandle returns the account whose user handle is
// handle. An unknown handle, or one of a disabled account or one whose
// email is not verified, is ErrNotFound.
func (d *DB) AccountByPasskeyHandle(ctx context.Context, handle []byte) (Account, error) {
	a, err := scanAccount(d.db.QueryRowContext(ctx, `SELECT `+prefixed("a.", accountColumns)+` FROM passkey_users u JOIN accounts a ON a.id = u.account_id
		WHERE u.handle = $1 AND a.disabled = 0 AND a.email_pending = 0`, handle))
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, fmt.Errorf("store: account by passkey: %w", ErrNotFound)
	}
	if err != nil {
		return Account{}, fmt.Errorf("store: account by passkey: %w", err)
	}
	return a, nil
}

// Passkey is one registered WebAuthn credential of an account.
type Passkey struct {
	ID        []byte // the credential ID
	AccountID int64
	Name      string
	// Credential is the WebAuthn library's record of it (public key,
	// sign count, flags), as JSON.
	Credential []byte
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// AddPasskey records a credential for the account. A credential ID
// registered already, to any account, is ErrExists.
func (d *DB) AddPasskey(ctx context.Context, accountID int64, id []byte, name string, credential []byte) error {
	_, err := d.db.ExecContext(ctx, `INSERT INTO passkeys (credential_id, account_id, name, credential, created_at) VALUES ($1, $2, $3, $4, $5)`,
		id, accountID, name, credential, d.unix())
	if isUnique(err) {
		return fmt.Errorf("store: add passkey: %w", ErrExists)
	}
	if err != nil {
		return fmt.Errorf("store: add passkey: %w", err)
	}
	return nil
}

// Passkeys lists the account's credentials, oldest first.
func (d *DB) Passkeys(ctx context.Context, accountID int64) ([]Passkey, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT credential_id, account_id, name, credential, created_at, last_used_at FROM passkeys
		WHERE account_id = $1 ORDER BY created_at, credential_id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("store: passkeys: %w", err)
	}
	defer rows.Close()
	var out []Passkey
	for rows.Next() {
		var p Passkey
		var created int64
		var used sql.NullInt64
		if err := rows.Scan(&p.ID, &p.AccountID, &p.Name, &p.Credential, &created, &used); err != nil {
			return nil, fmt.Errorf("store: passkeys: %w", err)
		}
		p.CreatedAt, p.LastUsedAt = fromUnix(created), fromNullUnix(used)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: passkeys: %w", err)
	}
	return out, nil
}

// UsePasskey records a login with the account's credential id and its
// updated record (the new sign count). A credential of another account
// is ErrNotFound.
func (d *DB) UsePasskey(ctx context.Context, accountID int64, id, credential []byte) error {
	res, err := d.db.ExecContext(ctx, `UPDATE passkeys SET credential = $1, last_used_at = $2 WHERE credential_id = $3 AND account_id = $4`,
		credential, d.unix(), id, accountID)
	if err != nil {
		return fmt.Errorf("store: use passkey: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: use passkey: %w", ErrNotFound)
	}
	return nil
}

// DeletePasskey removes the account's credential id. A credential of
// another account is ErrNotFound.
func (d *DB) DeletePasskey(ctx context.Context, accountID int64, id []byte) error {
	res, err := d.db.ExecContext(ctx, `DELETE FROM passkeys WHERE credential_id = $1 AND account_id = $2`, id, accountID)
	if err != nil {
		return fmt.Errorf("store: delete passkey: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: delete passkey: %w", ErrNotFound)
	}
	return nil
}

// SavePasskeyChallenge keeps a WebAuthn ceremony's session (its
// challenge) under hash (the SHA-256 of the state token the browser
// holds) until ttl has passed. accountID is the registering account, or
// 0 for a login, whose account is not known yet.
func (d *DB) SavePasskeyChallenge(ctx context.Context, hash []byte, accountID int64, session []byte, ttl time.Duration) error {
	now := d.unix()
	account := sql.NullInt64{Int64: accountID, Valid: accountID != 0}
	return d.inTx(ctx, func(tx *sql.Tx) error {
		// Expired challenges go as new ones come.
		if _, err := tx.ExecContext(ctx, `DELETE FROM passkey_challenges WHERE expires_at <= $1`, now); err != nil {
			return fmt.Errorf("store: save passkey challenge: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO passkey_challenges (state_hash, account_id, session, expires_at) VALUES ($1, $2, $3, $4)`,
			hash, account, session, now+int64(ttl/time.Second)); err != nil {
			return fmt.Errorf("store: save passkey challenge: %w", err)
		}
		return nil
	})
}

// UsePasskeyChallenge spends the live challenge under hash and returns
// its account (0 for a login) and session. It works once, so an
// assertion sent again finds no challenge: a second use or an expired
// challenge is ErrNotFound.
func (d *DB) UsePasskeyChallenge(ctx context.Context, hash []byte) (accountID int64, session []byte, err error) {
	var account sql.NullInt64
	err = d.db.QueryRowContext(ctx, `DELETE FROM passkey_challenges WHERE state_hash = $1 AND expires_at > $2 RETURNING account_id, session`,
		hash, d.unix()).Scan(&account, &session)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, fmt.Errorf("store: use passkey challenge: %w", ErrNotFound)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("store: use passkey challenge: %w", err)
	}
	return account.Int64, session, nil
}
