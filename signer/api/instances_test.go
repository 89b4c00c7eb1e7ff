package api_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/pgtest"
	"github.com/aws-sso-agent/aws-sso-agent/internal/signertest"
	"github.com/aws-sso-agent/aws-sso-agent/signer"
	"github.com/aws-sso-agent/aws-sso-agent/signer/api"
	"github.com/aws-sso-agent/aws-sso-agent/signer/protocol"
	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

// TestTwoInstancesOnPostgres runs two API instances, each with its own
// connection pool and issuer, on one PostgreSQL database behind a
// "load balancer" that alternates between them. Concurrent orders for
// one hostname yield one certificate (the others are told an issuance is
// under way), and concurrent orders for many hostnames never exceed the
// zone's budget: the instances coordinate only through the database.
func TestTwoInstancesOnPostgres(t *testing.T) {
	cluster := pgtest.Start(t)
	url := cluster.NewDatabase(t)
	ctx := context.Background()
	budget := store.Budget{PerHostname: 4, Global: 5, Window: 7 * 24 * time.Hour, MaxFailures: 3, FailureWindow: time.Hour, Pending: 10 * time.Minute}
	var urls []string
	var cas []*signertest.CA
	var db *store.DB
	for i := 0; i < 2; i++ {
		d, err := store.Open(ctx, url, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		db = d
		ca := signertest.NewCA(t)
		// Slow enough that the racing orders overlap.
		s, err := api.New(api.Config{Zone: zone, Store: d, Issuer: slowIssuer{ca}, Budget: budget,
			Limits: api.Limits{PerIP: 1e6, IPBurst: 1e6, PerKey: 1e6, KeyBurst: 1e6}})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		urls, cas = append(urls, srv.URL), append(cas, ca)
	}
	labels := []string{"host0", "host1", "host2", "host3", "host4", "host5", "host6", "host7"}
	db.AddAccount(ctx, "alice", "a@example.com", "h")
	for _, l := range labels {
		if _, err := db.AddHostname(ctx, "alice", l, 100); err != nil {
			t.Fatal(err)
		}
	}
	key, hash, _ := signer.NewAPIKey()
	if _, err := db.CreateKey(ctx, "alice", labels, hash); err != nil {
		t.Fatal(err)
	}
	post := func(i int, label string) int {
		body, _ := json.Marshal(protocol.SignRequest{CSR: string(signertest.CSR(t, label+"."+zone))})
		req, _ := http.NewRequest("POST", urls[i%2]+protocol.PathCertificates, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	race := func(n int, label func(i int) string) map[int]int {
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st := post(i, label(i))
				mu.Lock()
				statuses[st]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		return statuses
	}

	got := race(6, func(int) string { return "host0" })
	if got[201] != 1 || got[409] != 5 {
		t.Errorf("six concurrent orders for one hostname on two instances: %v; want one 201 and five 409", got)
	}
	got = race(7, func(i int) string { return labels[1+i] })
	if got[201] != budget.Global-1 || got[429] != 7-(budget.Global-1) {
		t.Errorf("seven concurrent orders for seven hostnames under a zone budget of %d (one spent): %v", budget.Global, got)
	}
	a, _ := cas[0].Counts()
	b, _ := cas[1].Counts()
	if a+b != budget.Global {
		t.Errorf("the instances issued %d and %d; want %d in all", a, b, budget.Global)
	}
}

// slowIssuer holds each order for a moment, as a real DNS-01 validation
// does for seconds.
type slowIssuer struct{ *signertest.CA }

func (s slowIssuer) Issue(ctx context.Context, csr *x509.CertificateRequest) ([]byte, error) {
	time.Sleep(200 * time.Millisecond)
	return s.CA.Issue(ctx, csr)
}
