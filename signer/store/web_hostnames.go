package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrHeld: the hostname belonged to a deleted account and nobody may
// register it until its hold ends (HoldError says when).
var ErrHeld = errors.New("store: hostname held after its account's deletion")

// HoldError is what AddHostname wraps for a held label. It matches
// ErrHeld with errors.Is.
type HoldError struct {
	Label string
	Until time.Time
}

func (e *HoldError) Error() string {
	return fmt.Sprintf("%s: %q until %s", ErrHeld, e.Label, e.Until.Format(time.RFC3339))
}

func (e *HoldError) Is(target error) bool { return target == ErrHeld }

// checkHold refuses label while a hold on it lasts. It runs in the
// registering transaction, so a hold written by a concurrent deletion
// is seen or the deletion's DELETE waits for the registration's row.
func checkHold(ctx context.Context, tx *sql.Tx, label string, now int64) error {
	var until int64
	err := tx.QueryRowContext(ctx, `SELECT held_until FROM hostname_holds WHERE label = $1`, label).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) || err == nil && until <= now {
		return nil
	}
	if err != nil {
		return err
	}
	return &HoldError{Label: label, Until: fromUnix(until)}
}

// HoldHostnames keeps each label from anyone until its time, or longer
// if it is already held longer.
func (d *DB) HoldHostnames(ctx context.Context, until map[string]time.Time) error {
	return d.inTx(ctx, func(tx *sql.Tx) error {
		for label, t := range until {
			if _, err := tx.ExecContext(ctx, `INSERT INTO hostname_holds (label, held_until) VALUES ($1, $2)
				ON CONFLICT (label) DO UPDATE SET held_until = CASE WHEN hostname_holds.held_until > excluded.held_until THEN hostname_holds.held_until ELSE excluded.held_until END`,
				label, t.Unix()); err != nil {
				return fmt.Errorf("store: hold hostname %q: %w", label, err)
			}
		}
		return nil
	})
}

// HostnameHold returns when the hold on label ends; ErrNotFound if it is
// not held.
func (d *DB) HostnameHold(ctx context.Context, label string) (time.Time, error) {
	var until int64
	err := d.db.QueryRowContext(ctx, `SELECT held_until FROM hostname_holds WHERE label = $1 AND held_until > $2`, label, d.unix()).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, fmt.Errorf("store: hold on %q: %w", label, ErrNotFound)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("store: hold on %q: %w", label, err)
	}
	return fromUnix(until), nil
}
