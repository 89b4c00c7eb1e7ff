package e2e

import (
	"fmt"
	"os"
	"testing"
)

// RequirePeersEnv names the variable that turns a missing peer from a skip
// into a failure. CI sets it to 1 so a broken installation cannot pass as a
// row of skipped tests.
const RequirePeersEnv = "AWS_SSO_AGENT_REQUIRE_PEERS"

// PeersRequired reports whether missing peers must fail the test.
func PeersRequired() bool { return os.Getenv(RequirePeersEnv) == "1" }

// PeerMissing ends the test because a real peer is unavailable: it skips with
// the reason, or fails when PeersRequired.
func PeerMissing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if PeersRequired() {
		t.Fatalf("required peer missing (%s=1): %s", RequirePeersEnv, msg)
	}
	t.Skipf("skipping: %s (set %s=1 to fail instead)", msg, RequirePeersEnv)
}
