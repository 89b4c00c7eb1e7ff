// Command aws-sso-agent serves fresh AWS credentials from any profile to
// the AWS SDKs on this machine and, over SSH, on the hosts you reach.
package main

import (
	"os"
	"runtime"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "ssh" || os.Args[1] == "forward") && os.Getenv("GOMAXPROCS") == "" {
		// An SSH client moves small messages between a few sockets, like
		// OpenSSH's single-threaded one. With one P the scheduler stops
		// waking and parking threads for every hand-off between
		// goroutines: a forwarded credential request costs the client
		// about a third less CPU (make bench, BenchmarkForwardedGET),
		// CPU the agent and sshd would otherwise wait for.
		runtime.GOMAXPROCS(1)
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
