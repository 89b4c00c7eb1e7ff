// Package sshd starts a real OpenSSH sshd and ssh-agent for tests.
//
// Each Server is its own sshd on 127.0.0.1 at a free port with its own
// config, host key, authorized key and log, accepting one throwaway local
// user. It exists so the SSH client in forward/ (and the end-to-end tests)
// are checked against the peer users actually run, not against an in-process
// fake that shares our assumptions.
//
// The harness needs root (to create the user and to start sshd). When sshd
// or root is missing, Start skips the test with the reason, unless
// AWS_SSO_AGENT_REQUIRE_PEERS=1, when it fails it (CI must not silently skip).
package sshd

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
)

// SSHDPath is where Debian's openssh-server installs sshd; sshd refuses to
// start unless given by an absolute path (it re-executes itself).
const SSHDPath = "/usr/sbin/sshd"

// DefaultUser is the throwaway account the harness logs in as.
const DefaultUser = "ssotest"

// Options tune one Server. The zero value is a working server.
type Options struct {
	// User is the account allowed to log in; created with useradd when
	// missing. Default DefaultUser.
	User string
	// Config lines put BEFORE the generated defaults, because in
	// sshd_config the first value of a keyword wins
	// (e.g. "AllowTcpForwarding no", "PasswordAuthentication yes").
	Config []string
	// Match blocks appended at the end (a Match runs to the end of file).
	Match []string
	// HostCertCA, when set, is a private key file used with `ssh-keygen -s`
	// to sign the host key; the certificate is served with HostCertificate.
	HostCertCA string
	// AuthorizedKeys are extra authorized_keys lines (with options, if any).
	AuthorizedKeys []string
	// Password, when set, becomes User's password (through chpasswd's
	// stdin, never argv) and enables PasswordAuthentication. Use a User of
	// its own: the account is shared by every server that names it.
	Password string
}

// Server is a running sshd.
type Server struct {
	Addr string // "127.0.0.1:PORT"
	Port int
	User string
	Dir  string // 0755 directory holding config, keys and log

	HostKey     ssh.PublicKey // the server's plain host key
	HostKeyFile string        // its private key file
	HostCert    *ssh.Certificate

	// ClientKeyFile is an unencrypted ed25519 private key in the user's
	// authorized_keys; ClientKey is its signer.
	ClientKeyFile string
	ClientKey     ssh.Signer

	logPath  string
	confPath string
	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
}

// Require skips the test (or fails it: e2e.PeerMissing)
// unless a real sshd can be started here.
func Require(t testing.TB) {
	t.Helper()
	reason := ""
	if _, err := os.Stat(SSHDPath); err != nil {
		reason = "openssh-server is not installed (" + SSHDPath + " missing; apt-get install -y openssh-server)"
	} else if os.Geteuid() != 0 {
		reason = "the sshd harness needs root to create its user and start sshd"
	} else if _, err := exec.LookPath("ssh-keygen"); err != nil {
		reason = "ssh-keygen is not installed (openssh-client)"
	}
	if reason != "" {
		e2e.PeerMissing(t, "sshd: %s", reason)
	}
}

// Start starts sshd and stops it when the test ends. It returns once sshd
// logged "Server listening on", so the port accepts connections.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	Require(t)
	if opts.User == "" {
		opts.User = DefaultUser
	}
	ensureUser(t, opts.User)
	if opts.Password != "" {
		cmd := exec.Command("chpasswd")
		cmd.Stdin = strings.NewReader(opts.User + ":" + opts.Password + "\n")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sshd: chpasswd %s: %v: %s", opts.User, err, b)
		}
		opts.Config = append([]string{"PasswordAuthentication yes"}, opts.Config...)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // privilege separation dir, or sshd refuses to start
		t.Fatalf("sshd: create /run/sshd: %v", err)
	}

	dir, err := os.MkdirTemp("", "sshd-harness-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// sshd reads authorized_keys as the target user: the directory must be
	// traversable by it (t.TempDir is 0700).
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	s := &Server{User: opts.User, Dir: dir, logPath: filepath.Join(dir, "sshd.log")}
	s.HostKeyFile = filepath.Join(dir, "host_ed25519")
	s.HostKey = GenerateKey(t, s.HostKeyFile, "")
	s.ClientKeyFile = filepath.Join(dir, "client_ed25519")
	s.ClientKey = LoadKey(t, s.ClientKeyFile)

	authorized := []string{strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.ClientKey.PublicKey())))}
	authorized = append(authorized, opts.AuthorizedKeys...)
	authPath := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authPath, []byte(strings.Join(authorized, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	var hostCertLine string
	if opts.HostCertCA != "" {
		// ssh-keygen -s signs host_ed25519.pub into host_ed25519-cert.pub.
		// Principal 127.0.0.1: the name the client checks known_hosts with.
		run(t, "ssh-keygen", "-q", "-s", opts.HostCertCA, "-I", "harness-host", "-h", "-n", "127.0.0.1,localhost", "-V", "-5m:+1h", s.HostKeyFile+".pub")
		certPath := s.HostKeyFile + "-cert.pub"
		b, err := os.ReadFile(certPath)
		if err != nil {
			t.Fatal(err)
		}
		pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
		if err != nil {
			t.Fatalf("sshd: parse host cert: %v", err)
		}
		s.HostCert = pub.(*ssh.Certificate)
		hostCertLine = "HostCertificate " + certPath
	}

	// Retry on a port race: FreePort closes its listener before sshd binds.
	for attempt := 0; ; attempt++ {
		s.Port = e2e.FreePort(t)
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
		conf := append([]string(nil), opts.Config...)
		conf = append(conf,
			"ListenAddress 127.0.0.1",
			"Port "+strconv.Itoa(s.Port),
			"HostKey "+s.HostKeyFile,
			"PidFile "+filepath.Join(dir, "sshd.pid"),
			"AuthorizedKeysFile "+authPath,
			"StrictModes no",
			"UsePAM no",
			"PasswordAuthentication no",
			"KbdInteractiveAuthentication no",
			"AllowUsers "+opts.User,
			"AllowTcpForwarding yes",
			"AllowStreamLocalForwarding yes",
			"LogLevel VERBOSE",
		)
		if hostCertLine != "" {
			conf = append(conf, hostCertLine)
		}
		conf = append(conf, opts.Match...)
		s.confPath = filepath.Join(dir, "sshd_config")
		if err := os.WriteFile(s.confPath, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if s.launch(t) {
			t.Cleanup(func() {
				s.Stop()
				if t.Failed() {
					t.Logf("sshd log (%s):\n%s", s.Addr, s.Log())
				}
			})
			return s
		}
		if attempt < 3 && strings.Contains(s.Log(), "Address already in use") {
			continue
		}
		t.Fatalf("sshd: did not start listening; log:\n%s", s.Log())
	}
}

// launch starts sshd with s.confPath, appending to the log, and reports
// whether it came to listen.
func (s *Server) launch(t testing.TB) bool {
	t.Helper()
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	offset := len(s.Log())
	// -D: stay in the foreground so we own the PID; -e: log to stderr.
	cmd := exec.Command(SSHDPath, "-D", "-e", "-f", s.confPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("sshd: start: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	if s.waitListening(exited, offset, 10*time.Second) {
		return true
	}
	cmd.Process.Kill()
	<-exited
	return false
}

// Stop ends the listening sshd and every connection it serves (SIGTERM
// to the listener leaves per-connection processes running, as on a real
// host; tests of reconnection want them gone too).
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	for _, pid := range s.SessionPIDs() {
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}

// Restart stops sshd and starts it again on the same port, with the same
// host key and config (a server reboot, as seen by a client).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if !s.launch(t) {
		t.Fatalf("sshd: did not listen again after restart; log:\n%s", s.Log())
	}
}

func (s *Server) waitListening(exited <-chan struct{}, offset int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if l := s.Log(); len(l) > offset && strings.Contains(l[offset:], "Server listening on") {
			return true
		}
		select {
		case <-exited:
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}

// Log returns sshd's log so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// WaitLog waits until the log contains substr and reports whether it did.
func (s *Server) WaitLog(substr string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if strings.Contains(s.Log(), substr) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// PID is the listening sshd's process id.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd.Process.Pid
}

// SessionPIDs (Linux: it walks /proc) returns the processes serving connections: the descendants
// of the listening sshd (the per-connection monitor and its unprivileged
// child). Stopping them freezes the sessions without touching the listener.
func (s *Server) SessionPIDs() []int {
	return descendants(s.PID())
}

// descendants walks /proc (Linux only, like the harness).
func descendants(root int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the ")" closing the command name: state ppid ...
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// GenerateKey writes a new ed25519 private key in OpenSSH format to path
// (encrypted with passphrase unless it is empty) and path.pub, and returns
// the public key.
func GenerateKey(t testing.TB, path, passphrase string) ssh.PublicKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
		t.Fatal(err)
	}
	return signer.PublicKey()
}

// LoadKey generates an unencrypted key at path and returns its signer.
func LoadKey(t testing.TB, path string) ssh.Signer {
	t.Helper()
	GenerateKey(t, path, "")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// StartAgent starts `ssh-agent -a SOCK`, adds the given key files with
// ssh-add, and returns the socket path. The agent is killed by PID when
// the test ends.
func StartAgent(t testing.TB, keyFiles ...string) string {
	t.Helper()
	if _, err := exec.LookPath("ssh-agent"); err != nil {
		e2e.PeerMissing(t, "sshd: ssh-agent is not installed (openssh-client)")
	}
	dir, err := os.MkdirTemp("", "ssh-agent-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "agent.sock")
	// -D: foreground, so the PID we hold is the agent's own.
	cmd := exec.Command("ssh-agent", "-D", "-a", sock)
	var out e2e.LockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("sshd: start ssh-agent: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd: ssh-agent did not open %s: %s", sock, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, k := range keyFiles {
		c := exec.Command("ssh-add", k)
		c.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
		if b, err := c.CombinedOutput(); err != nil {
			t.Fatalf("sshd: ssh-add %s: %v: %s", k, err, b)
		}
	}
	return sock
}

var userMu sync.Mutex

// ensureUser creates the throwaway account (home, /bin/sh) when missing
// and unlocks its password field: with UsePAM no, sshd refuses accounts
// whose password is locked ("!"), even for key authentication.
func ensureUser(t testing.TB, name string) {
	t.Helper()
	userMu.Lock()
	defer userMu.Unlock()
	if _, err := user.Lookup(name); err != nil {
		// Another test binary may be creating it at the same time:
		// useradd then fails on its lock; look again before failing.
		for attempt := 0; ; attempt++ {
			b, err := exec.Command("useradd", "-m", "-s", "/bin/sh", name).CombinedOutput()
			if err == nil {
				break
			}
			if _, lerr := user.Lookup(name); lerr == nil {
				break
			}
			if attempt >= 5 {
				t.Fatalf("sshd: useradd %s: %v: %s", name, err, b)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if b, err := exec.Command("usermod", "-p", "*", name).CombinedOutput(); err != nil {
		t.Fatalf("sshd: usermod -p '*' %s: %v: %s", name, err, b)
	}
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if b, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("sshd: %s %s: %v: %s", name, strings.Join(args, " "), err, b)
	}
}

// KnownHostsLine returns a known_hosts line for this server's plain host
// key under the name OpenSSH uses for a non-default port: [127.0.0.1]:PORT.
func (s *Server) KnownHostsLine() string {
	return fmt.Sprintf("[127.0.0.1]:%d %s", s.Port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey))))
}

// Run runs the system ssh client against the server (for comparisons and
// for checking the harness itself) and returns its combined output.
func (s *Server) Run(t testing.TB, identity string, args ...string) (string, error) {
	t.Helper()
	base := []string{"-F", "/dev/null", "-i", identity, "-p", strconv.Itoa(s.Port),
		"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", s.User + "@127.0.0.1"}
	b, err := exec.Command("ssh", append(base, args...)...).CombinedOutput()
	return string(b), err
}
