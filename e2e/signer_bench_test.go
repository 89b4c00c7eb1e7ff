package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/aws-sso-agent/aws-sso-agent/internal/acmetest"
	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
)

// BenchmarkSignCSRVsACME measures `certs sign-csr` through aws-sso-signer
// against `certs acme` with RFC 2136 updates to Knot, both end to end
// (one CLI run each, its secure store included) against the same Pebble,
// which asks a forwarder sending each zone's queries to its own server.
// The goal is sign-csr at most 1.2 times certs acme: the service's extra
// hop (an HTTPS request, its checks and the database) must stay small
// next to the ACME order both make.
func BenchmarkSignCSRVsACME(b *testing.B) {
	knot := acmetest.StartKnot(b)
	const zone = "bench.signer.test"
	s := startSigner(b, signerOptions{zone: zone,
		pebbleDNS: func(first string) string {
			return startZoneForwarder(b, map[string]string{zone + ".": first, acmetest.Zone + ".": knot.Addr})
		},
		// Room for every iteration under the service's budgets.
		args: []string{"--budget-hostname", "100000", "--budget-zone", "100000"},
	})
	setHosts(b, acmetest.FQDN, "127.0.0.1")
	s.signCSR(b, s.api[0]) // stores the API key; the first run's setup is not measured

	secret := filepath.Join(s.home, "tsig.secret")
	os.WriteFile(secret, []byte(knot.TSIGSecret), 0o600)
	env := e2e.CleanEnv(b, "AWS_SSO_AGENT_HOME="+s.home, "AWS_SSO_AGENT_EXTRA_ROOTS="+s.extraRoots,
		"AWS_SSO_AGENT_TEST_RESOLVER="+s.dns[0])
	store := []string{"--store", "file", "--passphrase-file", s.pass}
	acmeArgs := append([]string{"certs", "acme", "--fqdn", acmetest.FQDN, "--dns", "rfc2136",
		"--directory", s.pebble.Directory, "--rfc2136-nameserver", knot.Addr,
		"--rfc2136-tsig-key", acmetest.TSIGKeyName, "--rfc2136-tsig-secret-file", secret,
		"--check-nameserver", knot.Addr}, store...)
	signArgs := append([]string{"certs", "sign-csr", "--fqdn", s.fqdn}, store...)

	var per [2]time.Duration
	for i, bc := range []struct {
		name string
		args []string
	}{{"certs-acme", acmeArgs}, {"sign-csr", signArgs}} {
		b.Run(bc.name, func(b *testing.B) {
			start := time.Now()
			n := 0
			for b.Loop() {
				if out, errOut, code := runCLI(b, env, bc.args...); code != 0 {
					b.Fatalf("%s: exit %d\n%s%s", bc.name, code, out, errOut)
				}
				n++
			}
			per[i] = time.Since(start) / time.Duration(n)
			if i == 1 && per[0] > 0 {
				// On sign-csr's own line, not in a log: a parent
				// benchmark's shows only with -v. The goal is at most 1.2.
				b.ReportMetric(float64(per[1])/float64(per[0]), "x-certs-acme")
			}
		})
	}
}

// startZoneForwarder answers each query by asking the server of the zone
// it falls in (routes: zone with a final dot -> HOST:PORT), over the
// query's transport; others get REFUSED. It stands in for the delegation
// the Internet's DNS would give, so one Pebble can validate two zones.
func startZoneForwarder(t testing.TB, routes map[string]string) string {
	t.Helper()
	h := mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		if len(r.Question) == 1 {
			for zone, addr := range routes {
				if mdns.IsSubDomain(zone, strings.ToLower(r.Question[0].Name)) {
					network := "udp"
					if _, tcp := w.RemoteAddr().(*net.TCPAddr); tcp {
						network = "tcp"
					}
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					if resp, _, err := (&mdns.Client{Net: network}).ExchangeContext(ctx, r, addr); err == nil {
						w.WriteMsg(resp)
						return
					}
					break
				}
			}
		}
		m := new(mdns.Msg)
		m.SetRcode(r, mdns.RcodeRefused)
		w.WriteMsg(m)
	})
	var udp *net.UDPConn
	var tcp net.Listener
	for range 20 {
		pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		if tcp, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			udp = pc
			break
		}
		pc.Close()
	}
	if udp == nil {
		t.Fatal("no port free for both UDP and TCP")
	}
	for _, srv := range []*mdns.Server{{PacketConn: udp, Handler: h}, {Listener: tcp, Handler: h}} {
		go srv.ActivateAndServe()
		t.Cleanup(func() { srv.Shutdown() })
	}
	return udp.LocalAddr().String()
}
