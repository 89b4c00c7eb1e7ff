package acme_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/certs/acme"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "https://" + l.Addr().String() + "/dir"
	l.Close()
	return u
}

func TestCheckCA(t *testing.T) {
	ctx := context.Background()
	e := startACME(t)
	if err := acme.CheckCA(ctx, e.pebble.Client, e.pebble.Directory); err != nil {
		t.Errorf("CheckCA(Pebble) = %v, want nil", err)
	}

	closed := closedURL(t)
	err := acme.CheckCA(ctx, nil, closed)
	var u *acme.UnreachableError
	if !errors.As(err, &u) || u.Directory != closed {
		t.Errorf("CheckCA(closed port) = %v, want an *UnreachableError for %s", err, closed)
	}
	// Pebble's certificate is not in the system's roots: the CA cannot be
	// reached safely, which is not the CA's or the DNS provider's fault.
	if err := acme.CheckCA(ctx, nil, e.pebble.Directory); !errors.As(err, &u) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("CheckCA(untrusted TLS) = %v, want an *UnreachableError about the certificate", err)
	}

	for name, h := range map[string]http.HandlerFunc{
		"404":      func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
		"not json": func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) },
		"no order": func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"newNonce":"x","newAccount":"y"}`)) },
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewTLSServer(h)
			defer srv.Close()
			err := acme.CheckCA(ctx, srv.Client(), srv.URL+"/dir")
			if err == nil || errors.As(err, &u) {
				t.Errorf("CheckCA = %v, want an error that is not *UnreachableError", err)
			}
		})
	}
}

// TestObtainTellsUnreachableFromDNS: Obtain's error is an *UnreachableError
// when the CA does not answer, and not when the CA answers and the DNS
// provider fails: the CLI's hint depends on it.
func TestObtainTellsUnreachableFromDNS(t *testing.T) {
	ctx := context.Background()
	var u *acme.UnreachableError
	_, err := acme.Obtain(ctx, acme.Config{Directory: closedURL(t), FQDN: "agent.example.com", DNS: nopDNS{}, Store: store.NewMemory()})
	if !errors.As(err, &u) {
		t.Errorf("Obtain(closed port) = %v, want an *UnreachableError", err)
	}

	e := startACME(t)
	_, err = acme.Obtain(ctx, e.config(nopDNS{}, store.NewMemory()))
	if err == nil || errors.As(err, &u) {
		t.Errorf("Obtain with a failing DNS provider = %v, want an error that is not *UnreachableError", err)
	}
}
