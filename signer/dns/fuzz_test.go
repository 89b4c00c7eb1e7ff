package dns

import (
	"net/netip"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
)

// FuzzAnswer feeds arbitrary packets through the path of a query: unpack
// (miekg/dns, as the server does) and Answer. It checks that no input
// panics, that every response packs, that nothing outside the zone is
// answered with authority, and that an address record is loopback unless
// it is one of the service's own names.
func FuzzAnswer(f *testing.F) {
	fuzztest.Start(f)
	z := newTestZone(f)
	for _, q := range []*mdns.Msg{
		query("alice."+testZone, mdns.TypeA),
		query("_acme-challenge.alice."+testZone, mdns.TypeTXT),
		query(testZone, mdns.TypeNS),
		query("nothing.example.", mdns.TypeAAAA),
		query("ALICE.signer.EXAMPLE.test.", mdns.TypeANY),
	} {
		q.SetEdns0(4096, true)
		b, err := q.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, packet []byte) {
		req := new(mdns.Msg)
		if err := req.Unpack(packet); err != nil {
			return // the server drops what does not unpack
		}
		resp := z.Answer(req)
		if resp == nil {
			return
		}
		resp.Truncate(MaxUDPSize(req))
		if _, err := resp.Pack(); err != nil {
			t.Fatalf("response to %v does not pack: %v", req, err)
		}
		if resp.Authoritative && !mdns.IsSubDomain(testZone, mdns.CanonicalName(req.Question[0].Name)) {
			t.Fatalf("authoritative answer outside the zone: %v", resp)
		}
		for _, rr := range resp.Answer {
			var ip netip.Addr
			switch a := rr.(type) {
			case *mdns.A:
				ip, _ = netip.AddrFromSlice(a.A)
			case *mdns.AAAA:
				ip, _ = netip.AddrFromSlice(a.AAAA)
			default:
				continue
			}
			owner := mdns.CanonicalName(rr.Header().Name)
			if _, fixed := z.cfg.Hosts[owner[:len(owner)-1]]; !fixed && !ip.Unmap().IsLoopback() {
				t.Fatalf("%s answered with %s, not loopback", owner, ip)
			}
		}
	})
}
