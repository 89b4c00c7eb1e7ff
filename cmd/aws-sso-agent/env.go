package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
)

func pathEscape(s string) string { return url.PathEscape(s) }

// overriding are variables that would win over the container endpoint in
// the SDKs' credential chains (or, for the token, over the token file in
// Java v2), so env unsets them.
var overriding = []string{
	"AWS_ACCESS_KEY_ID",
	"AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN",
	"AWS_PROFILE",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN",
}

func (c *cli) env(args []string) error {
	fs := c.flags("env")
	slot := fs.String("slot", "", "a named slot instead of the default one")
	shell := fs.String("shell", "sh", "syntax of the exports: sh, fish, csh or powershell")
	useTLS := fs.Bool("tls", false, "export the https URL: https://FQDN:PORT/ when the agent serves a public certificate (every SDK), else the loopback one with the trust variables (Go and Node only: see docs/sdk-compatibility.md)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *slot != "" {
		if err := agent.ValidateSlotName(*slot); err != nil {
			return usageError{err}
		}
	}
	sh, ok := shells[*shell]
	if !ok {
		return usageError{fmt.Errorf("unknown shell %q: use sh, fish, csh or powershell", *shell)}
	}
	st, err := c.agentStatus()
	if err != nil {
		return err
	}
	vars := [][2]string{}
	switch {
	case *useTLS && st.PublicURL != "":
		// A publicly trusted certificate for a name the agent has checked
		// resolves to loopback: every SDK verifies it with its own roots
		// (SPEC 4), so no trust variable is needed.
		vars = append(vars, [2]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI", slotURL(st.PublicURL, *slot)})
	case *useTLS:
		if st.PublicFQDN != "" && st.PublicNotServed != "" {
			fmt.Fprintf(c.stderr, "aws-sso-agent: not using %s: %s\n", st.PublicFQDN, st.PublicNotServed)
		}
		d, err := c.dirs()
		if err != nil {
			return err
		}
		vars = append(vars,
			[2]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI", slotURL(st.TLSURL, *slot)},
			[2]string{"SSL_CERT_FILE", d.CABundle()},
			[2]string{"NODE_EXTRA_CA_CERTS", d.CARoot()},
		)
	default:
		vars = append(vars, [2]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI", slotURL(st.URL, *slot)})
	}
	vars = append(vars, [2]string{"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", st.TokenFile})
	writeExports(c.stdout, sh, vars, overriding)
	return nil
}

// shellSyntax knows how one shell sets and unsets a variable.
type shellSyntax struct {
	set   func(name, value string) string
	unset func(name string) string
}

var shells = map[string]shellSyntax{
	"sh": {
		set:   func(n, v string) string { return "export " + n + "=" + quotePOSIX(v) },
		unset: func(n string) string { return "unset " + n },
	},
	"fish": {
		set:   func(n, v string) string { return "set -gx " + n + " " + quotePOSIX(v) },
		unset: func(n string) string { return "set -e " + n },
	},
	"csh": {
		set:   func(n, v string) string { return "setenv " + n + " " + quotePOSIX(v) },
		unset: func(n string) string { return "unsetenv " + n },
	},
	"powershell": {
		set: func(n, v string) string { return "$Env:" + n + " = '" + strings.ReplaceAll(v, "'", "''") + "'" },
		unset: func(n string) string {
			return "Remove-Item Env:" + n + " -ErrorAction SilentlyContinue"
		},
	},
}

func writeExports(w io.Writer, sh shellSyntax, vars [][2]string, unset []string) {
	for _, n := range unset {
		fmt.Fprintln(w, sh.unset(n)+";")
	}
	for _, v := range vars {
		fmt.Fprintln(w, sh.set(v[0], v[1])+";")
	}
}

// quotePOSIX single-quotes s for sh, fish and csh. Paths and URLs we print
// hold no single quote in practice; one that does is closed, escaped and
// reopened, which all three shells read the same way.
func quotePOSIX(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
