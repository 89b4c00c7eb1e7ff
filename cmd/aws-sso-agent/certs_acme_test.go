package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/aws-sso-agent/aws-sso-agent/certs/acme"
	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/internal/acmetest"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// acmeCLIEnv is an AWS_SSO_AGENT_HOME with a file store, for `certs acme`.
type acmeCLIEnv struct {
	home, pass string
	// resolver answers the CLI's loopback check of the public name; nil
	// is the system's.
	resolver *net.Resolver
}

func newACMECLIEnv(t *testing.T) *acmeCLIEnv {
	t.Helper()
	home := t.TempDir()
	t.Setenv("AWS_SSO_AGENT_HOME", home)
	pass := filepath.Join(home, "passphrase")
	if err := os.WriteFile(pass, []byte("correct horse battery staple"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &acmeCLIEnv{home: home, pass: pass}
}

func (e *acmeCLIEnv) run(args ...string) (int, string, string) {
	args = append(args, "--store", "file", "--passphrase-file", e.pass, "--test-scrypt-work-factor", "10")
	var stdout, stderr bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, resolver: e.resolver}
	code := c.run(args)
	return code, stdout.String(), stderr.String()
}

func (e *acmeCLIEnv) store(t *testing.T) store.Store {
	t.Helper()
	st, err := store.OpenFile(filepath.Join(e.home, "config", "store.age"), []byte("correct horse battery staple"), store.WithScryptWorkFactor(10))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestCertsACMEUsage(t *testing.T) {
	env := newACMECLIEnv(t)
	secret := filepath.Join(env.home, "tsig")
	if err := os.WriteFile(secret, []byte("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rfc := []string{"--rfc2136-nameserver", "127.0.0.1:53", "--rfc2136-tsig-key", "k."}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no dns", []string{"--fqdn", "agent.example.com"}, "--dns is required"},
		{"unknown dns", []string{"--fqdn", "agent.example.com", "--dns", "bind"}, `unknown --dns "bind"`},
		{"two CAs", append([]string{"--fqdn", "agent.example.com", "--dns", "rfc2136", "--staging", "--directory", "https://ca.example/dir"}, rfc...), "--staging and --directory"},
		{"rfc2136 without nameserver", []string{"--fqdn", "agent.example.com", "--dns", "rfc2136", "--rfc2136-tsig-key", "k."}, "needs --rfc2136-nameserver"},
		{"route53 flag with rfc2136", append([]string{"--fqdn", "agent.example.com", "--dns", "rfc2136", "--route53-profile", "p"}, rfc...), "--route53-profile: a route53 flag"},
		{"rfc2136 flag with route53", []string{"--fqdn", "agent.example.com", "--dns", "route53", "--rfc2136-tsig-secret-file", secret}, "an rfc2136 flag with --dns route53"},
		// There is no flag taking the secret itself: argv is public.
		{"secret in argv", append([]string{"--fqdn", "agent.example.com", "--dns", "rfc2136", "--rfc2136-tsig-secret", "c2VjcmV0"}, rfc...), "unknown flag: --rfc2136-tsig-secret"},
		{"no name", append([]string{"--dns", "rfc2136", "--rfc2136-tsig-secret-file", secret}, rfc...), "--fqdn is required"},
		{"argument", []string{"agent.example.com", "--dns", "route53"}, "unexpected argument"},
		{"wildcard", []string{"--fqdn", "*.example.com", "--dns", "route53"}, "a wildcard cannot be served"},
		{"IP", []string{"--fqdn", "127.0.0.1", "--dns", "route53"}, "an IP address, not a DNS name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := env.run(append([]string{"certs", "acme"}, tc.args...)...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr, tc.want)
			}
			if strings.Contains(stderr, "c2VjcmV0") {
				t.Errorf("stderr shows the secret:\n%s", stderr)
			}
		})
	}
}

// TestCertsACMEPebble runs `certs acme` against Pebble with Knot taking the
// RFC 2136 updates, then renews from what it saved, as the agent does.
func TestCertsACMEPebble(t *testing.T) {
	knot := acmetest.StartKnot(t)
	pebble := acmetest.StartPebble(t, knot.Addr)
	env := newACMECLIEnv(t)
	env.resolver = acmetest.ResolverAt(knot.Addr) // agent.acme.test A 127.0.0.1
	// Pebble's HTTPS certificate and its issuing root, trusted through the
	// test hook.
	roots := filepath.Join(env.home, "pebble-roots.pem")
	if err := os.WriteFile(roots, append(append([]byte{}, pebble.TLSCert...), pebble.RootPEM(t)...), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(public.ExtraRootsEnv, roots)
	secret := filepath.Join(env.home, "tsig.secret")
	if err := os.WriteFile(secret, []byte(knot.TSIGSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"certs", "acme", "--fqdn", acmetest.FQDN, "--dns", "rfc2136",
		"--directory", pebble.Directory, "--email", "admin@" + acmetest.Zone,
		"--rfc2136-nameserver", knot.Addr, "--rfc2136-tsig-key", acmetest.TSIGKeyName,
		"--check-nameserver", knot.Addr}

	// Without the file, and nothing stored: a usage error, found once the
	// store is open (TestCertsACMEUsage has the others).
	if code, _, stderr := env.run(args...); code != 2 || !strings.Contains(stderr, "needs --rfc2136-tsig-secret-file") {
		t.Errorf("certs acme without a TSIG secret: exit %d, stderr:\n%s\nwant exit 2 and --rfc2136-tsig-secret-file", code, stderr)
	}

	start := time.Now()
	code, stdout, stderr := env.run(append(args, "--rfc2136-tsig-secret-file", secret)...)
	t.Logf("certs acme took %v", time.Since(start))
	if code != 0 {
		t.Fatalf("certs acme: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "certificate for "+acmetest.FQDN+" from Pebble Intermediate") {
		t.Errorf("stdout:\n%s\nwant the name and issuer", stdout)
	}
	if strings.Contains(stdout+stderr, knot.TSIGSecret) {
		t.Error("the output shows the TSIG secret")
	}

	pubDir := filepath.Join(env.home, "config", "public")
	st := env.store(t)
	pool := x509.NewCertPool()
	pool.AddCert(pebble.Root(t))
	pub := &public.Public{Store: st, Dir: pubDir, ExtraRoots: pool}
	first, err := pub.Current()
	if err != nil {
		t.Fatalf("no public certificate after certs acme: %v", err)
	}
	inter := x509.NewCertPool()
	for _, c := range first.Chain[1:] {
		inter.AddCert(c)
	}
	if _, err := first.Chain[0].Verify(x509.VerifyOptions{DNSName: acmetest.FQDN, Roots: pool, Intermediates: inter}); err != nil {
		t.Errorf("installed chain does not verify against Pebble's root: %v", err)
	}
	if got, err := st.Get(acme.TSIGSecretName); err != nil || string(got) != knot.TSIGSecret {
		t.Errorf("TSIG secret in the store = %q, %v; want the file's", got, err)
	}
	data, err := os.ReadFile(filepath.Join(pubDir, acme.SettingsFile))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(knot.TSIGSecret)) {
		t.Errorf("%s holds the TSIG secret", acme.SettingsFile)
	}
	var saved acme.Settings
	if err := json.Unmarshal(data, &saved); err != nil {
		t.Fatal(err)
	}
	if saved.FQDN != acmetest.FQDN || saved.DNS != "rfc2136" || saved.Directory != pebble.Directory || saved.RFC2136 == nil || saved.RFC2136.TSIGKey != acmetest.TSIGKeyName {
		t.Errorf("saved settings = %s", data)
	}

	// Again, with the secret from the store.
	if code, stdout, stderr := env.run(args...); code != 0 {
		t.Fatalf("certs acme without the secret file: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	second, err := pub.Current()
	if err != nil || second.Chain[0].Equal(first.Chain[0]) {
		t.Fatalf("second certs acme did not install a new certificate: %v", err)
	}

	// The agent's path: a Renewer from the saved settings, the clock a
	// day before expiry.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := second.NotAfter().Add(-24 * time.Hour)
	pub.Now = func() time.Time { return now }
	settings, err := acme.LoadSettings(pubDir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := settings.Renewer(ctx, pub, acme.RenewerConfig{ACME: acme.Config{HTTPClient: pebble.Client}})
	if err != nil {
		t.Fatalf("Renewer from the saved settings: %v", err)
	}
	if renewed, err := r.RenewIfDue(ctx); !renewed || err != nil {
		t.Fatalf("RenewIfDue = %v, %v; want a renewal", renewed, err)
	}
	third, err := pub.Current()
	if err != nil || third.Chain[0].Equal(second.Chain[0]) || !r.Current().Chain[0].Equal(third.Chain[0]) {
		t.Fatalf("renewal did not install and serve a new certificate: %v", err)
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestCertsACMEUnreachableCA: with the CA out of reach, certs acme says so,
// and not that the TSIG key or the Route 53 profile lacks a permission; it
// finds out before it opens the secure store (whose passphrase file here
// would be refused, and whose file kind costs seconds of scrypt).
func TestCertsACMEUnreachableCA(t *testing.T) {
	env := newACMECLIEnv(t)
	secret := filepath.Join(env.home, "tsig")
	if err := os.WriteFile(secret, []byte("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(env.pass, 0o644); err != nil { // opening the store would fail on it
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, directory string }{
		{"connection refused", "https://" + closedPort(t) + "/dir"},
		// .invalid never resolves (RFC 6761 section 6.4): offline looks the same.
		{"name does not resolve", "https://acme-v02.api.letsencrypt.invalid/directory"},
	} {
		for _, dns := range [][]string{
			{"--dns", "rfc2136", "--rfc2136-nameserver", closedPort(t), "--rfc2136-tsig-key", "k.", "--rfc2136-tsig-secret-file", secret},
			{"--dns", "route53", "--route53-profile", "nosuch"},
		} {
			t.Run(tc.name+"/"+dns[1], func(t *testing.T) {
				args := append([]string{"certs", "acme", "--fqdn", "agent.example.com", "--directory", tc.directory}, dns...)
				code, stdout, stderr := env.run(args...)
				if code != 1 || stdout != "" {
					t.Errorf("exit %d, stdout %q; want 1 and nothing", code, stdout)
				}
				if !strings.Contains(stderr, "aws-sso-agent: error: certs: acme: cannot reach the CA at "+tc.directory+": ") ||
					!strings.Contains(stderr, "\nhint: check this machine's connection to ") {
					t.Errorf("stderr:\n%s\nwant the CA named as unreachable, with a hint about the connection", stderr)
				}
				for _, wrong := range []string{"TSIG", "route53:", "passphrase", "--staging"} {
					if strings.Contains(stderr, wrong) {
						t.Errorf("stderr mentions %q:\n%s", wrong, stderr)
					}
				}
			})
		}
	}
	if _, err := os.Stat(filepath.Join(env.home, "config", "store.age")); !os.IsNotExist(err) {
		t.Errorf("the secure store was opened: %v", err)
	}
}

// TestCertsACMENameNotLoopback: a name that does not resolve to loopback
// gets no certificate (the agent would never serve it), and the CA is not
// asked for one: the check comes before the store, which holds the account
// key every order needs. Knot is the resolver, as the system's would be.
func TestCertsACMENameNotLoopback(t *testing.T) {
	knot := acmetest.StartKnot(t)
	pebble := acmetest.StartPebble(t, knot.Addr)
	env := newACMECLIEnv(t)
	env.resolver = acmetest.ResolverAt(knot.Addr)
	roots := filepath.Join(env.home, "pebble-roots.pem")
	if err := os.WriteFile(roots, append(append([]byte{}, pebble.TLSCert...), pebble.RootPEM(t)...), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(public.ExtraRootsEnv, roots)
	secret := filepath.Join(env.home, "tsig.secret")
	if err := os.WriteFile(secret, []byte(knot.TSIGSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	elsewhere := "elsewhere." + acmetest.Zone
	addRecord(t, knot, elsewhere+" 60 IN A 192.0.2.7")
	for _, tc := range []struct{ name, fqdn, want string }{
		{"no record", "missing." + acmetest.Zone, "certs: public name missing." + acmetest.Zone + " resolves to no address; it must resolve to 127.0.0.1 (or ::1)"},
		{"not loopback", elsewhere, "certs: public name " + elsewhere + " resolves to 192.0.2.7; 192.0.2.7 is not loopback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := env.run("certs", "acme", "--fqdn", tc.fqdn, "--dns", "rfc2136",
				"--directory", pebble.Directory, "--rfc2136-nameserver", knot.Addr, "--rfc2136-tsig-key", acmetest.TSIGKeyName,
				"--rfc2136-tsig-secret-file", secret, "--check-nameserver", knot.Addr)
			if code != 1 || stdout != "" {
				t.Errorf("exit %d, stdout %q; want 1 and nothing", code, stdout)
			}
			if !strings.Contains(stderr, "aws-sso-agent: error: "+tc.want) ||
				!strings.Contains(stderr, "\nhint: add an A record "+tc.fqdn+" -> 127.0.0.1 in its zone") {
				t.Errorf("stderr:\n%s\nwant %q and the hint to add the record", stderr, tc.want)
			}
			if strings.Contains(stderr, "TSIG") {
				t.Errorf("stderr blames the TSIG key:\n%s", stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(env.home, "config", "store.age")); !os.IsNotExist(err) {
		t.Errorf("the secure store was opened (and an ACME account made?): %v", err)
	}
}

// addRecord adds rr to Knot's zone with a TSIG-signed RFC 2136 update.
func addRecord(t *testing.T, k *acmetest.Knot, rr string) {
	t.Helper()
	r, err := dns.NewRR(rr)
	if err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(acmetest.Zone))
	m.Insert([]dns.RR{r})
	key := dns.Fqdn(acmetest.TSIGKeyName)
	m.SetTsig(key, dns.HmacSHA256, 300, time.Now().Unix())
	c := &dns.Client{TsigSecret: map[string]string{key: k.TSIGSecret}}
	resp, _, err := c.Exchange(m, k.Addr)
	if err != nil {
		t.Fatalf("update %s: %v", rr, err)
	}
	if resp.Rcode != dns.RcodeSuccess {
		t.Fatalf("update %s: %s", rr, dns.RcodeToString[resp.Rcode])
	}
}
