// Command aws-sso-agent serves fresh AWS credentials from any profile to
// the AWS SDKs on this machine and, over SSH, on the hosts you reach.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
