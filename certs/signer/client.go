package signer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/aws-sso-agent/aws-sso-agent/signer/protocol"
)

// maxResponse bounds what is read of an answer: a chain is a few KB, a
// list of certificates (with no chains) tens of KB.
const maxResponse = 1 << 20

// DefaultRequestTimeout bounds one call of the API. A signing request
// waits for the CA's whole DNS-01 validation, which the service bounds by
// three minutes (its issuer's timeout); a little more covers the network.
const DefaultRequestTimeout = 4 * time.Minute

// APIError is the service's refusal: its HTTP status, the stable code and
// the message of protocol.Error, sanitized, and its Retry-After.
type APIError struct {
	Service    string
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("certs: signer: %s: %d %s", e.Service, e.Status, e.Code)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return msg
}

// Retryable reports whether another service, or a later attempt, may
// succeed where this one refused: the service is overloaded, rate
// limited or failing, as opposed to refusing this request or this key.
func (e *APIError) Retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// Client calls one service with one API key.
type Client struct {
	// Service is the normalized service URL (NormalizeServiceURL).
	Service string
	// APIKey authenticates as "Authorization: Bearer KEY". It is never
	// part of an error.
	APIKey string
	// HTTPClient; nil means one trusting the system's roots with
	// DefaultRequestTimeout.
	HTTPClient *http.Client
}

// Sign sends csrPEM and returns the issued certificate with its chain.
func (c *Client) Sign(ctx context.Context, csrPEM []byte) (*protocol.Certificate, error) {
	var out protocol.Certificate
	if err := c.call(ctx, http.MethodPost, protocol.PathCertificates, protocol.SignRequest{CSR: string(csrPEM)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// List returns the certificates of the key's hostnames, newest first.
func (c *Client) List(ctx context.Context) ([]protocol.Certificate, error) {
	var out protocol.CertificateList
	if err := c.call(ctx, http.MethodGet, protocol.PathCertificates, nil, &out); err != nil {
		return nil, err
	}
	return out.Certificates, nil
}

// Revoke revokes the certificate with serial (hexadecimal).
func (c *Client) Revoke(ctx context.Context, serial string) (*protocol.Certificate, error) {
	var out protocol.Certificate
	if err := c.call(ctx, http.MethodPost, protocol.PathRevoke, protocol.RevokeRequest{Serial: serial}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Service+path, body)
	if err != nil {
		return fmt.Errorf("certs: signer: %s: %w", c.Service, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.APIKey)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: DefaultRequestTimeout}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("certs: signer: %s: %w", c.Service, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("certs: signer: %s: read the answer: %w", c.Service, err)
	}
	if len(data) > maxResponse {
		return fmt.Errorf("certs: signer: %s: answer larger than %d bytes", c.Service, maxResponse)
	}
	if resp.StatusCode/100 != 2 {
		e := &APIError{Service: c.Service, Status: resp.StatusCode, Code: http.StatusText(resp.StatusCode)}
		var er protocol.ErrorResponse
		if json.Unmarshal(data, &er) == nil && er.Error.Code != "" {
			e.Code = sanitize(c.redact(er.Error.Code), 64)
			e.Message = sanitize(c.redact(er.Error.Message), 300)
		}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			e.RetryAfter = time.Duration(min(s, 7*24*3600)) * time.Second
		}
		return e
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("certs: signer: %s: answer: %w", c.Service, err)
	}
	return nil
}

// redact hides the key in s: a service that echoes it must not put it
// on the screen or in a log. An empty key hides nothing (a Replacer
// would match "" between every two characters).
func (c *Client) redact(s string) string {
	if c.APIKey == "" {
		return s
	}
	return strings.ReplaceAll(s, c.APIKey, "[api key]")
}

// sanitize makes text from the service fit for a terminal: printable
// characters only (no escape sequences), at most n runes.
func sanitize(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if n == 0 {
			b.WriteString("...")
			break
		}
		if !unicode.IsPrint(r) {
			r = '?'
		}
		b.WriteRune(r)
		n--
	}
	return b.String()
}

// ErrNoService is returned when no configured service has an API key.
var ErrNoService = errors.New("certs: signer: no service with an API key configured")
