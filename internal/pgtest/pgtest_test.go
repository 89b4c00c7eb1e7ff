package pgtest_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/pgtest"
)

func TestStartAndNewDatabase(t *testing.T) {
	c := pgtest.Start(t)
	a, b := c.NewDatabase(t), c.NewDatabase(t)
	if a == b {
		t.Fatalf("two databases share the URL %s", a)
	}
	db, err := sql.Open("pgx", a)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(context.Background(), "SHOW server_version").Scan(&v); err != nil {
		t.Fatalf("query the throwaway cluster: %v", err)
	}
	t.Logf("PostgreSQL %s", v)
}
