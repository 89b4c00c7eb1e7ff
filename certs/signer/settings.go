package signer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws-sso-agent/aws-sso-agent/certs/internal/certfile"
)

// SettingsFile is the file, in public.Public's Dir, that says which
// services to use and for which name: `certs api-key` adds a service,
// `certs sign-csr` sets the name, and the running agent renews through
// the services it lists. It holds no secret: the API keys are in the
// secure store (APIKeyName).
const SettingsFile = "signer.json"

// Settings are the choices of `certs api-key` and `certs sign-csr`.
type Settings struct {
	// Services are the service URLs, tried in this order.
	Services []string `json:"services"`
	// FQDN is the name of the certificate from the service; "" until
	// `certs sign-csr` got one.
	FQDN string `json:"fqdn,omitempty"`
}

// APIKeyName is the secure store key of the API key for the service at
// serviceURL (normalized). It is part of the store's format.
func APIKeyName(serviceURL string) string {
	sum := sha256.Sum256([]byte(serviceURL))
	return "certs/signer-api-key/" + hex.EncodeToString(sum[:8])
}

// NormalizeServiceURL checks that s is an https URL of a service (no
// user info, query or fragment) and returns it without a final slash.
// Plain http is refused: the API key would cross the network in clear.
func NormalizeServiceURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", fmt.Errorf("certs: signer: service url %q: %w", s, err)
	}
	switch {
	case u.Scheme != "https":
		return "", fmt.Errorf("certs: signer: service url %q: must be https://", s)
	case u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return "", fmt.Errorf("certs: signer: service url %q: want https://HOST[:PORT][/PATH]", s)
	}
	u.Host = strings.ToLower(u.Host)
	return strings.TrimSuffix(u.String(), "/"), nil
}

// AddService puts service (normalized) in s.Services, last, unless it is
// there already.
func (s *Settings) AddService(service string) {
	if !slices.Contains(s.Services, service) {
		s.Services = append(s.Services, service)
	}
}

// LoadSettings reads dir/SettingsFile. If there is none the error wraps
// os.ErrNotExist.
func LoadSettings(dir string) (*Settings, error) {
	path := filepath.Join(dir, SettingsFile)
	data, err := certfile.Read(path)
	if err != nil {
		return nil, fmt.Errorf("certs: signer settings: %w", err)
	}
	var s Settings
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("certs: signer settings %s: %w", path, err)
	}
	for i, u := range s.Services {
		n, err := NormalizeServiceURL(u)
		if err != nil {
			return nil, fmt.Errorf("certs: signer settings %s: %w", path, err)
		}
		s.Services[i] = n
	}
	return &s, nil
}

// LoadOrNewSettings is LoadSettings, with empty Settings when there is no
// file yet.
func LoadOrNewSettings(dir string) (*Settings, error) {
	s, err := LoadSettings(dir)
	if errors.Is(err, os.ErrNotExist) {
		return &Settings{}, nil
	}
	return s, err
}

// SaveSettings writes s to dir/SettingsFile, atomically.
func SaveSettings(dir string, s *Settings) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("certs: save signer settings: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("certs: save signer settings: %w", err)
	}
	tmp, err := certfile.Stage(dir, SettingsFile, append(data, '\n'))
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, SettingsFile))
	}
	if err != nil {
		if tmp != "" {
			os.Remove(tmp)
		}
		return fmt.Errorf("certs: save signer settings: %w", err)
	}
	return nil
}
