package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/certs"
)

const certsUsage = `usage: aws-sso-agent certs print|status

  print   the local CA's root certificate, in PEM
  status  the CA's fingerprint and the served leaf's expiry
`

func (c *cli) certs(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, certsUsage)
		return usageError{errors.New("certs needs a subcommand")}
	}
	fs := c.flags("certs " + args[0])
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	d, err := c.dirs()
	if err != nil {
		return err
	}
	switch args[0] {
	case "print":
		root, pemBytes, err := readRoot(d)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stderr, "# local CA %s, valid until %s\n", certs.Fingerprint(root), root.NotAfter.Format(time.DateOnly))
		_, err = c.stdout.Write(pemBytes)
		return err
	case "status":
		root, _, err := readRoot(d)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "local CA:  %s\n", certs.Fingerprint(root))
		fmt.Fprintf(c.stdout, "           %s, valid until %s\n", root.Subject.CommonName, root.NotAfter.Format(time.DateOnly))
		if inter, err := readCertFile(filepath.Join(d.Config, "ca", certs.IntermediateCertFile)); err == nil {
			fmt.Fprintf(c.stdout, "issuer:    %s, valid until %s, names limited to localhost, 127.0.0.0/8, ::1\n", inter.Subject.CommonName, inter.NotAfter.Format(time.DateOnly))
		}
		st, err := c.agentStatus()
		if errors.Is(err, agent.ErrNotRunning) {
			fmt.Fprintln(c.stdout, "leaf:      none (the agent is not running; it issues its leaf when it starts)")
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "leaf:      localhost, 127.0.0.1, ::1; expires %s (rotated automatically)\n", expiry(st.LeafExpires))
		return nil
	default:
		fmt.Fprint(c.stderr, certsUsage)
		return usageError{fmt.Errorf("unknown certs subcommand %q", args[0])}
	}
}

func readRoot(d agent.Dirs) (*x509.Certificate, []byte, error) {
	path := filepath.Join(d.Config, "ca", certs.RootCertFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, withHint(errors.New("there is no local CA yet"), "the agent makes one when it first starts: aws-sso-agent serve")
	}
	if err != nil {
		return nil, nil, err
	}
	cert, err := parseCertPEM(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return cert, b, nil
}

func readCertFile(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseCertPEM(b)
}

func parseCertPEM(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}
