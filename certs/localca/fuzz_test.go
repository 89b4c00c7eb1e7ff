package localca

import (
	"bytes"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fuzztest"
)

// FuzzParseCertificatePEM feeds arbitrary bytes to the parser of the CA's
// certificate files: it must return an error or a certificate, never
// panic, and anything it accepts must be one CERTIFICATE block.
func FuzzParseCertificatePEM(f *testing.F) {
	fuzztest.Start(f)
	st := newMemStore()
	dir := f.TempDir()
	if _, err := LoadOrCreate(st, dir, time.Now); err != nil {
		f.Fatal(err)
	}
	for _, name := range []string{RootCertFile, IntermediateCertFile} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)/2])
		f.Add(append(bytes.Clone(data), data...))
		f.Add(bytes.Replace(data, []byte("CERTIFICATE"), []byte("PRIVATE KEY"), 2))
	}
	f.Add([]byte(""))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x82, 0xff, 0xff}}))

	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseCertificatePEM(data)
		if err != nil {
			return
		}
		block, _ := pem.Decode(data)
		if block == nil || block.Type != "CERTIFICATE" || !bytes.Equal(block.Bytes, c.Raw) {
			t.Errorf("accepted %q as a certificate", data)
		}
	})
}

// FuzzParseCA feeds arbitrary certificate files and key bytes to the code
// that loads a CA: it must never panic, and must accept only parts that
// belong together.
func FuzzParseCA(f *testing.F) {
	fuzztest.Start(f)
	st := newMemStore()
	dir := f.TempDir()
	ca, err := LoadOrCreate(st, dir, time.Now)
	if err != nil {
		f.Fatal(err)
	}
	key, err := st.Get(IntermediateKeyName)
	if err != nil {
		f.Fatal(err)
	}
	interPEM := certPEM(ca.Intermediate())
	f.Add(ca.RootPEM(), interPEM, key)
	f.Add(interPEM, ca.RootPEM(), key)
	f.Add(ca.RootPEM(), interPEM, key[:len(key)-1])
	f.Add([]byte{}, []byte{}, []byte{})
	// A second real CA: each part is valid on its own, so mixing them
	// reaches the last checks, the signature and the key match.
	other := newMemStore()
	ca2, err := LoadOrCreate(other, f.TempDir(), time.Now)
	if err != nil {
		f.Fatal(err)
	}
	key2, err := other.Get(IntermediateKeyName)
	if err != nil {
		f.Fatal(err)
	}
	inter2PEM := certPEM(ca2.Intermediate())
	f.Add(ca.RootPEM(), inter2PEM, key2)
	f.Add(ca2.RootPEM(), inter2PEM, key)
	f.Add(ca.RootPEM(), interPEM, key2)

	f.Fuzz(func(t *testing.T, rootPEM, interPEM, keyDER []byte) {
		got, err := parseCA(rootPEM, interPEM, keyDER)
		if err != nil {
			return
		}
		if err := got.Intermediate().CheckSignatureFrom(got.Root()); err != nil {
			t.Errorf("accepted an intermediate the root did not sign: %v", err)
		}
		if !got.interKey.PublicKey.Equal(got.Intermediate().PublicKey) {
			t.Errorf("accepted a key that is not the intermediate's")
		}
	})
}
