package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/pgtest"
	"github.com/aws-sso-agent/aws-sso-agent/signer/api"
	"github.com/aws-sso-agent/aws-sso-agent/signer/protocol"
	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

// BenchmarkAuthenticatedList measures authenticated requests per second
// on SQLite: GET /v1/certificates with a key scoped to two hostnames and
// four certificates to list, over loopback HTTP with keep-alive, from
// parallel clients. The baseline, in the same run, is the same HTTP
// stack answering a fixed JSON body of the same size without any of the
// API's work: the ratio is what authentication, limits, the database
// and the audit line cost. The goal is 2,000 requests/s.
func BenchmarkAuthenticatedList(b *testing.B) {
	// Limits out of the way: the benchmark's one key would meet its
	// per-key limit at once. The audit line is still written.
	seeded := func(dbURL string) (*fixture, []byte) {
		f := newFixtureOn(b, dbURL, func(c *api.Config) {
			c.Limits = api.Limits{PerIP: 1e9, IPBurst: 1e9, PerKey: 1e9, KeyBurst: 1e9}
			c.Budget = store.Budget{PerHostname: 100, Global: 100, Window: time.Hour, MaxFailures: 3, FailureWindow: time.Hour, Pending: time.Minute}
		})
		for i := 0; i < 4; i++ {
			label := []string{"alice", "alice2"}[i%2]
			if resp, body := f.sign(f.aliceKey, label+"."+zone); resp.StatusCode != 201 {
				b.Fatalf("seed certificate: %d %s", resp.StatusCode, body)
			}
		}
		resp, listBody := f.do("GET", protocol.PathCertificates, f.aliceKey, nil)
		var list protocol.CertificateList
		if err := json.Unmarshal(listBody, &list); err != nil || resp.StatusCode != 200 || len(list.Certificates) != 4 {
			b.Fatalf("list: %d %s", resp.StatusCode, listBody)
		}
		return f, listBody
	}
	unlimited, listBody := seeded("sqlite:" + b.TempDir() + "/signer.db")
	static := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(listBody)
	}))
	b.Cleanup(static.Close)

	// rates keeps each sub-benchmark's last (largest) run, for the ratio.
	rates := map[string]float64{}
	run := func(b *testing.B, url, key string) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		b.Cleanup(client.CloseIdleConnections)
		b.SetParallelism(4)
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequestWithContext(context.Background(), "GET", url+protocol.PathCertificates, nil)
				req.Header.Set("Authorization", "Bearer "+key)
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
		rate := float64(b.N) / time.Since(start).Seconds()
		rates[b.Name()] = rate
		b.ReportMetric(rate, "req/s")
	}
	// vsBaseline reports, on the running sub-benchmark's own line (a
	// parent's log shows only with -v), its rate over the baseline's.
	vsBaseline := func(b *testing.B) {
		if base := rates[strings.SplitN(b.Name(), "/", 2)[0]+"/baseline=static-json"]; base > 0 {
			b.ReportMetric(rates[b.Name()]/base, "x-baseline")
		}
	}
	b.Run("baseline=static-json", func(b *testing.B) { run(b, static.URL, unlimited.aliceKey) })
	// The goal is at least 2,000 req/s for api=sqlite.
	b.Run("api=sqlite", func(b *testing.B) { run(b, unlimited.srv.URL, unlimited.aliceKey); vsBaseline(b) })
	// PostgreSQL, for comparison: several instances scale past one
	// machine, not one instance past SQLite.
	cluster, err := pgtest.New()
	if err != nil {
		b.Logf("api=postgres not measured: %v", err)
		return
	}
	b.Cleanup(cluster.Stop)
	pg, _ := seeded(cluster.NewDatabase(b))
	b.Run("api=postgres", func(b *testing.B) { run(b, pg.srv.URL, pg.aliceKey); vsBaseline(b) })
}
