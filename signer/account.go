package signer

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
)

// ErrBadAccount is what CheckUsername and CheckEmail wrap.
var ErrBadAccount = errors.New("signer: account refused")

// MaxHostnamesPerAccount is how many hostnames an account may register
// unless the operator says otherwise: one per machine a person uses,
// while the zone's 50 certificates a week (Let's Encrypt) are shared by
// everyone.
const MaxHostnamesPerAccount = 3

// CheckUsername returns name in its stored form (lowercase): 3 to 32
// letters, digits, '-', '_' or '.', starting with a letter or digit.
// acme-dns clients send it as X-Api-User.
func CheckUsername(name string) (string, error) {
	n := strings.ToLower(name)
	if len(n) < 3 || len(n) > 32 {
		return "", fmt.Errorf("%w: user name %q must be 3 to 32 characters long", ErrBadAccount, clip(name))
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '-' || c == '_' || c == '.')
		if !ok {
			return "", fmt.Errorf("%w: user name %q may hold only letters, digits, '-', '_' and '.', starting with a letter or digit", ErrBadAccount, clip(name))
		}
	}
	return n, nil
}

// CheckEmail returns addr if it is one bare address (user@domain, no
// display name) of at most 254 characters (RFC 5321 4.5.3.1).
func CheckEmail(addr string) (string, error) {
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Name != "" || a.Address != addr || len(addr) > 254 || !strings.Contains(addr, "@") {
		return "", fmt.Errorf("%w: %q is not an e-mail address like user@example.com", ErrBadAccount, clip(addr))
	}
	return addr, nil
}
