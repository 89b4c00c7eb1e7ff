package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	sqlitedrv "modernc.org/sqlite"     // registers "sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Errors a caller can rely on, matched with errors.Is.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
	// ErrCap: the account has as many hostnames as it may.
	ErrCap = errors.New("store: hostname cap reached")
	// ErrUnauthorized: the API key is unknown or revoked, or its account
	// is disabled. Which of them is not said, to the caller or anyone.
	ErrUnauthorized = errors.New("store: api key not accepted")
)

type dialect int

const (
	sqlite dialect = iota
	postgres
)

// DB is the service's database. It is safe for concurrent use, also by
// several processes on one PostgreSQL database.
type DB struct {
	db      *sql.DB
	dialect dialect
	now     func() time.Time
	stmts   sync.Map // query text -> *sql.Stmt, for the hot path
}

// Options are Open's knobs; the zero value is the production setting.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Open opens the database at dbURL and migrates it to the current
// schema. dbURL is "sqlite:PATH" (or "sqlite://PATH", PATH absolute or
// relative; "sqlite::memory:" for a private in-memory database) or a
// PostgreSQL URL ("postgres://" or "postgresql://"), whose password, if
// any, had better come from PGPASSWORD or ~/.pgpass than from argv.
func Open(ctx context.Context, dbURL string, opts Options) (*DB, error) {
	d := &DB{now: opts.Now}
	if d.now == nil {
		d.now = time.Now
	}
	var err error
	switch {
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		d.dialect = postgres
		d.db, err = sql.Open("pgx", dbURL)
	case strings.HasPrefix(dbURL, "sqlite:"):
		d.dialect = sqlite
		d.db, err = openSQLite(strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite:"), "//"))
	default:
		return nil, fmt.Errorf("store: open: %q is neither sqlite:PATH nor a postgres:// URL", redact(dbURL))
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", redact(dbURL), err)
	}
	if err := d.migrate(ctx); err != nil {
		d.db.Close()
		return nil, fmt.Errorf("store: open %s: %w", redact(dbURL), err)
	}
	return d, nil
}

func openSQLite(path string) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("no path")
	}
	memory := path == ":memory:"
	if !memory {
		if err := ensurePrivate(path); err != nil {
			return nil, err
		}
	}
	// Every transaction takes the write lock when it begins
	// (_txlock=immediate): a transaction that reads and then writes would
	// otherwise fail with SQLITE_BUSY when another wrote meanwhile,
	// instead of waiting. WAL lets readers go on while one writes.
	q := url.Values{}
	q.Add("_txlock", "immediate")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(normal)")
	if !memory {
		q.Add("_pragma", "journal_mode(wal)")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	if memory {
		// Each connection would have a database of its own.
		db.SetMaxOpenConns(1)
	}
	return db, nil
}

// redact drops a password from a database URL for messages.
func redact(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil || u.User == nil {
		if err != nil && strings.Contains(dbURL, "@") {
			return "(unparseable url)"
		}
		return dbURL
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Close closes the database.
func (d *DB) Close() error {
	d.stmts.Range(func(_, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
	return d.db.Close()
}

// prepared returns query prepared once, for the queries every request
// runs: parsing the SQL was most of their cost on SQLite
// (BenchmarkAuthenticatedList). database/sql prepares it again on each
// connection as needed.
func (d *DB) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := d.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := d.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := d.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// Engine is "sqlite" or "postgres".
func (d *DB) Engine() string {
	if d.dialect == postgres {
		return "postgres"
	}
	return "sqlite"
}

// migrationLock is the PostgreSQL advisory lock key under which
// migrations run: any constant no other program on the database uses
// will do; this one is "SIGNER" in ASCII.
const migrationLock = 0x5349474e4552 // "SIGNER"

func (d *DB) migrate(ctx context.Context) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if d.dialect == postgres {
		// Two instances starting at once: the second waits here, then
		// sees the first one's work.
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	if current > len(migrations)-1 {
		return fmt.Errorf("migrate: the database is at schema version %d, newer than this program's %d; upgrade aws-sso-signer", current, len(migrations)-1)
	}
	for v := current + 1; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, d.dialect.expand(migrations[v])); err != nil {
			return fmt.Errorf("migrate: version %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, v, d.unix()); err != nil {
			return fmt.Errorf("migrate: record version %d: %w", v, err)
		}
	}
	return tx.Commit()
}

// SchemaVersion is the database's current schema version.
func (d *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := d.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

func (d *DB) unix() int64 { return d.now().Unix() }

func fromUnix(s int64) time.Time { return time.Unix(s, 0).UTC() }

func fromNullUnix(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromUnix(n.Int64)
	return &t
}

// inTx runs fn in a transaction and commits it if fn succeeds.
func (d *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// isUnique reports whether err is a unique-constraint violation, in
// either engine.
func isUnique(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505" // unique_violation
	}
	var lite *sqlitedrv.Error
	if errors.As(err, &lite) {
		return lite.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || lite.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}
