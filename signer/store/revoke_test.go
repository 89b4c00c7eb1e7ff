package store_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/signer/store"
)

// revoker is a CA that revokes, or refuses to, and remembers what.
type revoker struct {
	fail    error
	revoked [][]byte
}

func (r *revoker) Issue(context.Context, *x509.CertificateRequest) ([]byte, error) {
	return nil, errors.New("not in this test")
}

func (r *revoker) Revoke(_ context.Context, der []byte) error {
	if r.fail != nil {
		return r.fail
	}
	r.revoked = append(r.revoked, der)
	return nil
}

func selfSigned(t *testing.T, serial int64) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "alpha"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}, &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "alpha"}}, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestRevokeCertificate(t *testing.T) {
	forEachEngine(t, func(t *testing.T, _ string, clk *clock, open func() *store.DB) {
		db := open()
		ctx := context.Background()
		a := mustAccount(t, db, "alice")
		mustHostname(t, db, "alice", "alpha")
		id, err := db.BeginIssuance(ctx, "alpha", a.ID, store.DefaultBudget())
		if err != nil {
			t.Fatal(err)
		}
		c, err := db.CompleteIssuance(ctx, id, store.Certificate{AccountID: a.ID, Label: "alpha", Serial: "2a",
			NotBefore: clk.Now(), NotAfter: clk.Now().Add(time.Hour), ChainPEM: selfSigned(t, 42)})
		if err != nil {
			t.Fatal(err)
		}
		revokedAt := func() *time.Time {
			got, err := db.CertificateBySerial(ctx, "2a")
			if err != nil {
				t.Fatal(err)
			}
			return got.RevokedAt
		}

		// The CA refuses: nothing is recorded.
		ca := &revoker{fail: errors.New("acme: urn:ietf:params:acme:error:serverInternal")}
		if err := db.RevokeCertificate(ctx, ca, c); !errors.Is(err, store.ErrCADidNotRevoke) {
			t.Errorf("the CA refused: %v, want ErrCADidNotRevoke", err)
		}
		if at := revokedAt(); at != nil {
			t.Errorf("marked revoked at %v though the CA refused", at)
		}
		// The CA revokes the leaf's DER: recorded.
		ca.fail = nil
		if err := db.RevokeCertificate(ctx, ca, c); err != nil {
			t.Fatal(err)
		}
		if len(ca.revoked) != 1 || revokedAt() == nil {
			t.Errorf("the CA revoked %d, recorded %v", len(ca.revoked), revokedAt())
		}
		if leaf, err := x509.ParseCertificate(ca.revoked[0]); err != nil || leaf.SerialNumber.Int64() != 42 {
			t.Errorf("the CA was given %v, %v", leaf, err)
		}
		// Again (another instance first): no error.
		if err := db.RevokeCertificate(ctx, ca, c); err != nil {
			t.Errorf("revoking again: %v", err)
		}
		// A chain that is not PEM never reaches the CA.
		c.ChainPEM = "chain"
		if err := db.RevokeCertificate(ctx, ca, c); err == nil || errors.Is(err, store.ErrCADidNotRevoke) || len(ca.revoked) != 2 {
			t.Errorf("a broken chain: %v; the CA asked %d times", err, len(ca.revoked))
		}
	})
}
