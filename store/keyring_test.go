package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/zalando/go-keyring"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
)

// testService returns a service name no other run uses.
func testService() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "aws-sso-agent-test-" + hex.EncodeToString(b)
}

// TestKeyringConformance runs against the machine's real keyring. On Linux
// that needs a Secret Service on the session bus, for example:
//
//	dbus-run-session -- sh -c 'printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; go test -race ./store/'
func TestKeyringConformance(t *testing.T) {
	service := testService()
	k := NewKeyring(service)
	if _, err := k.Get("probe"); !errors.Is(err, ErrNotFound) {
		if errors.Is(err, ErrUnavailable) {
			e2e.PeerMissing(t, "no usable keyring: %v", err)
		}
		t.Fatalf("Get(probe) on an empty service: got error %v, want ErrNotFound", err)
	}
	// Only now that the probe found a keyring: called without a session
	// bus, go-keyring would autolaunch one that outlives the test.
	t.Cleanup(func() { keyring.DeleteAll(service) })
	testConformance(t, k, "")
}

func TestKeyringWrap(t *testing.T) {
	k := NewKeyring("svc")
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"not found", keyring.ErrNotFound, ErrNotFound},
		{"too big", keyring.ErrSetDataTooBig, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := k.wrap("get", "key", tc.err)
			if !errors.Is(got, tc.want) {
				t.Fatalf("wrap(%v): got %v, want an error wrapping %v", tc.err, got, tc.want)
			}
			if errors.Is(got, ErrUnavailable) {
				t.Fatalf("wrap(%v): got %v, which wrongly matches ErrUnavailable", tc.err, got)
			}
		})
	}
}
