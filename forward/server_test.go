package forward

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// The tests in hostkey_test.go, auth_test.go and keepalive_test.go talk to
// an in-process server built on x/crypto's ssh.NewServerConn, as
// x/crypto's own tests do: they need neither root nor OpenSSH, so every
// machine exercises forward's decisions. sshd_test.go repeats the
// important ones against the real OpenSSH sshd.

// testServer is an SSH server on a loopback port. It accepts the public
// keys it was told to, answers every global request (keepalive@openssh.com
// among them) with "failure" as OpenSSH's sshd does, and runs any exec
// request as a command that exits 0.
type testServer struct {
	addr string // "127.0.0.1:PORT"
	port int
	// hostKey is what the server presents: a plain key, or a host
	// certificate.
	hostKey ssh.Signer
	// clientKeyFile is an unencrypted key file the server accepts unless
	// the test calls authorize.
	clientKeyFile string

	mu         sync.Mutex
	authorized map[string]bool    // marshaled public keys
	offered    []ssh.PublicKey    // every key a client offered, in order
	accepted   chan ssh.PublicKey // the key each authenticated connection used
	keepalives int
	frozen     bool
	thaw       chan struct{} // closed at cleanup: frozen reads return
}

// startServer starts a server presenting hostKey (nil: a new ed25519 key)
// and any other host keys; a certificate host, like sshd with
// HostCertificate, also has its plain key to offer.
func startServer(t *testing.T, hostKey ssh.Signer, others ...ssh.Signer) *testServer {
	t.Helper()
	if hostKey == nil {
		hostKey, _ = newSigner(t)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{
		addr:       l.Addr().String(),
		port:       l.Addr().(*net.TCPAddr).Port,
		hostKey:    hostKey,
		authorized: map[string]bool{},
		accepted:   make(chan ssh.PublicKey, 16),
		thaw:       make(chan struct{}),
	}
	client, priv := newSigner(t)
	s.clientKeyFile = writeKeyFile(t, "id_ed25519", priv, "")
	s.authorize(client.PublicKey())

	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.offered = append(s.offered, key)
			if !s.authorized[string(key.Marshal())] {
				return nil, errors.New("key not authorized")
			}
			return &ssh.Permissions{Extensions: map[string]string{"key": string(key.Marshal())}}, nil
		},
	}
	for _, k := range append([]ssh.Signer{hostKey}, others...) {
		cfg.AddHostKey(k)
	}

	var wg sync.WaitGroup
	var connsMu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		close(s.thaw)
		connsMu.Lock()
		for _, c := range conns {
			c.Close()
		}
		connsMu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			connsMu.Lock()
			conns = append(conns, nc)
			connsMu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.serveConn(&freezableConn{Conn: nc, s: s}, cfg)
			}()
		}
	}()
	return s
}

func (s *testServer) serveConn(nc net.Conn, cfg *ssh.ServerConfig) {
	defer nc.Close()
	conn, chans, reqs, err := ssh.NewServerConn(nc, cfg)
	if err != nil {
		return // the client refused the host key, or no key was accepted
	}
	defer conn.Close()
	if k, err := ssh.ParsePublicKey([]byte(conn.Permissions.Extensions["key"])); err == nil {
		select {
		case s.accepted <- k:
		default:
		}
	}
	go func() {
		for req := range reqs {
			if req.Type == "keepalive@openssh.com" {
				s.mu.Lock()
				s.keepalives++
				s.mu.Unlock()
			}
			if req.WantReply {
				req.Reply(false, nil) // OpenSSH's sshd: unknown global request
			}
		}
	}()
	for nch := range chans {
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, chReqs, err := nch.Accept()
		if err != nil {
			continue
		}
		go func() {
			defer ch.Close()
			for req := range chReqs {
				if req.Type != "exec" {
					req.Reply(false, nil)
					continue
				}
				req.Reply(true, nil)
				status := make([]byte, 4)
				binary.BigEndian.PutUint32(status, 0)
				ch.SendRequest("exit-status", false, status)
				return
			}
		}()
	}
}

// authorize makes the server accept exactly keys.
func (s *testServer) authorize(keys ...ssh.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authorized = map[string]bool{}
	for _, k := range keys {
		s.authorized[string(k.Marshal())] = true
	}
}

// freeze makes the server stop reading from every connection, as a
// stopped sshd or a dead network would.
func (s *testServer) freeze() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frozen = true
}

func (s *testServer) isFrozen() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frozen
}

func (s *testServer) keepaliveCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keepalives
}

func (s *testServer) offeredKeys() []ssh.PublicKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ssh.PublicKey(nil), s.offered...)
}

// acceptedKey returns the key the next authenticated connection used. The
// client may see success before the server has recorded it: wait.
func (s *testServer) acceptedKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	select {
	case k := <-s.accepted:
		return k
	case <-time.After(10 * time.Second):
		t.Fatal("no connection authenticated")
		return nil
	}
}

// hostPublicKey is the plain host key, the certificate's key for a
// certificate host.
func (s *testServer) hostPublicKey() ssh.PublicKey {
	if c, ok := s.hostKey.PublicKey().(*ssh.Certificate); ok {
		return c.Key
	}
	return s.hostKey.PublicKey()
}

// knownHostsLine is the known_hosts line for the server's plain key.
func (s *testServer) knownHostsLine() string {
	return xknownhosts.Line([]string{xknownhosts.Normalize(s.addr)}, s.hostPublicKey())
}

// config is a Config for s that trusts its host key, uses its client key
// file, and asks nobody: what baseConfig is for the real sshd.
func (s *testServer) config(t *testing.T) *Config {
	t.Helper()
	kh := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, kh, s.knownHostsLine()+"\n")
	return &Config{
		Host: "127.0.0.1", HostName: "127.0.0.1", Port: s.port, User: "alice",
		IdentityFiles:         []string{s.clientKeyFile},
		UserKnownHostsFiles:   []string{kh},
		StrictHostKeyChecking: "yes",
		BatchMode:             true,
		ConnectTimeout:        20 * time.Second,
		ServerAliveCountMax:   3,
	}
}

// freezableConn stops delivering what it reads once its server is frozen.
type freezableConn struct {
	net.Conn
	s *testServer
}

func (c *freezableConn) Read(b []byte) (int, error) {
	if c.s.isFrozen() {
		<-c.s.thaw
		return 0, net.ErrClosed
	}
	n, err := c.Conn.Read(b)
	if c.s.isFrozen() {
		<-c.s.thaw // what arrived as it froze is never seen
		return 0, net.ErrClosed
	}
	return n, err
}

func newSigner(t *testing.T) (ssh.Signer, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, priv
}

// writeKeyFile writes priv as an OpenSSH private key file, encrypted when
// passphrase is set, and returns its path.
func writeKeyFile(t *testing.T, name string, priv ed25519.PrivateKey, passphrase string) string {
	t.Helper()
	var block *pem.Block
	var err error
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	writeFile(t, path, string(pem.EncodeToMemory(block)))
	return path
}

// hostCert signs key as a host certificate for principals.
func hostCert(t *testing.T, ca ssh.Signer, key ssh.Signer, principals []string, validBefore time.Time) ssh.Signer {
	t.Helper()
	cert := &ssh.Certificate{
		Key:             key.PublicKey(),
		Serial:          1,
		CertType:        ssh.HostCert,
		KeyId:           "test host",
		ValidPrincipals: principals,
		ValidAfter:      uint64(time.Now().Add(-time.Hour).Unix()),
		ValidBefore:     uint64(validBefore.Unix()),
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	cs, err := ssh.NewCertSigner(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func authorizedLine(k ssh.PublicKey) string {
	b := ssh.MarshalAuthorizedKey(k)
	return string(b[:len(b)-1])
}
