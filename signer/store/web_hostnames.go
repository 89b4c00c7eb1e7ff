package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// QuarantinedUntil returns when label is free again for accounts other
// than the one that released it (AddHostname's ErrQuarantined), or the
// zero time if it is not quarantined.
func (d *DB) QuarantinedUntil(ctx context.Context, label string) (time.Time, error) {
	var releasedAt int64
	err := d.db.QueryRowContext(ctx, `SELECT released_at FROM released_hostnames WHERE label = $1`, label).Scan(&releasedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("store: quarantine of %q: %w", label, err)
	}
	until := fromUnix(releasedAt + secs(Quarantine))
	if !until.After(fromUnix(d.unix())) {
		return time.Time{}, nil
	}
	return until, nil
}
