package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
)

// certsAgentTimeout bounds one certs action of the running agent: a key
// and a few small files in its store, then a reload of its certificates
// (a DNS check). The agent itself gives a request two minutes.
const certsAgentTimeout = 2*time.Minute + 5*time.Second

// certsByAgent has the running agent perform req with its own secure
// store (agent.OpCerts): no second opening of the store, so no passphrase
// and no scrypt here, and no keyring needed in this session. It returns
// nil and no error when no agent runs: the caller then opens the store
// itself, as sf says.
//
// Store flags given on this command line must name the agent's store:
// the key would otherwise land somewhere else than the user asked.
func (c *cli) certsByAgent(sf *storeFlags, req agent.CertsRequest) (*agent.ControlResponse, error) {
	d, err := c.dirs()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), certsAgentTimeout)
	defer cancel()
	client := agent.ControlClient{Path: d.ControlSocket()}
	if sf.explicit {
		resp, err := client.Do(ctx, agent.ControlRequest{Op: agent.OpStatus})
		if errors.Is(err, agent.ErrNotRunning) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if resp.Status == nil {
			return nil, errors.New("the running agent answered without its status")
		}
		if want := sf.describe(d); resp.Status.Store != want {
			return nil, usageError{withHint(fmt.Errorf("the running agent keeps its keys in the %s, not in the %s", resp.Status.Store, want),
				"leave out the store flags: the command uses the running agent's store; or stop the agent first")}
		}
	}
	resp, err := client.Do(ctx, agent.ControlRequest{Op: agent.OpCerts, Certs: &req})
	if errors.Is(err, agent.ErrNotRunning) || errors.Is(err, agent.ErrUnsupported) {
		// No agent, or one that keeps no certificates: the store is
		// this command's to open.
		return nil, nil
	}
	if err != nil {
		return nil, publicHint(err)
	}
	if resp.Certs == nil {
		return nil, errors.New("the running agent answered without the result")
	}
	return resp, nil
}

// agentInstalled is the certificate the agent's load or save installed,
// as installed reports it.
func agentInstalled(res *agent.CertsResult) (*public.Cert, error) {
	chain, err := public.ParseChainPEM([]byte(res.Chain))
	if err != nil {
		return nil, fmt.Errorf("the running agent answered with a chain that does not parse: %w", err)
	}
	return &public.Cert{FQDN: res.FQDN, Chain: chain}, nil
}

// reportAgentCerts says what the running agent serves after certs changed
// its certificates: resp is its answer to reload-certs (or to a certs
// action), err that request's failure.
func (c *cli) reportAgentCerts(resp *agent.ControlResponse, err error) {
	switch {
	case errors.Is(err, agent.ErrNotRunning):
		fmt.Fprintln(c.stderr, "the agent is not running; it reads the certificates when it starts (aws-sso-agent serve)")
	case err != nil:
		fmt.Fprintf(c.stderr, "warning: the running agent did not reload its certificates: %v\n", err)
		fmt.Fprintln(c.stderr, "hint: it looks again within 5 minutes, or restart it; see: aws-sso-agent certs status")
	case resp.Status == nil:
		fmt.Fprintln(c.stderr, "warning: the running agent answered without its status; see: aws-sso-agent certs status")
	case resp.Status.PublicURL != "":
		fmt.Fprintf(c.stderr, "the running agent now serves %s\n", resp.Status.PublicURL)
	case resp.Status.PublicFQDN == "":
		fmt.Fprintln(c.stderr, "the running agent now serves its loopback names only")
	default:
		fmt.Fprintf(c.stderr, "the running agent does not serve %s: %s; clients use the loopback URL\n",
			resp.Status.PublicFQDN, resp.Status.PublicNotServed)
	}
}
