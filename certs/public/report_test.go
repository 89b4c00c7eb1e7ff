package public

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestReport(t *testing.T) {
	loopback := fakeDNS(t, []netip.Addr{netip.MustParseAddr("127.0.0.1")})
	elsewhere := fakeDNS(t, []netip.Addr{netip.MustParseAddr("192.0.2.10")})
	ctx := context.Background()
	now := time.Now()

	pki := newTestPKI(t)
	p, _ := newTestPublic(t, pki)
	if rep := p.Report(ctx, loopback, now); rep.FQDN != "" || rep.FQDNErr != nil || rep.PendingCSR != nil || len(rep.NotServed) != 0 {
		t.Errorf("Report with nothing set = %+v, want it empty", rep)
	}

	if _, err := p.ExportCSR(testFQDN); err != nil {
		t.Fatal(err)
	}
	rep := p.Report(ctx, loopback, now)
	if rep.FQDN != testFQDN || rep.PendingCSR == nil || rep.PendingCSR.DNSNames[0] != testFQDN {
		t.Errorf("Report after ExportCSR = %+v, want the name and the pending CSR", rep)
	}
	if !errors.Is(rep.ChainErr, ErrNoCert) || !slices.Equal(rep.NotServed, []string{"no certificate"}) {
		t.Errorf("Report without a certificate: ChainErr %v, NotServed %q", rep.ChainErr, rep.NotServed)
	}

	installGood(t, p, pki) // valid for 90 days
	for _, tc := range []struct {
		name                 string
		at                   time.Duration
		dns                  bool // resolves to loopback
		expired, soon, dnsOK bool
		notServed            []string
	}{
		{"fresh", 0, true, false, false, true, nil},
		{"expires soon", 80 * 24 * time.Hour, true, false, true, true, nil},
		{"expired", 91 * 24 * time.Hour, true, true, false, true, []string{"certificate expired"}},
		{"DNS not loopback", 0, false, false, false, false, []string{"DNS check failed"}},
		{"expired and DNS not loopback", 91 * 24 * time.Hour, false, true, false, false, []string{"certificate expired", "DNS check failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := loopback
			if !tc.dns {
				r = elsewhere
			}
			rep := p.Report(ctx, r, now.Add(tc.at))
			if rep.ChainErr != nil || len(rep.Chain) != 2 {
				t.Fatalf("Chain %d certificates, ChainErr %v; want the installed chain", len(rep.Chain), rep.ChainErr)
			}
			if rep.Expired != tc.expired || rep.ExpiresSoon != tc.soon || (rep.DNSErr == nil) != tc.dnsOK {
				t.Errorf("Expired %v, ExpiresSoon %v, DNSErr %v; want %v, %v, DNS ok %v", rep.Expired, rep.ExpiresSoon, rep.DNSErr, tc.expired, tc.soon, tc.dnsOK)
			}
			if !slices.Equal(rep.NotServed, tc.notServed) {
				t.Errorf("NotServed = %q, want %q", rep.NotServed, tc.notServed)
			}
		})
	}

	if err := os.WriteFile(filepath.Join(p.Dir, ChainFile), []byte("not PEM"), 0o644); err != nil {
		t.Fatal(err)
	}
	if rep := p.Report(ctx, loopback, now); !errors.Is(rep.ChainErr, ErrMalformedPEM) || !slices.Equal(rep.NotServed, []string{"certificate unusable"}) {
		t.Errorf("Report with a damaged chain: ChainErr %v, NotServed %q", rep.ChainErr, rep.NotServed)
	}

	if err := os.WriteFile(filepath.Join(p.Dir, FQDNFile), []byte("*.example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if rep := p.Report(ctx, loopback, now); !errors.Is(rep.FQDNErr, ErrInvalidFQDN) || rep.FQDN != "" || rep.Chain != nil {
		t.Errorf("Report with a damaged name = %+v, want FQDNErr only", rep)
	}
}

func TestExtraRoots(t *testing.T) {
	t.Setenv(ExtraRootsEnv, "")
	if pool, err := ExtraRoots(nil); pool != nil || err != nil {
		t.Errorf("ExtraRoots unset = %v, %v; want nil, nil", pool, err)
	}

	pki := newTestPKI(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "roots.pem")
	if err := os.WriteFile(file, certPEM(pki.root), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(ExtraRootsEnv, file)
	pool, err := ExtraRoots(nil)
	if err != nil || pool == nil || !pool.Equal(pki.pool()) {
		t.Errorf("ExtraRoots = %v, %v; want a pool of the test root", pool, err)
	}
	p, err := Open(newMemStore(), dir)
	if err != nil || p.Dir != filepath.Join(dir, "public") || !p.ExtraRoots.Equal(pki.pool()) {
		t.Errorf("Open = %+v, %v; want Dir %s/public and the test root", p, err, dir)
	}

	if err := os.WriteFile(file, []byte("no certificate here"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ExtraRoots(nil); err == nil || err.Error() != ExtraRootsEnv+": no PEM certificate in "+file {
		t.Errorf("ExtraRoots of a file without PEM = %v", err)
	}
	t.Setenv(ExtraRootsEnv, filepath.Join(dir, "missing.pem"))
	if _, err := ExtraRoots(nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ExtraRoots of a missing file = %v, want os.ErrNotExist", err)
	}
}

func TestChainAndCSRFiles(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, make([]byte, 64<<10+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadChainFile(big); err == nil {
		t.Error("ReadChainFile read a file larger than 64 KiB")
	}

	out := filepath.Join(dir, "agent.csr")
	if err := WriteCSRFile(out, []byte("csr\n")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(out)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("CSR file: %v, %v; want mode 0644", fi, err)
	}
	if got, err := ReadChainFile(out); err != nil || string(got) != "csr\n" {
		t.Errorf("ReadChainFile = %q, %v", got, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("directory holds %d files, want 2 (no temporary file left)", len(entries))
	}
}
