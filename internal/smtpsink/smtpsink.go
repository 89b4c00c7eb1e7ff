// Package smtpsink is an SMTP server for tests: it accepts every mail
// and hands it to the test, decoded. It speaks enough of RFC 5321 for
// net/smtp and other ordinary clients (EHLO, MAIL, RCPT, DATA with dot
// unstuffing, RSET, NOOP, QUIT) and nothing else: no TLS, no AUTH.
package smtpsink

import (
	"bufio"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// Message is one received mail.
type Message struct {
	From    string   // MAIL FROM
	To      []string // RCPT TO
	Header  mail.Header
	Subject string
	Body    string // decoded from quoted-printable if it was
}

// Sink is a running SMTP server.
type Sink struct {
	// Addr is its host:port on 127.0.0.1.
	Addr string
	ln   net.Listener
	mail chan Message
	wg   sync.WaitGroup
}

// Start runs a sink until the test ends.
func Start(t testing.TB) *Sink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtpsink: %v", err)
	}
	s := &Sink{Addr: ln.Addr().String(), ln: ln, mail: make(chan Message, 64)}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

// Next waits up to timeout for the next mail.
func (s *Sink) Next(t testing.TB, timeout time.Duration) Message {
	t.Helper()
	select {
	case m := <-s.mail:
		return m
	case <-time.After(timeout):
		t.Fatalf("smtpsink: no mail within %v", timeout)
		return Message{}
	}
}

// Pending returns the mails received and not yet taken.
func (s *Sink) Pending() []Message {
	var out []Message
	for {
		select {
		case m := <-s.mail:
			out = append(out, m)
		default:
			return out
		}
	}
}

func (s *Sink) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			c.SetDeadline(time.Now().Add(time.Minute))
			s.serve(textproto.NewConn(c))
		}()
	}
}

func (s *Sink) serve(c *textproto.Conn) {
	c.PrintfLine("220 smtpsink ready")
	var m Message
	for {
		line, err := c.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			c.PrintfLine("250-smtpsink\r\n250-8BITMIME\r\n250 SIZE 1048576")
		case "MAIL":
			m = Message{From: path(arg)}
			c.PrintfLine("250 ok")
		case "RCPT":
			m.To = append(m.To, path(arg))
			c.PrintfLine("250 ok")
		case "DATA":
			c.PrintfLine("354 go on")
			raw, err := io.ReadAll(c.DotReader())
			if err != nil {
				return
			}
			if err := decode(&m, raw); err != nil {
				c.PrintfLine("554 %v", err)
				continue
			}
			s.mail <- m
			c.PrintfLine("250 queued")
		case "RSET", "NOOP":
			c.PrintfLine("250 ok")
		case "QUIT":
			c.PrintfLine("221 bye")
			return
		default:
			c.PrintfLine("502 not implemented")
		}
	}
}

// path is the address in "FROM:<a@b> SIZE=1".
func path(arg string) string {
	_, a, _ := strings.Cut(arg, ":")
	a, _, _ = strings.Cut(strings.TrimSpace(a), " ")
	return strings.Trim(a, "<>")
}

func decode(m *Message, raw []byte) error {
	msg, err := mail.ReadMessage(bufio.NewReader(strings.NewReader(string(raw))))
	if err != nil {
		return err
	}
	m.Header = msg.Header
	m.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return err
	}
	body := msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return errors.New("body: " + err.Error())
	}
	m.Body = strings.ReplaceAll(string(b), "\r\n", "\n")
	return nil
}
