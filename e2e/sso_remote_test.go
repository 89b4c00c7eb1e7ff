package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/internal/e2e"
	"github.com/aws-sso-agent/aws-sso-agent/internal/sshd"
	"github.com/aws-sso-agent/aws-sso-agent/internal/ssofake"
)

// TestSSOLoginNeededRemote: when the administrator ends the IAM Identity
// Center session, the endpoint answers a JSON 503 that says a login is
// needed and how, to local clients and to remote ones through a real
// OpenSSH session (aws-sso-agent ssh): aws-sso-remote credential-process
// and aws-sdk-go-v2 on the remote host print the agent's message. After
// `aws-sso-agent login` on the workstation the remote host is served
// again, through the same session.
//
// 10-second access tokens and 40-second role credentials: the service
// sets expiresIn and the portal's expiration as it likes, and these
// bring the 503 within a minute (the slot serves its credentials until
// they reach its margin, a quarter of 40 s).
func TestSSOLoginNeededRemote(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about a minute of real time (credentials run out)")
	}
	sshd.Require(t)
	t.Parallel()
	h := newSSOHome(t, ssofake.Config{
		OIDC:   ssofake.OIDCConfig{AccessTokenLifetime: 10 * time.Second},
		Portal: ssofake.PortalConfig{CredentialLifetime: 40 * time.Second},
	})
	browser, _ := browserScript(t)
	h.login(t, browser, "--sso-session", "corp")
	a, url, tokenFile := h.ssoAgent(t)

	// A user of its own: no other test's start cleans its home.
	srv := sshd.Start(t, sshd.Options{User: "ssologin"})
	e2e.RunAs(t, srv.User, nil, "rm", "-rf", ".aws-sso-agent")
	_, sshConfig := writeSSHConfig(t, srv)
	r := &remoteHost{agent: a, sshd: srv, sshConfig: sshConfig, remoteBin: e2e.SharedBinary(t, remotePkg)}
	goClient := e2e.SharedBinary(t, "github.com/aws-sso-agent/aws-sso-agent/internal/e2e/cmd/stsclient")

	// One SSH session for the whole test, as a person would keep it:
	// the remote script reports each second what the helper and the
	// SDK print, until the workstation logs in again.
	const done = ".ssologin-done" // in the remote user's home
	e2e.RunAs(t, srv.User, nil, "rm", "-f", done)
	script := fmt.Sprintf(`eval "$(%[1]s env)" || exit 9
while [ ! -e %[2]s ]; do
  out=$(%[1]s credential-process 2>&1); echo "HELPER $? $out" | tr '\n' ' '; echo
  out=$(AWS_REGION=us-east-1 AWS_ENDPOINT_URL_STS=http://127.0.0.1:1 %[3]s 2>&1); echo "SDK $out" | tr '\n' ' '; echo
  sleep 1
done`, r.remoteBin, done, goClient)
	session := e2e.StartProcess(t, a.env, agentBin, append(r.sshArgs(), "--", script)...)

	h.fake.OIDC.RevokeRefreshTokens()
	var body string
	e2e.WaitFor(t, func() bool {
		var code int
		code, body = get(t, url, tokenFile, nil)
		return code == 503
	}, 2*time.Minute)
	var e struct{ Code, Message string }
	if err := json.Unmarshal([]byte(body), &e); err != nil || !strings.Contains(e.Message, "IAM Identity Center login needed") ||
		!strings.Contains(e.Message, "aws-sso-agent login --profile dev") {
		t.Errorf("local 503 body %s: want JSON saying a login is needed and how", body)
	}

	if !strings.Contains(a.proc.Stderr(), "sso login needed") {
		t.Errorf("the agent's log does not say a login is needed:\n%s", a.proc.Stderr())
	}

	// The remote host sees the same refusal, in the helper's words and
	// in the SDK's.
	var helper, sdk string
	e2e.WaitFor(t, func() bool {
		helper, sdk = lastLine(session.Stdout(), "HELPER "), lastLine(session.Stdout(), "SDK ")
		return strings.Contains(helper, "login needed") && strings.Contains(sdk, "login needed")
	}, time.Minute)
	wantHelper := []string{"HELPER 7 ", "credentials_unavailable", "IAM Identity Center login needed", "run on the workstation: aws-sso-agent login --profile dev"}
	for _, w := range wantHelper {
		if !strings.Contains(helper, w) {
			t.Errorf("aws-sso-remote credential-process printed %q, want it to contain %q", helper, w)
		}
	}
	if strings.Contains(helper, "load it") {
		t.Errorf("aws-sso-remote tells the user to load the slot, but a login is what is needed: %q", helper)
	}
	if !strings.Contains(helper, "do what the agent's message says") {
		t.Errorf("aws-sso-remote's hint does not point at the agent's message: %q", helper)
	}
	for _, w := range []string{"credentials_unavailable", "IAM Identity Center login needed", "aws-sso-agent login --profile dev"} {
		if !strings.Contains(sdk, w) {
			t.Errorf("aws-sdk-go-v2 printed %q, want it to contain %q", sdk, w)
		}
	}

	// Logged in again on the workstation, the same session is served.
	h.login(t, browser, "--sso-session", "corp")
	e2e.WaitFor(t, func() bool {
		return strings.HasPrefix(lastLine(session.Stdout(), "HELPER "), "HELPER 0 ")
	}, time.Minute)
	e2e.RunAs(t, srv.User, nil, "touch", done)
	if err := session.Err(); err != nil {
		t.Errorf("ssh session: %v\n%s", err, session.Stderr())
	}
}

// lastLine is the last line of out that starts with prefix.
func lastLine(out, prefix string) string {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], prefix) {
			return lines[i]
		}
	}
	return ""
}
