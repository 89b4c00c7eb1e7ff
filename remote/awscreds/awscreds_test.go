package awscreds_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fakeagent"
	"github.com/aws-sso-agent/aws-sso-agent/remote"
	"github.com/aws-sso-agent/aws-sso-agent/remote/awscreds"
	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

var creds = wire.Credentials{
	AccessKeyID:     "ASIAFAKE",
	SecretAccessKey: "secret",
	SessionToken:    "token",
	Expires:         time.Now().Add(time.Hour).UTC().Truncate(time.Second),
	AccountID:       "123456789012",
}

func setup(t *testing.T, mod func(*fakeagent.Config)) (*remote.Finder, *fakeagent.Server, fakeagent.Session) {
	t.Helper()
	ca := fakeagent.NewCA(t)
	s := fakeagent.NewSession(t, ca, 0)
	cfg := s.Config(t, ca, map[string]wire.Credentials{"dev": creds})
	if mod != nil {
		mod(&cfg)
	}
	srv := fakeagent.Start(t, cfg)
	s.Port = srv.Port
	root := filepath.Join(t.TempDir(), ".aws-sso-agent")
	s.Write(t, root)
	f := &remote.Finder{
		Dir:       root,
		Getenv:    func(string) string { return "" },
		Ancestors: func() ([]int, error) { return []int{s.SSHDPID}, nil },
	}
	return f, srv, s
}

func TestRetrieve(t *testing.T) {
	f, _, _ := setup(t, nil)
	p := aws.NewCredentialsCache(awscreds.New(awscreds.Options{Slot: "dev", Finder: f}))
	got, err := p.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessKeyID != creds.AccessKeyID || got.SecretAccessKey != creds.SecretAccessKey ||
		got.SessionToken != creds.SessionToken || got.AccountID != creds.AccountID ||
		got.Source != awscreds.Source || !got.CanExpire || !got.Expires.Equal(creds.Expires) {
		t.Fatalf("got %+v, want %+v", got, creds)
	}
}

func TestRetrieveStaticNeverExpires(t *testing.T) {
	f, _, _ := setup(t, func(cfg *fakeagent.Config) {
		cfg.Creds[""] = wire.Credentials{AccessKeyID: "AKIA", SecretAccessKey: "s"}
	})
	got, err := awscreds.New(awscreds.Options{Finder: f}).Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.CanExpire {
		t.Errorf("got CanExpire for credentials without Expiration, want false")
	}
}

func TestRetrieveRefusesSquatter(t *testing.T) {
	f, srv, s := setup(t, func(cfg *fakeagent.Config) { cfg.Cert = fakeagent.SelfSigned(t) })
	_, err := awscreds.New(awscreds.Options{Slot: "dev", Finder: f}).Retrieve(context.Background())
	if remote.KindOf(err) != remote.KindCertificate {
		t.Fatalf("got %v, want a certificate error", err)
	}
	if !errors.Is(err, &remote.Error{Kind: remote.KindCertificate}) {
		t.Errorf("errors.Is does not see the kind through the wrapping: %v", err)
	}
	if srv.SawToken(s.Token) {
		t.Fatal("the squatter saw the token")
	}
}

func TestRetrieveSessionFlag(t *testing.T) {
	f, _, s := setup(t, nil)
	f.Ancestors = func() ([]int, error) { return nil, nil }
	f.Alive = func(int) bool { return false } // no fallback: only the id finds it
	if _, err := awscreds.New(awscreds.Options{Slot: "dev", Finder: f}).Retrieve(context.Background()); remote.KindOf(err) != remote.KindNoSession {
		t.Fatalf("without an id: got %v, want no session", err)
	}
	if _, err := awscreds.New(awscreds.Options{Slot: "dev", SessionID: s.ID, Finder: f}).Retrieve(context.Background()); err != nil {
		t.Fatalf("with the id: %v", err)
	}
}
