package localca

import (
	"crypto/tls"
	"slices"
	"testing"
	"time"
)

func TestServerTLSConfigHandshakes(t *testing.T) {
	ca, _, _ := newTestCA(t)
	r, err := NewLeafRotator(ca, RotatorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	srv := ServerTLSConfig(r.GetCertificate)
	addr := serveEcho(t, srv)

	base := func() *tls.Config {
		return &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}
	}
	tests := []struct {
		name    string
		client  func() *tls.Config
		wantOK  bool
		version uint16
	}{
		{
			name:    "TLS 1.3",
			client:  base,
			wantOK:  true,
			version: tls.VersionTLS13,
		},
		{
			name: "TLS 1.2 ECDHE-ECDSA AES-GCM",
			client: func() *tls.Config {
				c := base()
				c.MaxVersion = tls.VersionTLS12
				c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
				return c
			},
			wantOK:  true,
			version: tls.VersionTLS12,
		},
		{
			name: "TLS 1.2 ChaCha20-Poly1305 over P-256",
			client: func() *tls.Config {
				c := base()
				c.MaxVersion = tls.VersionTLS12
				c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}
				c.CurvePreferences = []tls.CurveID{tls.CurveP256}
				return c
			},
			wantOK:  true,
			version: tls.VersionTLS12,
		},
		{
			name: "TLS 1.1 refused",
			client: func() *tls.Config {
				c := base()
				c.MinVersion = tls.VersionTLS10
				c.MaxVersion = tls.VersionTLS11
				return c
			},
		},
		{
			name: "RSA-only client refused",
			client: func() *tls.Config {
				c := base()
				c.MaxVersion = tls.VersionTLS12
				c.CipherSuites = []uint16{
					tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
					tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
					tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
					tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
				}
				return c
			},
		},
		{
			name: "CBC suite refused",
			client: func() *tls.Config {
				c := base()
				c.MaxVersion = tls.VersionTLS12
				c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
				return c
			},
		},
		{
			name: "P-384-only client refused",
			client: func() *tls.Config {
				c := base()
				c.CurvePreferences = []tls.CurveID{tls.CurveP384}
				return c
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tls.Dial("tcp", addr, tt.client())
			if !tt.wantOK {
				if err == nil {
					c.Close()
					t.Fatalf("handshake succeeded (%s, %s); want it refused",
						tls.VersionName(c.ConnectionState().Version), tls.CipherSuiteName(c.ConnectionState().CipherSuite))
				}
				t.Logf("refused: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			defer c.Close()
			st := c.ConnectionState()
			if st.Version != tt.version {
				t.Errorf("version: got %s, want %s", tls.VersionName(st.Version), tls.VersionName(tt.version))
			}
			if st.Version == tls.VersionTLS12 && !slices.Contains(srv.CipherSuites, st.CipherSuite) {
				t.Errorf("suite %s is not one of ours", tls.CipherSuiteName(st.CipherSuite))
			}
			echo(t, c, "ping")
		})
	}
}

func TestServerTLSConfigResumesSessions(t *testing.T) {
	ca, _, _ := newTestCA(t)
	r, err := NewLeafRotator(ca, RotatorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveEcho(t, ServerTLSConfig(r.GetCertificate))
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			client := &tls.Config{
				RootCAs:            ca.Pool(),
				ServerName:         "localhost",
				MaxVersion:         version,
				ClientSessionCache: tls.NewLRUClientSessionCache(4),
			}
			var resumed []bool
			for range 2 {
				c := dialEcho(t, addr, client)
				// TLS 1.3 tickets arrive after the handshake; the echo in
				// dialEcho has read them. Close to be sure.
				resumed = append(resumed, c.ConnectionState().DidResume)
				c.SetDeadline(time.Now().Add(time.Second))
				c.Close()
			}
			if got, want := resumed, []bool{false, true}; !slices.Equal(got, want) {
				t.Errorf("DidResume: got %v, want %v", got, want)
			}
		})
	}
}
