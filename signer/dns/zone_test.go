package dns

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/aws-sso-agent/aws-sso-agent/signer"
)

func TestAnswer(t *testing.T) {
	z := newTestZone(t)
	tests := []struct {
		name   string
		qname  string
		qtype  uint16
		rcode  int
		answer []string // the answer section, as text without the header
		aa     bool
		soaNs  bool // the SOA is in the authority section
	}{
		// Serial: New set the clock's 1800000000, newTestZone's Update one more.
		{"apex SOA", testZone, mdns.TypeSOA, mdns.RcodeSuccess, []string{"ns1.signer.example.test. hostmaster.signer.example.test. 1800000001 3600 600 1209600 60"}, true, false},
		{"apex NS", testZone, mdns.TypeNS, mdns.RcodeSuccess, []string{"ns1.signer.example.test.", "ns.other.example."}, true, false},
		{"apex CAA", testZone, mdns.TypeCAA, mdns.RcodeSuccess, []string{`0 issue "letsencrypt.org; validationmethods=dns-01"`, `0 issuewild ";"`}, true, false},
		{"apex MX is null", testZone, mdns.TypeMX, mdns.RcodeSuccess, []string{"0 ."}, true, false},
		{"apex SPF", testZone, mdns.TypeTXT, mdns.RcodeSuccess, []string{`"v=spf1 -all"`}, true, false},
		{"apex has no A", testZone, mdns.TypeA, mdns.RcodeSuccess, nil, true, true},
		{"registered A", "alice." + testZone, mdns.TypeA, mdns.RcodeSuccess, []string{"127.0.0.1"}, true, false},
		{"registered AAAA", "alice." + testZone, mdns.TypeAAAA, mdns.RcodeSuccess, []string{"::1"}, true, false},
		{"registered MX is null", "alice." + testZone, mdns.TypeMX, mdns.RcodeSuccess, []string{"0 ."}, true, false},
		{"registered SPF", "alice." + testZone, mdns.TypeTXT, mdns.RcodeSuccess, []string{`"v=spf1 -all"`}, true, false},
		{"registered CAA is the apex's", "alice." + testZone, mdns.TypeCAA, mdns.RcodeSuccess, nil, true, true},
		{"registered name in mixed case", "BoB.sIgNeR.example.TEST.", mdns.TypeA, mdns.RcodeSuccess, []string{"127.0.0.1"}, true, false},
		{"challenge below a deeper name", "_acme-challenge.deep.team." + testZone, mdns.TypeTXT, mdns.RcodeSuccess, []string{`"chal-value-2"`}, true, false},
		{"empty non-terminal", "team." + testZone, mdns.TypeA, mdns.RcodeSuccess, nil, true, true},
		{"empty non-terminal, deeper", "deep.team." + testZone, mdns.TypeTXT, mdns.RcodeSuccess, nil, true, true},
		{"challenge TXT", "_acme-challenge.alice." + testZone, mdns.TypeTXT, mdns.RcodeSuccess, []string{`"chal-value-1"`}, true, false},
		{"no challenge for bob", "_acme-challenge.bob." + testZone, mdns.TypeTXT, mdns.RcodeNameError, nil, true, true},
		{"service host", "api." + testZone, mdns.TypeA, mdns.RcodeSuccess, []string{"192.0.2.80"}, true, false},
		{"nameserver glue", "ns1." + testZone, mdns.TypeAAAA, mdns.RcodeSuccess, []string{"2001:db8::53"}, true, false},
		{"unregistered", "mallory." + testZone, mdns.TypeA, mdns.RcodeNameError, nil, true, true},
		{"below a registered name", "www.alice." + testZone, mdns.TypeA, mdns.RcodeNameError, nil, true, true},
		{"outside the zone", "example.com.", mdns.TypeA, mdns.RcodeRefused, nil, false, false},
		{"the parent", "example.test.", mdns.TypeSOA, mdns.RcodeRefused, nil, false, false},
		{"a sibling ending alike", "xsigner.example.test.", mdns.TypeA, mdns.RcodeRefused, nil, false, false},
		{"ANY is minimal", "alice." + testZone, mdns.TypeANY, mdns.RcodeSuccess, []string{`"RFC8482" ""`}, true, false},
		{"SOA below the apex", "alice." + testZone, mdns.TypeSOA, mdns.RcodeSuccess, nil, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := query(tt.qname, tt.qtype)
			resp := z.Answer(req)
			if resp.Rcode != tt.rcode {
				t.Fatalf("rcode = %s, want %s", mdns.RcodeToString[resp.Rcode], mdns.RcodeToString[tt.rcode])
			}
			if resp.Authoritative != tt.aa {
				t.Errorf("AA = %v, want %v", resp.Authoritative, tt.aa)
			}
			if resp.RecursionAvailable {
				t.Error("RA set: this server does not recurse")
			}
			var got []string
			for _, rr := range resp.Answer {
				if rr.Header().Name != tt.qname {
					t.Errorf("answer owner %q, want the query's spelling %q", rr.Header().Name, tt.qname)
				}
				got = append(got, strings.TrimPrefix(rr.String(), rr.Header().String()))
			}
			if !slices.Equal(got, tt.answer) {
				t.Errorf("answer = %q, want %q", got, tt.answer)
			}
			hasSOA := len(resp.Ns) == 1 && resp.Ns[0].Header().Rrtype == mdns.TypeSOA
			if hasSOA != tt.soaNs {
				t.Errorf("authority = %v, want SOA: %v", resp.Ns, tt.soaNs)
			}
			if _, err := resp.Pack(); err != nil {
				t.Errorf("response does not pack: %v", err)
			}
		})
	}
}

func TestAnswerTTLs(t *testing.T) {
	z := newTestZone(t)
	for _, tt := range []struct {
		qname string
		qtype uint16
		want  uint32
	}{
		{"_acme-challenge.alice." + testZone, mdns.TypeTXT, uint32(DefaultChallengeTTL / time.Second)},
		{"alice." + testZone, mdns.TypeA, uint32(DefaultHostTTL / time.Second)},
	} {
		resp := z.Answer(query(tt.qname, tt.qtype))
		if len(resp.Answer) != 1 || resp.Answer[0].Header().Ttl != tt.want {
			t.Errorf("%s %s: answer %v, want TTL %d", tt.qname, mdns.TypeToString[tt.qtype], resp.Answer, tt.want)
		}
	}
}

func TestAnswerNSGlue(t *testing.T) {
	z := newTestZone(t)
	resp := z.Answer(query(testZone, mdns.TypeNS))
	var glue []string
	for _, rr := range resp.Extra {
		glue = append(glue, rr.String())
	}
	want := []string{"ns1.signer.example.test.\t300\tIN\tA\t192.0.2.53", "ns1.signer.example.test.\t300\tIN\tAAAA\t2001:db8::53"}
	if !slices.Equal(glue, want) {
		t.Errorf("additional = %q, want %q", glue, want)
	}
}

func TestAnswerMalformed(t *testing.T) {
	z := newTestZone(t)
	resp := query("alice."+testZone, mdns.TypeA)
	resp.Response = true
	if got := z.Answer(resp); got != nil {
		t.Errorf("a response was answered: %v", got)
	}

	two := query("alice."+testZone, mdns.TypeA)
	two.Question = append(two.Question, two.Question[0])
	notify := query(testZone, mdns.TypeSOA)
	notify.Opcode = mdns.OpcodeNotify
	chaos := query("alice."+testZone, mdns.TypeA)
	chaos.Question[0].Qclass = mdns.ClassCHAOS
	none := query("alice."+testZone, mdns.TypeA)
	none.Question = nil
	edns1 := query("alice."+testZone, mdns.TypeA)
	edns1.SetEdns0(4096, false)
	edns1.IsEdns0().SetVersion(1)
	for _, tt := range []struct {
		name  string
		req   *mdns.Msg
		rcode int
	}{
		{"two questions", two, mdns.RcodeFormatError},
		{"no question", none, mdns.RcodeFormatError},
		{"NOTIFY", notify, mdns.RcodeNotImplemented},
		{"CHAOS class", chaos, mdns.RcodeRefused},
		{"EDNS version 1", edns1, mdns.RcodeBadVers},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := z.Answer(tt.req)
			if got.Rcode != tt.rcode || len(got.Answer) != 0 {
				t.Errorf("rcode %s with %d answers, want %s and none", mdns.RcodeToString[got.Rcode], len(got.Answer), mdns.RcodeToString[tt.rcode])
			}
		})
	}
}

func TestUpdateReplacesAndBumpsSerial(t *testing.T) {
	z := newTestZone(t)
	before := z.Serial()
	if err := z.Update(signer.Zone{Hostnames: []string{"carol"}}); err != nil {
		t.Fatal(err)
	}
	if z.Serial() <= before {
		t.Errorf("serial %d after update, was %d: secondaries would miss the change", z.Serial(), before)
	}
	if got := z.Answer(query("alice."+testZone, mdns.TypeA)).Rcode; got != mdns.RcodeNameError {
		t.Errorf("released alice: rcode %s, want NXDOMAIN", mdns.RcodeToString[got])
	}
	if got := z.Answer(query("_acme-challenge.alice."+testZone, mdns.TypeTXT)).Rcode; got != mdns.RcodeNameError {
		t.Errorf("cleaned-up challenge: rcode %s, want NXDOMAIN", mdns.RcodeToString[got])
	}
	if got := z.Answer(query("carol."+testZone, mdns.TypeA)); len(got.Answer) != 1 {
		t.Errorf("new carol: %v, want its A record", got)
	}
	if got := z.Answer(query("api."+testZone, mdns.TypeA)); len(got.Answer) != 1 {
		t.Errorf("service host lost on update: %v", got)
	}
}

func TestUpdateLeavesOutBadRows(t *testing.T) {
	z := newTestZone(t)
	err := z.Update(signer.Zone{
		Hostnames: []string{"good", "two.labels", "", "under_score", "api", "-dash", strings.Repeat("x", 64)},
		TXT: map[string][]string{
			"_acme-challenge.good." + testZone:   {"ok", "bad\"\nvalue", strings.Repeat("x", 256)},
			"_acme-challenge.elsewhere.example.": {"v"},
			"_acme-challenge.many." + testZone:   {"1", "2", "3", "4", "5"},
			"_psl." + testZone:                   {"https://github.com/publicsuffix/list/pull/1"},
			"good." + testZone:                   {"google-site-verification=x"},
		},
	})
	if err == nil {
		t.Fatal("Update took bad rows without a word")
	}
	for _, want := range []string{`"two.labels"`, `""`, "under_score", `"api"`, "-dash", "xxxxxxxx", "bad", "elsewhere.example", "more than 4", "_psl", `"good.signer`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %q: %v", want, err)
		}
	}
	if got := z.Answer(query("good."+testZone, mdns.TypeA)); len(got.Answer) != 1 {
		t.Errorf("good row not served: %v", got)
	}
	if got := z.Answer(query("good."+testZone, mdns.TypeTXT)); len(got.Answer) != 1 || got.Answer[0].(*mdns.TXT).Txt[0] != spfNone {
		t.Errorf("TXT at a hostname: %v, want only its SPF", got.Answer)
	}
	if got := z.Answer(query("_psl."+testZone, mdns.TypeTXT)); got.Rcode != mdns.RcodeNameError {
		t.Errorf("_psl TXT from the store served: %v", got)
	}
	if got := z.Answer(query("_acme-challenge.good."+testZone, mdns.TypeTXT)); len(got.Answer) != 1 {
		t.Errorf("good challenge value: %v, want only it", got.Answer)
	}
	if got := z.Answer(query("_acme-challenge.many."+testZone, mdns.TypeTXT)); len(got.Answer) != maxChallengeValues {
		t.Errorf("many values: %d served, want the first %d", len(got.Answer), maxChallengeValues)
	}
	if got := z.Answer(query("api."+testZone, mdns.TypeA)); len(got.Answer) != 1 || got.Answer[0].(*mdns.A).A.String() != "192.0.2.80" {
		t.Errorf("a registration shadowed the service's own name: %v", got.Answer)
	}
	if got := z.Answer(query(testZone, mdns.TypeA)); len(got.Answer) != 0 {
		t.Errorf("the apex became a registered name: %v", got.Answer)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*Config)
	}{
		{"no zone", func(c *Config) { c.Zone = "" }},
		{"root zone", func(c *Config) { c.Zone = "." }},
		{"no nameservers", func(c *Config) { c.Nameservers = nil }},
		{"in-zone nameserver without glue", func(c *Config) { c.Nameservers = []string{"ns9." + testZone} }},
		{"host outside the zone", func(c *Config) { c.Hosts["www.example.com"] = c.Hosts["api."+testZone[:len(testZone)-1]] }},
		{"host without addresses", func(c *Config) { c.Hosts["www."+testZone] = nil }},
		{"bad CAA issuer", func(c *Config) { c.CAAIssuer = "lets encrypt" }},
		{"CAA account URI breaking the value", func(c *Config) { c.CAAAccountURI = "https://ca/acct/1; issuewild" }},
		{"bad hostmaster", func(c *Config) { c.Hostmaster = "nobody" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.edit(&cfg)
			if _, err := New(cfg); err == nil {
				t.Error("New took it")
			}
		})
	}
}

func TestCAAConfigurable(t *testing.T) {
	cfg := testConfig()
	cfg.CAAIssuer = "pebble.example"
	cfg.CAAAccountURI = "https://ca.example/acct/42"
	z, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp := z.Answer(query(testZone, mdns.TypeCAA))
	if len(resp.Answer) != 2 {
		t.Fatalf("CAA: %v", resp.Answer)
	}
	if got, want := resp.Answer[0].(*mdns.CAA).Value, "pebble.example; validationmethods=dns-01; accounturi=https://ca.example/acct/42"; got != want {
		t.Errorf("issue = %q, want %q", got, want)
	}
}

// TestServeUDPAndTCP asks the running server over both transports, with
// miekg/dns's client and with Go's own resolver.
func TestServeUDPAndTCP(t *testing.T) {
	addr := serve(t, newTestZone(t))
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			c := &mdns.Client{Net: network, Timeout: 5 * time.Second}
			resp, _, err := c.Exchange(query("alice."+testZone, mdns.TypeA), addr)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Answer) != 1 || resp.Answer[0].(*mdns.A).A.String() != "127.0.0.1" {
				t.Errorf("answer %v, want 127.0.0.1", resp.Answer)
			}
			r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			}}
			ips, err := r.LookupHost(context.Background(), "bob.signer.example.test")
			slices.Sort(ips)
			if err != nil || !slices.Equal(ips, []string{"127.0.0.1", "::1"}) {
				t.Errorf("LookupHost = %v, %v; want loopback only", ips, err)
			}
			_, err = r.LookupHost(context.Background(), "mallory.signer.example.test")
			var dnsErr *net.DNSError
			if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
				t.Errorf("unregistered name: %v, want not found", err)
			}
			txt, err := r.LookupTXT(context.Background(), "_acme-challenge.alice.signer.example.test")
			if err != nil || !slices.Equal(txt, []string{"chal-value-1"}) {
				t.Errorf("challenge TXT = %v, %v", txt, err)
			}
		})
	}
}

// TestServeTruncatesUDP gives a plain UDP query an answer larger than 512
// bytes: it comes back truncated, and whole over TCP.
func TestServeTruncatesUDP(t *testing.T) {
	z := newTestZone(t)
	values := []string{strings.Repeat("a", 200), strings.Repeat("b", 200), strings.Repeat("c", 200), strings.Repeat("d", 200)}
	if err := z.Update(signer.Zone{TXT: map[string][]string{"_acme-challenge.big." + testZone: values}}); err != nil {
		t.Fatal(err)
	}
	addr := serve(t, z)
	q := query("_acme-challenge.big."+testZone, mdns.TypeTXT)
	udp, _, err := (&mdns.Client{Net: "udp", Timeout: 5 * time.Second}).Exchange(q, addr)
	if err != nil {
		t.Fatal(err)
	}
	if !udp.Truncated || len(udp.Answer) == len(values) {
		t.Errorf("UDP: TC=%v with %d answers, want truncated", udp.Truncated, len(udp.Answer))
	}
	tcp, _, err := (&mdns.Client{Net: "tcp", Timeout: 5 * time.Second}).Exchange(q, addr)
	if err != nil {
		t.Fatal(err)
	}
	if tcp.Truncated || len(tcp.Answer) != len(values) {
		t.Errorf("TCP: TC=%v with %d answers, want all %d", tcp.Truncated, len(tcp.Answer), len(values))
	}
}

// fakeSource is a ZoneSource in memory whose loads the test counts.
type fakeSource struct {
	mu    sync.Mutex
	zone  signer.Zone
	err   error
	loads int
}

func (s *fakeSource) set(z signer.Zone) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zone = z
}

func (s *fakeSource) ZoneVersion(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.zone.Version, s.err
}

func (s *fakeSource) LoadZone(context.Context) (signer.Zone, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	return s.zone, s.err
}

func (s *fakeSource) loadCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loads
}

func TestFollow(t *testing.T) {
	z := newTestZone(t)
	src := &fakeSource{zone: signer.Zone{Version: 1, Hostnames: []string{"first"}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := z.Follow(ctx, src, time.Millisecond, func(err error) { t.Errorf("report: %v", err) }); err != nil {
		t.Fatal(err)
	}
	if got := z.Answer(query("first."+testZone, mdns.TypeA)); len(got.Answer) != 1 {
		t.Fatalf("first load not served when Follow returned: %v", got)
	}
	// The version stays: the zone is not loaded again, however many
	// ticks pass.
	time.Sleep(20 * time.Millisecond)
	if n := src.loadCount(); n != 1 {
		t.Errorf("%d loads with an unchanged version, want 1", n)
	}
	src.set(signer.Zone{Version: 2, Hostnames: []string{"second"}})
	deadline := time.Now().Add(10 * time.Second)
	for len(z.Answer(query("second."+testZone, mdns.TypeA)).Answer) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("version 2 never served")
		}
		time.Sleep(time.Millisecond)
	}
	if got := z.Answer(query("first."+testZone, mdns.TypeA)); got.Rcode != mdns.RcodeNameError {
		t.Errorf("released name still served: %v", got)
	}
}

// TestFollowReloadsAtExpiry: a challenge record that expires goes at
// its expiry although the version stays.
func TestFollowReloadsAtExpiry(t *testing.T) {
	z := newTestZone(t)
	src := &fakeSource{zone: signer.Zone{
		Version: 7,
		TXT:     map[string][]string{"_acme-challenge.alice." + testZone: {"v"}},
		Expires: time.Now().Add(50 * time.Millisecond),
	}}
	if err := z.Follow(t.Context(), src, time.Millisecond, nil); err != nil {
		t.Fatal(err)
	}
	src.set(signer.Zone{Version: 7}) // what the store reads once the record expired
	deadline := time.Now().Add(10 * time.Second)
	for z.Answer(query("_acme-challenge.alice."+testZone, mdns.TypeTXT)).Rcode != mdns.RcodeNameError {
		if time.Now().After(deadline) {
			t.Fatal("expired challenge record still served")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFollowFailingFirstLoad(t *testing.T) {
	z := newTestZone(t)
	src := &fakeSource{err: errors.New("db down")}
	if err := z.Follow(t.Context(), src, time.Hour, nil); err == nil || !strings.Contains(err.Error(), "db down") {
		t.Errorf("Follow with a failing first load: %v, want its error", err)
	}
	if got := z.Answer(query("alice."+testZone, mdns.TypeA)); len(got.Answer) != 1 {
		t.Errorf("a failed load dropped the zone: %v", got)
	}
}
