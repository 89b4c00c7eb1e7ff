package remote_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/remote"
)

// fakeResolver answers every lookup with addrs, or err.
type fakeResolver struct {
	addrs []string
	err   error
}

func (r fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	if r.err != nil {
		return nil, r.err
	}
	var out []netip.Addr
	for _, a := range r.addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func TestCheckLoopbackDNS(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    fakeResolver
		ok   bool
		msg  string
	}{
		{"v4 loopback", fakeResolver{addrs: []string{"127.0.0.1"}}, true, ""},
		{"both loopbacks", fakeResolver{addrs: []string{"127.0.0.1", "::1", "127.0.1.1"}}, true, ""},
		{"mapped loopback", fakeResolver{addrs: []string{"::ffff:127.0.0.1"}}, true, ""},
		{"poisoned", fakeResolver{addrs: []string{"203.0.113.7"}}, false, "resolves to 203.0.113.7"},
		{"one bad of two", fakeResolver{addrs: []string{"127.0.0.1", "2001:db8::1"}}, false, "2001:db8::1"},
		{"nothing", fakeResolver{}, false, "no address"},
		{"lookup fails", fakeResolver{err: errors.New("server misbehaving")}, false, "does not resolve"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := remote.CheckLoopbackDNS(context.Background(), tc.r, "agent.example.com")
			if (err == nil) != tc.ok {
				t.Fatalf("got %v, want ok %v", err, tc.ok)
			}
			var de *remote.DNSError
			if err != nil && (!errors.As(err, &de) || !strings.Contains(err.Error(), tc.msg)) {
				t.Errorf("got %v, want a *DNSError saying %q", err, tc.msg)
			}
		})
	}
}
