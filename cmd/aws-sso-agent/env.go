package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

func pathEscape(s string) string { return url.PathEscape(s) }

func (c *cli) env(args []string) error {
	fs := c.flags("env")
	slot := fs.String("slot", "", "a named slot instead of the default one")
	shell := fs.String("shell", "sh", "syntax of the exports: "+shellList())
	useTLS := fs.Bool("tls", false, "export the https URL: https://FQDN:PORT/ when the agent serves a public certificate (every SDK), else the loopback one with the trust variables (Go and Node only: see docs/sdk-compatibility.md)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *slot != "" {
		if err := wire.ValidateSlotName(*slot); err != nil {
			return usageError{err}
		}
	}
	sh, ok := wire.ParseShell(*shell)
	if !ok {
		return usageError{fmt.Errorf("unknown shell %q: use %s", *shell, shellList())}
	}
	st, err := c.agentStatus()
	if err != nil {
		return err
	}
	vars := []wire.Var{}
	switch {
	case *useTLS && st.PublicURL != "":
		// A publicly trusted certificate for a name the agent has checked
		// resolves to loopback: every SDK verifies it with its own roots
		// (docs/sdk-compatibility.md), so no trust variable is needed.
		vars = append(vars, wire.Var{Name: "AWS_CONTAINER_CREDENTIALS_FULL_URI", Value: slotURL(st.PublicURL, *slot)})
	case *useTLS:
		if st.PublicFQDN != "" && st.PublicNotServed != "" {
			fmt.Fprintf(c.stderr, "aws-sso-agent: not using %s: %s\n", st.PublicFQDN, st.PublicNotServed)
		}
		d, err := c.dirs()
		if err != nil {
			return err
		}
		vars = append(vars,
			wire.Var{Name: "AWS_CONTAINER_CREDENTIALS_FULL_URI", Value: slotURL(st.TLSURL, *slot)},
			wire.Var{Name: "SSL_CERT_FILE", Value: d.CABundle()},
			wire.Var{Name: "NODE_EXTRA_CA_CERTS", Value: d.CARoot()},
		)
	default:
		vars = append(vars, wire.Var{Name: "AWS_CONTAINER_CREDENTIALS_FULL_URI", Value: slotURL(st.URL, *slot)})
	}
	vars = append(vars, wire.Var{Name: "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", Value: st.TokenFile})
	out, err := sh.Exports(vars, wire.OverridingVars())
	if err != nil {
		return err
	}
	_, err = io.WriteString(c.stdout, out)
	return err
}

// shellList is the shells --shell takes, for messages.
func shellList() string {
	names := wire.ShellNames()
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
