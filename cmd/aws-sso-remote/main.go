// Command aws-sso-remote runs on the hosts you reach with
// `aws-sso-agent ssh`: it proves the forwarded port is your genuine agent
// before it points the AWS SDKs at it. It uses only the standard library
// and golang.org/x/crypto, so it stays small and static.
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at release time with -ldflags "-X main.version=...".
var version = "devel"

const usage = `aws-sso-remote points the AWS SDKs on this host at your workstation's agent.

Usage:
  aws-sso-remote version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "version":
		fmt.Fprintln(stdout, "aws-sso-remote", version)
		return 0
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "aws-sso-remote: error: unknown command %q\n", args[0])
		return 2
	}
}
