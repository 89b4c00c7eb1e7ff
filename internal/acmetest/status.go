package acmetest

import (
	"encoding/json"
	"testing"
)

// CertStatus is Pebble's status of the certificate with serial
// (hexadecimal), from its management API: "Valid" or "Revoked".
func (p *Pebble) CertStatus(t testing.TB, serial string) string {
	t.Helper()
	resp, err := p.Client.Get(p.mgmt + "/cert-status-by-serial/" + serial)
	if err != nil {
		t.Fatalf("pebble cert status: %v", err)
	}
	defer resp.Body.Close()
	var st struct{ Status string }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("pebble cert status %s: %s: %v", serial, resp.Status, err)
	}
	return st.Status
}
