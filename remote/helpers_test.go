package remote_test

import (
	"encoding/base64"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fakeagent"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

var sharedCA *fakeagent.CA

func testCA(t testing.TB) *fakeagent.CA {
	if sharedCA == nil {
		sharedCA = fakeagent.NewCA(t)
	}
	return sharedCA
}
