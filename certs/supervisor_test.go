package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/certs/acme"
	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

// The supervisor's tests use a fake renewer (supFakeRenewer) rather than
// an ACME server: what they check is when renewers are made, kept,
// stopped and waited for. The renewer's own ACME exchange is tested in
// acme_test.go and, with the running agent, against Pebble in
// e2e/public_test.go.

const supFQDN = "agent.example.test"

// supNow is the fake clock: certificates are valid around it, and the
// supervisor and Public see no other time.
var supNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// supPKI is a stand-in for a public CA.
type supPKI struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newSupPKI(t *testing.T) *supPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "supervisor test root"},
		NotBefore: supNow.Add(-24 * time.Hour), NotAfter: supNow.Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &supPKI{cert: cert, key: key, pool: pool}
}

var supSerial atomic.Int64

// supLocal stands in for the local leaf, which these tests never serve.
func supLocal(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return nil, errors.New("no local leaf in this test")
}

// install imports a new certificate for supFQDN into pub.
func (pki *supPKI) install(t *testing.T, pub *public.Public) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(100 + supSerial.Add(1)),
		Subject: pkix.Name{CommonName: supFQDN}, DNSNames: []string{supFQDN},
		NotBefore: supNow.Add(-time.Hour), NotAfter: supNow.Add(90 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
		pki.cert, key.Public(), pki.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Import(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})); err != nil {
		t.Fatal(err)
	}
}

// supFakeRenewer stands in for a Renewer. While hold is open its Run
// ignores its context, as a renewal under way does until it gives up.
type supFakeRenewer struct {
	id      int
	hold    chan struct{}
	running chan struct{} // closed when Run starts
	stopped chan struct{} // closed when Run returns
}

func (r *supFakeRenewer) Run(ctx context.Context) error {
	close(r.running)
	defer close(r.stopped)
	<-ctx.Done()
	if r.hold != nil {
		<-r.hold
	}
	return nil
}

func (r *supFakeRenewer) Status() acme.RenewalStatus {
	return acme.RenewalStatus{NextAttempt: supNow.Add(time.Duration(r.id) * time.Hour), LastError: "attempt " + string(rune('0'+r.id))}
}

func (r *supFakeRenewer) isStopped() bool {
	select {
	case <-r.stopped:
		return true
	default:
		return false
	}
}

// supEnv is a Supervisor over a Public with a certificate from "ACME",
// with fake DNS, renewers and clock.
type supEnv struct {
	pki *supPKI
	pub *public.Public
	sup *Supervisor

	mu       sync.Mutex
	renewers []*supFakeRenewer
	hold     chan struct{} // given to renewers made from now on
	dnsErr   error
	dnsCalls int
	served   []string // OnChange's arguments

	cancel context.CancelFunc
	done   chan error
}

func newSupEnv(t *testing.T, fromACME bool) *supEnv {
	t.Helper()
	env := &supEnv{pki: newSupPKI(t)}
	st := store.NewMemory()
	env.pub = &public.Public{Store: st, Dir: filepath.Join(t.TempDir(), "public"), ExtraRoots: env.pki.pool,
		Now: func() time.Time { return supNow }}
	if err := env.pub.SetFQDN(supFQDN); err != nil {
		t.Fatal(err)
	}
	env.pki.install(t, env.pub)
	if fromACME {
		env.saveSettings(t, "admin@example.test")
	}
	sup, err := NewSupervisor(SupervisorConfig{
		Public:   env.pub,
		Local:    supLocal,
		Now:      func() time.Time { return supNow },
		Interval: time.Hour, // only Reload looks again during a test
		CheckDNS: func(context.Context, string) error {
			env.mu.Lock()
			defer env.mu.Unlock()
			env.dnsCalls++
			return env.dnsErr
		},
		OnChange: func(fqdn string) {
			env.mu.Lock()
			defer env.mu.Unlock()
			env.served = append(env.served, fqdn)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	sup.reloadWait = 100 * time.Millisecond
	sup.newRenewer = func(ctx context.Context, s *acme.Settings, pub *public.Public, cfg acme.RenewerConfig) (supervisedRenewer, error) {
		if s.FQDN != supFQDN || pub != env.pub || cfg.OnRenew == nil {
			t.Errorf("renewer made from settings %+v, public %p (want %p), OnRenew set: %v", s, pub, env.pub, cfg.OnRenew != nil)
		}
		env.mu.Lock()
		defer env.mu.Unlock()
		r := &supFakeRenewer{id: len(env.renewers) + 1, hold: env.hold, running: make(chan struct{}), stopped: make(chan struct{})}
		env.renewers = append(env.renewers, r)
		return r, nil
	}
	env.sup = sup
	return env
}

func (env *supEnv) saveSettings(t *testing.T, email string) {
	t.Helper()
	if err := acme.SaveSettings(env.pub.Dir, &acme.Settings{Directory: "https://acme.invalid/directory", Email: email,
		FQDN: supFQDN, DNS: acme.DNSRFC2136}); err != nil {
		t.Fatal(err)
	}
}

func (env *supEnv) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	env.cancel, env.done = cancel, make(chan error, 1)
	go func() { env.done <- env.sup.Run(ctx) }()
	t.Cleanup(func() { env.stop(t) })
}

func (env *supEnv) stop(t *testing.T) {
	t.Helper()
	if env.cancel == nil {
		return
	}
	env.cancel()
	env.cancel = nil
	select {
	case err := <-env.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func (env *supEnv) made() []*supFakeRenewer {
	env.mu.Lock()
	defer env.mu.Unlock()
	return append([]*supFakeRenewer(nil), env.renewers...)
}

// waitRenewers waits until n renewers were made and the last one runs.
func (env *supEnv) waitRenewers(t *testing.T, n int) []*supFakeRenewer {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		rs := env.made()
		if len(rs) == n {
			select {
			case <-rs[n-1].running:
				return rs
			case <-time.After(time.Until(deadline)):
			}
		}
		if len(rs) > n || time.Now().After(deadline) {
			t.Fatalf("%d renewers made, want %d", len(rs), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (env *supEnv) reload(t *testing.T) {
	t.Helper()
	if err := env.sup.Reload(context.Background()); err != nil {
		t.Fatalf("Reload: %v", err)
	}
}

func TestSupervisorStartsRenewerForACME(t *testing.T) {
	env := newSupEnv(t, true)
	env.start(t)
	rs := env.waitRenewers(t, 1)
	env.reload(t) // the first load may still be under way in Run
	st := env.sup.Status()
	if !st.Serving || st.FQDN != supFQDN || !st.RenewAt.Equal(supNow.Add(time.Hour)) || st.RenewError != "attempt 1" {
		t.Errorf("status = %+v, want %s served with the renewer's next attempt and error", st, supFQDN)
	}
	if !env.sup.HostAllowed(supFQDN+".") || env.sup.HostAllowed("other.example.test") {
		t.Errorf("HostAllowed: want the served name (with or without the final dot) only")
	}
	if rs[0].isStopped() {
		t.Error("renewer stopped while the agent runs")
	}
}

func TestSupervisorNoRenewerForHandLoadedCert(t *testing.T) {
	env := newSupEnv(t, false)
	env.start(t)
	env.reload(t)
	if n := len(env.made()); n != 0 {
		t.Errorf("%d renewers for a certificate loaded by hand, want none", n)
	}
	if st := env.sup.Status(); !st.Serving || !st.RenewAt.IsZero() {
		t.Errorf("status = %+v, want served with no renewal scheduled", st)
	}
}

// TestSupervisorKeepsUnchangedRenewer: a reload with the same settings and
// certificate keeps the renewer running, so its schedule and its backoff
// after failures survive (a new one would try again at once).
func TestSupervisorKeepsUnchangedRenewer(t *testing.T) {
	env := newSupEnv(t, true)
	env.start(t)
	rs := env.waitRenewers(t, 1)
	for range 3 {
		env.reload(t)
	}
	if got := env.made(); len(got) != 1 || rs[0].isStopped() {
		t.Errorf("after unchanged reloads: %d renewers made, first stopped: %v; want the first kept", len(got), rs[0].isStopped())
	}
}

func TestSupervisorRestartsRenewerOnChange(t *testing.T) {
	env := newSupEnv(t, true)
	env.start(t)
	rs := env.waitRenewers(t, 1)

	env.saveSettings(t, "other@example.test")
	env.reload(t)
	rs2 := env.waitRenewers(t, 2)
	if !rs[0].isStopped() {
		t.Error("settings changed: the old renewer still runs")
	}

	env.pki.install(t, env.pub)
	env.reload(t)
	env.waitRenewers(t, 3)
	if !rs2[1].isStopped() {
		t.Error("certificate changed: the old renewer still runs")
	}
	if st := env.sup.Status(); st.RenewError != "attempt 3" {
		t.Errorf("status renew error %q, want the new renewer's", st.RenewError)
	}
}

func TestSupervisorStopsRenewerOnDelete(t *testing.T) {
	env := newSupEnv(t, true)
	env.start(t)
	rs := env.waitRenewers(t, 1)
	if err := env.pub.Delete(); err != nil {
		t.Fatal(err)
	}
	env.reload(t)
	if !rs[0].isStopped() {
		t.Error("certificate deleted: the renewer still runs")
	}
	if n := len(env.made()); n != 1 {
		t.Errorf("%d renewers made after delete, want no new one", n)
	}
	if st := env.sup.Status(); st.Serving || !st.RenewAt.IsZero() {
		t.Errorf("status after delete = %+v, want nothing served or renewed", st)
	}
}

// TestSupervisorReloadRechecksDNS: each Reload checks DNS again; a name
// that stops resolving to loopback alone stops being served, and
// OnChange says so.
func TestSupervisorReloadRechecksDNS(t *testing.T) {
	env := newSupEnv(t, false)
	env.start(t)
	env.reload(t)
	env.mu.Lock()
	before := env.dnsCalls
	env.dnsErr = errors.New("agent.example.test resolves to 203.0.113.9")
	env.mu.Unlock()
	env.reload(t)
	env.mu.Lock()
	after, served := env.dnsCalls, append([]string(nil), env.served...)
	env.mu.Unlock()
	if after != before+1 {
		t.Errorf("DNS checked %d times by one Reload, want 1", after-before)
	}
	st := env.sup.Status()
	if st.Serving || st.DNSError == "" || env.sup.HostAllowed(supFQDN) {
		t.Errorf("status after DNS turned bad = %+v, want not served with the DNS error", st)
	}
	if len(served) < 2 || served[0] != supFQDN || served[len(served)-1] != "" {
		t.Errorf("OnChange got %q, want %q first and \"\" last", served, supFQDN)
	}
}

// TestSupervisorStatusNeverWaitsForRestart: while the old renewer takes
// its time to stop, Reload answers after its short wait, and Status
// answers at once.
func TestSupervisorStatusNeverWaitsForRestart(t *testing.T) {
	env := newSupEnv(t, true)
	hold := make(chan struct{})
	env.hold = hold
	env.start(t)
	rs := env.waitRenewers(t, 1)

	env.saveSettings(t, "other@example.test")
	start := time.Now()
	env.reload(t)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Reload took %s with a renewer that does not stop, want its short wait", d)
	}
	status := make(chan SupervisorStatus, 1)
	go func() { status <- env.sup.Status() }()
	select {
	case <-status:
	case <-time.After(2 * time.Second):
		t.Fatal("Status waited for the renewer being restarted")
	}
	if n := len(env.made()); n != 1 {
		t.Errorf("%d renewers made while the old one stops, want 1", n)
	}
	env.mu.Lock()
	env.hold = nil
	env.mu.Unlock()
	close(hold)
	<-rs[0].stopped
	env.waitRenewers(t, 2) // the restart completes in the background
}

// TestSupervisorRunWaitsForRenewer: shutdown returns only once the
// renewer has stopped.
func TestSupervisorRunWaitsForRenewer(t *testing.T) {
	env := newSupEnv(t, true)
	hold := make(chan struct{})
	env.hold = hold
	env.start(t)
	rs := env.waitRenewers(t, 1)
	env.cancel()
	env.cancel = nil
	select {
	case <-env.done:
		t.Fatal("Run returned while the renewer was still running")
	case <-time.After(100 * time.Millisecond):
	}
	close(hold)
	select {
	case err := <-env.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the renewer stopped")
	}
	if !rs[0].isStopped() {
		t.Error("Run returned before the renewer stopped")
	}
	// After shutdown a reload starts no renewer.
	env.reload(t)
	if n := len(env.made()); n != 1 {
		t.Errorf("%d renewers after shutdown, want 1", n)
	}
}

func TestSupervisorBadNameFileStillServesLoopback(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, public.FQDNFile), []byte("not a name!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sup, err := NewSupervisor(SupervisorConfig{Public: &public.Public{Store: store.NewMemory(), Dir: dir}, Local: supLocal})
	if err != nil {
		t.Fatalf("a damaged name file stopped the supervisor: %v", err)
	}
	if sup.HostAllowed("not a name!") {
		t.Error("a damaged name is allowed as Host")
	}
}
