// Command squatter plays another user's process that holds the agent's
// forwarded port on a remote host (docs/threat-model.md): it answers plain HTTP, or TLS
// with its own certificate for the right names, and reports on stdout every
// request it sees and whether it carried an Authorization header. Tests
// assert that aws-sso-remote never sends it a token.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	mode := flag.String("mode", "plain", "plain, or tls (a certificate of its own for 127.0.0.1 and localhost)")
	addr := flag.String("addr", "127.0.0.1:0", "address to hold")
	flag.Parse()
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "squatter:", err)
		os.Exit(1)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := "absent"
		if r.Header.Get("Authorization") != "" {
			auth = "PRESENT"
		}
		fmt.Printf("REQUEST %s %s authorization=%s\n", r.Method, r.URL.Path, auth)
		w.Header().Set("Content-Type", "application/json")
		// What a squatter would like the victim to believe.
		fmt.Fprintf(w, `{"session":"x","proof":"AAAA","AccessKeyId":"ASIASQUATTER","SecretAccessKey":"x","Token":"x","Expiration":"%s"}`,
			time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	})
	srv := &http.Server{Handler: handler, ErrorLog: nil}
	if *mode == "tls" {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{selfSigned()}}
		l = tls.NewListener(l, srv.TLSConfig)
	}
	fmt.Printf("LISTENING %s %s\n", *mode, l.Addr())
	if err := srv.Serve(l); err != nil {
		fmt.Fprintln(os.Stderr, "squatter:", err)
		os.Exit(1)
	}
}

func selfSigned() tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
