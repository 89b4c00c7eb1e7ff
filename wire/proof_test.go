package wire_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// tlsPair handshakes a client and a server over a pipe and returns both
// ends' connection states.
func tlsPair(t *testing.T, maxVersion uint16) (client, server tls.ConnectionState) {
	t.Helper()
	ca := testCA(t)
	c, s := net.Pipe()
	t.Cleanup(func() { c.Close(); s.Close() })
	srv := tls.Server(s, &tls.Config{Certificates: []tls.Certificate{ca.Leaf(t)}, MaxVersion: maxVersion})
	errc := make(chan error, 1)
	go func() { errc <- srv.Handshake() }()
	pool := x509.NewCertPool()
	pool.AddCert(ca.Root)
	cli := tls.Client(c, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err := cli.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return cli.ConnectionState(), srv.ConnectionState()
}

func TestProofBothEndsAgree(t *testing.T) {
	cs, ss := tlsPair(t, 0)
	key := bytes.Repeat([]byte{1}, wire.ProofKeySize)
	nonce := bytes.Repeat([]byte{2}, wire.ProofNonceSize)
	id := "00112233445566778899aabbccddeeff"
	mine, err := wire.Proof(&cs, key, id, nonce)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := wire.Proof(&ss, key, id, nonce)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mine, theirs) || len(mine) != wire.ProofSize {
		t.Fatalf("the two ends disagree: %x, %x", mine, theirs)
	}
	// Another session id, key, nonce or connection gives another proof.
	other := [][]byte{}
	p, _ := wire.Proof(&cs, key, "ffeeddccbbaa99887766554433221100", nonce)
	other = append(other, p)
	p, _ = wire.Proof(&cs, bytes.Repeat([]byte{9}, 32), id, nonce)
	other = append(other, p)
	p, _ = wire.Proof(&cs, key, id, bytes.Repeat([]byte{3}, 32))
	other = append(other, p)
	cs2, _ := tlsPair(t, 0)
	p, _ = wire.Proof(&cs2, key, id, nonce)
	other = append(other, p)
	for i, o := range other {
		if bytes.Equal(o, mine) {
			t.Errorf("variant %d gives the same proof", i)
		}
	}
}

func TestProofNeedsTLS13(t *testing.T) {
	cs, _ := tlsPair(t, tls.VersionTLS12)
	if _, err := wire.Proof(&cs, make([]byte, 32), "x", make([]byte, 32)); !errors.Is(err, wire.ErrProofNeedsTLS13) {
		t.Errorf("TLS 1.2: got %v, want ErrProofNeedsTLS13", err)
	}
}
