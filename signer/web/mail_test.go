package web

import (
	"context"
	"net"
	"net/textproto"
	"strings"
	"testing"

	"github.com/aws-sso-agent/aws-sso-agent/internal/smtpsink"
)

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost":        true,
		"127.0.0.1":        true,
		"127.0.0.53":       true,
		"::1":              true,
		"::ffff:127.0.0.1": true,
		"10.0.0.1":         false,
		"::":               false,
		"smtp.example":     false,
		"localhost.evil":   false,
	} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestSMTPRefusesCleartextOverTheNetwork: a relay on this machine that
// offers no STARTTLS (the sink) gets the mail; one elsewhere gets none,
// so a mail's link is not sent in clear.
func TestSMTPRefusesCleartextOverTheNetwork(t *testing.T) {
	sink := smtpsink.Start(t)
	m := &SMTP{Addr: sink.Addr, From: "signer@" + testZone}
	if err := m.Send(context.Background(), "a@example.com", "s", "body\n"); err != nil {
		t.Fatalf("send to the relay on this machine: %v", err)
	}
	ip := nonLoopbackAddr(t)
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Skipf("no listener on %s (%v): this machine has no address but loopback", ip, err)
	}
	t.Cleanup(func() { ln.Close() })
	// A relay elsewhere, as far as its address goes, that offers no
	// extension: it greets, answers EHLO, and then gets nothing.
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tc := textproto.NewConn(c)
		tc.PrintfLine("220 relay ESMTP")
		for {
			line, err := tc.ReadLine()
			if err != nil {
				return
			}
			if strings.HasPrefix(strings.ToUpper(line), "EHLO") {
				tc.PrintfLine("250 relay")
				continue
			}
			tc.PrintfLine("503 not expected: %s", line)
		}
	}()
	m.Addr = ln.Addr().String()
	err = m.Send(context.Background(), "a@example.com", "s", "body\n")
	if err == nil || !strings.Contains(err.Error(), "offers no STARTTLS") {
		t.Errorf("send in clear to %s: %v, want a refusal", m.Addr, err)
	}
}

// nonLoopbackAddr is one of this machine's addresses that is not
// loopback, or skips the test.
func nonLoopbackAddr(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("interface addresses: %v", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Skip("this machine has no IPv4 address but loopback")
	return ""
}
