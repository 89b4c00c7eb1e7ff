package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/acmetest"
	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/internal/sshd"
)

// hostsMu serialises edits of /etc/hosts within this test process.
var hostsMu sync.Mutex

// setHosts points name at addr in /etc/hosts until the test ends, then
// puts back the lines for name it had. Both edits touch only name's
// lines of the file as it is then: test processes running at the same
// time (other packages, other checkouts) edit it for names of their own,
// and restoring a whole earlier copy would undo theirs or resurrect ours.
func setHosts(t testing.TB, name, addr string) {
	t.Helper()
	if os.Getuid() != 0 {
		e2e.PeerMissing(t, "editing /etc/hosts needs root")
	}
	var old []string
	editHosts(t, name, func(lines []string) []string {
		old = lines
		return []string{addr + " " + name}
	})
	t.Cleanup(func() {
		editHosts(t, name, func([]string) []string { return old })
	})
}

// editHosts replaces the lines of /etc/hosts for name with what edit
// returns, given the current ones.
func editHosts(t testing.TB, name string, edit func(lines []string) []string) {
	t.Helper()
	hostsMu.Lock()
	defer hostsMu.Unlock()
	data, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Fatal(err)
	}
	var kept, mine []string
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if strings.HasSuffix(strings.TrimSpace(line), " "+name) {
			mine = append(mine, line)
		} else {
			kept = append(kept, line)
		}
	}
	kept = append(kept, edit(mine)...)
	if err := os.WriteFile("/etc/hosts", []byte(strings.Join(kept, "\n")+"\n"), 0o644); err != nil {
		t.Errorf("edit /etc/hosts: %v", err)
	}
}

// publicPeers is a certificate from a real ACME server (Pebble) for a name
// under a zone served by a real authoritative DNS server (Knot), made
// "public" to each test client only: Pebble's root is added to that
// client's trust (SSL_CERT_FILE for Go, NODE_EXTRA_CA_CERTS for Node, a
// copy of certifi for botocore, which ignores every other setting for
// this endpoint). Nothing of the machine's own trust changes.
type publicPeers struct {
	home       string
	extraRoots string // Pebble's HTTPS certificate and root: the CLI's test hook
	rootPEM    []byte
	goBundle   string // system roots + Pebble's root
	nodeRoot   string
	pyPath     string // a certifi whose bundle holds Pebble's root

	knot   *acmetest.Knot
	pebble *acmetest.Pebble
	secret string // the TSIG secret's file
	pass   string // the file store's passphrase file
}

func issuePublicCert(t *testing.T) *publicPeers {
	t.Helper()
	return issuePublicCertValid(t, 90*24*time.Hour)
}

// issuePublicCertValid is issuePublicCert with certificates valid for
// validity, from this and every later order.
func issuePublicCertValid(t *testing.T, validity time.Duration) *publicPeers {
	t.Helper()
	p := startPublicPeers(t, validity)
	p.acme(t)
	return p
}

// startPublicPeers starts Knot and Pebble (certificates valid for
// validity) and prepares each client's trust, with no certificate yet.
func startPublicPeers(t *testing.T, validity time.Duration) *publicPeers {
	t.Helper()
	p := &publicPeers{home: t.TempDir()}
	p.knot = acmetest.StartKnot(t)
	p.pebble = acmetest.StartPebbleValidity(t, p.knot.Addr, validity)
	p.trustPebble(t)

	p.secret = filepath.Join(p.home, "tsig.secret")
	os.WriteFile(p.secret, []byte(p.knot.TSIGSecret), 0o600)
	p.pass = filepath.Join(p.home, "passphrase")
	os.WriteFile(p.pass, []byte("correct horse battery staple"), 0o600)
	return p
}

// trustPebble prepares each client's trust in p.pebble's root, and the
// CLI's (extraRoots).
func (p *publicPeers) trustPebble(t testing.TB) {
	t.Helper()
	// A directory of this test's own (every user can read it, for the
	// remote tests' throwaway user): tests running in parallel each
	// trust their own Pebble.
	shared, err := os.MkdirTemp(e2e.SharedDir(t), "pebble-trust-")
	if err == nil {
		err = os.Chmod(shared, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	p.rootPEM = p.pebble.RootPEM(t)
	p.extraRoots = filepath.Join(p.home, "extra-roots.pem")
	os.WriteFile(p.extraRoots, append(append([]byte{}, p.pebble.TLSCert...), p.rootPEM...), 0o600)
	system, _ := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	p.goBundle = filepath.Join(shared, "go-bundle.pem")
	os.WriteFile(p.goBundle, append(append(system, '\n'), p.rootPEM...), 0o644)
	p.nodeRoot = filepath.Join(shared, "pebble-root.pem")
	os.WriteFile(p.nodeRoot, p.rootPEM, 0o644)
	p.pyPath = patchedCertifi(t, shared, p.rootPEM)
}

// acme runs `certs acme` for acmetest.FQDN and returns its stderr. The
// name resolves to 127.0.0.1 while it runs, or `certs acme` refuses it.
func (p *publicPeers) acme(t *testing.T) string {
	t.Helper()
	setHosts(t, acmetest.FQDN, "127.0.0.1")
	env := e2e.CleanEnv(t, "AWS_SSO_AGENT_HOME="+p.home, "AWS_SSO_AGENT_EXTRA_ROOTS="+p.extraRoots)
	out, errOut, code := runCLI(t, env, "certs", "acme", "--fqdn", acmetest.FQDN, "--dns", "rfc2136",
		"--directory", p.pebble.Directory, "--rfc2136-nameserver", p.knot.Addr,
		"--rfc2136-tsig-key", acmetest.TSIGKeyName, "--rfc2136-tsig-secret-file", p.secret,
		"--check-nameserver", p.knot.Addr, "--store", "file", "--passphrase-file", p.pass)
	if code != 0 {
		t.Fatalf("certs acme: exit %d\n%s%s", code, out, errOut)
	}
	return errOut
}

// patchedCertifi copies certifi with Pebble's root appended to its bundle,
// for PYTHONPATH: botocore's container provider verifies with certifi's
// bundle and nothing else.
func patchedCertifi(t testing.TB, dir string, root []byte) string {
	t.Helper()
	out, err := exec.Command("python3", "-c", "import certifi, os; print(os.path.dirname(certifi.__file__))").Output()
	if err != nil {
		e2e.PeerMissing(t, "no certifi for botocore: %v", err)
	}
	dst := filepath.Join(dir, "pycertifi")
	os.RemoveAll(dst)
	os.MkdirAll(dst, 0o755)
	if out, err := exec.Command("cp", "-R", strings.TrimSpace(string(out)), dst+"/").CombinedOutput(); err != nil {
		t.Fatalf("copy certifi: %v %s", err, out)
	}
	bundle := filepath.Join(dst, "certifi", "cacert.pem")
	b, _ := os.ReadFile(bundle)
	os.WriteFile(bundle, append(append(b, '\n'), root...), 0o644)
	exec.Command("chmod", "-R", "a+rX", dst).Run()
	return dst
}

// trustFor returns what makes Pebble's root "public" to one client.
func (p *publicPeers) trustFor(client string) []string {
	switch client {
	case "go-sdk":
		return []string{"SSL_CERT_FILE=" + p.goBundle}
	case "node-sdk":
		return []string{"NODE_EXTRA_CA_CERTS=" + p.nodeRoot}
	default: // aws-cli, boto3
		return []string{"PYTHONPATH=" + p.pyPath}
	}
}

// TestPublicCertEveryClient is docs/tls.md's ACME flow: `certs acme` gets a
// certificate for a name that resolves to 127.0.0.1, the agent serves it,
// and every SDK fetches credentials over https from the name, locally and
// on a remote host; with the name resolving elsewhere, nobody uses it.
func TestPublicCertEveryClient(t *testing.T) {
	p := issuePublicCert(t)
	setHosts(t, acmetest.FQDN, "127.0.0.1")
	moto := e2e.StartMoto(t)
	cfg := e2e.WriteAWSConfig(t, t.TempDir(), moto)
	a := startAgent(t, agentOptions{home: p.home, extra: []string{"AWS_SSO_AGENT_EXTRA_ROOTS=" + p.extraRoots}})
	a.mustCLI(cfg.Env(), "load", "--profile", e2e.DefaultRoleProfile.Name)
	want := e2e.DefaultRoleProfile.AssumedRoleARN()

	vars := exports(t, a.mustCLI(nil, "env", "--tls"))
	url := e2e.Getenv(vars, "AWS_CONTAINER_CREDENTIALS_FULL_URI")
	if !strings.HasPrefix(url, "https://"+acmetest.FQDN+":") {
		t.Fatalf("env --tls URL %q, want https://%s:PORT/", url, acmetest.FQDN)
	}
	if e2e.Getenv(vars, "SSL_CERT_FILE") != "" || e2e.Getenv(vars, "NODE_EXTRA_CA_CERTS") != "" {
		t.Errorf("env --tls exports trust variables for a public certificate: %v", vars)
	}
	for _, c := range e2e.Clients() {
		t.Run("local/"+c.Name, func(t *testing.T) {
			got, err := c.Run(t, e2e.MergeEnv(clientEnv(t, moto, vars), p.trustFor(c.Name)...))
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}

	t.Run("remote", func(t *testing.T) {
		sshd.Require(t)
		srv := sshd.Start(t, sshd.Options{})
		r := &remoteHost{agent: a, sshd: srv, moto: moto, remoteBin: e2e.SharedBinary(t, remotePkg), want: want}
		r.knownHosts, r.sshConfig = writeSSHConfig(t, srv)
		e2e.RunAs(t, srv.User, nil, "rm", "-rf", ".aws-sso-agent")
		goClient := e2e.SharedBinary(t, "github.com/aws-sso-agent/aws-sso-agent/internal/e2e/cmd/stsclient")
		python, pylib := e2e.RemotePython(t)
		// The remote host trusts Pebble's root as it would a public one.
		cmd := fmt.Sprintf(`export SSL_CERT_FILE=%s; eval "$(%s env)" && echo "URL $AWS_CONTAINER_CREDENTIALS_FULL_URI" && `+
			`AWS_ENDPOINT_URL_STS=%s AWS_REGION=%s %s && `+
			`AWS_ENDPOINT_URL_STS=%s AWS_DEFAULT_REGION=%s PYTHONPATH=%s:%s %s -m awscli sts get-caller-identity --query Arn --output text`,
			p.goBundle, r.remoteBin, moto.Endpoint, e2e.Region, goClient, moto.Endpoint, e2e.Region, p.pyPath, pylib, python)
		out, errOut, code := r.ssh(t, cmd)
		if code != 0 || !strings.Contains(out, "URL https://"+acmetest.FQDN+":") || strings.Count(out, want) != 2 {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
		}

		// Poisoned DNS on the remote host: the helper falls back to the
		// loopback URL and says why.
		setHosts(t, acmetest.FQDN, "203.0.113.9")
		out, errOut, code = r.ssh(t, fmt.Sprintf(`export SSL_CERT_FILE=%s; eval "$(%s env)" && echo "URL $AWS_CONTAINER_CREDENTIALS_FULL_URI"`, p.goBundle, r.remoteBin))
		if code != 0 || !strings.Contains(out, "URL http://127.0.0.1:") || !strings.Contains(errOut, "not using https://"+acmetest.FQDN) {
			t.Errorf("poisoned DNS on the remote: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
		}
	})

	// The name resolves elsewhere when the agent starts: it does not serve
	// it, and env --tls says why and keeps to the loopback address.
	t.Run("agent refuses a non-loopback name", func(t *testing.T) {
		setHosts(t, acmetest.FQDN, "203.0.113.9")
		a.proc.Stop()
		b := startAgent(t, agentOptions{home: p.home, extra: []string{"AWS_SSO_AGENT_EXTRA_ROOTS=" + p.extraRoots}})
		var stderr bytes.Buffer
		out, errOut, code := b.cli(nil, "env", "--tls")
		stderr.WriteString(errOut)
		if code != 0 || strings.Contains(out, acmetest.FQDN) || !strings.Contains(out, "https://127.0.0.1:") {
			t.Errorf("env --tls with poisoned DNS: exit %d\n%s", code, out)
		}
		if !strings.Contains(stderr.String(), "not using "+acmetest.FQDN) {
			t.Errorf("env --tls does not say why: %q", stderr.String())
		}
		st := b.status()
		if st["public_dns_check"] == "ok" {
			t.Errorf("status shows the DNS check passing: %v", st["public_dns_check"])
		}
	})
}

// TestPublicCertRenewedByRunningAgent: a certificate near the end of its
// life is renewed by the running agent against the ACME server, with no
// restart; a client connected before the renewal keeps working on its
// connection, and new connections get the new certificate.
func TestPublicCertRenewedByRunningAgent(t *testing.T) {
	// 60 s certificates: renewed when a third of the life is left, at
	// about 40 s.
	p := issuePublicCertValid(t, 60*time.Second)
	setHosts(t, acmetest.FQDN, "127.0.0.1")
	config := filepath.Join(t.TempDir(), "config")
	os.WriteFile(config, []byte("[profile static]\naws_access_key_id = AKIASTATICSTATIC0001\naws_secret_access_key = s\nregion = us-east-1\n"), 0o600)
	a := startAgent(t, agentOptions{home: p.home, extra: []string{"AWS_SSO_AGENT_EXTRA_ROOTS=" + p.extraRoots},
		args: []string{"--test-renew-check-interval", "1s"}})
	a.mustCLI([]string{"AWS_CONFIG_FILE=" + config}, "load", "--profile", "static")
	vars := exports(t, a.mustCLI(nil, "env", "--tls"))
	url := e2e.Getenv(vars, "AWS_CONTAINER_CREDENTIALS_FULL_URI")
	token, _ := os.ReadFile(e2e.Getenv(vars, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"))

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.rootPEM)
	newClient := func() *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	fetch := func(c *http.Client) (serial string, reused bool) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", string(token))
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
		}))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return resp.TLS.PeerCertificates[0].SerialNumber.String(), reused
	}
	early := newClient()
	before, _ := fetch(early)
	a.proc.WaitForOutput(t, "public certificate renewed", 90*time.Second)
	same, reused := fetch(early)
	if !reused || same != before {
		t.Errorf("the connection made before the renewal: reused %v, serial %s then %s", reused, before, same)
	}
	after, _ := fetch(newClient())
	if after == before {
		t.Errorf("a new connection still gets the old certificate (serial %s)", before)
	}
}

// TestCertsReachRunningAgent: what `certs acme` installs, the running
// agent serves at once, and starts renewing; telling it again with nothing
// changed keeps its renewer; what `certs delete` removes, it stops serving
// at once. No restart, no wait for its next check.
func TestCertsReachRunningAgent(t *testing.T) {
	p := startPublicPeers(t, 90*24*time.Hour)
	setHosts(t, acmetest.FQDN, "127.0.0.1")
	a := startAgent(t, agentOptions{home: p.home, extra: []string{"AWS_SSO_AGENT_EXTRA_ROOTS=" + p.extraRoots}})
	if got := e2e.Getenv(exports(t, a.mustCLI(nil, "env", "--tls")), "AWS_CONTAINER_CREDENTIALS_FULL_URI"); !strings.HasPrefix(got, "https://127.0.0.1:") {
		t.Fatalf("env --tls before any certificate: %q, want the loopback URL", got)
	}

	errOut := p.acme(t)
	if !strings.Contains(errOut, "the running agent now serves https://"+acmetest.FQDN+":") {
		t.Errorf("certs acme does not say the running agent serves the name:\n%s", errOut)
	}
	url := e2e.Getenv(exports(t, a.mustCLI(nil, "env", "--tls")), "AWS_CONTAINER_CREDENTIALS_FULL_URI")
	if !strings.HasPrefix(url, "https://"+acmetest.FQDN+":") {
		t.Fatalf("env --tls right after certs acme: %q, want https://%s:PORT/", url, acmetest.FQDN)
	}
	// The name's certificate is served: a client trusting only Pebble's
	// root gets through the TLS handshake (and a 401: no token sent).
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.rootPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s with Pebble's root: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET %s without a token: status %d, want 401", url, resp.StatusCode)
	}
	renewAt := a.status()["public_renew_at"]
	if renewAt == nil {
		t.Errorf("the running agent does not renew the new certificate: status %v", a.status())
	}
	// Telling the agent again with nothing changed keeps its renewer, and
	// so its schedule (a new one would draw a new jitter) and its backoff.
	if out, errOut, code := a.cli(nil, "certs", "fqdn", acmetest.FQDN); code != 0 || !strings.Contains(errOut, "the running agent now serves https://") {
		t.Errorf("certs fqdn, same name: exit %d\n%s%s", code, out, errOut)
	}
	if got := a.status()["public_renew_at"]; got != renewAt {
		t.Errorf("the renewer was replaced though nothing changed: next renewal %v, then %v", renewAt, got)
	}

	out, errOut, code := a.cli(nil, "certs", "delete", "--yes", "--store", "file", "--passphrase-file", p.pass)
	if code != 0 || !strings.Contains(errOut, "the running agent now serves its loopback names only") {
		t.Fatalf("certs delete: exit %d\n%s%s", code, out, errOut)
	}
	if got := e2e.Getenv(exports(t, a.mustCLI(nil, "env", "--tls")), "AWS_CONTAINER_CREDENTIALS_FULL_URI"); !strings.HasPrefix(got, "https://127.0.0.1:") {
		t.Errorf("env --tls right after certs delete: %q, want the loopback URL", got)
	}
	if st := a.status(); st["public_fqdn"] != nil || st["public_renew_at"] != nil {
		t.Errorf("status after certs delete still shows the name or its renewal: %v", st)
	}
}
