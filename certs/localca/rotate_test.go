package localca

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRotateIfDueAtTwoThirds(t *testing.T) {
	ca, _, _ := newTestCA(t)
	validity := 6 * time.Hour // two thirds: 4h
	tests := []struct {
		name    string
		advance time.Duration
		want    bool
	}{
		{"just issued", 0, false},
		{"just before two thirds", 4*time.Hour - time.Second, false},
		{"at two thirds", 4 * time.Hour, true},
		{"after expiry", 7 * time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock(testStart)
			r, err := NewLeafRotator(ca, RotatorConfig{Validity: validity, Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			first := r.Current()
			clock.Advance(tt.advance)
			rotated, err := r.RotateIfDue()
			if err != nil {
				t.Fatal(err)
			}
			if rotated != tt.want {
				t.Errorf("rotated: got %v, want %v", rotated, tt.want)
			}
			if changed := r.Current() != first; changed != tt.want {
				t.Errorf("leaf changed: got %v, want %v", changed, tt.want)
			}
			if tt.want {
				leaf := r.Current().Leaf
				if got, want := leaf.NotAfter, clock.Now().Add(validity); !got.Equal(want) {
					t.Errorf("new leaf NotAfter: got %v, want %v", got, want)
				}
				// A second check right away finds nothing to do.
				if again, _ := r.RotateIfDue(); again {
					t.Errorf("rotated twice in a row")
				}
			}
		})
	}
}

func TestRunRotatesOnTick(t *testing.T) {
	ca, _, _ := newTestCA(t)
	clock := newFakeClock(testStart)
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))
	r, err := NewLeafRotator(ca, RotatorConfig{Now: clock.Now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	tick := make(chan time.Time)
	checked := make(chan struct{})
	r.tick = tick
	r.checked = func() { checked <- struct{}{} }

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	check := func() {
		t.Helper()
		tick <- clock.Now()
		<-checked
	}
	first := r.Current()
	clock.Advance(DefaultLeafValidity / 2)
	check()
	if r.Current() != first {
		t.Fatalf("rotated at half the leaf's life")
	}
	clock.Advance(DefaultLeafValidity / 6) // now at two thirds
	check()
	second := r.Current()
	if second == first {
		t.Fatalf("not rotated at two thirds of the leaf's life")
	}
	if got, want := second.Leaf.NotAfter, clock.Now().Add(DefaultLeafValidity); !got.Equal(want) {
		t.Errorf("new leaf NotAfter: got %v, want %v", got, want)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel: got %v, want nil", err)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if got := strings.Count(logs.String(), "issued leaf certificate"); got != 2 {
		t.Errorf("log lines for issued leaves: got %d, want 2:\n%s", got, logs.String())
	}
	if strings.Contains(logs.String(), "PRIVATE") {
		t.Errorf("log mentions a private key:\n%s", logs.String())
	}
}

func TestGetCertificateRotatesOverdueLeaf(t *testing.T) {
	ca, _, _ := newTestCA(t)
	clock := newFakeClock(testStart)
	r, err := NewLeafRotator(ca, RotatorConfig{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	first := r.Current()
	// The machine slept through every check: no Run, just a handshake.
	clock.Advance(DefaultLeafValidity)
	got, err := r.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if got == first {
		t.Fatalf("GetCertificate served the overdue leaf")
	}
	if !clock.Now().Before(got.Leaf.NotAfter) {
		t.Errorf("served leaf expires %v, at or before now %v", got.Leaf.NotAfter, clock.Now())
	}
}

// TestRotationUnderLoad runs handshakes' GetCertificate calls while the
// clock jumps, for the race detector: every call must get a valid leaf.
func TestRotationUnderLoad(t *testing.T) {
	ca, _, _ := newTestCA(t)
	clock := newFakeClock(testStart)
	r, err := NewLeafRotator(ca, RotatorConfig{Validity: time.Hour, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				c, err := r.GetCertificate(nil)
				if err != nil {
					t.Error(err)
					return
				}
				if c.Leaf == nil {
					t.Error("leaf without parsed certificate")
					return
				}
			}
		})
	}
	for range 20 {
		clock.Advance(50 * time.Minute)
		if _, err := r.RotateIfDue(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}

func TestNewLeafRotatorRejectsBadConfig(t *testing.T) {
	ca, _, _ := newTestCA(t)
	for _, cfg := range []RotatorConfig{
		{Validity: -time.Second},
		{CheckInterval: -time.Second},
	} {
		if _, err := NewLeafRotator(ca, cfg); err == nil {
			t.Errorf("NewLeafRotator(%+v): got nil error", cfg)
		}
	}
}

// TestRotationWithoutRestart serves TLS from one tls.Config across a
// rotation: a connection made before it keeps working, and a new
// handshake on the same listener gets the new leaf.
func TestRotationWithoutRestart(t *testing.T) {
	ca, _, _ := newTestCA(t)
	// The clients verify against the same fake clock (tls.Config.Time):
	// after the jump the new leaf is not valid yet by the real clock.
	clock := newFakeClock(time.Now())
	r, err := NewLeafRotator(ca, RotatorConfig{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveEcho(t, ServerTLSConfig(r.GetCertificate))
	client := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Time: clock.Now}

	before := dialEcho(t, addr, client)
	if got, want := serial(before), r.Current().Leaf.SerialNumber.String(); got != want {
		t.Fatalf("served serial: got %s, want %s", got, want)
	}
	first := r.Current()

	clock.Advance(DefaultLeafValidity * 2 / 3)
	if rotated, err := r.RotateIfDue(); err != nil || !rotated {
		t.Fatalf("RotateIfDue: got %v, %v; want true, nil", rotated, err)
	}

	// The old connection is unaffected.
	echo(t, before, "still here")

	after := dialEcho(t, addr, client)
	if got, want := serial(after), r.Current().Leaf.SerialNumber.String(); got != want {
		t.Errorf("serial after rotation: got %s, want %s (the new leaf)", got, want)
	}
	if serial(after) == first.Leaf.SerialNumber.String() {
		t.Errorf("new connection got the old leaf")
	}
	echo(t, after, "hello")
}

// serveEcho serves an echo server over TLS on a loopback port until the
// test ends and returns its address.
func serveEcho(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				io.Copy(c, c)
			})
		}
	})
	return ln.Addr().String()
}

func dialEcho(t *testing.T, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	echo(t, c, "first")
	return c
}

func echo(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(buf) != msg {
		t.Fatalf("echo: got %q, want %q", buf, msg)
	}
}

func serial(c *tls.Conn) string {
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestRotationAfterCAExpiry: once the CA has expired no leaf can be
// issued; the rotator must say so instead of serving an expired leaf.
func TestRotationAfterCAExpiry(t *testing.T) {
	ca, _, _ := newTestCA(t)
	end := ca.Intermediate().NotAfter
	clock := newFakeClock(end.Add(-3 * time.Hour))
	var logs bytes.Buffer
	var logMu sync.Mutex
	r, err := NewLeafRotator(ca, RotatorConfig{Now: clock.Now, Logger: slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Current().Leaf.NotAfter; !got.Equal(end) {
		t.Errorf("leaf NotAfter: got %v, want the CA's end %v", got, end)
	}
	clock.Advance(4 * time.Hour)
	if c, err := r.GetCertificate(nil); err == nil {
		t.Fatalf("got a leaf valid until %v after the CA expired; want an error", c.Leaf.NotAfter)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), "leaf rotation failed") {
		t.Errorf("no log line for the failed rotation:\n%s", logs.String())
	}
}
