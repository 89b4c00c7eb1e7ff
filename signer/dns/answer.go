package dns

import (
	mdns "github.com/miekg/dns"
)

// UDP payload sizes. 1232 bytes is the EDNS buffer size the DNS Flag Day
// 2020 settled on: it fits an IPv6 packet on any path without
// fragmentation. Without EDNS a UDP answer is at most 512 bytes (RFC 1035).
const (
	ednsUDPSize  = 1232
	plainUDPSize = 512
)

// Answer returns the response to req, or nil when req gets none (it is a
// response itself). It never fails: a query it cannot answer gets an error
// code. It reads the current snapshot without a lock.
//
// The answer is not yet cut to a transport's size: ServeDNS does that for
// UDP (MaxUDPSize).
func (z *Zone) Answer(req *mdns.Msg) *mdns.Msg {
	if req == nil || req.Response {
		return nil
	}
	resp := new(mdns.Msg)
	resp.SetReply(req)
	resp.Compress = true
	// RD is echoed, RA stays clear: this server does not recurse.
	if opt := req.IsEdns0(); opt != nil {
		resp.SetEdns0(ednsUDPSize, false)
		if opt.Version() != 0 {
			resp.Rcode = mdns.RcodeBadVers // RFC 6891 section 6.1.3
			return resp
		}
	}
	if req.Opcode != mdns.OpcodeQuery {
		resp.Rcode = mdns.RcodeNotImplemented
		return resp
	}
	if len(req.Question) != 1 {
		resp.Rcode = mdns.RcodeFormatError
		return resp
	}
	q := req.Question[0]
	if q.Qclass != mdns.ClassINET && q.Qclass != mdns.ClassANY {
		resp.Rcode = mdns.RcodeRefused
		return resp
	}
	if _, ok := mdns.IsDomainName(q.Name); !ok {
		resp.Rcode = mdns.RcodeFormatError
		return resp
	}
	name := mdns.CanonicalName(q.Name)
	if !mdns.IsSubDomain(z.apex, name) {
		resp.Rcode = mdns.RcodeRefused // not a resolver
		return resp
	}
	resp.Authoritative = true
	snap := z.snap.Load()
	n, ok := snap.names[name]
	if !ok {
		resp.Rcode = mdns.RcodeNameError
		resp.Ns = []mdns.RR{snap.soa}
		return resp
	}
	switch q.Qtype {
	case mdns.TypeANY:
		// RFC 8482 section 4.2: one synthesized HINFO instead of every
		// record, so a small query does not buy a large answer.
		resp.Answer = []mdns.RR{&mdns.HINFO{
			Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeHINFO, Class: mdns.ClassINET, Ttl: z.hostTTL},
			Cpu: "RFC8482",
		}}
		return resp
	case mdns.TypeSOA:
		if name == z.apex {
			resp.Answer = []mdns.RR{withName(snap.soa, q.Name)}
			return resp
		}
	}
	rrs := (*n)[q.Qtype]
	if len(rrs) == 0 {
		resp.Ns = []mdns.RR{snap.soa} // NODATA (RFC 2308 section 2.2)
		return resp
	}
	resp.Answer = make([]mdns.RR, len(rrs))
	for i, rr := range rrs {
		resp.Answer[i] = withName(rr, q.Name)
	}
	if q.Qtype == mdns.TypeNS && name == z.apex {
		resp.Extra = append(resp.Extra, z.nsGlue...)
	}
	return resp
}

// withName returns a copy of rr owned by the name as the query spelled it:
// resolvers that randomize the case of their queries (DNS 0x20, as Let's
// Encrypt's Unbound does) drop an answer that does not echo it.
func withName(rr mdns.RR, name string) mdns.RR {
	c := mdns.Copy(rr)
	c.Header().Name = name
	return c
}

// MaxUDPSize returns the largest UDP response req's sender accepts.
func MaxUDPSize(req *mdns.Msg) int {
	opt := req.IsEdns0()
	if opt == nil {
		return plainUDPSize
	}
	return int(min(max(opt.UDPSize(), plainUDPSize), ednsUDPSize))
}
