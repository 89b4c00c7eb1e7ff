package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/tunnel"
)

// forward keeps a tunnel to host up without a shell (like ssh -N -R),
// reconnecting with backoff after a drop, the agent's restart included.
// Each connection is a new session: a new port and a new token, installed
// anew on the remote host. A revocation by the user ends it with an error.
func (c *cli) forward(args []string) error {
	fs := c.flags("forward")
	fs.SetInterspersed(false)
	var f sshFlags
	f.register(fs, false)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("forward needs exactly one destination: aws-sso-agent forward [flags] [user@]host")}
	}
	o, err := c.tunnelOptions(&f, fs.Arg(0))
	if err != nil {
		return err
	}
	// A service logs at info: each connect, drop and retry is an event.
	o.Logger = newTextLogger(c.stderr, slog.LevelInfo)
	if f.debug {
		o.Logger = newTextLogger(c.stderr, slog.LevelDebug)
	}
	if _, err := c.agentStatus(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return tunnelHint(tunnel.KeepOpen(ctx, o))
}

func (c *cli) sessions(args []string) error {
	if len(args) > 0 && args[0] == "revoke" {
		fs := c.flags("sessions revoke")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return usageError{errors.New("sessions revoke needs a session id (see aws-sso-agent sessions)")}
		}
		if _, err := c.control(agent.ControlRequest{Op: agent.OpSessionRevoke, Session: &agent.SessionRequest{ID: fs.Arg(0)}}); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "revoked session %s: its token is refused and its connection closed\n", fs.Arg(0))
		return nil
	}
	fs := c.flags("sessions")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	resp, err := c.control(agent.ControlRequest{Op: agent.OpSessions})
	if err != nil {
		return err
	}
	list := resp.Sessions
	if list == nil {
		list = []agent.SessionInfo{}
	}
	if *asJSON {
		return writeJSON(c.stdout, jsonSessions(list))
	}
	if len(list) == 0 {
		fmt.Fprintln(c.stdout, "no live SSH sessions; start one with: aws-sso-agent ssh HOST")
		return nil
	}
	tw := newTable(c.stdout)
	fmt.Fprintln(tw, "ID\tHOST\tREMOTE PORT\tSLOTS\tAGE\tREQUESTS")
	for _, s := range list {
		names := make([]string, len(s.Slots))
		for i, n := range s.Slots {
			names[i] = slotName(n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\n", s.ID, s.Host, s.RemotePort, joinComma(names), time.Since(s.Started).Round(time.Second), s.Requests)
	}
	return tw.Flush()
}
