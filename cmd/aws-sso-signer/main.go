// Command aws-sso-signer is the public signing service: it registers
// hostnames under one DNS zone, hands out API keys scoped to them, and
// gets the CSRs of their owners signed by an ACME CA through DNS-01 in
// its own zone. It also administers accounts, hostnames and keys.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
