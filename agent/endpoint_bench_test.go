package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
)

// The endpoint's benchmarks compare it, in one run, with a bare net/http
// TLS server returning the same bytes: the cost of the endpoint's checks
// (token lookup, Host and Origin checks, sniffing, logging) over plain
// net/http. Targets (issue): keep-alive throughput at least 0.9x bare; new
// connections per second at least 3x an RSA-2048 server's, thanks to P-256
// and TLS session resumption.
//
// Client and servers share the machine, so the figures are for comparison
// within a run, not absolute capacity.

// endpointBenchTarget is one server to measure.
type endpointBenchTarget struct {
	url     string
	client  *http.Client
	token   string
	closeFn func()
	pid     int // the server's own process; 0 if in this one
}

// endpointBenchSource serves one fixed set of credentials.
type endpointBenchSource struct{ c Credentials }

func (s endpointBenchSource) Credentials(context.Context, string) (Credentials, error) {
	return s.c, nil
}

func endpointBenchCreds() Credentials {
	c := endpointTestCreds("dev")
	// An STS session token is several hundred bytes.
	c.SessionToken = string(slices.Repeat([]byte("IQoJb3JpZ2luX2VjE"), 40))
	c.Expires = time.Now().Add(time.Hour)
	return c
}

// endpointBenchServerTLS is the servers' TLS configuration, with the key
// exchanges of the agent's production configuration (localca.ServerTLSConfig:
// X25519 and P-256) for ours and the baselines alike.
func endpointBenchServerTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates:     []tls.Certificate{cert},
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
		NextProtos:       []string{"http/1.1"},
	}
}

func endpointBenchClient(pool *x509.CertPool, keepAlive, resume bool, conns int) *http.Client {
	cfg := &tls.Config{
		RootCAs:    pool,
		ServerName: "localhost",
		// What the servers negotiate. Go's default would also compute an
		// ML-KEM share the servers decline: client-side work that would
		// blur the servers' comparison on this shared machine. OpenSSL and
		// Node clients (botocore, JS v3) offer X25519 first anyway.
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
	}
	if resume {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(64)
	}
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:     cfg,
		DisableKeepAlives:   !keepAlive,
		MaxIdleConnsPerHost: conns,
		DisableCompression:  true,
	}}
}

// endpointBenchOurs starts the endpoint with a P-256 certificate.
func endpointBenchOurs(b *testing.B, keepAlive bool, conns int) endpointBenchTarget {
	cert, pool := endpointTestCert(b, 0)
	tokens := NewTokens()
	tok, _ := NewToken()
	tokens.Add(tok, Grant{})
	e, err := NewEndpoint(EndpointConfig{
		Source:    endpointBenchSource{endpointBenchCreds()},
		Tokens:    tokens,
		TLSConfig: endpointBenchServerTLS(cert),
	})
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go e.Serve(l)
	return endpointBenchTarget{
		url:     "https://" + l.Addr().String() + "/slot/dev",
		client:  endpointBenchClient(pool, keepAlive, true, conns),
		token:   tok,
		closeFn: func() { e.Close() },
	}
}

// endpointBenchBare starts a bare net/http TLS server returning the same
// bytes; rsaBits 0 means the same kind of P-256 certificate as ours. With
// timeouts it sets the endpoint's connection timeouts, which cost net/http
// several deadline updates per request: comparing with both shows how much
// of the gap is those timeouts rather than the endpoint's own checks.
func endpointBenchBare(b *testing.B, rsaBits int, keepAlive, resume, timeouts bool, conns int) endpointBenchTarget {
	cert, pool := endpointTestCert(b, rsaBits)
	srv := endpointBenchBareServer(cert, timeouts)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.ServeTLS(l, "", "")
	return endpointBenchTarget{
		url:     "https://" + l.Addr().String() + "/slot/dev",
		client:  endpointBenchClient(pool, keepAlive, resume, conns),
		token:   "unused",
		closeFn: func() { srv.Close() },
	}
}

func endpointBenchBareServer(cert tls.Certificate, timeouts bool) *http.Server {
	c := endpointBenchCreds()
	body := endpointAppendCredentials(nil, &c)
	length := strconv.Itoa(len(body))
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Type", "application/json")
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Length", length)
			w.Write(body)
		}),
		TLSConfig:    endpointBenchServerTLS(cert),
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	if timeouts {
		srv.ReadHeaderTimeout = endpointReadHeaderTimeout
		srv.ReadTimeout = endpointReadTimeout
		srv.WriteTimeout = endpointWriteTimeout
		srv.IdleTimeout = endpointIdleTimeout
	}
	return srv
}

// endpointBenchServerEnv makes the test binary a server for
// BenchmarkEndpointNewConn instead of running tests: "ours", "bare" or
// "rsa2048". In its own process a server's CPU time is its own, which on
// this machine, shared with the load generator, is the figure that says
// what the server can do.
const endpointBenchServerEnv = "AWS_SSO_AGENT_BENCH_SERVER"

func TestMain(m *testing.M) {
	if kind := os.Getenv(endpointBenchServerEnv); kind != "" {
		if err := endpointBenchServe(kind, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// endpointBenchServe serves until in ends, after writing to out one line:
// the address, the token and the certificate (base64 DER).
func endpointBenchServe(kind string, in io.Reader, out io.Writer) error {
	rsaBits := 0
	if kind == "rsa2048" {
		rsaBits = 2048
	}
	cert, err := endpointNewCert(rsaBits)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	token := "unused"
	switch kind {
	case "ours":
		tokens := NewTokens()
		token, _ = NewToken()
		tokens.Add(token, Grant{})
		e, err := NewEndpoint(EndpointConfig{
			Source:    endpointBenchSource{endpointBenchCreds()},
			Tokens:    tokens,
			TLSConfig: endpointBenchServerTLS(cert),
		})
		if err != nil {
			return err
		}
		go e.Serve(l)
		defer e.Close()
	case "bare", "rsa2048":
		srv := endpointBenchBareServer(cert, false)
		go srv.ServeTLS(l, "", "")
		defer srv.Close()
	default:
		return fmt.Errorf("%s=%q: want ours, bare or rsa2048", endpointBenchServerEnv, kind)
	}
	fmt.Fprintln(out, l.Addr(), token, base64.StdEncoding.EncodeToString(cert.Certificate[0]))
	io.Copy(io.Discard, in)
	return nil
}

// endpointBenchProcess starts a server of kind in its own process (see
// endpointBenchServerEnv).
func endpointBenchProcess(b *testing.B, kind string, keepAlive, resume bool, conns int) endpointBenchTarget {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), endpointBenchServerEnv+"="+kind)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { stdin.Close(); cmd.Wait() }) }
	b.Cleanup(stop) // also when a later server fails to start
	var addr, token, der string
	if _, err := fmt.Fscanln(stdout, &addr, &token, &der); err != nil {
		stop()
		b.Fatalf("bench server %s: %v", kind, err)
	}
	raw, err := base64.StdEncoding.DecodeString(der)
	if err != nil {
		stop()
		b.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(raw)
	if err != nil {
		stop()
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return endpointBenchTarget{
		url:     "https://" + addr + "/slot/dev",
		client:  endpointBenchClient(pool, keepAlive, resume, conns),
		token:   token,
		closeFn: stop,
		pid:     cmd.Process.Pid,
	}
}

// endpointBenchRun makes n requests from `clients` goroutines and returns
// the elapsed time and every request's latency.
func endpointBenchRun(b *testing.B, t endpointBenchTarget, n, clients int) (time.Duration, []time.Duration) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", t.url, nil)
			req.Header.Set("Authorization", t.token)
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				t0 := time.Now()
				resp, err := t.client.Do(req)
				if err != nil {
					failed.Store(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Store(fmt.Errorf("status %d", resp.StatusCode))
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, ok := failed.Load().(error); ok {
		b.Fatal(err)
	}
	return elapsed, lat
}

func endpointBenchPercentile(lat []time.Duration, p float64) float64 {
	s := slices.Clone(lat)
	slices.Sort(s)
	return float64(s[int(float64(len(s)-1)*p)].Nanoseconds())
}

// endpointBenchCompare measures ours against each baseline, alternating in
// rounds so drift on a shared machine affects all alike, and reports
// throughput, p50/p99 latency and the ratios.
func endpointBenchCompare(b *testing.B, clients int, ours endpointBenchTarget, bases map[string]endpointBenchTarget) {
	defer ours.closeFn()
	for _, t := range bases {
		defer t.closeFn()
	}
	// Warm up: connections, session tickets.
	endpointBenchRun(b, ours, 2*clients, clients)
	for _, t := range bases {
		endpointBenchRun(b, t, 2*clients, clients)
	}
	if resp, err := ours.client.Get(ours.url); err == nil {
		resp.Body.Close()
		if tr := ours.client.Transport.(*http.Transport); tr.DisableKeepAlives && (resp.TLS == nil || !resp.TLS.DidResume) {
			b.Fatalf("new-connection client did not resume its TLS session")
		}
	}
	const rounds = 8
	per := max(b.N/rounds, clients)
	var oursTime time.Duration
	var oursLat []time.Duration
	baseTime := map[string]time.Duration{}
	cpu := func(t endpointBenchTarget) time.Duration {
		if t.pid == 0 {
			return 0
		}
		d, err := e2e.ProcCPU(t.pid)
		if err != nil {
			b.Fatal(err)
		}
		return d
	}
	oursCPU := -cpu(ours)
	baseCPU := map[string]time.Duration{}
	for name, t := range bases {
		baseCPU[name] = -cpu(t)
	}
	b.ResetTimer()
	for range rounds {
		b.StartTimer()
		d, lat := endpointBenchRun(b, ours, per, clients)
		b.StopTimer()
		oursTime += d
		oursLat = append(oursLat, lat...)
		for name, t := range bases {
			d, _ := endpointBenchRun(b, t, per, clients)
			baseTime[name] += d
		}
	}
	total := float64(per * rounds)
	if ours.pid != 0 {
		// Servers in their own processes: their CPU per request. Their
		// wall rates would mostly measure cross-process wake-ups.
		oursCPU += cpu(ours)
		b.ReportMetric(float64(oursCPU.Microseconds())/total, "server-cpu-us")
		for name, t := range bases {
			baseCPU[name] += cpu(t)
			b.ReportMetric(float64(baseCPU[name].Microseconds())/total, name+"-server-cpu-us")
			b.ReportMetric(float64(baseCPU[name])/float64(oursCPU), "cpu-ratio-vs-"+name)
		}
		return
	}
	oursRate := total / oursTime.Seconds()
	b.ReportMetric(oursRate, "req/s")
	b.ReportMetric(endpointBenchPercentile(oursLat, 0.50), "p50-ns")
	b.ReportMetric(endpointBenchPercentile(oursLat, 0.99), "p99-ns")
	for name, d := range baseTime {
		rate := total / d.Seconds()
		b.ReportMetric(rate, name+"-req/s")
		b.ReportMetric(oursRate/rate, "ratio-vs-"+name)
	}
}

// BenchmarkEndpointKeepAlive: credential GETs over kept-alive TLS
// connections, ours vs a bare net/http server with the same P-256
// certificate, without and with the endpoint's timeouts.
func BenchmarkEndpointKeepAlive(b *testing.B) {
	for _, clients := range []int{1, 16} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			endpointBenchCompare(b, clients,
				endpointBenchOurs(b, true, clients),
				map[string]endpointBenchTarget{
					"bare":          endpointBenchBare(b, 0, true, true, false, clients),
					"bare-timeouts": endpointBenchBare(b, 0, true, true, true, clients),
				})
		})
	}
}

// BenchmarkEndpointNewConn: one new TLS connection per request. Ours uses
// P-256 and the client resumes sessions (as SDK clients reusing one HTTP
// client do); the baselines are a bare server with the same setup, and a
// bare server with an RSA-2048 certificate doing full handshakes.
func BenchmarkEndpointNewConn(b *testing.B) {
	for _, clients := range []int{1, 16} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			endpointBenchCompare(b, clients,
				endpointBenchOurs(b, false, clients),
				map[string]endpointBenchTarget{
					"bare":    endpointBenchBare(b, 0, false, true, false, clients),
					"rsa2048": endpointBenchBare(b, 2048, false, false, false, clients),
				})
		})
	}
}

// BenchmarkEndpointNewConnServerCPU is BenchmarkEndpointNewConn with each
// server in its own process, reporting the server's CPU time per new
// connection: cpu-ratio-vs-rsa2048 is how many more connections ours
// serves per CPU second. The rates above also count the load generator's
// own handshakes, which on a machine with few cores share the CPU with
// the server and weigh the same in every arm, pulling the ratios towards
// 1 as the clients saturate it.
func BenchmarkEndpointNewConnServerCPU(b *testing.B) {
	for _, clients := range []int{1, 16} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			endpointBenchCompare(b, clients,
				endpointBenchProcess(b, "ours", false, true, clients),
				map[string]endpointBenchTarget{
					"bare":    endpointBenchProcess(b, "bare", false, true, clients),
					"rsa2048": endpointBenchProcess(b, "rsa2048", false, false, clients),
				})
		})
	}
}

// endpointBenchWriter is a reusable http.ResponseWriter for measuring the
// handler alone.
type endpointBenchWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *endpointBenchWriter) Header() http.Header         { return w.h }
func (w *endpointBenchWriter) WriteHeader(s int)           { w.status = s }
func (w *endpointBenchWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// BenchmarkEndpointHandler measures the handler's own cost and allocations
// per request, without the network.
func BenchmarkEndpointHandler(b *testing.B) {
	tokens := NewTokens()
	tok, _ := NewToken()
	tokens.Add(tok, Grant{})
	e, err := NewEndpoint(EndpointConfig{Source: endpointBenchSource{endpointBenchCreds()}, Tokens: tokens})
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://127.0.0.1:4144/slot/dev", nil)
	req.RequestURI = "/slot/dev"
	req.Header.Set("Authorization", tok)
	req.Header.Set("User-Agent", "aws-sdk-go-v2/1.0")
	w := &endpointBenchWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		e.ServeHTTP(w, req)
		if w.status != 200 {
			b.Fatalf("status %d", w.status)
		}
	}
}
