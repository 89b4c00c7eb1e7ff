package remote_test

import (
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/fakeagent"
)

var sharedCA *fakeagent.CA

func testCA(t testing.TB) *fakeagent.CA {
	if sharedCA == nil {
		sharedCA = fakeagent.NewCA(t)
	}
	return sharedCA
}
