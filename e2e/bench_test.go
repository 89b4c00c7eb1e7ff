package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/internal/sshd"
)

// Benchmarks of the whole product against OpenSSH and its baseline, each
// in the same run (the machine is shared and noisy: only ratios mean
// something). Run with `make bench`.

// procMemory reads a field of a process's /proc status in bytes: VmRSS
// (resident set) or RssAnon (its private part; the rest is the binary's
// pages, shared with the page cache).
func procMemory(b *testing.B, pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	m := regexp.MustCompile(field + `:\s+(\d+) kB`).FindSubmatch(data)
	if m == nil {
		b.Fatalf("no %s", field)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb * 1024
}

// BenchmarkAgentMemory reports the idle agent's RSS (target: at most
// 20 MB) and what each live SSH session adds (target: under 1 MB). A
// session here is what an `aws-sso-agent ssh` costs the agent: its
// registry entry, token, channel and the held control connection.
func BenchmarkAgentMemory(b *testing.B) {
	home := b.TempDir()
	env := e2e.MergeEnv([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}, "AWS_SSO_AGENT_HOME="+home)
	pass := home + "/pass"
	os.WriteFile(pass, []byte("bench passphrase"), 0o600)
	p := e2e.StartProcess(b, env, agentBin, "serve", "--port", "0", "--store", "file", "--passphrase-file", pass)
	p.WaitForOutput(b, "serving credentials", 30*time.Second)
	time.Sleep(500 * time.Millisecond)
	idle := procMemory(b, p.PID(), "VmRSS")
	idleAnon := procMemory(b, p.PID(), "RssAnon")

	ctl := agent.ControlClient{Path: home + "/run/control.sock"}
	const sessions = 200
	var handles []*agent.SessionHandle
	for i := range sessions {
		h, err := ctl.OpenSession(context.Background(), fmt.Sprintf("bench@host-%d", i), nil)
		if err != nil {
			b.Fatal(err)
		}
		handles = append(handles, h)
	}
	time.Sleep(500 * time.Millisecond)
	busy := procMemory(b, p.PID(), "VmRSS")
	for _, h := range handles {
		h.Close()
	}
	b.ReportMetric(float64(idle)/(1<<20), "idle-RSS-MB")
	b.ReportMetric(float64(idleAnon)/(1<<20), "idle-anon-MB")
	b.ReportMetric(float64(busy-idle)/sessions/1024, "KB/session")
}

// BenchmarkAgentMemoryKeyring measures the case the memory target names:
// the idle agent's RSS with the keyring store (a real Secret Service,
// scripts/with-secret-service) and two slots loaded, each served over
// TLS a few times (target: at most 20 MB). Beside it, in the same run, a
// bare net/http TLS server (testdata/tlsbaseline) served the same number
// of requests: the ratio is the agent's cost over any Go HTTPS server.
func BenchmarkAgentMemoryKeyring(b *testing.B) {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		e2e.PeerMissing(b, "no Secret Service: run under scripts/with-secret-service")
	}
	moto := e2e.StartMoto(b)
	dev := e2e.RoleProfile{Name: "dev", Role: "dev-role", Session: "dev-session"}
	ops := e2e.RoleProfile{Name: "ops", Role: "ops-role", Session: "ops-session"}
	cfg := e2e.WriteAWSConfig(b, b.TempDir(), moto, dev, ops)

	// The session's keyring is shared by the run: start from none of the
	// agent's keys, and leave none.
	clearAgentKeyring(b)
	b.Cleanup(func() { clearAgentKeyring(b) })
	a := startAgent(b, agentOptions{store: "keyring"})
	a.mustCLI(cfg.Env(), "load", "--profile", "dev")
	a.mustCLI(cfg.Env(), "load", "--profile", "ops", "--slot=operations")
	for _, slot := range [][]string{nil, {"--slot", "operations"}} {
		vars := exports(b, a.mustCLI(nil, append([]string{"env", "--tls"}, slot...)...))
		token, err := os.ReadFile(e2e.Getenv(vars, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"))
		if err != nil {
			b.Fatal(err)
		}
		getTLS(b, e2e.Getenv(vars, "AWS_CONTAINER_CREDENTIALS_FULL_URI"), e2e.Getenv(vars, "SSL_CERT_FILE"), string(token), "AccessKeyId")
	}

	base := startTLSBaseline(b)
	for range 2 { // as many requests as the agent served
		getTLS(b, base.url, base.certFile, "", `"ok"`)
	}

	// Both idle for the same time, then read together.
	time.Sleep(time.Second)
	agentRSS, agentAnon := procMemory(b, a.proc.PID(), "VmRSS"), procMemory(b, a.proc.PID(), "RssAnon")
	baseRSS, baseAnon := procMemory(b, base.proc.PID(), "VmRSS"), procMemory(b, base.proc.PID(), "RssAnon")
	b.ReportMetric(float64(agentRSS)/(1<<20), "idle-RSS-MB")
	b.ReportMetric(float64(agentAnon)/(1<<20), "idle-anon-MB")
	b.ReportMetric(float64(baseRSS)/(1<<20), "baseline-RSS-MB")
	b.ReportMetric(float64(baseAnon)/(1<<20), "baseline-anon-MB")
	b.ReportMetric(float64(agentRSS)/float64(baseRSS), "ratio")
	b.ReportMetric(float64(agentAnon)/float64(baseAnon), "anon-ratio")
}

// requestsPerServer is how many credential requests each server answers
// before it is measured idle: enough to have run every path once and
// grown its pools, as a client's first calls do.
const requestsPerServer = 5

// getTLS makes requestsPerServer GETs of url on new connections, trusting
// only the CA in caFile, and fails unless each is a 200 whose body holds
// want. It closes its connections: the server is idle afterwards.
func getTLS(b *testing.B, url, caFile, token, want string) {
	b.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		b.Fatalf("no certificate in %s", caFile)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	for range requestsPerServer {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			b.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", token)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			b.Fatalf("GET %s: %d %.200s", url, resp.StatusCode, body)
		}
	}
}

// tlsBaseline is a running testdata/tlsbaseline.
type tlsBaseline struct {
	proc     *e2e.Process
	url      string
	certFile string
}

// startTLSBaseline builds testdata/tlsbaseline as the agent is built
// (static, stripped: TestMain) and starts it.
func startTLSBaseline(b *testing.B) *tlsBaseline {
	dir := b.TempDir()
	bin := filepath.Join(dir, "tlsbaseline")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./testdata/tlsbaseline")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build tlsbaseline: %v\n%s", err, out)
	}
	certFile := filepath.Join(dir, "cert.pem")
	p := e2e.StartProcess(b, e2e.CleanEnv(b), bin, certFile)
	line := p.WaitForOutput(b, "listening on ", 10*time.Second)
	_, addr, _ := strings.Cut(line, "listening on ")
	return &tlsBaseline{proc: p, url: "https://" + strings.TrimSpace(addr) + "/", certFile: certFile}
}

// benchRemote starts what the SSH benchmarks share.
func benchRemote(b *testing.B) (*remoteHost, []string) {
	sshd.Require(b)
	r := startRemote(b, sshd.Options{})
	// OpenSSH's own client with the same settings.
	openssh := []string{"-F", r.sshConfig, "-p", strconv.Itoa(r.sshd.Port), r.sshd.User + "@127.0.0.1"}
	return r, openssh
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkSSHTrue compares `aws-sso-agent ssh host -- true` with OpenSSH's
// `ssh host true`, alternating runs (target: at most 0.8x). Ours also
// opens an agent session, forwards a port and installs the session file.
func BenchmarkSSHTrue(b *testing.B) {
	r, openssh := benchRemote(b)
	var ours, theirs []time.Duration
	for i := 0; i < max(b.N, 5); i++ {
		start := time.Now()
		if _, errOut, code := r.agent.cli(nil, append(r.sshArgs(), "--", "true")...); code != 0 {
			b.Fatalf("aws-sso-agent ssh: exit %d %s", code, errOut)
		}
		ours = append(ours, time.Since(start))
		start = time.Now()
		if out, err := exec.Command("ssh", append(openssh, "true")...).CombinedOutput(); err != nil {
			b.Fatalf("ssh: %v %s", err, out)
		}
		theirs = append(theirs, time.Since(start))
	}
	b.ReportMetric(float64(median(ours).Microseconds())/1000, "ours-ms")
	b.ReportMetric(float64(median(theirs).Microseconds())/1000, "openssh-ms")
	b.ReportMetric(float64(median(ours))/float64(median(theirs)), "ratio")
}

// BenchmarkForwardedGET compares a new connection plus a credentials GET
// through our forward with the same through `ssh -N -R` to the agent's
// port (target p50: at most 1.0x).
func BenchmarkForwardedGET(b *testing.B) {
	r, openssh := benchRemote(b)
	st := r.agent.status()
	agentAddr := strings.TrimPrefix(strings.TrimSuffix(st["url"].(string), "/"), "http://")
	localToken, _ := os.ReadFile(st["token_file"].(string))

	// OpenSSH: ssh -N -R 0:AGENT, which prints the port it was given.
	cmd := exec.Command("ssh", append([]string{"-N", "-o", "ExitOnForwardFailure=yes", "-R", "127.0.0.1:0:" + agentAddr}, openssh...)...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(stderr).ReadString('\n')
	m := regexp.MustCompile(`Allocated port (\d+)`).FindStringSubmatch(line)
	if m == nil {
		b.Fatalf("ssh -R said %q", line)
	}
	opensshPort := m[1]

	// Ours: forward, then the session's port and token from its file.
	fwd := e2e.StartProcess(b, r.agent.env, agentBin, append([]string{"forward"}, r.sshArgs()[1:]...)...)
	fwd.WaitForOutput(b, "forward: connected", 20*time.Second)
	res := e2e.RunAs(b, r.sshd.User, nil, "sh", "-c", "cat ~/.aws-sso-agent/sessions/*/session.json")
	var f struct {
		Port  int
		Token string
	}
	if err := json.Unmarshal([]byte(res.Stdout), &f); err != nil {
		b.Fatalf("session file: %v %q", err, res.Stdout)
	}

	getOnce := func(port string, token string) time.Duration {
		start := time.Now()
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nAuthorization: %s\r\nConnection: close\r\n\r\n", port, token)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			b.Fatalf("GET through port %s: %d", port, resp.StatusCode)
		}
		return time.Since(start)
	}
	for range 20 { // warm up both paths
		getOnce(strconv.Itoa(f.Port), f.Token)
		getOnce(opensshPort, string(localToken))
	}
	// Each client is its own process, so the CPU time it spends is its
	// own even though the two alternate: on this shared machine that is
	// the steadier figure, and CPU the client burns is CPU sshd and the
	// agent wait for.
	oursCPU0, theirCPU0 := procCPU(b, fwd.PID()), procCPU(b, cmd.Process.Pid)
	n := max(b.N, 1000)
	var ours, theirs []time.Duration
	for range n {
		ours = append(ours, getOnce(strconv.Itoa(f.Port), f.Token))
		theirs = append(theirs, getOnce(opensshPort, string(localToken)))
	}
	oursCPU := (procCPU(b, fwd.PID()) - oursCPU0) / time.Duration(n)
	theirCPU := (procCPU(b, cmd.Process.Pid) - theirCPU0) / time.Duration(n)
	b.ReportMetric(float64(median(ours).Microseconds()), "ours-p50-us")
	b.ReportMetric(float64(median(theirs).Microseconds()), "openssh-p50-us")
	b.ReportMetric(float64(median(ours))/float64(median(theirs)), "ratio")
	b.ReportMetric(float64(oursCPU.Microseconds()), "ours-cpu-us")
	b.ReportMetric(float64(theirCPU.Microseconds()), "openssh-cpu-us")
	b.ReportMetric(float64(oursCPU)/float64(theirCPU), "cpu-ratio")
}

// procCPU is e2e.ProcCPU, or the end of the benchmark.
func procCPU(b *testing.B, pid int) time.Duration {
	d, err := e2e.ProcCPU(pid)
	if err != nil {
		b.Skip(err)
	}
	return d
}

// BenchmarkRemoteEnv times `aws-sso-remote env` on the remote host: session
// discovery, pinned TLS through the forward, the proof and the token check
// (target: a median of at most 20 ms).
func BenchmarkRemoteEnv(b *testing.B) {
	r, _ := benchRemote(b)
	fwd := e2e.StartProcess(b, r.agent.env, agentBin, append([]string{"forward"}, r.sshArgs()[1:]...)...)
	fwd.WaitForOutput(b, "forward: connected", 20*time.Second)
	var times []time.Duration
	for i := 0; i < max(b.N, 20); i++ {
		start := time.Now()
		res := e2e.RunAs(b, r.sshd.User, nil, r.remoteBin, "env")
		times = append(times, time.Since(start))
		if res.Code != 0 {
			b.Fatalf("env: exit %d %s", res.Code, res.Stderr)
		}
	}
	b.ReportMetric(float64(median(times).Microseconds())/1000, "median-ms")
}
