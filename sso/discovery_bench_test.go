package sso

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sso"

	"github.com/aws-sso-agent/aws-sso-agent/internal/ssofake"
)

// benchLatency is the fake portal's latency per call in the discovery
// benchmarks: the 20 ms.
const benchLatency = 20 * time.Millisecond

// oneCall measures the baseline in the same run: the median of a few
// single ListAccounts calls to the same portal through the same client.
func oneCall(b *testing.B, c PortalAPI) time.Duration {
	b.Helper()
	var best []time.Duration
	for range 5 {
		start := time.Now()
		if _, err := c.ListAccounts(context.Background(), &sso.ListAccountsInput{AccessToken: aws.String("tok"), MaxResults: aws.Int32(1)}); err != nil {
			b.Fatal(err)
		}
		best = append(best, time.Since(start))
	}
	for i := range best { // insertion sort of 5
		for j := i; j > 0 && best[j] < best[j-1]; j-- {
			best[j], best[j-1] = best[j-1], best[j]
		}
	}
	return best[len(best)/2]
}

// BenchmarkDiscoverCold discovers 100 accounts with 3 roles each from the
// fake portal answering every call after 20 ms, and reports the time as a
// multiple of one call's ("x-one-call"); the goal is at most 10.
func BenchmarkDiscoverCold(b *testing.B) {
	p := ssofake.NewPortal(ssofake.PortalConfig{
		Accounts: fakeAccounts(100, "Admin", "ReadOnly", "Developer"),
		Latency:  benchLatency,
	})
	c := portalClient(b, p)
	base := oneCall(b, c)
	d := &Discoverer{Portal: c}
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		roles, err := d.Discover(context.Background(), "tok")
		if err != nil {
			b.Fatal(err)
		}
		if len(roles) != 300 {
			b.Fatalf("got %d roles, want 300", len(roles))
		}
	}
	per := time.Since(start) / time.Duration(b.N)
	b.ReportMetric(float64(base.Microseconds())/1000, "ms-one-call")
	b.ReportMetric(float64(per)/float64(base), "x-one-call")
}

// BenchmarkDiscoverSerial is the same discovery one call at a time: what
// the concurrency saves.
func BenchmarkDiscoverSerial(b *testing.B) {
	p := ssofake.NewPortal(ssofake.PortalConfig{
		Accounts: fakeAccounts(100, "Admin", "ReadOnly", "Developer"),
		Latency:  benchLatency,
	})
	c := portalClient(b, p)
	base := oneCall(b, c)
	d := &Discoverer{Portal: c, Concurrency: 1}
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if _, err := d.Discover(context.Background(), "tok"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start)/time.Duration(b.N))/float64(base), "x-one-call")
}
