package signer

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBadLabel is what CheckLabel wraps for a label that cannot be
// registered.
var ErrBadLabel = errors.New("signer: hostname label refused")

// Label bounds. A DNS label may hold 63 octets (RFC 1035 2.3.4); 32 keep
// NAME.ZONE readable in a URL. Three is the shortest: one- and
// two-character names are few and would be squatted at once.
const (
	MinLabelLen = 3
	MaxLabelLen = 32
)

// reserved are names the service or a mail, web or DNS convention uses,
// or that a user would take for the service's own.
var reserved = map[string]bool{
	"abuse": true, "admin": true, "administrator": true, "api": true, "app": true,
	"autoconfig": true, "autodiscover": true, "billing": true, "cdn": true, "dns": true,
	"example": true, "ftp": true, "help": true, "hostmaster": true, "imap": true,
	"info": true, "invalid": true, "local": true, "localhost": true, "login": true,
	"mail": true, "mx": true, "noc": true, "ns": true, "ns0": true, "ns1": true,
	"ns2": true, "ns3": true, "ns4": true, "pop": true, "pop3": true, "postmaster": true,
	"root": true, "security": true, "signer": true, "smtp": true, "ssl": true,
	"status": true, "support": true, "test": true, "tls": true, "webmail": true,
	"webmaster": true, "wpad": true, "isatap": true, "www": true, "acme": true,
	"account": true, "accounts": true, "auth": true, "oauth": true, "sso": true,
	"secure": true, "update": true, "register": true, "cert": true, "certs": true,
}

// impersonated are names a phishing page would borrow. A label is refused
// when any of its hyphen-separated parts, or the whole label without
// hyphens, reads as one of them once look-alike characters are folded
// ("amaz0n", "rnicrosoft", "my-aws").
var impersonated = map[string]bool{
	"aws": true, "amazon": true, "amazonaws": true, "awssso": true, "google": true,
	"microsoft": true, "azure": true, "apple": true, "icloud": true, "github": true,
	"gitlab": true, "paypal": true, "okta": true, "letsencrypt": true, "cloudflare": true,
	"facebook": true, "meta": true, "bank": true, "wallet": true, "ssoagent": true,
}

// CheckLabel returns label in its registered form (lowercase) or an error
// wrapping ErrBadLabel that says why: a label is LDH (letters, digits,
// hyphens; RFC 952 and 1123), MinLabelLen to MaxLabelLen long, starts
// and ends with a letter or digit, is not all digits, has no "--" in its
// third and fourth places (reserved for IDNA's "xn--", which would let a
// label render as look-alike Unicode), and is neither reserved nor a
// look-alike of a name it could impersonate.
func CheckLabel(label string) (string, error) {
	l := strings.ToLower(label)
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w: %q %s", ErrBadLabel, clip(label), why)
	}
	if len(l) < MinLabelLen || len(l) > MaxLabelLen {
		return bad(fmt.Sprintf("must be %d to %d characters long", MinLabelLen, MaxLabelLen))
	}
	digits := true
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case c >= 'a' && c <= 'z':
			digits = false
		case c >= '0' && c <= '9':
		case c == '-':
			digits = false
		default:
			return bad("may hold only letters, digits and hyphens")
		}
	}
	switch {
	case l[0] == '-' || l[len(l)-1] == '-':
		return bad("must start and end with a letter or digit")
	case digits:
		return bad("must not be all digits")
	case len(l) >= 4 && l[2:4] == "--":
		return bad("must not have hyphens in its third and fourth places (IDNA)")
	}
	whole := skeleton(strings.ReplaceAll(l, "-", ""))
	if reserved[l] || reservedSkeletons[whole] {
		return bad("is reserved")
	}
	if impersonatedSkeletons[whole] {
		return bad("looks like a name it could impersonate")
	}
	for _, part := range strings.Split(l, "-") {
		if impersonatedSkeletons[skeleton(part)] {
			return bad("looks like a name it could impersonate")
		}
	}
	return l, nil
}

// The skeletons of the reserved and impersonated names, which a label's
// own skeleton is compared with.
var (
	reservedSkeletons     = skeletons(reserved)
	impersonatedSkeletons = skeletons(impersonated)
)

func skeletons(names map[string]bool) map[string]bool {
	m := make(map[string]bool, len(names))
	for n := range names {
		m[skeleton(n)] = true
	}
	return m
}

// skeleton folds the characters people read as others: digits that look
// like letters, "rn" for "m", "vv" for "w". It is the ASCII part of
// Unicode's confusables (UTS #39), which is all an LDH label can hold.
func skeleton(s string) string {
	return confusables.Replace(digitLetters.Replace(s))
}

var (
	digitLetters = strings.NewReplacer("0", "o", "1", "l", "3", "e", "4", "a", "5", "s", "7", "t", "8", "b", "9", "g")
	confusables  = strings.NewReplacer("rn", "m", "vv", "w", "cl", "d", "i", "l")
)

// clip bounds what of an untrusted string goes into an error message.
func clip(s string) string {
	if len(s) > MaxLabelLen+8 {
		return s[:MaxLabelLen+8] + "…"
	}
	return s
}
