//go:build darwin || windows

package localca

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"strings"
)

// sha1Hex is the upper-case SHA-1 of the certificate, the identifier
// macOS's security tool and Windows' certutil print and accept. SHA-1 here
// only names a certificate the store already holds; nothing relies on its
// collision resistance.
func sha1Hex(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}
