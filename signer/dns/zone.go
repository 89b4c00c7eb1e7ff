package dns

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/aws-sso-agent/aws-sso-agent/signer"
)

// TTLs of the zone's records, unless Config says otherwise.
const (
	// DefaultHostTTL is the TTL of A, AAAA, MX, SPF, NS and CAA records:
	// they change only when a name is registered or released.
	DefaultHostTTL = 5 * time.Minute
	// DefaultChallengeTTL is the TTL of a challenge record. The record
	// lives for one validation; a resolver that cached it longer would
	// hand the CA a stale value on the next one (Let's Encrypt's
	// resolvers honour TTLs down to a few seconds).
	DefaultChallengeTTL = 10 * time.Second
	// DefaultNegativeTTL is the SOA minimum, how long a resolver caches
	// an NXDOMAIN (RFC 2308): a name registered a minute after somebody
	// looked it up resolves a minute later at worst.
	DefaultNegativeTTL = time.Minute
)

// DefaultCAAIssuer is the CA the CAA records allow: Let's Encrypt's
// issuer domain name (its CPS, section 4.2.1).
const DefaultCAAIssuer = "letsencrypt.org"

// maxChallengeValues bounds the TXT records of one challenge name. A
// DNS-01 order for one name needs one value; a renewal may overlap an
// order that has not cleaned up yet, and the acme-dns API keeps two.
const maxChallengeValues = 4

// Config says what the zone is and who serves it.
type Config struct {
	// Zone is the zone's apex, "signer.example.org".
	Zone string
	// Nameservers are the names in the NS records at the apex, in the
	// zone or outside it; at least one. A nameserver inside the zone needs
	// its addresses in Hosts (its glue).
	Nameservers []string
	// Hosts are the service's own names with their public addresses: its
	// nameservers inside the zone and its API. Registered hostnames never
	// take these names (the store refuses them as reserved); if one did,
	// the address here wins.
	Hosts map[string][]netip.Addr
	// Hostmaster is the mailbox in the SOA record, "hostmaster@ZONE" if
	// empty.
	Hostmaster string
	// CAAIssuer is the issuer domain name the CAA record allows,
	// DefaultCAAIssuer if empty. Tests against Pebble, which does not
	// check CAA, may leave it.
	CAAIssuer string
	// CAAAccountURI, if set, limits issuance to that ACME account
	// (RFC 8657), the service's own.
	CAAAccountURI string
	// HostTTL, ChallengeTTL and NegativeTTL override the defaults.
	HostTTL, ChallengeTTL, NegativeTTL time.Duration
	// Now is the clock that sets the SOA serial; nil means time.Now.
	Now func() time.Time
}

// Zone answers queries for one zone from a snapshot in memory. Its
// methods are safe for concurrent use; Answer takes no lock.
type Zone struct {
	apex     string // canonical: lower case, final dot
	cfg      Config
	fixed    map[string]*node // the apex and Hosts, built once
	now      func() time.Time
	mu       sync.Mutex // serializes Update
	snap     atomic.Pointer[snapshot]
	hostTTL  uint32
	chalTTL  uint32
	negTTL   uint32
	nsGlue   []mdns.RR
	nsRRs    []mdns.RR
	soaProto mdns.SOA
}

// snapshot is one immutable state of the zone.
type snapshot struct {
	serial uint32
	soa    *mdns.SOA
	names  map[string]*node // canonical name -> its records
}

// node holds the records of one name, by type. An empty node is an empty
// non-terminal: the name exists (NOERROR) but has no records.
type node map[uint16][]mdns.RR

// New makes the zone from cfg, with no registered names yet: Update or
// Follow fills them in.
func New(cfg Config) (*Zone, error) {
	apex, err := canonical(cfg.Zone)
	if err != nil || apex == "." {
		return nil, fmt.Errorf("signer: dns: zone %q: not a domain name", cfg.Zone)
	}
	if len(cfg.Nameservers) == 0 {
		return nil, errors.New("signer: dns: no nameservers for the NS records")
	}
	z := &Zone{
		apex:    apex,
		cfg:     cfg,
		now:     cfg.Now,
		hostTTL: ttlSeconds(cfg.HostTTL, DefaultHostTTL),
		chalTTL: ttlSeconds(cfg.ChallengeTTL, DefaultChallengeTTL),
		negTTL:  ttlSeconds(cfg.NegativeTTL, DefaultNegativeTTL),
	}
	if z.now == nil {
		z.now = time.Now
	}
	if err := z.buildFixed(); err != nil {
		return nil, err
	}
	if err := z.Update(signer.Zone{}); err != nil {
		return nil, err
	}
	return z, nil
}

// Apex returns the zone's name, in lower case with a final dot.
func (z *Zone) Apex() string { return z.apex }

func (z *Zone) buildFixed() error {
	z.fixed = map[string]*node{}
	apex := z.newNode(z.apex)
	apex.put(z.apex, z.hostTTL, &mdns.MX{Preference: 0, Mx: "."})
	apex.put(z.apex, z.hostTTL, &mdns.TXT{Txt: []string{spfNone}})

	issuer := cmpOr(z.cfg.CAAIssuer, DefaultCAAIssuer)
	if !isHostname(issuer) {
		return fmt.Errorf("signer: dns: CAA issuer %q: not a domain name", issuer)
	}
	issue := issuer + "; validationmethods=dns-01"
	if u := z.cfg.CAAAccountURI; u != "" {
		if strings.ContainsAny(u, "; \"\t\r\n") {
			return fmt.Errorf("signer: dns: CAA account URI %q: has characters a CAA value cannot", u)
		}
		issue += "; accounturi=" + u
	}
	apex.put(z.apex, z.hostTTL, &mdns.CAA{Flag: 0, Tag: "issue", Value: issue})
	apex.put(z.apex, z.hostTTL, &mdns.CAA{Flag: 0, Tag: "issuewild", Value: ";"})

	for name, addrs := range z.cfg.Hosts {
		cn, err := canonical(name)
		if err != nil || !mdns.IsSubDomain(z.apex, cn) {
			return fmt.Errorf("signer: dns: host %q: not a name in zone %s", name, z.apex)
		}
		if len(addrs) == 0 {
			return fmt.Errorf("signer: dns: host %q: no addresses", name)
		}
		n := z.newNode(cn)
		if cn != z.apex {
			n.put(cn, z.hostTTL, &mdns.MX{Preference: 0, Mx: "."})
			n.put(cn, z.hostTTL, &mdns.TXT{Txt: []string{spfNone}})
		}
		for _, a := range addrs {
			n.put(cn, z.hostTTL, addrRR(a))
		}
	}
	for _, ns := range z.cfg.Nameservers {
		cn, err := canonical(ns)
		if err != nil || cn == "." {
			return fmt.Errorf("signer: dns: nameserver %q: not a domain name", ns)
		}
		apex.put(z.apex, z.hostTTL, &mdns.NS{Ns: cn})
		if mdns.IsSubDomain(z.apex, cn) {
			n, ok := z.fixed[cn]
			if !ok || (len((*n)[mdns.TypeA]) == 0 && len((*n)[mdns.TypeAAAA]) == 0) {
				return fmt.Errorf("signer: dns: nameserver %s is in the zone but has no addresses in Hosts (its glue)", cn)
			}
			z.nsGlue = append(z.nsGlue, (*n)[mdns.TypeA]...)
			z.nsGlue = append(z.nsGlue, (*n)[mdns.TypeAAAA]...)
		}
	}
	z.nsRRs = (*apex)[mdns.TypeNS]

	mbox := cmpOr(z.cfg.Hostmaster, "hostmaster@"+strings.TrimSuffix(z.apex, "."))
	local, domain, ok := strings.Cut(mbox, "@")
	if !ok || local == "" || strings.ContainsAny(local, ". ") || !isHostname(domain) {
		return fmt.Errorf("signer: dns: hostmaster %q: not a mailbox user@domain", mbox)
	}
	z.soaProto = mdns.SOA{
		Hdr:     mdns.RR_Header{Name: z.apex, Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: z.hostTTL},
		Ns:      mdns.Fqdn(strings.ToLower(z.cfg.Nameservers[0])),
		Mbox:    local + "." + mdns.Fqdn(strings.ToLower(domain)),
		Refresh: 3600, Retry: 600, Expire: 1209600,
		Minttl: z.negTTL,
	}
	return nil
}

// loopback are the only addresses a registered hostname resolves to.
var loopback = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()}

// spfNone allows no host to send mail for the name (RFC 7208).
const spfNone = "v=spf1 -all"

func (z *Zone) newNode(name string) *node {
	if n, ok := z.fixed[name]; ok {
		return n
	}
	n := &node{}
	z.fixed[name] = n
	return n
}

func (n *node) put(owner string, ttl uint32, rr mdns.RR) {
	h := rr.Header()
	h.Name = owner
	h.Class = mdns.ClassINET
	h.Ttl = ttl
	switch rr.(type) {
	case *mdns.A:
		h.Rrtype = mdns.TypeA
	case *mdns.AAAA:
		h.Rrtype = mdns.TypeAAAA
	case *mdns.MX:
		h.Rrtype = mdns.TypeMX
	case *mdns.TXT:
		h.Rrtype = mdns.TypeTXT
	case *mdns.CAA:
		h.Rrtype = mdns.TypeCAA
	case *mdns.NS:
		h.Rrtype = mdns.TypeNS
	}
	(*n)[h.Rrtype] = append((*n)[h.Rrtype], rr)
}

// Update replaces the registered names and challenge records with those
// of v. An entry that cannot be in the zone (not a label, a TXT record
// other than a challenge's, a value DNS cannot carry) is left out and
// named in the returned error; the rest is served, so one bad row in the
// store does not stop every update.
func (z *Zone) Update(v signer.Zone) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	var errs []error
	names := make(map[string]*node, len(z.fixed)+2*len(v.Hostnames)+len(v.TXT))
	for name, n := range z.fixed {
		names[name] = n
	}
	for _, label := range v.Hostnames {
		if strings.Contains(label, ".") || !isHostname(label) {
			errs = append(errs, fmt.Errorf("hostname %q: not one label of letters, digits and hyphens", label))
			continue
		}
		cn := strings.ToLower(label) + "." + z.apex
		if len(cn) > 254 {
			errs = append(errs, fmt.Errorf("hostname %q: name too long", label))
			continue
		}
		if _, ok := z.fixed[cn]; ok {
			errs = append(errs, fmt.Errorf("hostname %q: one of the service's own names", label))
			continue
		}
		n := &node{}
		n.put(cn, z.hostTTL, &mdns.MX{Preference: 0, Mx: "."})
		n.put(cn, z.hostTTL, &mdns.TXT{Txt: []string{spfNone}})
		for _, a := range loopback {
			n.put(cn, z.hostTTL, addrRR(a))
		}
		names[cn] = n
	}
	for owner, values := range v.TXT {
		cn, err := z.challengeName(owner)
		if err != nil {
			errs = append(errs, fmt.Errorf("TXT %q: %w", owner, err))
			continue
		}
		n := &node{}
		for _, val := range values {
			if len((*n)[mdns.TypeTXT]) >= maxChallengeValues {
				errs = append(errs, fmt.Errorf("TXT %q: more than %d values", owner, maxChallengeValues))
				break
			}
			if !validTXT(val) {
				errs = append(errs, fmt.Errorf("TXT %q: value %q: not printable ASCII of at most 255 bytes", owner, val))
				continue
			}
			n.put(cn, z.chalTTL, &mdns.TXT{Txt: []string{val}})
		}
		if len(*n) > 0 {
			names[cn] = n
		}
	}
	// Every name between a record's owner and the apex exists (it is an
	// empty non-terminal, RFC 8020): NODATA there, not NXDOMAIN, or a
	// resolver would take the whole subtree for absent.
	for name := range names {
		for p := parent(name); p != "" && p != z.apex && mdns.IsSubDomain(z.apex, p); p = parent(p) {
			if _, ok := names[p]; ok {
				break
			}
			names[p] = &node{}
		}
	}

	serial := uint32(z.now().Unix())
	if old := z.snap.Load(); old != nil && serial <= old.serial {
		serial = old.serial + 1
	}
	soa := z.soaProto
	soa.Serial = serial
	z.snap.Store(&snapshot{serial: serial, soa: &soa, names: names})
	if len(errs) > 0 {
		return fmt.Errorf("signer: dns: left out of zone %s: %w", z.apex, errors.Join(errs...))
	}
	return nil
}

// challengePrefix is the first label of every TXT record the store may
// publish (RFC 8555 section 8.4). Nothing else is served from the store,
// so a bug or a breach of the API cannot publish a domain-verification or
// _psl record for the zone.
const challengePrefix = "_acme-challenge."

// challengeName checks that owner is _acme-challenge.NAME with NAME in the
// zone (the apex included) and returns it canonical.
func (z *Zone) challengeName(owner string) (string, error) {
	cn, err := canonical(owner)
	if err != nil {
		return "", err
	}
	rest, ok := strings.CutPrefix(cn, challengePrefix)
	if !ok || !mdns.IsSubDomain(z.apex, rest) || len(cn) > 254 {
		return "", fmt.Errorf("not %sNAME with NAME in the zone", challengePrefix)
	}
	return cn, nil
}

// Serial returns the SOA serial of the current snapshot.
func (z *Zone) Serial() uint32 { return z.snap.Load().serial }

// canonical returns name in lower case with a final dot, or an error if it
// is not a domain name.
func canonical(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty name")
	}
	if _, ok := mdns.IsDomainName(name); !ok {
		return "", errors.New("not a domain name")
	}
	return mdns.CanonicalName(name), nil
}

func parent(name string) string {
	i, end := mdns.NextLabel(name, 0)
	if end {
		return ""
	}
	return name[i:]
}

// isHostname reports whether name (no final dot needed) is labels of
// letters, digits and hyphens, not starting or ending with a hyphen.
func isHostname(name string) bool {
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func validTXT(v string) bool {
	if v == "" || len(v) > 255 {
		return false
	}
	return !slices.ContainsFunc([]byte(v), func(c byte) bool { return c < 0x20 || c > 0x7e })
}

func addrRR(a netip.Addr) mdns.RR {
	if a.Is4() || a.Is4In6() {
		return &mdns.A{A: a.Unmap().AsSlice()}
	}
	return &mdns.AAAA{AAAA: a.AsSlice()}
}

func ttlSeconds(d, def time.Duration) uint32 {
	if d <= 0 {
		d = def
	}
	return uint32(d / time.Second)
}

func cmpOr(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
