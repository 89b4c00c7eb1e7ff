package remote_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/remote"
)

// Find this shell's session, prove its port genuine and read the default
// slot's credentials over the proven connection.
func Example() {
	s, err := (&remote.Finder{}).Find("") // "" = $AWS_SSO_AGENT_SESSION, ancestry, the only live one
	if err != nil {
		fmt.Fprintln(os.Stderr, err, remote.HintOf(err))
		os.Exit(remote.ExitCode(err)) // 3: no session
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := remote.Prove(ctx, s) // no token sent yet
	if err != nil {
		fmt.Fprintln(os.Stderr, err, remote.HintOf(err))
		os.Exit(remote.ExitCode(err)) // 4, 5 or 6: not this session's agent
	}
	defer conn.Close()
	creds, err := conn.Credentials(ctx, "") // the token, on the proven connection
	if err != nil {
		fmt.Fprintln(os.Stderr, err, remote.HintOf(err))
		os.Exit(remote.ExitCode(err)) // 7: refused
	}
	fmt.Println("credentials until", creds.Expires)
}
