package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

func pathEscape(s string) string { return url.PathEscape(s) }

func (c *cli) env(args []string) error {
	fs := c.flags("env")
	slot := fs.String("slot", "", "a named slot instead of the default one")
	shell := fs.String("shell", "sh", "syntax of the exports: "+shellList())
	useTLS := fs.Bool("tls", false, "export the https URL: https://FQDN:PORT/ when the agent serves a public certificate (every SDK), else the loopback one with the trust variables (Go and Node only: aws-sso-agent help sdks)")
	quiet := fs.BoolP("quiet", "q", false, "print nothing and succeed when the agent is not running (for shell rc files)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	sh, ok := wire.ParseShell(*shell)
	if !ok {
		return usageError{fmt.Errorf("unknown shell %q: use %s", *shell, shellList())}
	}
	vars, err := c.sdkEnv(*slot, *useTLS, false)
	if *quiet && errors.Is(err, agent.ErrNotRunning) {
		// A shell started before the agent must still start.
		return nil
	}
	if err != nil {
		return err
	}
	out, err := sh.Exports(vars, wire.OverridingVars())
	if err != nil {
		return err
	}
	_, err = io.WriteString(c.stdout, out)
	return err
}

// sdkEnv is what `env` exports and `exec` sets for the slot: the endpoint
// URL, the token (file and value) and, with useTLS, the trust variables. (Both also
// remove wire.OverridingVars.) A named slot must be loaded; the default
// one too if needLoaded, since a shell may eval `env` before anything is
// loaded but a command run now needs credentials now.
func (c *cli) sdkEnv(slot string, useTLS, needLoaded bool) ([]wire.Var, error) {
	if slot != "" {
		if err := wire.ValidateSlotName(slot); err != nil {
			return nil, usageError{err}
		}
	}
	st, err := c.agentStatus()
	if err != nil {
		return nil, err
	}
	if slot != "" || needLoaded {
		if err := checkLoaded(st, slot); err != nil {
			return nil, err
		}
	}
	var vars []wire.Var
	switch {
	case useTLS && st.PublicURL != "":
		// A publicly trusted certificate for a name the agent has checked
		// resolves to loopback: every SDK verifies it with its own roots
		// (docs/sdk-compatibility.md), so no trust variable is needed.
		vars = append(vars, wire.Var{Name: "AWS_CONTAINER_CREDENTIALS_FULL_URI", Value: slotURL(st.PublicURL, slot)})
	case useTLS:
		if st.PublicFQDN != "" && st.PublicNotServed != "" {
			fmt.Fprintf(c.stderr, "aws-sso-agent: not using %s: %s\n", st.PublicFQDN, st.PublicNotServed)
		}
		d, err := c.dirs()
		if err != nil {
			return nil, err
		}
		sslFile, nodeFile, err := writeTrustFiles(d, os.Getenv, c.stderr)
		if err != nil {
			return nil, err
		}
		vars = append(vars,
			wire.Var{Name: "AWS_CONTAINER_CREDENTIALS_FULL_URI", Value: slotURL(st.TLSURL, slot)},
			wire.Var{Name: "SSL_CERT_FILE", Value: sslFile},
			wire.Var{Name: "NODE_EXTRA_CA_CERTS", Value: nodeFile},
		)
	default:
		vars = append(vars, wire.Var{Name: "AWS_CONTAINER_CREDENTIALS_FULL_URI", Value: slotURL(st.URL, slot)})
	}
	// The token itself too, for the SDKs that read only the variable
	// (docs/sdk-compatibility.md); the agent writes the file when it
	// starts, and only this user can read it.
	token, err := os.ReadFile(st.TokenFile)
	if err != nil {
		return nil, withHint(fmt.Errorf("read the agent's token file: %w", err),
			"restart the agent: it writes "+st.TokenFile+" when it starts")
	}
	vars = append(vars, wire.TokenVars(st.TokenFile, string(token))...)
	return vars, nil
}

// checkLoaded fails, wrapping agent.ErrNoSlot, unless slot is loaded.
func checkLoaded(st *agent.AgentStatus, slot string) error {
	for _, s := range st.Slots {
		if s.Name == slot {
			return nil
		}
	}
	load := "aws-sso-agent load --profile PROFILE"
	if slot != "" {
		load += " --slot=" + slot
	}
	return withHint(fmt.Errorf("slot %s: %w", slotName(slot), agent.ErrNoSlot),
		"load it with: "+load+"\n(aws-sso-agent list shows what is loaded)")
}

// bundleMark begins each trust file that writeTrustFiles writes, followed
// by the file it extends. PEM readers (Go's encoding/pem, OpenSSL, so
// Node) skip text outside the BEGIN and END lines. It lets a second `env
// --tls` in the same shell, which finds its own bundle in the variable,
// extend the file the first one extended instead of losing it.
const bundleMark = "# aws-sso-agent: extends "

// writeTrustFiles writes, now rather than when the agent started (so they
// hold today's system roots and this shell's corporate CA), the files the
// trust variables name, and returns the value for SSL_CERT_FILE and for
// NODE_EXTRA_CA_CERTS:
//
//   - SSL_CERT_FILE replaces Go's and OpenSSL's roots, so its bundle holds
//     the roots of the current $SSL_CERT_FILE (a corporate bundle), else
//     the platform's (wire.SystemRoots), and then the agent's root.
//   - NODE_EXTRA_CA_CERTS adds to Node's own roots; Node reads one file, so
//     a current one (a corporate CA) and the agent's root go in a bundle,
//     and with none it is the agent's root alone.
//
// The files go in the agent's runtime directory, mode 0600, each named by
// a hash of its content: shells with different corporate CAs do not
// overwrite each other's. warn gets a warning when no system roots exist.
func writeTrustFiles(d agent.Dirs, getenv func(string) string, warn io.Writer) (sslFile, nodeFile string, err error) {
	root, err := os.ReadFile(d.CARoot())
	if err != nil {
		// The agent writes it when it starts.
		return "", "", withHint(fmt.Errorf("read the agent's root certificate: %w", err),
			"restart the agent: it writes "+d.CARoot()+" when it starts")
	}
	base := extendedFile(getenv("SSL_CERT_FILE"), d.Runtime)
	system, from, err := wire.SystemRoots(func(k string) string {
		if k == "SSL_CERT_FILE" {
			return base
		}
		return getenv(k)
	}, d.Runtime)
	if err != nil {
		return "", "", err
	}
	if from == "" {
		fmt.Fprintln(warn, "aws-sso-agent: warning: no system root certificates found: programs that read SSL_CERT_FILE will trust only the agent")
	}
	if sslFile, err = writeBundle(d.Runtime, "ca-bundle", from, system, root); err != nil {
		return "", "", err
	}

	extra := extendedFile(getenv("NODE_EXTRA_CA_CERTS"), d.Runtime)
	if extra == "" {
		return sslFile, d.CARoot(), nil
	}
	corp, err := os.ReadFile(extra)
	if err != nil {
		// Node only warns about an unreadable file; so do we, and keep
		// the agent's root.
		fmt.Fprintf(warn, "aws-sso-agent: warning: NODE_EXTRA_CA_CERTS: %v: Node will trust only its own roots and the agent\n", err)
		return sslFile, d.CARoot(), nil
	}
	nodeFile, err = writeBundle(d.Runtime, "node-ca", extra, corp, root)
	return sslFile, nodeFile, err
}

// extendedFile is the file a trust variable's value stands for: the value
// itself, or, when it is one of our bundles (in runtime), the file that
// bundle extends ("" for none).
func extendedFile(value, runtime string) string {
	if value == "" {
		return ""
	}
	if rel, err := filepath.Rel(runtime, value); err != nil || strings.HasPrefix(rel, "..") {
		return value
	}
	b, err := os.ReadFile(value)
	if err != nil {
		return ""
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	from, ok := bytes.CutPrefix(line, []byte(bundleMark))
	if !ok {
		return ""
	}
	return string(from)
}

// writeBundle writes the mark, base's PEM and root to dir/NAME-HASH.pem.
func writeBundle(dir, name, from string, base, root []byte) (string, error) {
	var b bytes.Buffer
	if from != "" {
		b.WriteString(bundleMark + from + "\n")
	}
	if base = bytes.TrimRight(base, "\n"); len(base) > 0 {
		b.Write(base)
		b.WriteByte('\n')
	}
	b.Write(root)
	sum := sha256.Sum256(b.Bytes())
	path := filepath.Join(dir, name+"-"+hex.EncodeToString(sum[:8])+".pem")
	return path, agent.WritePrivateFile(path, b.Bytes())
}

// shellList is the shells --shell takes, for messages.
func shellList() string {
	names := wire.ShellNames()
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
