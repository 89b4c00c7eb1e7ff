package forward_test

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/aws-sso-agent/aws-sso-agent/forward"
)

// Resolve a host as `ssh -p 2222 -o StrictHostKeyChecking=accept-new
// deploy@web1` would, connect, and ask for a loopback forward on a port the
// server chooses.
func ExampleDial() {
	ctx := context.Background()
	cfg, err := forward.Resolve(ctx, "deploy@web1", forward.Options{
		Port:    2222,
		Options: []string{"StrictHostKeyChecking=accept-new", "ServerAliveInterval=15"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// cfg.Prompt = terminalPrompter{} // the CLI's; nil means batch behaviour
	client, err := forward.Dial(ctx, cfg)
	var changed *forward.HostKeyChangedError
	if errors.As(err, &changed) {
		fmt.Println(err) // names the fingerprint and the known_hosts file:line
		return
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	l, err := forward.ListenRemote(client.Client, 0)
	var denied *forward.ForwardDeniedError
	if errors.As(err, &denied) {
		fmt.Println(err) // the CLI exits 255
		return
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	fmt.Println("remote port:", l.Addr().(*net.TCPAddr).Port)
	go func() {
		for {
			conn, err := l.Accept() // must be serviced, or the connection stalls
			if err != nil {
				return
			}
			conn.Close() // hand to the agent's endpoint instead
		}
	}()
	fmt.Println(client.Wait()) // *forward.KeepaliveTimeoutError when the server froze
}
