package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/netip"
	"net/smtp"
	"strings"
	"time"
)

// Mailer sends the service's mails: email verification and password
// reset. to is an address the sign-up form checked (checkEmail).
type Mailer interface {
	Send(ctx context.Context, to, subject, body string) error
}

// SMTP sends mail through the relay the operator configures.
type SMTP struct {
	// Addr is the relay's host:port.
	Addr string
	// From is the sender's address, "signer@ZONE" for instance.
	From string
	// Username and Password, if set, authenticate with AUTH PLAIN, which
	// net/smtp sends only over TLS (or to localhost).
	Username, Password string
	// TLS, if set, is used for STARTTLS; otherwise the relay's name is
	// checked against the system's roots. STARTTLS is used whenever the
	// relay offers it, and required of a relay not on this machine.
	TLS *tls.Config
	// ImplicitTLS connects with TLS from the start (port 465).
	ImplicitTLS bool
}

// Send sends one plain-text mail.
func (m *SMTP) Send(ctx context.Context, to, subject, body string) error {
	if strings.ContainsAny(to+m.From+subject, "\r\n") {
		return errors.New("smtp: line break in a header")
	}
	host, _, err := net.SplitHostPort(m.Addr)
	if err != nil {
		return fmt.Errorf("smtp: relay address %q: %w", m.Addr, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	tlsConf := m.TLS
	if tlsConf == nil {
		tlsConf = &tls.Config{ServerName: host}
	}
	var conn net.Conn
	if m.ImplicitTLS {
		conn, err = (&tls.Dialer{Config: tlsConf}).DialContext(ctx, "tcp", m.Addr)
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", m.Addr)
	}
	if err != nil {
		return fmt.Errorf("smtp: connect to %s: %w", m.Addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("smtp: %s: %w", m.Addr, err)
	}
	defer c.Close()
	if !m.ImplicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsConf); err != nil {
				return fmt.Errorf("smtp: %s: starttls: %w", m.Addr, err)
			}
		} else if !isLoopback(host) {
			// The mails carry sign-in links: one who strips STARTTLS
			// from the relay's answer must not get to read them.
			return fmt.Errorf("smtp: %s offers no STARTTLS, and the mail's link must not cross the network in clear", m.Addr)
		}
	}
	if m.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", m.Username, m.Password, host)); err != nil {
			return fmt.Errorf("smtp: %s: auth: %w", m.Addr, err)
		}
	}
	if err := c.Mail(m.From); err != nil {
		return fmt.Errorf("smtp: %s: mail from: %w", m.Addr, err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("smtp: %s: rcpt to: %w", m.Addr, err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp: %s: data: %w", m.Addr, err)
	}
	if _, err := w.Write(message(m.From, to, subject, body, time.Now())); err != nil {
		return fmt.Errorf("smtp: %s: data: %w", m.Addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp: %s: data: %w", m.Addr, err)
	}
	return c.Quit()
}

// isLoopback reports whether host, a relay's name or address, is this
// machine, the one place a mail may go to without TLS.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// message is an RFC 5322 mail with a quoted-printable UTF-8 body, so a
// long link survives relays that fold lines.
func message(from, to, subject, body string, now time.Time) []byte {
	id := make([]byte, 12)
	rand.Read(id)
	domain := from[strings.LastIndexByte(from, '@')+1:]
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@%s>\r\n",
		from, to, mime.QEncoding.Encode("utf-8", subject), now.Format(time.RFC1123Z), hex.EncodeToString(id), domain)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\nAuto-Submitted: auto-generated\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n")))
	qp.Close()
	return b.Bytes()
}
