// Package fakeagent is a fake of the agent side of the aws-sso-remote
// protocol, for unit tests of package remote, the helper's CLI and
// remote/awscreds: a test CA, a TLS server answering the proof and
// credential requests, squatter variants of it, and session files. It
// records everything it receives, so tests can assert that a squatter
// never saw a token. It speaks the protocol through package wire, as the
// real agent side (package agent) does.
package fakeagent

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// CA is a test certificate authority: a P-256 root and an intermediate.
type CA struct {
	Root    *x509.Certificate
	RootPEM []byte
	inter   *x509.Certificate
	key     *ecdsa.PrivateKey // the intermediate's
}

var serial atomic.Int64

func newCert(tb testing.TB, tmpl, parent *x509.Certificate, pub, signer any) *x509.Certificate {
	tb.Helper()
	tmpl.SerialNumber = big.NewInt(serial.Add(1))
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		tb.Fatalf("fakeagent: create certificate: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("fakeagent: parse certificate: %v", err)
	}
	return c
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("fakeagent: generate key: %v", err)
	}
	return k
}

// NewCA makes a root (key discarded) and an issuing intermediate, as the
// agent's certs package does.
func NewCA(tb testing.TB) *CA {
	tb.Helper()
	rootKey, interKey := newKey(tb), newKey(tb)
	root := newCert(tb, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "fakeagent test root"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}, nil, &rootKey.PublicKey, rootKey)
	inter := newCert(tb, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "fakeagent test intermediate"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign,
	}, root, &interKey.PublicKey, rootKey)
	return &CA{
		Root:    root,
		RootPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}),
		inter:   inter,
		key:     interKey,
	}
}

// Leaf issues a server certificate for localhost, 127.0.0.1 and ::1.
func (ca *CA) Leaf(tb testing.TB) tls.Certificate {
	tb.Helper()
	k := newKey(tb)
	leaf := newCert(tb, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca.inter, &k.PublicKey, ca.key)
	return tls.Certificate{Certificate: [][]byte{leaf.Raw, ca.inter.Raw}, PrivateKey: k, Leaf: leaf}
}

// SelfSigned returns a self-signed certificate for 127.0.0.1 and
// localhost: what a squatter can make.
func SelfSigned(tb testing.TB) tls.Certificate {
	tb.Helper()
	k := newKey(tb)
	c := newCert(tb, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, nil, &k.PublicKey, k)
	return tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: k, Leaf: c}
}

// Secret returns n random bytes in base64url without padding.
func Secret(tb testing.TB, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewSessionID returns a fresh session id.
func NewSessionID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Config configures a fake server.
type Config struct {
	// SessionID and ProofKey (base64url) are what the server proves with.
	SessionID string
	ProofKey  string
	// ClaimSession is the session id the proof answer claims; "" means
	// SessionID (a liar claims another session's id).
	ClaimSession string
	// Token is the token it accepts, for the slots in Grant (nil = all).
	Token string
	Grant []string
	// Creds are the credentials per slot; a slot not here has nothing
	// loaded (404 no_credentials).
	Creds map[string]wire.Credentials
	// Cert is the server certificate; PlainHTTP serves without TLS.
	Cert      tls.Certificate
	PlainHTTP bool
	// MaxVersion caps the server's TLS version (0: TLS 1.3).
	MaxVersion uint16
}

// Request is what the server received, for assertions.
type Request struct {
	Path          string
	Authorization string
	HasAuth       bool
}

// Server is a running fake agent (or squatter).
type Server struct {
	cfg     Config
	ln      net.Listener
	srv     *http.Server
	Port    int
	revoked atomic.Bool

	mu   sync.Mutex
	reqs []Request
	raw  bytes.Buffer // every byte received, before TLS decryption
}

// Start serves cfg on 127.0.0.1:0 until the test ends.
func Start(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("fakeagent: listen: %v", err)
	}
	s := &Server{cfg: cfg, Port: ln.Addr().(*net.TCPAddr).Port}
	s.ln = &recordingListener{Listener: ln, s: s}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: nil, TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}
	s.srv.ErrorLog = discardLogger()
	if !cfg.PlainHTTP {
		tc := &tls.Config{Certificates: []tls.Certificate{cfg.Cert}, MinVersion: tls.VersionTLS12,
			MaxVersion: cfg.MaxVersion, NextProtos: []string{"http/1.1"}}
		s.ln = tls.NewListener(s.ln, tc)
	}
	go s.srv.Serve(s.ln)
	tb.Cleanup(func() { s.srv.Close() })
	return s
}

// Revoke makes the server refuse the token from now on.
func (s *Server) Revoke() { s.revoked.Store(true) }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Raw returns every byte received so far on any connection.
func (s *Server) Raw() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.raw.Bytes())
}

// SawToken reports whether token reached the server in any form: in an
// Authorization header or anywhere in the received bytes.
func (s *Server) SawToken(token string) bool {
	for _, r := range s.Requests() {
		if r.HasAuth || strings.Contains(r.Authorization, token) {
			return true
		}
	}
	return bytes.Contains(s.Raw(), []byte(token))
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth, hasAuth := r.Header["Authorization"]
	req := Request{Path: r.URL.RequestURI(), HasAuth: hasAuth}
	if hasAuth {
		req.Authorization = auth[0]
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	s.mu.Unlock()

	fail := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
	}
	if h, _, _ := net.SplitHostPort(r.Host); h != "127.0.0.1" {
		fail(http.StatusForbidden, "host_forbidden", "bad host")
		return
	}
	if r.URL.Path == wire.ProofPath {
		if r.TLS == nil || hasAuth {
			fail(http.StatusNotFound, "not_found", "no proof here")
			return
		}
		nonce, err := wire.ParseProofNonce(r.URL.Query().Get("nonce"))
		if err != nil {
			fail(http.StatusBadRequest, "bad_nonce", "bad nonce")
			return
		}
		key, _ := base64.RawURLEncoding.DecodeString(s.cfg.ProofKey)
		mac, err := wire.Proof(r.TLS, key, s.cfg.SessionID, nonce)
		if err != nil {
			fail(http.StatusInternalServerError, "proof_error", err.Error())
			return
		}
		claim := s.cfg.ClaimSession
		if claim == "" {
			claim = s.cfg.SessionID
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(wire.ProofAnswer{Session: claim, Proof: mac}.Marshal())
		return
	}
	slot, ok := "", r.URL.EscapedPath() == "/"
	if rest, found := strings.CutPrefix(r.URL.EscapedPath(), "/slot/"); found {
		slot, _ = url.PathUnescape(rest)
		ok = slot != ""
	}
	if !ok {
		fail(http.StatusNotFound, "not_found", "unknown path")
		return
	}
	tok := strings.TrimPrefix(req.Authorization, "Bearer ")
	if s.cfg.Token == "" || tok != s.cfg.Token || s.revoked.Load() {
		fail(http.StatusUnauthorized, "invalid_token", "the token is not valid here")
		return
	}
	if s.cfg.Grant != nil && !contains(s.cfg.Grant, slot) {
		fail(http.StatusForbidden, "slot_not_granted", "slot not granted")
		return
	}
	c, ok := s.cfg.Creds[slot]
	if !ok {
		fail(http.StatusNotFound, "no_credentials", "nothing is loaded in slot "+wire.QuotedSlotName(slot))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(wire.AppendCredentials(nil, &c))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type recordingListener struct {
	net.Listener
	s *Server
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: c, s: l.s}, nil
}

type recordingConn struct {
	net.Conn
	s *Server
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.s.mu.Lock()
	c.s.raw.Write(p[:n])
	c.s.mu.Unlock()
	return n, err
}

// Session is a session file (wire.Session) for a fake agent's port.
type Session struct {
	wire.Session
}

// NewSession returns a valid session for ca on port: fresh id, token and
// proof key, the default slot and "dev", sshd_pid the parent of this
// process (so it is alive and an ancestor).
func NewSession(tb testing.TB, ca *CA, port int) Session {
	key := make([]byte, wire.ProofKeySize)
	rand.Read(key)
	return Session{wire.Session{
		ID:       NewSessionID(),
		Port:     port,
		Token:    Secret(tb, wire.TokenSize),
		ProofKey: key,
		CA:       ca.Root,
		CAPEM:    ca.RootPEM,
		Slots:    []string{"", "dev"},
		SSHDPID:  os.Getppid(),
		Host:     "workstation.example",
		Created:  time.Now().UTC().Truncate(time.Second),
	}}
}

// Config returns the server configuration of the genuine agent of s.
func (s Session) Config(tb testing.TB, ca *CA, creds map[string]wire.Credentials) Config {
	return Config{SessionID: s.ID, ProofKey: base64.RawURLEncoding.EncodeToString(s.ProofKey), Token: s.Token,
		Grant: s.Slots, Creds: creds, Cert: ca.Leaf(tb)}
}

// Write writes s under root (the helper's directory, like
// $HOME/.aws-sso-agent) as the agent does: 0700 directories, 0600 file.
// It returns the session's directory.
func (s Session) Write(tb testing.TB, root string) string {
	tb.Helper()
	sessions := filepath.Join(root, filepath.Base(wire.SessionsDir))
	dir := filepath.Join(sessions, s.ID)
	for _, d := range []string{root, sessions, dir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			tb.Fatal(err)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			tb.Fatal(err)
		}
	}
	b, err := s.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, wire.SessionFileName), b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// TestCredentials are credentials for a fake agent to serve: a secret with
// characters JSON and shells must keep intact, and an expiry in UTC.
var TestCredentials = wire.Credentials{
	AccessKeyID:     "ASIAFAKEFAKEFAKE",
	SecretAccessKey: "secret/with+chars",
	SessionToken:    "session-token",
	Expires:         time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
	AccountID:       "123456789012",
	RoleARN:         "arn:aws:iam::123456789012:role/dev",
}
