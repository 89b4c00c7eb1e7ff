// Package pgtest starts throwaway PostgreSQL clusters for tests, from
// the server Debian's postgresql package installs: initdb and pg_ctl in
// a temporary directory, on a free loopback port, with trust
// authentication and fsync off. A test that needs PostgreSQL skips, and
// says why, where the package is not installed, or fails under
// AWS_SSO_AGENT_REQUIRE_PEERS=1 (e2e.PeerMissing).
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
)

// Cluster is one running PostgreSQL server.
type Cluster struct {
	dir, data, bin string
	port           int
	asOwner        func(*exec.Cmd)
	n              atomic.Int64
}

// ErrNotInstalled is what New returns where PostgreSQL's server is not
// installed; a test skips then, saying so.
var ErrNotInstalled = errors.New("pgtest: PostgreSQL is not installed; apt-get install postgresql")

// Start starts a cluster that stops, and is removed, when t ends. It
// skips t where PostgreSQL is not installed (Missing).
func Start(t testing.TB) *Cluster {
	t.Helper()
	c, err := New()
	if errors.Is(err, ErrNotInstalled) {
		Missing(t, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

// Missing ends t for err, New's ErrNotInstalled: a skip, or a failure
// where peers are required.
func Missing(t testing.TB, err error) {
	t.Helper()
	e2e.PeerMissing(t, "%v", err)
}

// New starts a cluster; Stop stops and removes it. For a TestMain that
// shares one cluster among a package's tests.
func New() (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrNotInstalled, err)
	}
	// Not t.TempDir: PostgreSQL refuses to run as root, so the cluster
	// belongs to the postgres user, which must reach its directory.
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	c := &Cluster{dir: dir, data: filepath.Join(dir, "data"), bin: bin}
	if c.asOwner, err = prepareOwner(dir); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if err := c.run("initdb", "-D", c.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	// A free port can be taken between the probe and the server's bind;
	// then try another.
	var startErr error
	for try := 0; try < 5; try++ {
		if c.port, err = freePort(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: %w", err)
		}
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", c.port, dir)
		if startErr = c.run("pg_ctl", "-D", c.data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start"); startErr == nil {
			return c, nil
		}
	}
	log, _ := os.ReadFile(filepath.Join(dir, "log"))
	os.RemoveAll(dir)
	return nil, fmt.Errorf("pgtest: %w\n%s", startErr, log)
}

// Stop stops the server at once and removes its files.
func (c *Cluster) Stop() {
	c.run("pg_ctl", "-D", c.data, "-m", "immediate", "-w", "stop")
	os.RemoveAll(c.dir)
}

func (c *Cluster) run(name string, args ...string) error {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	c.asOwner(cmd)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", name, err, out)
	}
	return nil
}

// URL is the connection URL of the cluster's database name.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, name)
}

// NewDatabase creates a fresh, empty database and returns its URL.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	name := "test" + strconv.FormatInt(c.n.Add(1), 10)
	db, err := sql.Open("pgx", c.URL("postgres"))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The name is ours, made of letters and digits: CREATE DATABASE takes
	// no parameters.
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	return c.URL(name)
}

// binDir finds initdb: on PATH, else in the newest
// /usr/lib/postgresql/VERSION/bin, where Debian puts it.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(dirs) == 0 {
		return "", fmt.Errorf("no initdb on PATH or in /usr/lib/postgresql/*/bin")
	}
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(dirs[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(dirs[j]))))
		return vi < vj
	})
	return filepath.Dir(dirs[len(dirs)-1]), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
