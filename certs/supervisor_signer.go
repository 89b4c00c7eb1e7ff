package certs

import (
	"errors"
	"os"

	"github.com/aws-sso-agent/aws-sso-agent/certs/acme"
	"github.com/aws-sso-agent/aws-sso-agent/certs/signer"
)

// A certificate from the signing service (`certs sign-csr`) is renewed by
// the same Renewer as one from `certs acme`, with the service as its
// source; its settings are signer.SettingsFile, read when there are no
// ACME settings (`certs sign-csr` removes those).

// signerRenewer makes the renewer of a certificate from the service.
func (s *Supervisor) signerRenewer() (supervisedRenewer, error) {
	settings, err := signer.LoadSettings(s.cfg.Public.Dir)
	if err != nil {
		return nil, err
	}
	return signer.NewRenewer(s.cfg.Public, settings, s.cfg.HTTPClient, acme.RenewerConfig{
		ACME:          acme.Config{Logger: s.log},
		OnRenew:       s.server.Renewed,
		CheckInterval: s.cfg.RenewCheckInterval,
	})
}

// signerRenewerKey is renewerKey for a certificate from the service: ""
// when there is none to renew.
func (s *Supervisor) signerRenewerKey() (string, error) {
	settings, err := signer.LoadSettings(s.cfg.Public.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if settings.FQDN == "" {
		return "", nil // only `certs api-key` so far
	}
	key, err := s.settingsKey(settings)
	if key == "" || err != nil {
		return key, err
	}
	return "signer " + key, nil
}
