package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Credentials are one set of temporary AWS credentials as the endpoint
// serves them.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Expires is zero for credentials that do not expire (static keys).
	Expires   time.Time
	AccountID string
	RoleARN   string
}

// MaxCredentialsDocument bounds a credentials document a reader accepts:
// one is about 1.5 KB (a session token is up to about 1 KB).
const MaxCredentialsDocument = 64 << 10

// credentialsJSON is the container-credentials document: the shape the
// AWS SDKs read from AWS_CONTAINER_CREDENTIALS_FULL_URI (see
// docs/sdk-compatibility.md).
type credentialsJSON struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	Expiration      string `json:"Expiration"`
	AccountID       string `json:"AccountId"`
	RoleARN         string `json:"RoleArn"`
}

// AppendCredentials appends the credentials document of c to b: the JSON
// object {"AccessKeyId","SecretAccessKey","Token"}, then "Expiration" if c
// expires, in RFC 3339 UTC ending in "Z" (the JavaScript SDK v3 rejects
// "+00:00"), then "AccountId" and "RoleArn" if set. It is written by hand
// rather than with encoding/json: it is the endpoint's hot path and the
// shape is fixed.
func AppendCredentials(b []byte, c *Credentials) []byte {
	b = append(b, `{"AccessKeyId":`...)
	b = appendJSONString(b, c.AccessKeyID)
	b = append(b, `,"SecretAccessKey":`...)
	b = appendJSONString(b, c.SecretAccessKey)
	b = append(b, `,"Token":`...)
	b = appendJSONString(b, c.SessionToken)
	if !c.Expires.IsZero() {
		b = append(b, `,"Expiration":"`...)
		b = c.Expires.UTC().AppendFormat(b, time.RFC3339)
		b = append(b, '"')
	}
	if c.AccountID != "" {
		b = append(b, `,"AccountId":`...)
		b = appendJSONString(b, c.AccountID)
	}
	if c.RoleARN != "" {
		b = append(b, `,"RoleArn":`...)
		b = appendJSONString(b, c.RoleARN)
	}
	return append(b, '}')
}

// Errors of ParseCredentials. They never quote the document, which holds
// secrets.
var (
	ErrCredentialsJSON       = errors.New("wire: not the credentials JSON")
	ErrCredentialsKeys       = errors.New("wire: no AccessKeyId or SecretAccessKey")
	ErrCredentialsExpiration = errors.New("wire: Expiration is not RFC 3339")
	ErrCredentialsTooLarge   = fmt.Errorf("wire: credentials document longer than %d bytes", MaxCredentialsDocument)
)

// ParseCredentials parses a credentials document. AccessKeyId and
// SecretAccessKey are required; Expiration, if present, must be RFC 3339
// and is returned in UTC. Fields it does not know are ignored.
func ParseCredentials(doc []byte) (Credentials, error) {
	if len(doc) > MaxCredentialsDocument {
		return Credentials{}, ErrCredentialsTooLarge
	}
	var j credentialsJSON
	if err := json.Unmarshal(doc, &j); err != nil {
		return Credentials{}, ErrCredentialsJSON
	}
	if j.AccessKeyID == "" || j.SecretAccessKey == "" {
		return Credentials{}, ErrCredentialsKeys
	}
	c := Credentials{
		AccessKeyID:     j.AccessKeyID,
		SecretAccessKey: j.SecretAccessKey,
		SessionToken:    j.Token,
		AccountID:       j.AccountID,
		RoleARN:         j.RoleARN,
	}
	if j.Expiration != "" {
		t, err := time.Parse(time.RFC3339, j.Expiration)
		if err != nil {
			return Credentials{}, ErrCredentialsExpiration
		}
		c.Expires = t.UTC()
	}
	return c, nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaping as encoding/json
// does (HTML characters included), invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
