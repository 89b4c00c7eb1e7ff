package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/aws-sso-agent/aws-sso-agent/agent"
	"github.com/aws-sso-agent/aws-sso-agent/certs/localca"
	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
	"github.com/aws-sso-agent/aws-sso-agent/store"
)

const certsUsage = `usage: aws-sso-agent certs COMMAND [flags]

The local CA (names localhost, 127.0.0.1, ::1):
  print                         the public certificate chain if one is installed,
                                else the local CA's root, in PEM
  status                        which certificate is served for which name, expiry,
                                and the public name's DNS check
  trust [--uninstall]           install the local CA's root in the OS trust store

A public name (a DNS name under a zone you control that resolves to 127.0.0.1),
with a certificate every SDK trusts:
  fqdn [NAME]                   show or set the public name
  export-csr --fqdn NAME [--out FILE]
                                make a key in the secure store, write only the CSR
  load FILE [--ca ROOT]         install the chain a CA signed for that CSR
                                (--ca: the root of your own CA, if the system lacks it)
  save --cert FILE --key FILE [--ca ROOT]
                                install a certificate and key you already have;
                                the key moves into the secure store
  acme --fqdn NAME --dns PROVIDER
                                get a certificate from an ACME CA (Let's Encrypt)
  delete [--yes]                remove the public certificate, its keys and the name

A name under an aws-sso-signer service's zone (docs/signer.md):
  api-key --service URL         keep the service's API key (read from stdin or asked for)
  sign-csr [--fqdn NAME]        get a certificate for NAME through the service
  revoke [--serial HEX]         revoke a certificate from the service

Commands that use keys take --store, --store-file and --passphrase-file, as serve does.
`

func (c *cli) certs(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, certsUsage)
		return usageError{errors.New("certs needs a subcommand")}
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "-h", "--help", "help":
		fmt.Fprint(c.stdout, certsUsage)
		return nil
	case "print":
		return c.certsPrint(rest)
	case "status":
		return c.certsStatus(rest)
	case "fqdn":
		return c.certsFQDN(rest)
	case "export-csr":
		return c.certsExportCSR(rest)
	case "load":
		return c.certsLoad(rest)
	case "save":
		return c.certsSave(rest)
	case "delete":
		return c.certsDelete(rest)
	case "trust":
		return c.certsTrust(rest)
	case "acme":
		return c.certsACME(rest)
	case "api-key":
		return c.certsAPIKey(rest)
	case "sign-csr":
		return c.certsSignCSR(rest)
	case "revoke":
		return c.certsRevoke(rest)
	default:
		fmt.Fprint(c.stderr, certsUsage)
		return usageError{fmt.Errorf("unknown certs subcommand %q", sub)}
	}
}

// certsFlags parses the flags of `certs SUB`, with the store flags if st
// is not nil.
func (c *cli) certsFlags(sub string, args []string, st *storeFlags, define func(*pflag.FlagSet)) ([]string, error) {
	fs := c.flags("certs " + sub)
	if define != nil {
		define(fs)
	}
	if st != nil {
		st.register(fs)
	}
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if st != nil {
		st.explicit = fs.Changed("store") || fs.Changed("store-file")
	}
	return fs.Args(), nil
}

// publicFor is the Public of the agent's configuration on st.
func (c *cli) publicFor(d agent.Dirs, st store.Store) (*public.Public, error) {
	return public.Open(st, d.Config)
}

func (c *cli) certsPrint(args []string) error {
	rest, err := c.certsFlags("print", args, nil, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", rest[0])}
	}
	d, err := c.dirs()
	if err != nil {
		return err
	}
	p := &public.Public{Dir: public.DefaultDir(d.Config)}
	fqdn, chain, err := p.CurrentChain()
	switch {
	case err == nil:
		fmt.Fprintf(c.stderr, "# public certificate for %s, %d certificates, valid until %s\n", fqdn, len(chain), chain[0].NotAfter.Format(time.DateOnly))
		for _, x := range chain {
			if err := pem.Encode(c.stdout, &pem.Block{Type: "CERTIFICATE", Bytes: x.Raw}); err != nil {
				return err
			}
		}
		return nil
	case !errors.Is(err, public.ErrNoCert):
		return err
	}
	root, pemBytes, err := readRoot(d)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "# no public certificate: the local CA's root %s, valid until %s\n", localca.Fingerprint(root), root.NotAfter.Format(time.DateOnly))
	_, err = c.stdout.Write(pemBytes)
	return err
}

func (c *cli) certsStatus(args []string) error {
	rest, err := c.certsFlags("status", args, nil, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", rest[0])}
	}
	d, err := c.dirs()
	if err != nil {
		return err
	}
	caDir := localca.DefaultDir(d.Config)
	switch root, _, err := localca.ReadRoot(caDir); {
	case errors.Is(err, localca.ErrNoCA):
		fmt.Fprintln(c.stdout, "local CA:  none yet (the agent makes one when it first starts: aws-sso-agent serve)")
	case err != nil:
		return err
	default:
		fmt.Fprintf(c.stdout, "local CA:  %s\n", localca.Fingerprint(root))
		fmt.Fprintf(c.stdout, "           %s, valid until %s\n", root.Subject.CommonName, root.NotAfter.Format(time.DateOnly))
	}
	if inter, err := localca.ReadIntermediate(caDir); err == nil {
		fmt.Fprintf(c.stdout, "issuer:    %s, valid until %s, names limited to localhost, 127.0.0.0/8, ::1\n", inter.Subject.CommonName, inter.NotAfter.Format(time.DateOnly))
	}
	st, err := c.agentStatus()
	switch {
	case errors.Is(err, agent.ErrNotRunning):
		st = nil
		fmt.Fprintln(c.stdout, "leaf:      none (the agent is not running; it issues its leaf when it starts)")
	case err != nil:
		return err
	default:
		fmt.Fprintf(c.stdout, "leaf:      localhost, 127.0.0.1, ::1; expires %s (rotated automatically)\n", expiry(st.LeafExpires))
	}
	c.publicStatus(d, st, time.Now())
	return nil
}

// publicStatus prints the public name's part of `certs status`: the name,
// its certificate and expiry, the DNS check, renewals, and which
// certificate is served for which name. It reads files only (no secure
// store, so no prompt); st is the running agent's view, nil when none
// runs.
func (c *cli) publicStatus(d agent.Dirs, st *agent.AgentStatus, now time.Time) {
	w := c.stdout
	localLine := "           localhost, 127.0.0.1, ::1 -> the local CA's leaf"
	rep := (&public.Public{Dir: public.DefaultDir(d.Config)}).Report(context.Background(), nil, now)
	if rep.FQDNErr != nil {
		fmt.Fprintf(w, "public:    unusable: %v\n", rep.FQDNErr)
		fmt.Fprintln(w, "serving:   localhost, 127.0.0.1, ::1 -> the local CA's leaf")
		return
	}
	if rep.PendingCSR != nil {
		fmt.Fprintf(w, "pending:   a CSR for %s waits for its signed chain (aws-sso-agent certs load FILE)\n", rep.PendingCSR.DNSNames[0])
	}
	fqdn := rep.FQDN
	if fqdn == "" {
		fmt.Fprintln(w, "public:    no public name (set one with: aws-sso-agent certs fqdn NAME)")
		fmt.Fprintln(w, "serving:   localhost, 127.0.0.1, ::1 -> the local CA's leaf")
		return
	}
	fmt.Fprintf(w, "public:    %s\n", fqdn)

	switch {
	case errors.Is(rep.ChainErr, public.ErrNoCert):
		fmt.Fprintln(w, "           no certificate (get one with certs acme, certs export-csr and load, or certs save)")
	case rep.ChainErr != nil:
		fmt.Fprintf(w, "           certificate unusable: %v\n", rep.ChainErr)
	default:
		leaf := rep.Chain[0]
		fmt.Fprintf(w, "           certificate from %s, expires %s\n", issuerName(leaf), expiry(leaf.NotAfter))
		switch {
		case rep.Expired:
			fmt.Fprintf(w, "           WARNING: the certificate expired on %s; it is not served\n", leaf.NotAfter.Local().Format(time.RFC3339))
		case rep.ExpiresSoon:
			fmt.Fprintf(w, "           WARNING: the certificate expires in %d days; renew it (certs acme, or export-csr and load)\n", int(leaf.NotAfter.Sub(now).Hours()/24))
		}
	}
	if rep.DNSErr != nil {
		fmt.Fprintf(w, "           DNS: FAILED: %v\n", rep.DNSErr)
	} else {
		fmt.Fprintf(w, "           DNS: ok, %s resolves to loopback addresses only\n", fqdn)
	}

	if st != nil && !st.PublicRenewAt.IsZero() {
		fmt.Fprintf(w, "renewal:   next attempt %s\n", st.PublicRenewAt.Local().Format(time.RFC3339))
	}
	if st != nil && st.PublicRenewError != "" {
		fmt.Fprintf(w, "           WARNING: the last renewal failed: %s\n", st.PublicRenewError)
	}

	why := rep.NotServed
	switch {
	case st == nil && len(why) == 0:
		fmt.Fprintf(w, "serving:   %s -> the public certificate, once the agent runs\n", fqdn)
	case st == nil:
		fmt.Fprintf(w, "serving:   %s -> not served (%s); clients use the loopback URL\n", fqdn, strings.Join(why, ", "))
	case st.PublicURL != "":
		fmt.Fprintf(w, "serving:   %s -> the public certificate, at %s\n", fqdn, st.PublicURL)
	case st.PublicFQDN != fqdn:
		fmt.Fprintf(w, "serving:   %s -> not yet: the running agent still has %s; it looks again within 5 minutes (or restart it)\n", fqdn, describeFQDN(st.PublicFQDN))
	default:
		reason := st.PublicNotServed
		if reason == "" {
			reason = strings.Join(why, ", ")
		}
		fmt.Fprintf(w, "serving:   %s -> not served by the running agent (%s); clients use the loopback URL\n", fqdn, reason)
	}
	fmt.Fprintln(w, localLine)
}

func describeFQDN(name string) string {
	if name == "" {
		return "no public name"
	}
	return "the public name " + name
}

// issuerName is the issuing CA's name as people know it.
func issuerName(c *x509.Certificate) string {
	if len(c.Issuer.Organization) > 0 && c.Issuer.CommonName != "" {
		return c.Issuer.Organization[0] + " (" + c.Issuer.CommonName + ")"
	}
	if c.Issuer.CommonName != "" {
		return c.Issuer.CommonName
	}
	return c.Issuer.String()
}

func (c *cli) certsFQDN(args []string) error {
	rest, err := c.certsFlags("fqdn", args, nil, nil)
	if err != nil {
		return err
	}
	if len(rest) > 1 {
		return usageError{fmt.Errorf("unexpected argument %q", rest[1])}
	}
	d, err := c.dirs()
	if err != nil {
		return err
	}
	p := &public.Public{Dir: public.DefaultDir(d.Config)}
	if len(rest) == 0 {
		fqdn, err := p.FQDN()
		if err != nil {
			return err
		}
		if fqdn == "" {
			fmt.Fprintln(c.stderr, "no public name is set")
			return nil
		}
		fmt.Fprintln(c.stdout, fqdn)
		return nil
	}
	if err := p.SetFQDN(rest[0]); err != nil {
		return publicHint(err)
	}
	fqdn, _ := p.FQDN()
	fmt.Fprintf(c.stdout, "public name: %s\n", fqdn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := public.CheckLoopbackDNS(ctx, nil, fqdn); err != nil {
		fmt.Fprintf(c.stderr, "warning: %v\n", err)
		fmt.Fprintf(c.stderr, "hint: add an A record %s -> 127.0.0.1 (and AAAA -> ::1 if you like) in your DNS zone; until then the agent does not serve the name\n", fqdn)
	}
	c.reloadAgentCerts()
	return nil
}

func (c *cli) certsExportCSR(args []string) error {
	var sf storeFlags
	var fqdn, out string
	rest, err := c.certsFlags("export-csr", args, &sf, func(fs *pflag.FlagSet) {
		fs.StringVar(&fqdn, "fqdn", "", "the public name the certificate is for")
		fs.StringVar(&out, "out", "", "write the CSR to this file (default: standard output)")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", rest[0])}
	}
	if fqdn == "" {
		return usageError{errors.New("export-csr needs --fqdn NAME")}
	}
	name, err := public.ValidateFQDN(fqdn)
	if err != nil {
		return publicHint(err)
	}
	var csr []byte
	resp, err := c.certsByAgent(&sf, agent.CertsRequest{Action: agent.CertsExportCSR, FQDN: fqdn})
	switch {
	case err != nil:
		return err
	case resp != nil:
		csr = []byte(resp.Certs.CSR)
	default:
		p, err := c.openPublic(&sf)
		if err != nil {
			return err
		}
		if csr, err = p.ExportCSR(fqdn); err != nil {
			return publicHint(storeError(err))
		}
	}
	if out == "" {
		if _, err := c.stdout.Write(csr); err != nil {
			return err
		}
	} else if err := public.WriteCSRFile(out, csr); err != nil {
		return err
	}
	where := "above"
	if out != "" {
		where = "in " + out
	}
	fmt.Fprintf(c.stderr, "the CSR for %s is %s; its key stays in the secure store (%s)\n", name, where, public.PendingKeyName)
	fmt.Fprintln(c.stderr, "next: have a CA sign it, then: aws-sso-agent certs load CHAIN.pem")
	return nil
}

func (c *cli) certsLoad(args []string) error {
	var sf storeFlags
	var caFile string
	rest, err := c.certsFlags("load", args, &sf, func(fs *pflag.FlagSet) { caFlag(fs, &caFile) })
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError{errors.New("load needs one FILE: the signed certificate chain, leaf first")}
	}
	data, err := public.ReadChainFile(rest[0])
	if err != nil {
		return err
	}
	// A file that is no chain at all is refused before the store asks for
	// a passphrase; LoadChain checks it again with everything else.
	if _, err := public.ParseChainPEM(data); err != nil {
		return publicHint(err)
	}
	// --ca widens the chain check of this one command; the agent's
	// store checks against the roots it started with, so a chain of a
	// private CA is installed by opening the store here.
	if caFile == "" {
		resp, err := c.certsByAgent(&sf, agent.CertsRequest{Action: agent.CertsLoad, Chain: string(data)})
		if err != nil || resp != nil {
			return c.installedByAgent(resp, err)
		}
	}
	p, err := c.openPublicCA(&sf, caFile)
	if err != nil {
		return err
	}
	pc, err := p.LoadChain(data)
	if err != nil {
		return publicHint(storeError(err))
	}
	c.installed(pc)
	return nil
}

func (c *cli) certsSave(args []string) error {
	var sf storeFlags
	var certFile, keyFile, caFile string
	rest, err := c.certsFlags("save", args, &sf, func(fs *pflag.FlagSet) {
		fs.StringVar(&certFile, "cert", "", "the certificate chain, PEM, leaf first")
		fs.StringVar(&keyFile, "key", "", "the leaf's private key, PEM, unencrypted (readable by you only)")
		caFlag(fs, &caFile)
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", rest[0])}
	}
	if certFile == "" || keyFile == "" {
		return usageError{errors.New("save needs --cert FILE and --key FILE")}
	}
	certPEM, err := public.ReadChainFile(certFile)
	if err != nil {
		return err
	}
	keyPEM, err := public.ReadKeyFile(keyFile)
	if err != nil {
		return publicHint(err)
	}
	// Malformed files are refused before the store asks for a passphrase;
	// Import checks them again with everything else.
	if _, err := public.ParsePrivateKeyPEM(keyPEM); err != nil {
		return publicHint(err)
	}
	if _, err := public.ParseChainPEM(certPEM); err != nil {
		return publicHint(err)
	}
	var resp *agent.ControlResponse
	if caFile == "" { // as in certsLoad
		resp, err = c.certsByAgent(&sf, agent.CertsRequest{Action: agent.CertsSave, Chain: string(certPEM), Key: string(keyPEM)})
	}
	switch {
	case err != nil || resp != nil:
		if err := c.installedByAgent(resp, err); err != nil {
			return err
		}
	default:
		p, err := c.openPublicCA(&sf, caFile)
		if err != nil {
			return err
		}
		pc, err := p.Import(certPEM, keyPEM)
		if err != nil {
			return publicHint(storeError(err))
		}
		c.installed(pc)
	}
	fmt.Fprintf(c.stderr, "the key is now in the secure store (%s); delete the key file: rm %s\n", public.KeyName, keyFile)
	return nil
}

// installed reports a certificate that load or save installed.
func (c *cli) installed(pc *public.Cert) {
	c.printInstalled(pc)
	c.reloadAgentCerts()
}

// installedByAgent reports a certificate that the running agent's load or
// save installed (certsByAgent's resp and err).
func (c *cli) installedByAgent(resp *agent.ControlResponse, err error) error {
	if err != nil {
		return err
	}
	pc, err := agentInstalled(resp.Certs)
	if err != nil {
		return err
	}
	c.printInstalled(pc)
	c.reportAgentCerts(resp, nil)
	return nil
}

func (c *cli) printInstalled(pc *public.Cert) {
	leaf := pc.Chain[0]
	fmt.Fprintf(c.stdout, "installed the certificate for %s from %s, valid until %s\n", pc.FQDN, issuerName(leaf), leaf.NotAfter.Format(time.DateOnly))
}

// reloadAgentCerts has a running agent read the public name and
// certificate now, rather than at its next check, and says what it
// serves as a result.
func (c *cli) reloadAgentCerts() {
	d, err := c.dirs()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := agent.ControlClient{Path: d.ControlSocket()}.Do(ctx, agent.ControlRequest{Op: agent.OpReloadCerts})
	c.reportAgentCerts(resp, err)
}

func (c *cli) certsDelete(args []string) error {
	var sf storeFlags
	var yes bool
	rest, err := c.certsFlags("delete", args, &sf, func(fs *pflag.FlagSet) {
		fs.BoolVar(&yes, "yes", false, "do not ask for confirmation (needed without a terminal)")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", rest[0])}
	}
	d, err := c.dirs()
	if err != nil {
		return err
	}
	fqdn, err := (&public.Public{Dir: public.DefaultDir(d.Config)}).FQDN()
	if err != nil {
		// A damaged name file is one more thing delete removes.
		fqdn = ""
	}
	if !yes {
		if err := c.confirmDelete(fqdn); err != nil {
			return err
		}
	}
	resp, err := c.certsByAgent(&sf, agent.CertsRequest{Action: agent.CertsDelete})
	if err != nil {
		return err
	}
	if resp == nil {
		p, err := c.openPublic(&sf)
		if err != nil {
			return err
		}
		if err := p.Delete(); err != nil {
			return storeError(err)
		}
	}
	if fqdn != "" {
		fmt.Fprintf(c.stdout, "deleted the public certificate, its keys and the name %s\n", fqdn)
	} else {
		fmt.Fprintln(c.stdout, "deleted the public certificate and its keys")
	}
	if resp != nil {
		c.reportAgentCerts(resp, nil)
	} else {
		c.reloadAgentCerts()
	}
	return nil
}

// confirmDelete asks, on a terminal, to type the public name (or "delete"
// when none is set). Without a terminal it refuses: --yes says it.
func (c *cli) confirmDelete(fqdn string) error {
	tty, ok := c.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(tty.Fd())) {
		return withHint(errors.New("certs delete asks for confirmation and there is no terminal to ask on"),
			"pass --yes to delete without asking")
	}
	word := fqdn
	if word == "" {
		word = "delete"
	}
	fmt.Fprintf(c.stderr, "This removes the public certificate, its private keys from the secure store, and the public name.\nType %q to confirm: ", word)
	line, err := bufio.NewReader(tty).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read confirmation: %w", err)
	}
	if strings.TrimSpace(line) != word {
		return errors.New("not confirmed; nothing was deleted")
	}
	return nil
}

// openPublic opens the secure store and returns the Public on it.
func (c *cli) openPublic(sf *storeFlags) (*public.Public, error) {
	d, err := c.dirs()
	if err != nil {
		return nil, err
	}
	st, err := c.openStore(sf, d)
	if err != nil {
		return nil, storeError(err)
	}
	return c.publicFor(d, st)
}

// caFlag defines --ca, the root of a CA the system does not trust.
func caFlag(fs *pflag.FlagSet, file *string) {
	fs.StringVar(file, "ca", "", "PEM file with the root of your own CA, trusted besides the system's roots for this check only (the SDKs must trust it too)")
}

// openPublicCA is openPublic whose chain checks also trust the CA
// certificates in caFile, if not "". The file is read before the store is
// opened, so a wrong path costs no passphrase.
func (c *cli) openPublicCA(sf *storeFlags, caFile string) (*public.Public, error) {
	var roots *x509.CertPool
	if caFile != "" {
		var err error
		if roots, err = public.AddRootsFile(nil, caFile); err != nil {
			return nil, publicHint(err)
		}
	}
	p, err := c.openPublic(sf)
	if err != nil || roots == nil {
		return p, err
	}
	if p.ExtraRoots != nil {
		// The test hook's roots stay trusted too.
		if roots, err = public.ExtraRoots(roots); err != nil {
			return nil, err
		}
	}
	p.ExtraRoots = roots
	return p, nil
}

// publicHint adds what to do next to the refusals of public.Public.
func publicHint(err error) error {
	var hint string
	switch {
	case errors.Is(err, public.ErrNoPendingKey):
		hint = "export a CSR first: aws-sso-agent certs export-csr --fqdn NAME (with the same --store as here), have it signed, then load the chain"
	case errors.Is(err, public.ErrKeyMismatch):
		hint = "load the chain a CA issued for the latest CSR: each export-csr makes a new key; for a key of your own use certs save"
	case errors.Is(err, public.ErrWrongName):
		hint = "the certificate must name the public name (aws-sso-agent certs fqdn shows it)"
	case errors.Is(err, public.ErrNotValidNow):
		hint = "get a fresh certificate, or check this machine's clock"
	case errors.Is(err, public.ErrUntrustedChain):
		hint = "put the intermediate certificates after the leaf in the file; the chain must lead to a root this system trusts, or to the one given with --ca ROOT.pem (your own CA)"
	case errors.Is(err, public.ErrMalformedPEM):
		hint = "the file must hold PEM blocks (-----BEGIN CERTIFICATE----- ...), as CAs hand them out"
	case errors.Is(err, public.ErrInvalidFQDN):
		hint = "a public name is a DNS name under a zone you control that resolves to 127.0.0.1, e.g. agent.example.com"
	case errors.Is(err, public.ErrKeyFilePermissions):
		hint = "ssh refuses such key files too"
	default:
		return err
	}
	return withHint(err, hint)
}

// readRoot reads the local CA's root, saying what to do when there is none.
func readRoot(d agent.Dirs) (*x509.Certificate, []byte, error) {
	root, b, err := localca.ReadRoot(localca.DefaultDir(d.Config))
	if errors.Is(err, localca.ErrNoCA) {
		return nil, nil, withHint(errors.New("there is no local CA yet"), "the agent makes one when it first starts: aws-sso-agent serve")
	}
	return root, b, err
}
