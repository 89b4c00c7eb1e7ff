package web

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
)

// User name bounds: short enough for a page and a log line.
const (
	minUsernameLen = 3
	maxUsernameLen = 32
	maxEmailLen    = 254 // RFC 5321 4.5.3.1.3, a path's 256 octets less "<>"
)

// checkUsername returns name in its stored form (lowercase) or says why
// it is refused: a letter first, then letters, digits, "-", "_" or ".",
// minUsernameLen to maxUsernameLen long. ASCII only, so two names never
// look alike by their script.
func checkUsername(name string) (string, error) {
	n := strings.ToLower(name)
	if len(n) < minUsernameLen || len(n) > maxUsernameLen {
		return "", fmt.Errorf("A user name has %d to %d characters.", minUsernameLen, maxUsernameLen)
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'):
		default:
			return "", errors.New("A user name starts with a letter and holds only letters, digits, '-', '_' and '.'.")
		}
	}
	return n, nil
}

// checkEmail returns addr if it is one plain address (local@domain, no
// display name, no comment, no line break, printable ASCII), which is
// what goes into a mail's To header and the relay's RCPT TO.
func checkEmail(addr string) (string, error) {
	bad := errors.New("Enter one email address, like name@example.com.")
	if len(addr) == 0 || len(addr) > maxEmailLen {
		return "", bad
	}
	for i := 0; i < len(addr); i++ {
		if addr[i] <= ' ' || addr[i] >= 0x7f {
			return "", bad
		}
	}
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Name != "" || a.Address != addr {
		return "", bad
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 1 || !strings.Contains(addr[at+1:], ".") || strings.ContainsAny(addr, "<>\"(),;:[]\\") {
		return "", bad
	}
	return addr, nil
}
