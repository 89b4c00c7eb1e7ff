package main

import (
	"context"
	"net"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// answeringDNS serves addr as the only A record of every name, over UDP
// on a free port, and returns its HOST:PORT.
func answeringDNS(t *testing.T, addr string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, q *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(q)
		if q.Question[0].Qtype == mdns.TypeA {
			m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: q.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60}, A: net.ParseIP(addr)})
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

func resolverAt(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

// TestLoopbackCheckTestHookOnlyNarrows: the test resolver hook is asked
// besides the system's resolver, never instead of it, so a user who sets
// it cannot make a name that the SDKs resolve elsewhere pass the check.
func TestLoopbackCheckTestHookOnlyNarrows(t *testing.T) {
	const fqdn = "alice.signer.test"
	loopback, elsewhere := answeringDNS(t, "127.0.0.1"), answeringDNS(t, "203.0.113.9")
	for _, tc := range []struct {
		name         string
		system, hook string
		ok           bool
	}{
		{"system loopback, no hook", loopback, "", true},
		{"system elsewhere, no hook", elsewhere, "", false},
		{"system elsewhere, hook says loopback", elsewhere, loopback, false},
		{"system loopback, hook elsewhere", loopback, elsewhere, false},
		{"both loopback", loopback, loopback, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(testResolverEnv, tc.hook)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := checkLoopback(ctx, resolverAt(tc.system), fqdn)
			if got := err == nil; got != tc.ok {
				t.Errorf("checkLoopback: %v; want ok=%v", err, tc.ok)
			}
		})
	}
}
