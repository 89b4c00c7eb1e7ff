package dns

import (
	"context"
	"net/netip"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/aws-sso-agent/aws-sso-agent/signer"
)

const testZone = "signer.example.test."

func testConfig() Config {
	return Config{
		Zone:        "Signer.Example.Test",
		Nameservers: []string{"ns1.signer.example.test", "ns.other.example"},
		Hosts: map[string][]netip.Addr{
			"ns1.signer.example.test": {netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("2001:db8::53")},
			"api.signer.example.test": {netip.MustParseAddr("192.0.2.80")},
		},
		Now: func() time.Time { return time.Unix(1_800_000_000, 0) },
	}
}

func newTestZone(t testing.TB) *Zone {
	t.Helper()
	z, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := z.Update(signer.Zone{
		Hostnames: []string{"alice", "Bob"},
		TXT: map[string][]string{
			"_acme-challenge.alice.signer.example.test.":     {"chal-value-1"},
			"_acme-challenge.deep.team.signer.example.test.": {"chal-value-2"},
		},
	}); err != nil {
		t.Fatal(err)
	}
	return z
}

// serve starts z on fresh loopback UDP and TCP sockets and returns their
// address (the same port for both).
func serve(t testing.TB, z *Zone) string {
	t.Helper()
	pc, ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- z.Serve(ctx, pc, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return pc.LocalAddr().String()
}

func query(name string, qtype uint16) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	return m
}
