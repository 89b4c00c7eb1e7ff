package remote

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws-sso-agent/aws-sso-agent/wire"
)

// Bounds on what a server may send back: the proof answer is about 100
// bytes, credentials about 1.5 KB (a session token is up to ~1 KB).
const (
	maxProofBody       = 4 << 10
	maxCredentialsBody = wire.MaxCredentialsDocument
)

// Conn is a TLS connection to the session's port whose server has proved
// it is the genuine agent of the session. Only on such a connection is the
// token sent. A Conn is not safe for concurrent use.
type Conn struct {
	s   *wire.Session
	tc  *tls.Conn
	lr  *capReader // under br: caps what one answer may make us read
	br  *bufio.Reader
	bad bool // a request failed part-way: the stream is out of step
}

// maxAnswer caps the bytes read for one answer, headers included: net/http's
// response parser does not bound header lines by itself.
const maxAnswer = 256 << 10

// capReader reads from r until n bytes have been read, then fails.
type capReader struct {
	r io.Reader
	n int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, errors.New("answer larger than 256 KiB")
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

// Prove connects to the session's port and proves the server genuine:
// TLS 1.3 with a certificate chained to the pinned CA and valid for
// 127.0.0.1, then the nonce challenge bound to the connection. It sends
// no token. The returned Conn reads credentials over the same connection;
// close it when done.
func Prove(ctx context.Context, s *wire.Session) (*Conn, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		reason := "connect to " + addr
		if errors.Is(err, syscall.ECONNREFUSED) {
			reason = "nothing is listening on " + addr
		}
		return nil, &Error{Kind: KindNotGenuine, Reason: reason, Err: err,
			Hint: "the SSH session's forward is gone (session ended, or the agent stopped): reconnect with `aws-sso-agent ssh HOST`"}
	}
	pool := x509.NewCertPool()
	pool.AddCert(s.CA)
	tc := tls.Client(raw, &tls.Config{
		// Only the CA from the session file, delivered over the
		// authenticated SSH connection: never the system roots.
		RootCAs:    pool,
		ServerName: "127.0.0.1", // verified against the certificate's IP SANs
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{"http/1.1"},
	})
	lr := &capReader{r: tc}
	c := &Conn{s: s, tc: tc, lr: lr, br: bufio.NewReaderSize(lr, 4096)}
	stop := c.bind(ctx)
	err = tc.HandshakeContext(ctx)
	if err == nil {
		err = c.prove()
	}
	if cerr := stop(); cerr != nil && err != nil {
		err = fmt.Errorf("%w (%w)", err, cerr)
	}
	if err != nil {
		tc.Close()
		return nil, classifyProve(addr, err)
	}
	return c, nil
}

// classifyProve turns a failure of Prove into an *Error of the right kind.
func classifyProve(addr string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) {
		return &Error{Kind: KindCertificate,
			Reason: "the server on " + addr + " has a certificate not issued by this session's agent",
			Err:    err,
			Hint:   "another process holds the forwarded port (a squatter?): no token was sent; reconnect with `aws-sso-agent ssh HOST`, which forwards a new port"}
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) {
		// What it sent instead tells plain HTTP ("HTTP/") from noise.
		return &Error{Kind: KindNotGenuine,
			Reason: "the server on " + addr + " does not speak TLS (it began its answer with " + strconv.Quote(sanitize(string(rh.RecordHeader[:]), 5)) + ")",
			Err:    err,
			Hint:   "the agent always speaks TLS on a forwarded port, so this is not it: no token was sent; reconnect with `aws-sso-agent ssh HOST`"}
	}
	return &Error{Kind: KindNotGenuine,
		Reason: "TLS 1.3 handshake with " + addr + " failed",
		Err:    err,
		Hint:   "the agent speaks TLS 1.3 on a forwarded port, so this is likely not it: no token was sent; reconnect with `aws-sso-agent ssh HOST`"}
}

// bind applies ctx's deadline and cancellation to the connection until
// the returned stop is called. stop returns ctx's error if ctx has ended
// (so a failure is its doing), counting the deadline as passed when the
// connection's copy of it fired first.
func (c *Conn) bind(ctx context.Context) (stop func() error) {
	d, hasDeadline := ctx.Deadline()
	if hasDeadline {
		c.tc.NetConn().SetDeadline(d)
	}
	after := context.AfterFunc(ctx, func() {
		c.tc.NetConn().SetDeadline(time.Unix(1, 0)) // unblock reads and writes
	})
	return func() error {
		after()
		c.tc.NetConn().SetDeadline(time.Time{})
		if err := ctx.Err(); err != nil {
			return err
		}
		if hasDeadline && !time.Now().Before(d) {
			return context.DeadlineExceeded
		}
		return nil
	}
}

// prove runs the nonce challenge on the handshaken connection.
func (c *Conn) prove() error {
	var nonce [wire.ProofNonceSize]byte
	rand.Read(nonce[:])
	cs := c.tc.ConnectionState()
	want, err := wire.Proof(&cs, c.s.ProofKey, c.s.ID, nonce[:])
	if err != nil {
		return &Error{Kind: KindNotGenuine, Reason: "prepare the proof", Err: err}
	}
	target := wire.ProofTarget(nonce[:])
	c.lr.n = maxAnswer
	if err := c.writeGet(target, ""); err != nil {
		return &Error{Kind: KindNotGenuine, Reason: "send the proof request", Err: err,
			Hint: "the connection dropped: try again; if it persists, reconnect with `aws-sso-agent ssh HOST`"}
	}
	return readProofResponse(c.br, c.s.ID, c.s.Port, want)
}

// readProofResponse reads and checks the proof answer: 200, JSON
// {"session","proof"}, session equal to id and proof equal to want
// (compared in constant time). Anything else is a KindProof error.
func readProofResponse(br *bufio.Reader, id string, port int, want []byte) error {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	fail := func(why string, err error) error {
		return &Error{Kind: KindProof, Reason: "the server on " + addr + " did not prove it is this session's agent: " + why, Err: err,
			Hint: "its certificate is the agent's, but it is not this session's forward (another session's port, or the session ended): no token was sent; reconnect with `aws-sso-agent ssh HOST`"}
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fail("bad HTTP answer", err)
	}
	body, err := readBody(resp, maxProofBody)
	if err != nil {
		return fail("bad HTTP answer", err)
	}
	if resp.StatusCode != http.StatusOK {
		why := "status " + strconv.Itoa(resp.StatusCode)
		if code, msg := parseAPIError(resp, body); code != "" {
			why += " (" + code + ": " + msg + ")"
		}
		return fail(why, nil)
	}
	if !isJSON(resp) {
		return fail("the answer is not JSON", nil)
	}
	p, err := wire.ParseProofAnswer(body)
	if errors.Is(err, wire.ErrProofEncoding) {
		return fail("the proof is not 32 bytes of base64url", nil)
	}
	if err != nil {
		return fail("the answer is not the proof JSON", err)
	}
	if subtle.ConstantTimeCompare([]byte(p.Session), []byte(id)) != 1 {
		return fail("it answered for another session", nil)
	}
	if !hmac.Equal(p.Proof, want) {
		return fail("wrong proof", nil)
	}
	if resp.Close {
		return fail("it closed the connection after the proof", nil)
	}
	return nil
}

// readBody reads a whole response body of at most max bytes, so the
// connection can carry the next request.
func readBody(resp *http.Response, max int64) ([]byte, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("body longer than %d bytes", max)
	}
	return b, nil
}

func isJSON(resp *http.Response) bool {
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// parseAPIError reads the agent's {"code","message"} error body, made safe
// to show. Both are "" if the body is not one.
func parseAPIError(resp *http.Response, body []byte) (code, msg string) {
	if !isJSON(resp) {
		return "", ""
	}
	e, ok := wire.ParseErrorDocument(body)
	if !ok {
		return "", ""
	}
	return sanitize(e.Code, 64), sanitize(e.Message, 512)
}

// writeGet writes a GET request for target, with the token if not empty.
// It is written by hand: the request is fixed, and net/http's client
// would open connections of its own, which the proof must not allow.
func (c *Conn) writeGet(target, token string) error {
	var b strings.Builder
	b.WriteString("GET ")
	b.WriteString(target)
	b.WriteString(" HTTP/1.1\r\nHost: 127.0.0.1:")
	b.WriteString(strconv.Itoa(c.s.Port))
	b.WriteString("\r\nUser-Agent: aws-sso-remote\r\nAccept: application/json\r\n")
	if token != "" {
		b.WriteString("Authorization: ")
		b.WriteString(token)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	_, err := io.WriteString(c.tc, b.String())
	return err
}

// Credentials sends the session's token on the proven connection and
// returns the credentials of slot ("" is the default slot). A refusal by
// the agent is a KindRefused *Error carrying the agent's status, code and
// message.
func (c *Conn) Credentials(ctx context.Context, slot string) (wire.Credentials, error) {
	if c.bad {
		return wire.Credentials{}, &Error{Kind: KindOther, Reason: "the connection to the agent failed earlier: prove again"}
	}
	name := wire.QuotedSlotName(slot)
	if !c.s.Allows(slot) {
		return wire.Credentials{}, &Error{Kind: KindRefused, Reason: "slot " + name + " is not granted to this session",
			Hint: "start the session with `aws-sso-agent ssh --slot NAME HOST` to grant it (granted here: " + slotList(c.s.Slots) + ")"}
	}
	stop := c.bind(ctx)
	creds, err := c.credentials(slot, name)
	if cerr := stop(); cerr != nil && err != nil {
		err = fmt.Errorf("%w (%w)", err, cerr)
	}
	return creds, err
}

func (c *Conn) credentials(slot, name string) (wire.Credentials, error) {
	target := wire.SlotPath(slot)
	addr := "127.0.0.1:" + strconv.Itoa(c.s.Port)
	c.lr.n = maxAnswer
	if err := c.writeGet(target, c.s.Token); err != nil {
		c.bad = true
		return wire.Credentials{}, &Error{Kind: KindOther, Reason: "send the credentials request to " + addr, Err: err,
			Hint: "the connection dropped: try again"}
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err == nil {
		var body []byte
		body, err = readBody(resp, maxCredentialsBody)
		if err == nil {
			if resp.Close {
				c.bad = true
			}
			return parseCredentialsResponse(resp, body, name)
		}
	}
	c.bad = true
	return wire.Credentials{}, &Error{Kind: KindOther, Reason: "read the credentials answer from " + addr, Err: err,
		Hint: "the connection dropped: try again"}
}

// parseCredentialsResponse turns the agent's answer into credentials or a
// KindRefused error. Errors never quote the body of a 200 answer.
func parseCredentialsResponse(resp *http.Response, body []byte, name string) (wire.Credentials, error) {
	if resp.StatusCode != http.StatusOK {
		code, msg := parseAPIError(resp, body)
		e := &Error{Kind: KindRefused, Status: resp.StatusCode, Code: code}
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusTooManyRequests:
			e.Reason = "the agent refused this session's token"
			e.Hint = "the SSH session has ended or was revoked (`aws-sso-agent sessions`): reconnect with `aws-sso-agent ssh HOST`"
		case http.StatusForbidden:
			e.Reason = "the agent refused slot " + name + " to this session"
			e.Hint = "start the session with access to it: `aws-sso-agent ssh --slot NAME HOST`"
		case http.StatusServiceUnavailable:
			// The slot is loaded but its source fails (an IAM Identity
			// Center login is needed, say): the agent's message names
			// the fix, and reloading would not help.
			e.Reason = "the agent has no credentials to serve for slot " + name
			e.Hint = "on your workstation, do what the agent's message says (`aws-sso-agent status` shows the slot)"
		default:
			e.Reason = "the agent has no credentials to serve for slot " + name
			e.Hint = "on your workstation, load it: `aws-sso-agent load` (see `aws-sso-agent list`)"
		}
		if msg != "" {
			e.Reason += ": " + code + ": " + msg
		} else {
			e.Reason += " (HTTP " + strconv.Itoa(resp.StatusCode) + ")"
		}
		return wire.Credentials{}, e
	}
	bad := func(err error) (wire.Credentials, error) {
		return wire.Credentials{}, &Error{Kind: KindOther, Reason: "the agent's credentials for slot " + name + " are malformed", Err: err,
			Hint: "update aws-sso-agent and aws-sso-remote to matching versions"}
	}
	if !isJSON(resp) {
		return bad(errors.New("not JSON"))
	}
	c, err := wire.ParseCredentials(body)
	if err != nil {
		return bad(err)
	}
	return c, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.tc.Close() }

// ConnectionState is the TLS state of the proven connection.
func (c *Conn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// Fetch proves the session's port genuine and reads slot's credentials
// over the proven connection: what `aws-sso-remote credential-process`
// does.
func Fetch(ctx context.Context, s *wire.Session, slot string) (wire.Credentials, error) {
	if !s.Allows(slot) {
		// Refuse before connecting: nothing to prove for a slot the
		// session was not granted.
		return wire.Credentials{}, &Error{Kind: KindRefused, Reason: "slot " + wire.QuotedSlotName(slot) + " is not granted to this session",
			Hint: "start the session with `aws-sso-agent ssh --slot NAME HOST` to grant it (granted here: " + slotList(s.Slots) + ")"}
	}
	c, err := Prove(ctx, s)
	if err != nil {
		return wire.Credentials{}, err
	}
	defer c.Close()
	return c.Credentials(ctx, slot)
}

func slotList(slots []string) string {
	if len(slots) == 0 {
		return "none"
	}
	names := make([]string, len(slots))
	for i, s := range slots {
		names[i] = wire.QuotedSlotName(s)
	}
	return strings.Join(names, ", ")
}
