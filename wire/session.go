package wire

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// SessionVersion is the version of session.json this package writes and
// reads.
const SessionVersion = 1

// Sizes of the session's secrets and id, fixed by the protocol: the agent
// draws each from crypto/rand.
const (
	SessionIDSize = 16 // hex in the file: 32 characters
	TokenSize     = 32 // base64url without padding: 43 characters
	ProofKeySize  = 32
)

// MaxSessionFile bounds session.json: a CA certificate is about 600 bytes
// of PEM, the rest a few hundred; 64 KiB leaves room without letting a bad
// file cost memory. Readers stop reading past it.
const MaxSessionFile = 64 << 10

// Bounds on the slot list and host name of a session file.
const (
	maxSlots = 256
	maxHost  = 255 // a DNS name's limit
)

// Session is one SSH session's file, session.json: what `aws-sso-agent
// ssh` installs on the remote host and aws-sso-remote reads.
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
	// CA is the pinned root CA certificate of the agent, and CAPEM its
	// PEM. Encode writes CAPEM; ParseSession sets both.
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
	// FQDN is the agent's public name, "" if it serves none. The helper
	// uses it only once the name resolves to loopback on its host.
	FQDN string
	// Dir is the directory the file was read from (see SessionDir); it is
	// not part of the file, and "" for a session parsed from bytes alone.
	Dir string
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

// Encode returns the session as session.json, the form ParseSession reads.
// ProofKey is encoded in base64url without padding. It does not validate:
// a test may write a damaged file on purpose.
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
	b, err := json.Marshal(sessionFile{
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
	if err != nil {
		return nil, fmt.Errorf("wire: encode session file: %w", err)
	}
	return b, nil
}

// ParseSession parses and validates a session.json. It is strict about
// every value, since the helper trusts the file to pin the agent: version
// 1, a 32-character lowercase hex id, a port in 1..65535, a 32-byte token
// and proof key in base64url without padding, a CA PEM holding exactly one
// CA certificate, valid slot names, a positive sshd pid, a printable host
// and, if present, a public DNS name. Fields it does not know are ignored.
// Errors name the field, never a secret's value.
func ParseSession(data []byte) (*Session, error) {
	if len(data) > MaxSessionFile {
		return nil, fmt.Errorf("wire: session file is %d bytes: at most %d", len(data), MaxSessionFile)
	}
	var f sessionFile
	if err := json.Unmarshal(data, &f); err != nil {
		// json's messages quote at most a type or an offset, not values.
		return nil, fmt.Errorf("wire: session file is not valid JSON: %w", err)
	}
	if f.Version == nil {
		return nil, errors.New("wire: session file has no version")
	}
	if *f.Version != SessionVersion {
		return nil, fmt.Errorf("wire: session file version %d is not supported: this aws-sso-remote reads version %d (update it to match the agent)", *f.Version, SessionVersion)
	}
	if err := ValidateSessionID(f.ID); err != nil {
		return nil, err
	}
	if f.Port < 1 || f.Port > 65535 {
		return nil, fmt.Errorf("wire: session port %d is out of range 1..65535", f.Port)
	}
	if _, err := decodeSecret(f.Token, TokenSize); err != nil {
		return nil, fmt.Errorf("wire: session token: %w", err)
	}
	key, err := decodeSecret(f.ProofKey, ProofKeySize)
	if err != nil {
		return nil, fmt.Errorf("wire: session proof_key: %w", err)
	}
	ca, caPEM, err := parseCA(f.CA)
	if err != nil {
		return nil, fmt.Errorf("wire: session ca: %w", err)
	}
	if f.Slots == nil {
		return nil, errors.New("wire: session file has no slots")
	}
	slots := *f.Slots
	if len(slots) > maxSlots {
		return nil, fmt.Errorf("wire: session has %d slots: at most %d", len(slots), maxSlots)
	}
	seen := make(map[string]bool, len(slots))
	for _, s := range slots {
		if s != "" {
			if err := checkSlotName(s); err != nil {
				return nil, fmt.Errorf("wire: session slots: %w", err)
			}
		}
		if seen[s] {
			return nil, fmt.Errorf("wire: session slots: %s is listed twice", QuotedSlotName(s))
		}
		seen[s] = true
	}
	if f.SSHDPID < 1 {
		return nil, fmt.Errorf("wire: session sshd_pid %d is not a process id", f.SSHDPID)
	}
	if len(f.Host) > maxHost || !printable(f.Host) {
		return nil, errors.New("wire: session host is not a printable name of at most 255 bytes")
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
			return nil, errors.New("wire: session created is not an RFC 3339 time")
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
// is also a directory name, so this check is what keeps a session id from
// naming a path outside the sessions directory.
func ValidateSessionID(id string) error {
	if len(id) != 2*SessionIDSize {
		return fmt.Errorf("wire: session id %q is not %d hex characters", sanitize(id, 80), 2*SessionIDSize)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("wire: session id %q is not lowercase hex", sanitize(id, 80))
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

// validateFQDN checks session.json's fqdn: a DNS host name of at least two
// labels (RFC 1123: letters, digits, hyphens; labels of 1 to 63, at most
// 253 in all), lowercase, no final dot, not an IP address, not localhost.
// It keeps a damaged file from putting anything but a host name into the
// URL the helper exports.
func validateFQDN(n string) error {
	bad := func(why string) error { return fmt.Errorf("wire: session fqdn %q: %s", sanitize(n, 80), why) }
	switch {
	case len(n) > 253:
		return bad("longer than 253 characters")
	case n == "localhost" || strings.HasSuffix(n, ".localhost"):
		return bad("localhost is not a public name")
	}
	if _, err := netip.ParseAddr(n); err == nil {
		return bad("an IP address, not a name")
	}
	labels := strings.Split(n, ".")
	if len(labels) < 2 {
		return bad("not a fully qualified name")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return bad("a label is empty, too long, or starts or ends with a hyphen")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return bad("only lowercase letters, digits, hyphens and dots are allowed")
			}
		}
	}
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return bad("the last label is numeric")
	}
	return nil
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
// https when useTLS (SlotPath).
func (s *Session) URL(slot string, useTLS bool) string {
	scheme := "http"
	if useTLS {
		scheme = "https"
	}
	return scheme + "://127.0.0.1:" + strconv.Itoa(s.Port) + SlotPath(slot)
}

// PublicURL is the endpoint URL of slot under the session's public name:
// https://FQDN:PORT/, /slot/NAME for a named slot. "" if the session has
// no public name.
func (s *Session) PublicURL(slot string) string {
	if s.FQDN == "" {
		return ""
	}
	return "https://" + s.FQDN + ":" + strconv.Itoa(s.Port) + SlotPath(slot)
}

// TokenFile is where the helper writes the token, in the session's
// directory so that it goes when the session ends.
func (s *Session) TokenFile() string { return filepath.Join(s.Dir, TokenFileName) }

// CAFile is where the helper writes the pinned CA alone
// (NODE_EXTRA_CA_CERTS).
func (s *Session) CAFile() string { return filepath.Join(s.Dir, CAFileName) }

// CABundleFile is where the helper writes the system roots plus the pinned
// CA (SSL_CERT_FILE).
func (s *Session) CABundleFile() string { return filepath.Join(s.Dir, CABundleFileName) }
