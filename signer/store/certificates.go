package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Certificate is the record of one issued certificate.
type Certificate struct {
	ID        int64
	AccountID int64
	Label     string
	Serial    string // lowercase hexadecimal
	NotBefore time.Time
	NotAfter  time.Time
	IssuedAt  time.Time
	RevokedAt *time.Time
	ChainPEM  string
}

const certColumns = `id, account_id, label, serial, not_before, not_after, issued_at, revoked_at, chain_pem`

func scanCert(row interface{ Scan(...any) error }) (Certificate, error) {
	var c Certificate
	var nb, na, ia int64
	var rev sql.NullInt64
	if err := row.Scan(&c.ID, &c.AccountID, &c.Label, &c.Serial, &nb, &na, &ia, &rev, &c.ChainPEM); err != nil {
		return Certificate{}, err
	}
	c.NotBefore, c.NotAfter, c.IssuedAt, c.RevokedAt = fromUnix(nb), fromUnix(na), fromUnix(ia), fromNullUnix(rev)
	return c, nil
}

// Certificates returns the certificates of labels, newest first, at
// most limit of them.
func (d *DB) Certificates(ctx context.Context, labels []string, limit int) ([]Certificate, error) {
	var out []Certificate
	// One query per label keeps every query a fixed, parameterized text;
	// a key is scoped to a handful of hostnames.
	st, err := d.prepared(ctx, `SELECT `+certColumns+` FROM certificates WHERE label = $1 ORDER BY issued_at DESC, id DESC LIMIT $2`)
	if err != nil {
		return nil, fmt.Errorf("store: certificates: %w", err)
	}
	for _, l := range sortedUnique(labels) {
		rows, err := st.QueryContext(ctx, l, limit)
		if err != nil {
			return nil, fmt.Errorf("store: certificates: %w", err)
		}
		for rows.Next() {
			c, err := scanCert(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: certificates: %w", err)
			}
			out = append(out, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("store: certificates: %w", err)
		}
	}
	sortCertsNewestFirst(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func sortCertsNewestFirst(cs []Certificate) {
	slices.SortFunc(cs, func(a, b Certificate) int {
		return cmp.Or(b.IssuedAt.Compare(a.IssuedAt), cmp.Compare(b.ID, a.ID))
	})
}

// CertificateBySerial returns the certificate with serial.
func (d *DB) CertificateBySerial(ctx context.Context, serial string) (Certificate, error) {
	c, err := scanCert(d.db.QueryRowContext(ctx, `SELECT `+certColumns+` FROM certificates WHERE serial = $1`, serial))
	if errors.Is(err, sql.ErrNoRows) {
		return Certificate{}, fmt.Errorf("store: certificate %s: %w", serial, ErrNotFound)
	}
	if err != nil {
		return Certificate{}, fmt.Errorf("store: certificate %s: %w", serial, err)
	}
	return c, nil
}

// SetCertificateRevoked records that the certificate with serial was
// revoked.
func (d *DB) SetCertificateRevoked(ctx context.Context, serial string) error {
	return d.affectOne(ctx, "store: revoke certificate "+serial,
		`UPDATE certificates SET revoked_at = $1 WHERE serial = $2 AND revoked_at IS NULL`, d.unix(), serial)
}
