package e2e

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/aws-sso-agent/aws-sso-agent/internal/acmetest"
	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/internal/pgtest"
)

const (
	signerPkg  = "github.com/aws-sso-agent/aws-sso-agent/cmd/aws-sso-signer"
	signerUser = "alice"
)

// signerService is aws-sso-signer serving its zone, its DNS server
// being what Pebble validates DNS-01 against.
type signerService struct {
	*publicPeers
	// zone is the test's own, so tests run in parallel: the API's name
	// and the user's go into /etc/hosts, which they share.
	zone    string
	apiName string // api.ZONE
	fqdn    string // signerUser.ZONE, the user's hostname
	bin     string
	db      string   // --db URL
	dns     []string // each instance's DNS server, HOST:PORT
	api     []string // each instance's https://api.signer.test:PORT
	apiKey  string   // the user's, scoped to fqdn
	caFile  string   // Pebble's HTTPS certificate, for --acme-ca-file
	procs   []*e2e.Process
	pebbleT *x509.CertPool
}

// signerOptions say how startSigner runs the service.
type signerOptions struct {
	zone      string // the service's zone; "" means signer.test
	db        string // --db; "" means a new SQLite file
	instances int    // how many serve on db; 0 means 1
	validity  time.Duration
	// pebbleDNS, if set, returns the DNS server Pebble asks, given the
	// first instance's; nil means that one.
	pebbleDNS func(first string) string
	args      []string // more serve flags
}

// startSigner runs Pebble and aws-sso-signer serve as o says, registers
// signerUser with the hostname s.fqdn, and waits until every instance
// serves the API with its own certificate from Pebble.
func startSigner(t testing.TB, o signerOptions) *signerService {
	t.Helper()
	s := &signerService{bin: e2e.SharedBinary(t, signerPkg), zone: cmp.Or(o.zone, "signer.test")}
	s.apiName, s.fqdn = "api."+s.zone, signerUser+"."+s.zone
	for range max(o.instances, 1) {
		s.dns = append(s.dns, fmt.Sprintf("127.0.0.1:%d", e2e.FreePort(t)))
	}
	s.publicPeers = &publicPeers{home: t.TempDir()}
	pebbleDNS := s.dns[0]
	if o.pebbleDNS != nil {
		pebbleDNS = o.pebbleDNS(s.dns[0])
	}
	s.pebble = acmetest.StartPebbleValidity(t, pebbleDNS, cmp.Or(o.validity, 90*24*time.Hour))
	s.trustPebble(t)
	s.pass = filepath.Join(s.home, "passphrase")
	os.WriteFile(s.pass, []byte("correct horse battery staple"), 0o600)
	s.pebbleT = x509.NewCertPool()
	s.pebbleT.AppendCertsFromPEM(s.rootPEM)

	dir := t.TempDir()
	db := o.db
	if db == "" {
		db = "sqlite:" + filepath.Join(dir, "signer.db")
	}
	s.db = db
	caFile := filepath.Join(dir, "pebble-tls.pem")
	os.WriteFile(caFile, s.pebble.TLSCert, 0o600)
	s.caFile = caFile
	setHosts(t, s.apiName, "127.0.0.1")

	s.admin(t, "correct horse battery staple", "account", "add", signerUser, "--email", "alice@example.org")
	s.admin(t, "", "hostname", "add", signerUser, signerUser)
	s.apiKey = strings.TrimSpace(s.admin(t, "", "key", "create", signerUser, "--hostname", s.fqdn))

	for i := range s.dns {
		port := e2e.FreePort(t)
		args := []string{"serve", "--zone", s.zone, "--db", db,
			"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--dns-listen", s.dns[i],
			"--acme-directory", s.pebble.Directory, "--acme-ca-file", caFile,
			"--public-ip", "127.0.0.1", "--caa-issuer", "pebble.letsencrypt.org"}
		for _, d := range s.dns {
			args = append(args, "--check-dns", d)
		}
		args = append(args, o.args...)
		p := e2e.StartProcess(t, e2e.CleanEnv(t), s.bin, args...)
		s.procs = append(s.procs, p)
		s.api = append(s.api, fmt.Sprintf("https://%s:%d", s.apiName, port))
	}
	for i, p := range s.procs {
		p.WaitForOutput(t, `"msg":"serving"`, 30*time.Second)
		s.waitAPI(t, i)
	}
	return s
}

// admin runs an admin command of aws-sso-signer on the service's database
// and returns its stdout.
func (s *signerService) admin(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(s.bin, append(args, "--db", s.db)...)
	cmd.Env = e2e.CleanEnv(t)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("aws-sso-signer %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// waitAPI waits until instance i answers over TLS with a certificate for
// the API's name that chains to Pebble's root: the API's own, from the same
// ACME machinery as the users'.
func (s *signerService) waitAPI(t testing.TB, i int) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.pebbleT}}}
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		resp, err := client.Get(s.api[i] + "/v1/certificates")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return
			}
			err = fmt.Errorf("status %s without a key, want 401", resp.Status)
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("instance %d never served its API with a certificate from Pebble: %v\n%s", i, last, s.procs[i].Output())
}

// signCSR runs `certs api-key` for each service URL and `certs sign-csr`
// in the agent's home.
func (s *signerService) signCSR(t testing.TB, services ...string) string {
	t.Helper()
	// The loopback check asks the system's resolver, as the SDKs do
	// (here /etc/hosts: the zone is not delegated from the Internet's),
	// and besides it the signer's own DNS server.
	setHosts(t, s.fqdn, "127.0.0.1")
	env := e2e.CleanEnv(t, "AWS_SSO_AGENT_HOME="+s.home, "AWS_SSO_AGENT_EXTRA_ROOTS="+s.extraRoots,
		"AWS_SSO_AGENT_TEST_RESOLVER="+s.dns[0])
	store := []string{"--store", "file", "--passphrase-file", s.pass}
	for _, svc := range services {
		out, errOut, code := runCLIInput(t, env, s.apiKey+"\n", append([]string{"certs", "api-key", "--service", svc}, store...)...)
		if code != 0 || strings.Contains(out+errOut, s.apiKey) {
			t.Fatalf("certs api-key: exit %d (the key must never be echoed)\n%s%s", code, out, errOut)
		}
	}
	out, errOut, code := runCLI(t, env, append([]string{"certs", "sign-csr", "--fqdn", s.fqdn}, store...)...)
	if code != 0 {
		t.Fatalf("certs sign-csr: exit %d\n%s%s", code, out, errOut)
	}
	return out
}

// checkZone asks the signer's DNS server directly (a net.Resolver would
// read /etc/hosts first).
func (s *signerService) checkZone(t testing.TB, addr string) {
	t.Helper()
	ask := func(name string, qtype uint16) *mdns.Msg {
		q := new(mdns.Msg)
		q.SetQuestion(name, qtype)
		r, _, err := (&mdns.Client{Timeout: 5 * time.Second}).Exchange(q, addr)
		if err != nil {
			t.Fatalf("DNS %s at %s: %v", name, addr, err)
		}
		return r
	}
	var got []string
	for _, qt := range []uint16{mdns.TypeA, mdns.TypeAAAA} {
		for _, rr := range ask(s.fqdn+".", qt).Answer {
			switch a := rr.(type) {
			case *mdns.A:
				got = append(got, a.A.String())
			case *mdns.AAAA:
				got = append(got, a.AAAA.String())
			}
		}
	}
	if !slices.Equal(got, []string{"127.0.0.1", "::1"}) {
		t.Errorf("%s at %s: %v; want loopback only", s.fqdn, addr, got)
	}
	if r := ask("mallory."+s.zone+".", mdns.TypeA); r.Rcode != mdns.RcodeNameError {
		t.Errorf("an unregistered name at %s: %s, want NXDOMAIN", addr, mdns.RcodeToString[r.Rcode])
	}
}

// everyClientOverSigner serves the agent with the certificate from the
// service and has every SDK fetch credentials over https from
// the user's hostname, trusting Pebble's root as a public one.
func everyClientOverSigner(t *testing.T, s *signerService) {
	t.Helper()
	setHosts(t, s.fqdn, "127.0.0.1")
	moto := e2e.StartMoto(t)
	cfg := e2e.WriteAWSConfig(t, t.TempDir(), moto)
	a := startAgent(t, agentOptions{home: s.home, extra: []string{"AWS_SSO_AGENT_EXTRA_ROOTS=" + s.extraRoots}})
	a.mustCLI(cfg.Env(), "load", "--profile", e2e.DefaultRoleProfile.Name)
	want := e2e.DefaultRoleProfile.AssumedRoleARN()
	vars := exports(t, a.mustCLI(nil, "env", "--tls"))
	url := e2e.Getenv(vars, "AWS_CONTAINER_CREDENTIALS_FULL_URI")
	if !strings.HasPrefix(url, "https://"+s.fqdn+":") {
		t.Fatalf("env --tls URL %q, want https://%s:PORT/", url, s.fqdn)
	}
	for _, c := range e2e.Clients() {
		t.Run(c.Name, func(t *testing.T) {
			got, err := c.Run(t, e2e.MergeEnv(clientEnv(t, moto, vars), s.trustFor(c.Name)...))
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

// TestSignerEveryClient is docs/signer.md's flow on SQLite: the service
// gets its own certificate and the user's through Pebble, which validates
// DNS-01 against the service's DNS server; the agent keeps the API key,
// signs a CSR through the service, and every SDK trusts its endpoint.
func TestSignerEveryClient(t *testing.T) {
	t.Parallel() // its own zone, ports and directories
	s := startSigner(t, signerOptions{zone: "sqlite.signer.test"})
	s.checkZone(t, s.dns[0])
	out := s.signCSR(t, s.api[0])
	if !strings.Contains(out, "certificate for "+s.fqdn) {
		t.Errorf("sign-csr says %q", out)
	}
	everyClientOverSigner(t, s)

	// The service lists the certificate, and revokes it for its owner.
	env := e2e.CleanEnv(t, "AWS_SSO_AGENT_HOME="+s.home, "AWS_SSO_AGENT_EXTRA_ROOTS="+s.extraRoots)
	out, errOut, code := runCLI(t, env, "certs", "revoke", "--store", "file", "--passphrase-file", s.pass)
	if code != 0 || !strings.Contains(out, "revoked the certificate") {
		t.Errorf("certs revoke: exit %d\n%s%s", code, out, errOut)
	}
}

// TestSignerTwoInstancesOnPostgres runs two instances on one PostgreSQL
// database: the API's certificate is ordered once and shared; the agent's
// first service URL is down, so the second instance issues, and Pebble
// validates against the first instance's DNS server, which learns the
// challenge record from the database.
func TestSignerTwoInstancesOnPostgres(t *testing.T) {
	t.Parallel() // its own zone, ports, directories and cluster
	pg, err := pgtest.New()
	if errors.Is(err, pgtest.ErrNotInstalled) {
		e2e.PeerMissing(t, "%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Stop)
	db := pg.NewDatabase(t)
	s := startSigner(t, signerOptions{zone: "pg.signer.test", db: db, instances: 2})
	for _, d := range s.dns {
		s.checkZone(t, d)
	}
	if a, b := s.servedLeaf(t, 0), s.servedLeaf(t, 1); !a.Equal(b) {
		t.Errorf("the instances serve different API certificates (%s, %s): each ordered its own", a.SerialNumber, b.SerialNumber)
	}
	down := fmt.Sprintf("https://%s:%d", s.apiName, e2e.FreePort(t))
	s.signCSR(t, down, s.api[1])
	everyClientOverSigner(t, s)

	// Deleting the account revokes its certificate at Pebble, with the
	// service's ACME account from the database, before the hostname is
	// quarantined.
	leaf := s.installedLeaf(t)
	serial := leaf.SerialNumber.Text(16)
	if st := s.pebble.CertStatus(t, serial); st != "Valid" {
		t.Fatalf("Pebble says the new certificate is %q, want Valid", st)
	}
	out := s.admin(t, "", "account", "delete", signerUser, "--acme-directory", s.pebble.Directory, "--acme-ca-file", s.caFile)
	if !strings.Contains(out, "certificate "+serial+" of "+signerUser+" revoked") {
		t.Errorf("account delete: %q, want the certificate %s revoked", out, serial)
	}
	if st := s.pebble.CertStatus(t, serial); st != "Revoked" {
		t.Errorf("after account delete, Pebble says the certificate is %q, want Revoked", st)
	}
}

// installedLeaf is the certificate sign-csr installed in the agent's
// configuration.
func (s *signerService) installedLeaf(t testing.TB) *x509.Certificate {
	t.Helper()
	var data []byte
	filepath.WalkDir(s.home, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "chain.pem" && filepath.Base(filepath.Dir(path)) == "public" {
			data, _ = os.ReadFile(path)
		}
		return nil
	})
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("no certificate in the installed chain")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// loopbackClient is an HTTPS client trusting roots that connects to
// 127.0.0.1 whatever name a URL gives, and verifies the certificate for
// that name. The test process's own lookups must not go through
// /etc/hosts: Go caches that file for 5 seconds, so a name a test has
// just added there can be unknown to it (the SDK clients, separate
// processes, resolve the name for real).
func loopbackClient(roots *x509.CertPool) *http.Client {
	dial := (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			return dial(ctx, network, net.JoinHostPort("127.0.0.1", port))
		},
	}}
}

// servedLeaf is the certificate instance i's API serves.
func (s *signerService) servedLeaf(t testing.TB, i int) *x509.Certificate {
	t.Helper()
	host := strings.TrimPrefix(s.api[i], "https://")
	_, port, _ := net.SplitHostPort(host)
	conn, err := tls.Dial("tcp", "127.0.0.1:"+port, &tls.Config{RootCAs: s.pebbleT, ServerName: s.apiName})
	if err != nil {
		t.Fatalf("instance %d: %v", i, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// TestSignerRenewedByRunningAgent: with 60-second certificates from
// Pebble, the running agent renews through the service when a third of
// the lifetime is left (the service renews its own API certificate on the
// same rule), and new connections get the new certificate.
func TestSignerRenewedByRunningAgent(t *testing.T) {
	t.Parallel() // its own zone, ports and directories
	s := startSigner(t, signerOptions{zone: "renew.signer.test", validity: 60 * time.Second,
		args: []string{"--budget-hostname", "100"}}) // one renewal every 40 s
	s.signCSR(t, s.api[0])
	setHosts(t, s.fqdn, "127.0.0.1")
	config := filepath.Join(t.TempDir(), "config")
	os.WriteFile(config, []byte("[profile static]\naws_access_key_id = AKIASTATICSTATIC0001\naws_secret_access_key = s\nregion = us-east-1\n"), 0o600)
	a := startAgent(t, agentOptions{home: s.home, extra: []string{"AWS_SSO_AGENT_EXTRA_ROOTS=" + s.extraRoots},
		args: []string{"--test-renew-check-interval", "1s"}})
	a.mustCLI([]string{"AWS_CONFIG_FILE=" + config}, "load", "--profile", "static")
	vars := exports(t, a.mustCLI(nil, "env", "--tls"))
	url := e2e.Getenv(vars, "AWS_CONTAINER_CREDENTIALS_FULL_URI")
	if !strings.HasPrefix(url, "https://"+s.fqdn+":") {
		t.Fatalf("env --tls URL %q, want https://%s:PORT/", url, s.fqdn)
	}
	token, _ := os.ReadFile(e2e.Getenv(vars, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"))
	serial := func() string {
		t.Helper()
		c := loopbackClient(s.pebbleT)
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", string(token))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return resp.TLS.PeerCertificates[0].SerialNumber.String()
	}
	before := serial()
	a.proc.WaitForOutput(t, "public certificate renewed", 90*time.Second)
	if after := serial(); after == before {
		t.Errorf("a new connection still gets the old certificate (serial %s)", before)
	}
	// status shows the next renewal through the service, and no failure.
	st := a.status()
	if st["public_renew_at"] == nil || st["public_renew_error"] != nil {
		t.Errorf("status: renew at %v, error %v; want a time and no error", st["public_renew_at"], st["public_renew_error"])
	}
	if !strings.Contains(s.procs[0].Output(), `"ari_replaces":true`) {
		t.Errorf("the renewal's order did not name the certificate it replaces (ARI):\n%s", s.procs[0].Output())
	}
}
