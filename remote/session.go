package remote

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// SessionVersion is the version of session.json this package reads.
const SessionVersion = 1

// Sizes of the session's secrets and id, fixed by the protocol: the agent
// draws each from crypto/rand.
const (
	sessionIDBytes = 16 // hex in the file: 32 characters
	tokenBytes     = 32 // base64url without padding: 43 characters
	proofKeyBytes  = 32
)

// maxSessionFile bounds session.json: a CA certificate is about 600 bytes
// of PEM, the rest a few hundred; 64 KiB leaves room without letting a bad
// file cost memory.
const maxSessionFile = 64 << 10

// maxSlotName and maxSlots bound the slot list (the agent allows 64-byte
// slot names, agent.ValidateSlotName).
const (
	maxSlotName = 64
	maxSlots    = 256
	maxHost     = 255 // a DNS name's limit
)

// Session is one SSH session's file, session.json, as written by
// `aws-sso-agent ssh` on this host.
type Session struct {
	// ID is the session's id: 16 random bytes in lowercase hex.
	ID string
	// Port is the forwarded port on 127.0.0.1.
	Port int
	// Token is the session's bearer token. It is a secret: never print,
	// log or put it in an error.
	Token string
	// ProofKey is the key of the agent's proof (32 bytes). Secret.
	ProofKey []byte
	// CA is the pinned root CA certificate of the agent, and CAPEM its PEM.
	CA    *x509.Certificate
	CAPEM []byte
	// Slots are the slots this session may read; "" is the default slot.
	Slots []string
	// SSHDPID is the remote per-connection sshd process of the session.
	SSHDPID int
	// Host is the workstation's host name, for display.
	Host string
	// Created is when the session started.
	Created time.Time
	// Dir is the session's directory ("" if parsed from bytes alone).
	Dir string
	// FQDN is the agent's public name, "" if it serves none: see
	// PublicURL and CheckLoopbackDNS.
	FQDN string
}

// sessionFile is the JSON shape of session.json.
type sessionFile struct {
	Version  *int      `json:"version"`
	ID       string    `json:"id"`
	Port     int       `json:"port"`
	Token    string    `json:"token"`
	ProofKey string    `json:"proof_key"`
	CA       string    `json:"ca"`
	Slots    *[]string `json:"slots"`
	SSHDPID  int       `json:"sshd_pid"`
	Host     string    `json:"host"`
	Created  string    `json:"created"`
	FQDN     string    `json:"fqdn,omitempty"`
}

// Encode returns the session as session.json, the form ParseSession reads:
// the one definition of the file for its writer (`aws-sso-agent ssh`) and
// its reader. ProofKey is encoded in base64url without padding.
func (s *Session) Encode() ([]byte, error) {
	v := SessionVersion
	slots := s.Slots
	if slots == nil {
		slots = []string{}
	}
	created := ""
	if !s.Created.IsZero() {
		created = s.Created.UTC().Format(time.RFC3339)
	}
	return json.Marshal(sessionFile{
		Version:  &v,
		ID:       s.ID,
		Port:     s.Port,
		Token:    s.Token,
		ProofKey: base64.RawURLEncoding.EncodeToString(s.ProofKey),
		CA:       string(s.CAPEM),
		Slots:    &slots,
		SSHDPID:  s.SSHDPID,
		Host:     s.Host,
		Created:  created,
		FQDN:     s.FQDN,
	})
}

// ParseSession parses and validates a session.json. It is strict about
// every value, since the helper trusts the file to pin the agent: version
// 1, a 32-character lowercase hex id, a port in 1..65535, a 32-byte token
// and proof key in base64url without padding, a CA PEM holding exactly one
// CA certificate, valid slot names, a positive sshd pid and a printable
// host. Fields it does not know are ignored. Errors name the field, never
// a secret's value.
func ParseSession(data []byte) (*Session, error) {
	if len(data) > maxSessionFile {
		return nil, fmt.Errorf("session file is %d bytes: at most %d", len(data), maxSessionFile)
	}
	var f sessionFile
	if err := json.Unmarshal(data, &f); err != nil {
		// json's messages quote at most a type or an offset, not values.
		return nil, fmt.Errorf("session file is not valid JSON: %w", err)
	}
	if f.Version == nil {
		return nil, errors.New("session file has no version")
	}
	if *f.Version != SessionVersion {
		return nil, fmt.Errorf("session file version %d is not supported: this aws-sso-remote reads version %d (update it to match the agent)", *f.Version, SessionVersion)
	}
	if err := ValidateSessionID(f.ID); err != nil {
		return nil, err
	}
	if f.Port < 1 || f.Port > 65535 {
		return nil, fmt.Errorf("session port %d is out of range 1..65535", f.Port)
	}
	if _, err := decodeSecret(f.Token, tokenBytes); err != nil {
		return nil, fmt.Errorf("session token: %w", err)
	}
	key, err := decodeSecret(f.ProofKey, proofKeyBytes)
	if err != nil {
		return nil, fmt.Errorf("session proof_key: %w", err)
	}
	ca, caPEM, err := parseCA(f.CA)
	if err != nil {
		return nil, fmt.Errorf("session ca: %w", err)
	}
	if f.Slots == nil {
		return nil, errors.New("session file has no slots")
	}
	slots := *f.Slots
	if len(slots) > maxSlots {
		return nil, fmt.Errorf("session has %d slots: at most %d", len(slots), maxSlots)
	}
	seen := make(map[string]bool, len(slots))
	for _, s := range slots {
		if err := validateSlot(s); err != nil {
			return nil, fmt.Errorf("session slots: %w", err)
		}
		if seen[s] {
			return nil, fmt.Errorf("session slots: %s is listed twice", SlotDisplayName(s))
		}
		seen[s] = true
	}
	if f.SSHDPID < 1 {
		return nil, fmt.Errorf("session sshd_pid %d is not a process id", f.SSHDPID)
	}
	if len(f.Host) > maxHost || !printable(f.Host) {
		return nil, errors.New("session host is not a printable name of at most 255 bytes")
	}
	if f.FQDN != "" {
		if err := validateFQDN(f.FQDN); err != nil {
			return nil, err
		}
	}
	var created time.Time
	if f.Created != "" {
		created, err = time.Parse(time.RFC3339, f.Created)
		if err != nil {
			return nil, errors.New("session created is not an RFC 3339 time")
		}
	}
	return &Session{
		ID:       f.ID,
		Port:     f.Port,
		Token:    f.Token,
		ProofKey: key,
		CA:       ca,
		CAPEM:    caPEM,
		Slots:    append([]string(nil), slots...),
		SSHDPID:  f.SSHDPID,
		Host:     f.Host,
		Created:  created,
		FQDN:     f.FQDN,
	}, nil
}

// ValidateSessionID checks a session id: 16 bytes in lowercase hex. An id
// is also a directory name, so this check is what keeps --session from
// naming a path outside the sessions directory.
func ValidateSessionID(id string) error {
	if len(id) != 2*sessionIDBytes {
		return fmt.Errorf("session id %q is not %d hex characters", sanitize(id, 80), 2*sessionIDBytes)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("session id %q is not lowercase hex", sanitize(id, 80))
		}
	}
	return nil
}

// decodeSecret decodes base64url without padding, canonical only, and
// checks the length. The error never shows the value.
func decodeSecret(s string, n int) ([]byte, error) {
	if s == "" {
		return nil, errors.New("missing")
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, errors.New("not base64url without padding")
	}
	if len(b) != n {
		return nil, fmt.Errorf("%d bytes, want %d", len(b), n)
	}
	return b, nil
}

// parseCA parses the pinned CA: exactly one PEM CERTIFICATE block and
// nothing else but whitespace, a CA certificate (basic constraints CA).
func parseCA(s string) (*x509.Certificate, []byte, error) {
	if s == "" {
		return nil, nil, errors.New("missing")
	}
	block, rest := pem.Decode([]byte(s))
	if block == nil {
		return nil, nil, errors.New("no PEM block")
	}
	if block.Type != "CERTIFICATE" {
		return nil, nil, fmt.Errorf("PEM block is %q, want CERTIFICATE", sanitize(block.Type, 40))
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, nil, errors.New("more than one PEM block: want only the agent's root CA")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parse certificate: %w", err)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, nil, errors.New("certificate is not a CA")
	}
	return cert, pem.EncodeToMemory(block), nil
}

// validateSlot checks a slot name of the session file: "" (the default
// slot) or a name the agent accepts (agent.ValidateSlotName, restated here
// because the helper must not import the agent).
func validateSlot(name string) error {
	if name == "" {
		return nil
	}
	switch {
	case len(name) > maxSlotName:
		return fmt.Errorf("slot name is %d bytes: at most %d", len(name), maxSlotName)
	case !utf8.ValidString(name):
		return errors.New("slot name is not valid UTF-8")
	case name == "." || name == ".." || name == "default":
		return fmt.Errorf("slot name %q is reserved", name)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) || r == '/' || r == '\\' || r == '(' || r == ')' {
			return fmt.Errorf("slot name %q holds %q", sanitize(name, maxSlotName), r)
		}
	}
	return nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// SlotDisplayName is how the helper names a slot to a person: "default"
// for "", the quoted name otherwise.
func SlotDisplayName(slot string) string {
	if slot == "" {
		return "default"
	}
	return strconv.Quote(slot)
}

// Allows reports whether the session may read slot.
func (s *Session) Allows(slot string) bool {
	for _, x := range s.Slots {
		if x == slot {
			return true
		}
	}
	return false
}

// CAFingerprint is the pinned CA's fingerprint as OpenSSH shows keys:
// "SHA256:" and the unpadded standard base64 of the SHA-256 of its DER.
func (s *Session) CAFingerprint() string {
	sum := sha256.Sum256(s.CA.Raw)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// URL is the endpoint URL of slot on the forwarded port: http by default,
// https when useTLS. A named slot is /slot/NAME, NAME path-escaped.
func (s *Session) URL(slot string, useTLS bool) string {
	scheme := "http"
	if useTLS {
		scheme = "https"
	}
	u := scheme + "://127.0.0.1:" + strconv.Itoa(s.Port) + "/"
	if slot != "" {
		u += "slot/" + url.PathEscape(slot)
	}
	return u
}

// TokenFile is where WriteTokenFile writes the token: in the session's
// directory, so it goes when the session ends.
func (s *Session) TokenFile() string { return filepath.Join(s.Dir, "token") }

// CAFile is where WriteCAFile writes the pinned CA (NODE_EXTRA_CA_CERTS).
func (s *Session) CAFile() string { return filepath.Join(s.Dir, "ca.pem") }

// CABundleFile is where WriteCABundle writes the system roots plus the
// pinned CA (SSL_CERT_FILE).
func (s *Session) CABundleFile() string { return filepath.Join(s.Dir, "ca-bundle.pem") }

// idHex reports whether id looks like a session directory's name.
func idHex(id string) bool {
	if len(id) != 2*sessionIDBytes {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && ValidateSessionID(id) == nil
}
