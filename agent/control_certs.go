package agent

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/aws-sso-agent/aws-sso-agent/certs/public"
)

// OpCerts has the agent change the public certificate with its own secure
// store: the `certs` commands that need the store (export-csr, load,
// save, delete) send it while an agent runs, so they neither open the
// store a second time (a passphrase, seconds of scrypt for the file
// store) nor need a keyring the agent's session has and theirs may not.
//
// It is deliberately narrow: each action is one operation of
// public.Public, and none hands a secret back. export-csr answers with the
// CSR alone, its key made and kept in the agent's store; save sends the
// user's key file in, never out. Like every operation, it is served only
// to the agent's own uid on the control socket.
const OpCerts = "certs"

// Actions of OpCerts.
const (
	CertsExportCSR = "export-csr" // make a key, answer its CSR for FQDN
	CertsLoad      = "load"       // install Chain for the pending key
	CertsSave      = "save"       // install Chain with Key
	CertsDelete    = "delete"     // remove the certificate, its keys, the name
)

// CertsRequest is one OpCerts action with its inputs, PEM text as the
// certs commands read it from their files.
type CertsRequest struct {
	Action string `json:"action"`
	FQDN   string `json:"fqdn,omitempty"`
	Chain  string `json:"chain,omitempty"`
	// Key is save's private key. It travels on the control socket only,
	// which no other user can open, into the agent's store.
	Key string `json:"key,omitempty"`
}

// CertsResult is what an OpCerts action made: the CSR of export-csr, the
// name and chain that load or save installed. The response's Status is
// the agent's status once it has reloaded its certificates.
type CertsResult struct {
	CSR   string `json:"csr,omitempty"`
	FQDN  string `json:"fqdn,omitempty"`
	Chain string `json:"chain,omitempty"`
}

func (r *CertsRequest) validate() error {
	if r == nil {
		return errors.New("certs request without parameters")
	}
	switch r.Action {
	case CertsExportCSR:
		if r.FQDN == "" {
			return errors.New("certs export-csr needs the name")
		}
	case CertsLoad:
		if r.Chain == "" {
			return errors.New("certs load needs the chain")
		}
	case CertsSave:
		if r.Chain == "" || r.Key == "" {
			return errors.New("certs save needs the chain and the key")
		}
	case CertsDelete:
	default:
		return fmt.Errorf("unknown certs action %q", r.Action)
	}
	return nil
}

// errNoCerts refuses OpCerts on a server without ControlServer.Certs.
var errNoCerts = &codedError{err: errors.New("this agent keeps no public certificate"), is: ErrUnsupported}

// certs performs one action on s.Certs, then has the agent serve what it
// changed at once (reload-certs). A failed reload does not undo the
// action: the response then carries the result and the reload's error
// is logged; the agent looks again by itself within minutes.
func (s *ControlServer) certs(ctx context.Context, req *CertsRequest) ControlResponse {
	if s.Certs == nil {
		return errorResponse(errNoCerts)
	}
	var res CertsResult
	var err error
	switch req.Action {
	case CertsExportCSR:
		var csr []byte
		if csr, err = s.Certs.ExportCSR(req.FQDN); err == nil {
			res.CSR = string(csr)
		}
	case CertsLoad:
		var c *public.Cert
		if c, err = s.Certs.LoadChain([]byte(req.Chain)); err == nil {
			res.FQDN, res.Chain = c.FQDN, chainPEM(c)
		}
	case CertsSave:
		var c *public.Cert
		if c, err = s.Certs.Import([]byte(req.Chain), []byte(req.Key)); err == nil {
			res.FQDN, res.Chain = c.FQDN, chainPEM(c)
		}
	case CertsDelete:
		err = s.Certs.Delete()
	}
	log := s.logger()
	if err != nil {
		log.Info("control: certs action failed", "action", req.Action, "err", err.Error())
		return errorResponse(err)
	}
	log.Info("control: certs action done", "action", req.Action, "fqdn", res.FQDN)
	if req.Action != CertsExportCSR && s.Public != nil {
		if err := s.Public.Reload(ctx); err != nil {
			log.Warn("control: certificates not reloaded", "err", err.Error())
		}
	}
	st := s.Status()
	return ControlResponse{Certs: &res, Status: &st}
}

func chainPEM(c *public.Cert) string {
	var b strings.Builder
	for _, x := range c.Chain {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: x.Raw}) // a strings.Builder does not fail
	}
	return b.String()
}
