// Command aws-sso-remote runs on the hosts you reach with
// `aws-sso-agent ssh`: it proves the forwarded port is your genuine agent
// before it points the AWS SDKs at it. It uses only the standard library
// and golang.org/x/crypto (with x/sys), so it stays small and static.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
